/**
 * Broker conformance scenarios, area "topic-alias" (MQTT 5): the broker accepts the
 * aliases it announced, rejects invalid ones, forgets them between connections and never
 * sends aliases the client did not allow.
 *
 * @module
 */

import { describePacket } from "./_raw_client.ts";
import {
  type Connected,
  defineScenario,
  rawPacket,
  rawString,
  type Scenario,
  type ScenarioContext,
  text,
} from "./scenario.ts";

/** The Topic Alias Maximum of the CONNACK; skips the scenario when it is 0. */
function aliasMaximum(ctx: ScenarioContext, client: Connected): number {
  const max = client.connack.properties?.topicAliasMaximum ?? 0;
  if (max === 0) ctx.skip("not supported: Topic Alias Maximum is 0");
  return max;
}

/** Fails unless the broker closes the connection, with a DISCONNECT error code if any. */
async function expectAliasError(
  ctx: ScenarioContext,
  client: Connected,
  what: string,
): Promise<void> {
  const sent = await ctx.expectClosed(client, what);
  const disconnect = sent.find((p) => p.type === "disconnect");
  ctx.check(
    disconnect === undefined || (disconnect.reasonCode ?? 0) >= 0x80,
    `${what}: ${disconnect ? describePacket(disconnect) : ""}`,
  );
  ctx.check(
    !sent.some((p) => p.type === "puback" && (p.reasonCode ?? 0) < 0x80),
    `${what}: the PUBLISH was accepted`,
  );
}

/**
 * The "topic-alias" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOPIC_ALIAS_SCENARIOS } from "./topic_alias.ts";
 * assert.ok(TOPIC_ALIAS_SCENARIOS.every((s) => s.area === "topic-alias"));
 * ```
 */
export const TOPIC_ALIAS_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "topic-alias.accepted",
    ids: { 5: "MQTT-3.3.2-12" },
    title: "The broker accepts Topic Aliases up to its Topic Alias Maximum",
    area: "topic-alias",
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      const pub = await ctx.connect();
      const max = aliasMaximum(ctx, pub);
      await ctx.publish(pub, topic, "set", { qos: 1, properties: { topicAlias: max } });
      await ctx.publish(pub, "", "use", { qos: 1, properties: { topicAlias: max } });
      for (const payload of ["set", "use"]) {
        const message = await ctx.receive(sub);
        ctx.check(
          message.topic === topic && text(message.payload) === payload,
          `expected "${payload}" on ${topic}, got ${describePacket(message)}`,
        );
        await ctx.ack(sub, message);
      }
    },
  }),
  ...defineScenario({
    name: "topic-alias.zero",
    ids: { 5: "MQTT-3.3.2-8" },
    title: "A PUBLISH with Topic Alias 0 is a protocol error: the connection is closed",
    area: "topic-alias",
    async run(ctx) {
      const client = await ctx.connect();
      // The encoder refuses alias 0: written by hand (QoS 0, properties: 0x23 0x0000).
      await client.sendRaw(rawPacket(0x30, [...rawString(ctx.topic()), 3, 0x23, 0, 0, 0x78]));
      await expectAliasError(ctx, client, "Topic Alias 0");
    },
  }),
  ...defineScenario({
    name: "topic-alias.above-maximum",
    ids: { 5: "MQTT-3.3.2-9" },
    title: "A Topic Alias above the broker's Topic Alias Maximum closes the connection",
    area: "topic-alias",
    async run(ctx) {
      const client = await ctx.connect();
      const max = client.connack.properties?.topicAliasMaximum ?? 0;
      await client.send({
        type: "publish",
        topic: ctx.topic(),
        payload: new Uint8Array([1]),
        qos: 1,
        packetId: client.packetId(),
        retain: false,
        dup: false,
        properties: { topicAlias: max + 1 },
      });
      await expectAliasError(ctx, client, `Topic Alias ${max + 1} with a maximum of ${max}`);
    },
  }),
  ...defineScenario({
    name: "topic-alias.per-connection",
    ids: { 5: "MQTT-3.3.2-7" },
    title: "Topic Aliases do not carry over to a new connection of the same session",
    area: "topic-alias",
    async run(ctx) {
      const clientId = ctx.clientId();
      ctx.endSessionAfter(clientId);
      const options = { clientId, properties: { sessionExpiryInterval: 60 } };
      const first = await ctx.connect(options);
      aliasMaximum(ctx, first);
      await ctx.publish(first, ctx.topic(), "set", { qos: 1, properties: { topicAlias: 1 } });
      await first.send({ type: "disconnect", reasonCode: 0 });
      await ctx.expectClosed(first, "DISCONNECT");
      const second = await ctx.connect({ ...options, clean: false });
      await second.send({
        type: "publish",
        topic: "",
        payload: new Uint8Array([1]),
        qos: 1,
        packetId: second.packetId(),
        retain: false,
        dup: false,
        properties: { topicAlias: 1 },
      });
      await expectAliasError(ctx, second, "an alias set on the previous connection");
    },
  }),
  ...defineScenario({
    name: "topic-alias.not-sent-unasked",
    ids: { 5: "MQTT-3.1.2-27" },
    title: "The broker sends no Topic Alias to a client whose Topic Alias Maximum is 0",
    area: "topic-alias",
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, topic);
      const pub = await ctx.connect();
      for (let i = 0; i < 3; i++) await ctx.publish(pub, topic, String(i));
      for (let i = 0; i < 3; i++) {
        const message = await ctx.receive(sub);
        ctx.check(
          message.topic === topic && message.properties?.topicAlias === undefined,
          `got ${describePacket(message)}`,
        );
      }
    },
  }),
];
