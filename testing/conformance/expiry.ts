/**
 * Broker conformance scenarios, area "expiry" (MQTT 5): Message Expiry Interval on
 * queued and retained messages, and Session Expiry Interval.
 *
 * @module
 */

import { describePacket } from "./_raw_client.ts";
import type { PublishPacket } from "../../lib/packet/types.ts";
import {
  type Connected,
  defineScenario,
  type Scenario,
  type ScenarioContext,
  text,
} from "./scenario.ts";

/** Seconds-granular brokers need a little more than the interval itself. */
const PAST_ONE_SECOND_MS = 2_200;

/** A persistent session subscribed to `topic` at QoS 1 and disconnected: its client id. */
async function offline(ctx: ScenarioContext, topic: string): Promise<string> {
  const clientId = ctx.clientId();
  ctx.endSessionAfter(clientId);
  const client = await ctx.connect({ clientId, properties: { sessionExpiryInterval: 60 } });
  await ctx.subscribeOk(client, topic, { qos: 1 });
  await client.send({ type: "disconnect", reasonCode: 0 });
  await ctx.expectClosed(client, "DISCONNECT");
  return clientId;
}

/**
 * Queues messages for an {@link offline} session: `publish` sends them to its topic from
 * another client. Past one second later the session's client comes back; returns the
 * first message it receives.
 */
async function firstAfterWaiting(
  ctx: ScenarioContext,
  publish: (pub: Connected, topic: string) => Promise<void>,
): Promise<PublishPacket> {
  const topic = ctx.topic();
  const clientId = await offline(ctx, topic);
  await publish(await ctx.connect(), topic);
  await ctx.sleep(PAST_ONE_SECOND_MS);
  const client = await ctx.connect({
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  });
  return await ctx.receive(client);
}

/**
 * The "expiry" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXPIRY_SCENARIOS } from "./expiry.ts";
 * assert.ok(EXPIRY_SCENARIOS.every((s) => s.area === "expiry"));
 * ```
 */
export const EXPIRY_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "expiry.queued-message",
    ids: { 5: "MQTT-3.3.2-5" },
    title: "A queued message whose Message Expiry Interval passed is not delivered",
    area: "expiry",
    extraMs: PAST_ONE_SECOND_MS,
    async run(ctx) {
      const first = await firstAfterWaiting(ctx, async (pub, topic) => {
        await ctx.publish(pub, topic, "expires", {
          qos: 1,
          properties: { messageExpiryInterval: 1 },
        });
        await ctx.publish(pub, topic, "stays", { qos: 1 });
      });
      ctx.check(
        text(first.payload) === "stays",
        `delivered an expired message: ${describePacket(first)}`,
      );
    },
  }),
  ...defineScenario({
    name: "expiry.interval-reduced",
    ids: { 5: "MQTT-3.3.2-6" },
    title: "A forwarded message's Message Expiry Interval is reduced by the time it waited",
    area: "expiry",
    extraMs: PAST_ONE_SECOND_MS,
    async run(ctx) {
      const message = await firstAfterWaiting(ctx, async (pub, topic) => {
        await ctx.publish(pub, topic, "ages", {
          qos: 1,
          properties: { messageExpiryInterval: 60 },
        });
      });
      const left = message.properties?.messageExpiryInterval;
      ctx.check(
        left !== undefined && left < 60 && left >= 50,
        `Message Expiry Interval after waiting 2 s is ${left}, expected 50 to 59`,
      );
    },
  }),
  ...defineScenario({
    name: "expiry.retained-message",
    ids: { 5: "MQTT-3.3.2-5" },
    title: "A retained message whose Message Expiry Interval passed is no longer sent",
    area: "expiry",
    extraMs: PAST_ONE_SECOND_MS,
    async run(ctx) {
      const topic = ctx.topic();
      ctx.clearRetainedAfter(topic);
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "short lived", {
        qos: 1,
        retain: true,
        properties: { messageExpiryInterval: 1 },
      });
      await ctx.sleep(PAST_ONE_SECOND_MS);
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      await ctx.expectQuiet(sub, "an expired retained message");
    },
  }),
  ...defineScenario({
    name: "expiry.session",
    ids: { 5: "MQTT-4.1.0-2" },
    title: "A session is discarded once its Session Expiry Interval passed",
    area: "expiry",
    extraMs: PAST_ONE_SECOND_MS,
    async run(ctx) {
      const clientId = ctx.clientId();
      const client = await ctx.connect({ clientId, properties: { sessionExpiryInterval: 1 } });
      await ctx.subscribeOk(client, ctx.topic(), { qos: 1 });
      await client.send({ type: "disconnect", reasonCode: 0 });
      await ctx.expectClosed(client, "DISCONNECT");
      await ctx.sleep(PAST_ONE_SECOND_MS);
      const again = await ctx.connect({
        clientId,
        clean: false,
        properties: { sessionExpiryInterval: 0 },
      });
      ctx.check(!again.connack.sessionPresent, "Session Present is 1 after the session expired");
    },
  }),
];
