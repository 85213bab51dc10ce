/**
 * Broker conformance scenarios, area "sessions": Clean Session / Clean Start, Session
 * Present, messages queued for an offline session, and re-delivery of unacknowledged
 * PUBLISH and PUBREL packets after reconnecting.
 *
 * @module
 */

import { describePacket, type RawClient } from "./_raw_client.ts";
import {
  type ConnectOptions,
  defineScenario,
  type Scenario,
  type ScenarioContext,
  text,
} from "./scenario.ts";

/**
 * CONNECT options of a session that outlives its connection: Clean Session 0 (3.1.1) or
 * a Session Expiry Interval of 60 s (5.0), clean or not at the first connection.
 */
function persistent(ctx: ScenarioContext, clientId: string, resume: boolean): ConnectOptions {
  return ctx.version === 5
    ? { clientId, clean: !resume, properties: { sessionExpiryInterval: 60 } }
    : { clientId, clean: false };
}

/** Sends DISCONNECT and waits until the broker closes the connection. */
async function disconnect(ctx: ScenarioContext, client: RawClient): Promise<void> {
  await client.send({ type: "disconnect", ...(ctx.version === 5 ? { reasonCode: 0 } : {}) });
  await ctx.expectClosed(client, "DISCONNECT");
}

/** Connects a persistent session subscribed to `topic` at `qos`, then drops the connection. */
async function offlineSubscriber(ctx: ScenarioContext, topic: string, qos: 1 | 2): Promise<string> {
  const clientId = ctx.clientId();
  ctx.endSessionAfter(clientId);
  const client = await ctx.connect(persistent(ctx, clientId, false));
  await ctx.subscribeOk(client, topic, { qos });
  await disconnect(ctx, client);
  return clientId;
}

/**
 * Connects a persistent session subscribed to a fresh topic at `qos`, publishes `payload`
 * there at `qos` from another client and takes the delivery (not acknowledged).
 */
async function persistentDelivery(ctx: ScenarioContext, payload: string, qos: 1 | 2) {
  const topic = ctx.topic();
  const clientId = ctx.clientId();
  ctx.endSessionAfter(clientId);
  const client = await ctx.connect(persistent(ctx, clientId, false));
  await ctx.subscribeOk(client, topic, { qos });
  const pub = await ctx.connect();
  await ctx.publish(pub, topic, payload, { qos });
  return { clientId, client, message: await ctx.receive(client) };
}

/**
 * The "sessions" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { SESSION_SCENARIOS } from "./sessions.ts";
 * assert.ok(SESSION_SCENARIOS.every((s) => s.area === "sessions"));
 * ```
 */
export const SESSION_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "sessions.resume",
    ids: { 4: "MQTT-3.2.2-2", 5: "MQTT-3.2.2-3" },
    title: "Reconnecting to a stored session gives Session Present 1 and keeps its subscriptions",
    area: "sessions",
    async run(ctx) {
      const topic = ctx.topic();
      const clientId = await offlineSubscriber(ctx, topic, 1);
      const client = await ctx.connect(persistent(ctx, clientId, true));
      ctx.check(client.connack.sessionPresent, "Session Present is 0 for a stored session");
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "still subscribed", { qos: 1 });
      const message = await ctx.receive(client, "a message for the resumed subscription");
      ctx.check(text(message.payload) === "still subscribed", describePacket(message));
    },
  }),
  ...defineScenario({
    name: "sessions.new-persistent",
    ids: { 4: "MQTT-3.2.2-3", 5: "MQTT-3.1.2-6" },
    title: "A persistent connection without a stored session gets Session Present 0",
    area: "sessions",
    async run(ctx) {
      const clientId = ctx.clientId();
      ctx.endSessionAfter(clientId);
      const client = await ctx.connect(persistent(ctx, clientId, true));
      ctx.check(!client.connack.sessionPresent, "Session Present is 1 with no stored session");
    },
  }),
  ...defineScenario({
    name: "sessions.offline-queue",
    ids: { 4: "MQTT-3.1.2-5", 5: "MQTT-3.1.2-23" },
    title: "QoS 1 and 2 messages for an offline session are kept and delivered on reconnect",
    area: "sessions",
    async run(ctx) {
      const topic = ctx.topic();
      const clientId = await offlineSubscriber(ctx, topic, 2);
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "q1", { qos: 1 });
      await ctx.publish(pub, topic, "q2", { qos: 2 });
      const client = await ctx.connect(persistent(ctx, clientId, true));
      const got: string[] = [];
      for (let i = 0; i < 2; i++) {
        const message = await ctx.receive(client, "a message queued while offline");
        got.push(`${text(message.payload)}@${message.qos}`);
        await ctx.ack(client, message);
      }
      ctx.check(got.join() === "q1@1,q2@2", `received ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "sessions.clean-discards",
    ids: { 4: "MQTT-3.1.2-6", 5: "MQTT-3.1.2-4" },
    title: "A clean connection discards the stored session and its subscriptions",
    area: "sessions",
    async run(ctx) {
      const topic = ctx.topic();
      const marker = ctx.topic("marker");
      const clientId = await offlineSubscriber(ctx, topic, 1);
      const client = await ctx.connect({ clientId, clean: true });
      ctx.check(!client.connack.sessionPresent, "Session Present is 1 on a clean connection");
      await ctx.subscribeOk(client, marker, { qos: 1 });
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "old subscription", { qos: 1 });
      await ctx.publish(pub, marker, "marker", { qos: 1 });
      const first = await ctx.receive(client);
      ctx.check(
        first.topic === marker,
        `the discarded subscription delivered ${describePacket(first)}`,
      );
    },
  }),
  ...defineScenario({
    name: "sessions.redeliver-publish",
    ids: { 4: "MQTT-4.4.0-1", 5: "MQTT-4.4.0-1" },
    title: "An unacknowledged QoS 1 PUBLISH is re-sent on reconnect, same packet id, DUP 1",
    area: "sessions",
    async run(ctx) {
      const { clientId, client, message: first } = await persistentDelivery(
        ctx,
        "ack me later",
        1,
      );
      await client.close();
      const again = await ctx.connect(persistent(ctx, clientId, true));
      const resent = await ctx.receive(again, "the unacknowledged PUBLISH again");
      ctx.check(
        resent.packetId === first.packetId && text(resent.payload) === "ack me later",
        `re-sent ${describePacket(resent)} for ${describePacket(first)}`,
      );
      ctx.check(resent.dup, "DUP is 0 on the re-delivery (MQTT-3.3.1-1)");
      await ctx.ack(again, resent);
    },
  }),
  ...defineScenario({
    name: "sessions.redeliver-pubrel",
    ids: { 4: "MQTT-4.4.0-1", 5: "MQTT-4.4.0-1" },
    title: "An unacknowledged PUBREL is re-sent on reconnect with the same packet id",
    area: "sessions",
    async run(ctx) {
      const { clientId, client, message } = await persistentDelivery(ctx, "exactly once", 2);
      const packetId = message.packetId!;
      await client.send({
        type: "pubrec",
        packetId,
        ...(ctx.version === 5 ? { reasonCode: 0 } : {}),
      });
      await client.take((p) => p.type === "pubrel" && p.packetId === packetId);
      await client.close();
      const again = await ctx.connect(persistent(ctx, clientId, true));
      const resent = await again.take(
        (p) => p.type === "pubrel" || p.type === "publish",
        ctx.timeoutMs,
        "PUBREL again",
      );
      ctx.check(
        resent.type === "pubrel" && resent.packetId === packetId,
        `expected PUBREL ${packetId}, got ${describePacket(resent)}`,
      );
      await again.send({
        type: "pubcomp",
        packetId,
        ...(ctx.version === 5 ? { reasonCode: 0 } : {}),
      });
      await ctx.expectQuiet(again, "the completed message delivered again");
    },
  }),
  ...defineScenario({
    name: "sessions.expiry-zero",
    ids: { 5: "MQTT-4.1.0-2" },
    title: "With Session Expiry Interval 0 the session ends when the connection closes",
    area: "sessions",
    async run(ctx) {
      const clientId = ctx.clientId();
      const client = await ctx.connect({ clientId, clean: true });
      await ctx.subscribeOk(client, ctx.topic(), { qos: 1 });
      await disconnect(ctx, client);
      const again = await ctx.connect({ clientId, clean: false });
      ctx.check(!again.connack.sessionPresent, "Session Present is 1 for a session that expired");
    },
  }),
];
