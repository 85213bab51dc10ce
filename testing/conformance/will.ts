/**
 * Broker conformance scenarios, area "will": when the Will Message is published and when
 * it is discarded.
 *
 * @module
 */

import { describePacket } from "./_raw_client.ts";
import { defineScenario, type Scenario, type ScenarioContext, text, utf8 } from "./scenario.ts";

/** A subscriber on the will topic, and the will topic. */
async function observer(ctx: ScenarioContext) {
  const topic = ctx.topic("will");
  const watcher = await ctx.connect();
  await ctx.subscribeOk(watcher, topic, { qos: 1 });
  return { watcher, topic };
}

/**
 * An {@link observer}, then a client whose QoS 1 Will Message `payload` goes to the
 * observed topic. With `delay` (seconds, MQTT 5), the Will Delay Interval: the client then
 * has its own `clientId` (empty without `delay`) and a 30 s session, ended when the
 * scenario ends.
 */
async function clientWithWill(ctx: ScenarioContext, payload: string, delay?: number) {
  const { watcher, topic } = await observer(ctx);
  const will = { topic, payload: utf8(payload), qos: 1 as const, retain: false };
  if (delay === undefined) {
    return { watcher, topic, clientId: "", client: await ctx.connect({ will }) };
  }
  const clientId = ctx.clientId();
  ctx.endSessionAfter(clientId);
  const client = await ctx.connect({
    clientId,
    properties: { sessionExpiryInterval: 30 },
    will: { ...will, properties: { willDelayInterval: delay } },
  });
  return { watcher, topic, clientId, client };
}

/**
 * The "will" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { WILL_SCENARIOS } from "./will.ts";
 * assert.ok(WILL_SCENARIOS.every((s) => s.area === "will"));
 * ```
 */
export const WILL_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "will.published-on-loss",
    ids: { 4: "MQTT-3.1.2-8", 5: "MQTT-3.1.2-8" },
    title: "The Will Message is published when the connection closes without DISCONNECT",
    area: "will",
    async run(ctx) {
      const { watcher, topic, client } = await clientWithWill(ctx, "gone");
      await client.close();
      const will = await ctx.receive(watcher, "the Will Message");
      ctx.check(text(will.payload) === "gone" && will.topic === topic, describePacket(will));
    },
  }),
  ...defineScenario({
    name: "will.discarded-on-disconnect",
    ids: { 4: "MQTT-3.14.4-3", 5: "MQTT-3.14.4-3" },
    title: "The Will Message is discarded when the client sends DISCONNECT (0x00)",
    area: "will",
    async run(ctx) {
      const { watcher, topic, client } = await clientWithWill(ctx, "should not be sent");
      await client.send({ type: "disconnect", ...(ctx.version === 5 ? { reasonCode: 0 } : {}) });
      await ctx.expectClosed(client, "DISCONNECT");
      const other = await ctx.connect();
      await ctx.publish(other, topic, "marker", { qos: 1 });
      const first = await ctx.receive(watcher);
      ctx.check(
        text(first.payload) === "marker",
        `Will Message published: ${describePacket(first)}`,
      );
      await ctx.ack(watcher, first);
      await ctx.expectQuiet(watcher, "Will Message published after DISCONNECT");
    },
  }),
  ...defineScenario({
    name: "will.disconnect-with-will",
    ids: { 5: "MQTT-3.1.2-8" },
    title: "DISCONNECT with reason code 0x04 publishes the Will Message",
    area: "will",
    async run(ctx) {
      const { watcher, client } = await clientWithWill(ctx, "asked for");
      await client.send({ type: "disconnect", reasonCode: 0x04 });
      const will = await ctx.receive(watcher, "the Will Message after DISCONNECT 0x04");
      ctx.check(text(will.payload) === "asked for", describePacket(will));
    },
  }),
  ...defineScenario({
    name: "will.retained",
    ids: { 4: "MQTT-3.1.2-17", 5: "MQTT-3.1.2-15" },
    title: "A Will Message with Will Retain 1 is published as a retained message",
    area: "will",
    async run(ctx) {
      const topic = ctx.topic("will");
      ctx.clearRetainedAfter(topic);
      const client = await ctx.connect({
        will: { topic, payload: utf8("retained will"), qos: 1, retain: true },
      });
      const { watcher } = await observer(ctx);
      await client.close();
      const live = await ctx.receive(watcher, "the Will Message");
      await ctx.ack(watcher, live);
      const late = await ctx.connect();
      await ctx.subscribeOk(late, topic, { qos: 1 });
      const retained = await ctx.receive(late, "the retained Will Message");
      ctx.check(
        text(retained.payload) === "retained will" && retained.retain,
        describePacket(retained),
      );
    },
  }),
  ...defineScenario({
    name: "will.delay-reconnect",
    ids: { 5: "MQTT-3.1.3-9" },
    title: "A client that reconnects within the Will Delay Interval has no Will Message published",
    area: "will",
    extraMs: 3_000,
    async run(ctx) {
      const { watcher, clientId, client } = await clientWithWill(ctx, "delayed", 2);
      await client.close();
      await ctx.connect({ clientId, clean: false, properties: { sessionExpiryInterval: 30 } });
      await ctx.sleep(2_500);
      await ctx.expectQuiet(
        watcher,
        "Will Message published although the client came back in time",
      );
    },
  }),
  ...defineScenario({
    name: "will.delay-elapsed",
    ids: { 5: "MQTT-3.1.2-8" },
    title:
      "A Will Message with a Will Delay Interval is published once the delay has passed, not before",
    area: "will",
    extraMs: 1_500,
    async run(ctx) {
      const { watcher, client } = await clientWithWill(ctx, "late", 1);
      const closed = Date.now();
      await client.close();
      await ctx.expectQuiet(
        watcher,
        "Will Message published before its delay",
        () => Date.now() - closed < 900,
      );
      const will = await ctx.receive(watcher, "the delayed Will Message");
      const after = Date.now() - closed;
      ctx.check(text(will.payload) === "late", describePacket(will));
      ctx.check(
        after >= 900,
        `the Will Message came ${after} ms after the close, before its 1 s delay`,
      );
    },
  }),
];
