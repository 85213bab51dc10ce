/**
 * Broker conformance scenarios, area "publish": SUBSCRIBE / UNSUBSCRIBE and the QoS 0, 1
 * and 2 flows, ordering, the DUP flag and (MQTT 5) properties, No Local and Subscription
 * Identifiers.
 *
 * @module
 */

import { relay } from "./_flows.ts";
import { describePacket } from "./_raw_client.ts";
import { defineScenario, type Scenario, text } from "./scenario.ts";

/**
 * The "publish" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { PUBLISH_SCENARIOS } from "./publish.ts";
 * assert.ok(PUBLISH_SCENARIOS.every((s) => s.area === "publish"));
 * ```
 */
export const PUBLISH_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "publish.suback",
    ids: { 4: "MQTT-3.8.4-1", 5: "MQTT-3.8.4-1" },
    title: "SUBSCRIBE is answered with a SUBACK of the same packet id granting the QoS asked",
    area: "publish",
    async run(ctx) {
      const client = await ctx.connect();
      for (const qos of [0, 1, 2] as const) {
        const suback = await ctx.subscribeOk(client, ctx.topic(`q${qos}`), { qos });
        ctx.check(
          suback.reasonCodes[0] === qos,
          `asked QoS ${qos}, granted ${suback.reasonCodes[0]}`,
        );
      }
    },
  }),
  ...defineScenario({
    name: "publish.suback-per-filter",
    ids: { 4: "MQTT-3.8.4-5", 5: "MQTT-3.9.3-1" },
    title:
      "A SUBSCRIBE with several filters gets one SUBACK with a reason code per filter, in order",
    area: "publish",
    async run(ctx) {
      const client = await ctx.connect();
      const suback = await ctx.subscribeOk(client, [
        { topicFilter: ctx.topic("a"), qos: 2 },
        { topicFilter: ctx.topic("b"), qos: 0 },
        { topicFilter: ctx.topic("c"), qos: 1 },
      ]);
      ctx.check(
        suback.reasonCodes.join() === "2,0,1",
        `expected granted QoS 2,0,1, got ${suback.reasonCodes.join()}`,
      );
    },
  }),
  ...defineScenario({
    name: "publish.qos0",
    ids: { 4: "MQTT-4.3.1-1", 5: "MQTT-4.3.1-1" },
    title: "A QoS 0 message reaches a subscriber at QoS 0, payload unchanged",
    area: "publish",
    async run(ctx) {
      const { topic, message } = await relay(ctx, { qos: 2 }, "hello", { qos: 0 });
      ctx.check(
        message.topic === topic && text(message.payload) === "hello",
        describePacket(message),
      );
      ctx.check(message.qos === 0, `delivered at QoS ${message.qos}`);
      ctx.check(!message.dup, "DUP set on a QoS 0 delivery");
    },
  }),
  ...defineScenario({
    name: "publish.qos1-puback",
    ids: { 4: "MQTT-4.3.2-2", 5: "MQTT-4.3.2-4" },
    title: "A QoS 1 PUBLISH is answered with PUBACK of its packet id and delivered at QoS 1",
    area: "publish",
    async run(ctx) {
      const { sub, message } = await relay(ctx, { qos: 1 }, "one", { qos: 1 });
      ctx.check(message.qos === 1 && message.packetId !== undefined, describePacket(message));
      await ctx.ack(sub, message);
    },
  }),
  ...defineScenario({
    name: "publish.qos2-flow",
    ids: { 4: "MQTT-4.3.3-2", 5: "MQTT-4.3.3-8" },
    title: "A QoS 2 PUBLISH completes PUBREC / PUBREL / PUBCOMP and is delivered at QoS 2",
    area: "publish",
    async run(ctx) {
      const { sub, message } = await relay(ctx, { qos: 2 }, "two", { qos: 2 });
      ctx.check(message.qos === 2, `delivered at QoS ${message.qos}`);
      await ctx.ack(sub, message);
    },
  }),
  ...defineScenario({
    name: "publish.qos2-once",
    ids: { 4: "MQTT-4.3.3-2", 5: "MQTT-4.3.3-10" },
    title: "A QoS 2 PUBLISH re-sent with DUP before PUBREL is acknowledged but delivered once",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic();
      const marker = ctx.topic("marker");
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, [topic, marker], { qos: 2 });
      const pub = await ctx.connect();
      const packetId = pub.packetId();
      const payload = new TextEncoder().encode("exactly once");
      const publish = { type: "publish", topic, payload, qos: 2, retain: false, packetId } as const;
      await pub.send({ ...publish, dup: false });
      await pub.take((p) => p.type === "pubrec" && p.packetId === packetId);
      await pub.send({ ...publish, dup: true });
      await pub.take((p) => p.type === "pubrec" && p.packetId === packetId);
      await pub.send({ type: "pubrel", packetId, ...(ctx.version === 5 ? { reasonCode: 0 } : {}) });
      await pub.take((p) => p.type === "pubcomp" && p.packetId === packetId);
      await ctx.publish(pub, marker, "marker", { qos: 2 });
      const first = await ctx.receiveOn(sub, topic);
      await ctx.ack(sub, first);
      const last = await ctx.receiveOn(sub, marker);
      await ctx.ack(sub, last);
      await ctx.expectQuiet(sub, "a second copy of the QoS 2 message", (p) => p.topic === topic);
    },
  }),
  ...defineScenario({
    name: "publish.qos-downgrade",
    ids: { 4: "MQTT-3.8.4-6", 5: "MQTT-3.8.4-8" },
    title: "Delivery QoS is the minimum of the published QoS and the granted QoS",
    area: "publish",
    async run(ctx) {
      const low = ctx.topic("low");
      const high = ctx.topic("high");
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, [{ topicFilter: low, qos: 1 }, { topicFilter: high, qos: 2 }]);
      const pub = await ctx.connect();
      await ctx.publish(pub, low, "2 to 1", { qos: 2 });
      const a = await ctx.receiveOn(sub, low);
      ctx.check(a.qos === 1, `QoS 2 message on a QoS 1 subscription delivered at QoS ${a.qos}`);
      await ctx.ack(sub, a);
      await ctx.publish(pub, high, "1 stays 1", { qos: 1 });
      const b = await ctx.receiveOn(sub, high);
      ctx.check(b.qos === 1, `QoS 1 message on a QoS 2 subscription delivered at QoS ${b.qos}`);
      await ctx.ack(sub, b);
    },
  }),
  ...defineScenario({
    name: "publish.ordered",
    ids: { 4: "MQTT-4.6.0-6", 5: "MQTT-4.6.0-5" },
    title: "Messages on one topic from one client are delivered in the order published",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      const pub = await ctx.connect();
      for (let i = 0; i < 10; i++) {
        await ctx.publish(pub, topic, String(i), { qos: (i % 2) as 0 | 1 });
      }
      const got: string[] = [];
      for (let i = 0; i < 10; i++) {
        const message = await ctx.receive(sub);
        got.push(text(message.payload));
        await ctx.ack(sub, message);
      }
      ctx.check(got.join() === "0,1,2,3,4,5,6,7,8,9", `received in order ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "publish.dup-not-forwarded",
    ids: { 4: "MQTT-3.3.1-3", 5: "MQTT-3.3.1-3" },
    title: "The DUP flag of an incoming PUBLISH is not copied to the first delivery",
    area: "publish",
    async run(ctx) {
      const { sub, message } = await relay(ctx, { qos: 1 }, "dup", { qos: 1, dup: true });
      ctx.check(!message.dup, "the first delivery carries DUP 1");
      await ctx.ack(sub, message);
    },
  }),
  ...defineScenario({
    name: "publish.resubscribe-replaces",
    ids: { 4: "MQTT-3.8.4-3", 5: "MQTT-3.8.4-3" },
    title: "Subscribing again to the same filter replaces the subscription: one copy, new QoS",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, topic, { qos: 0 });
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "once", { qos: 1 });
      const message = await ctx.receive(sub);
      ctx.check(message.qos === 1, `delivered at QoS ${message.qos}, not the new QoS 1`);
      await ctx.ack(sub, message);
      await ctx.expectQuiet(sub, "a second copy");
    },
  }),
  ...defineScenario({
    name: "publish.unsubscribe",
    ids: { 4: "MQTT-3.10.4-4", 5: "MQTT-3.10.4-4" },
    title: "UNSUBSCRIBE is answered with UNSUBACK and stops deliveries on that filter",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic();
      const marker = ctx.topic("marker");
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, [topic, marker], { qos: 1 });
      const packetId = sub.packetId();
      await sub.send({ type: "unsubscribe", packetId, topicFilters: [topic] });
      const unsuback = await sub.take((p) => p.type === "unsuback");
      ctx.check(
        unsuback.type === "unsuback" && unsuback.packetId === packetId,
        `UNSUBACK for another packet id: ${describePacket(unsuback)}`,
      );
      if (ctx.version === 5) {
        ctx.check(
          unsuback.type === "unsuback" && unsuback.reasonCodes?.[0] === 0,
          `expected reason code 0x00, got ${describePacket(unsuback)}`,
        );
      }
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "gone", { qos: 1 });
      await ctx.publish(pub, marker, "marker", { qos: 1 });
      const first = await ctx.receive(sub);
      ctx.check(first.topic === marker, `delivered after UNSUBSCRIBE: ${describePacket(first)}`);
    },
  }),
  ...defineScenario({
    name: "publish.unsubscribe-unknown",
    ids: { 4: "MQTT-3.10.4-5", 5: "MQTT-3.10.4-5" },
    title: "UNSUBSCRIBE of a filter never subscribed is still answered with UNSUBACK",
    area: "publish",
    async run(ctx) {
      const sub = await ctx.connect();
      const packetId = sub.packetId();
      await sub.send({ type: "unsubscribe", packetId, topicFilters: [ctx.topic("never")] });
      const unsuback = await sub.expect("unsuback");
      ctx.check(unsuback.packetId === packetId, `wrong packet id: ${describePacket(unsuback)}`);
      if (ctx.version === 5) {
        const code = unsuback.reasonCodes?.[0];
        ctx.check(
          code === 0x11 || code === 0,
          `expected 0x11 No subscription existed, got ${code}`,
        );
      }
    },
  }),
  ...defineScenario({
    name: "publish.properties-forwarded",
    ids: { 5: "MQTT-3.3.2-15" },
    title:
      "Response Topic, Correlation Data, Content Type and Payload Format Indicator are forwarded unaltered",
    area: "publish",
    async run(ctx) {
      const { message } = await relay(ctx, { qos: 1 }, "{}", {
        qos: 1,
        properties: {
          responseTopic: ctx.topic("reply"),
          correlationData: new Uint8Array([0, 1, 2, 255]),
          contentType: "application/json",
          payloadFormatIndicator: 1,
        },
      });
      const p = message.properties ?? {};
      ctx.check(p.responseTopic === ctx.topic("reply"), `Response Topic: ${p.responseTopic}`);
      ctx.check(
        p.correlationData?.join() === "0,1,2,255",
        `Correlation Data: ${p.correlationData?.join()}`,
      );
      ctx.check(p.contentType === "application/json", `Content Type: ${p.contentType}`);
      ctx.check(
        p.payloadFormatIndicator === 1,
        `Payload Format Indicator: ${p.payloadFormatIndicator}`,
      );
    },
  }),
  ...defineScenario({
    name: "publish.user-properties",
    ids: { 5: "MQTT-3.3.2-18" },
    title: "User Properties are forwarded unaltered and in order, repeats included",
    area: "publish",
    async run(ctx) {
      const userProperties: [string, string][] = [["b", "1"], ["a", "2"], ["b", "3"], ["é", "ü"]];
      const { message } = await relay(ctx, { qos: 0 }, "x", { properties: { userProperties } });
      const got = JSON.stringify(message.properties?.userProperties ?? []);
      ctx.check(got === JSON.stringify(userProperties), `User Properties: ${got}`);
    },
  }),
  ...defineScenario({
    name: "publish.no-local",
    ids: { 5: "MQTT-3.8.3-3" },
    title: "With No Local, a client's own messages are not sent back to it",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic();
      const marker = ctx.topic("marker");
      const client = await ctx.connect();
      await ctx.subscribeOk(client, [
        { topicFilter: topic, qos: 1, noLocal: true },
        { topicFilter: marker, qos: 1 },
      ]);
      await ctx.publish(client, topic, "mine", { qos: 1 });
      await ctx.publish(client, marker, "marker", { qos: 1 });
      const first = await ctx.receive(client);
      ctx.check(first.topic === marker, `own message sent back: ${describePacket(first)}`);
      await ctx.ack(client, first);
      const other = await ctx.connect();
      await ctx.publish(other, topic, "theirs", { qos: 1 });
      const theirs = await ctx.receive(client);
      ctx.check(text(theirs.payload) === "theirs", `expected the other client's message`);
    },
  }),
  ...defineScenario({
    name: "publish.subscription-identifier",
    ids: { 5: "MQTT-3.3.4-3" },
    title: "A PUBLISH carries the Subscription Identifiers of the matching subscriptions",
    area: "publish",
    async run(ctx) {
      const sub = await ctx.connect();
      if (sub.connack.properties?.subscriptionIdentifiersAvailable === 0) {
        ctx.skip("not supported: Subscription Identifiers Available is 0");
      }
      const topic = ctx.topic("x");
      await ctx.subscribeOk(sub, topic, { qos: 1, properties: { subscriptionIdentifiers: [7] } });
      await ctx.subscribeOk(sub, ctx.topic("+"), {
        qos: 1,
        properties: { subscriptionIdentifiers: [300] },
      });
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "ids", { qos: 1 });
      const ids = new Set<number>();
      const first = await ctx.receive(sub);
      for (const id of first.properties?.subscriptionIdentifiers ?? []) ids.add(id);
      await ctx.ack(sub, first);
      if (!(ids.has(7) && ids.has(300))) {
        // A broker may send one copy per subscription instead of one with both ids.
        const second = await ctx.receive(sub, "a second copy carrying the other identifier");
        for (const id of second.properties?.subscriptionIdentifiers ?? []) ids.add(id);
      }
      ctx.check(
        ids.has(7) && ids.has(300),
        `Subscription Identifiers received: ${[...ids].join()}`,
      );
    },
  }),
  ...defineScenario({
    name: "publish.overlapping",
    ids: { 4: "MQTT-3.3.5-1", 5: "MQTT-3.3.4-2" },
    title: "With overlapping subscriptions the message is delivered at the highest granted QoS",
    area: "publish",
    async run(ctx) {
      const topic = ctx.topic("o/x");
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, [{ topicFilter: ctx.topic("o/#"), qos: 0 }, {
        topicFilter: topic,
        qos: 2,
      }]);
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "overlap", { qos: 2 });
      await ctx.publish(pub, ctx.topic("o/end"), "marker", { qos: 0 });
      const qos: number[] = [];
      for (;;) {
        const message = await ctx.receive(sub);
        await ctx.ack(sub, message);
        if (message.topic !== topic) break;
        qos.push(message.qos);
      }
      ctx.check(qos.includes(2), `delivered at QoS ${qos.join(" and ") || "none"}, not at QoS 2`);
    },
  }),
  ...defineScenario({
    name: "publish.unsuback-per-filter",
    ids: { 5: "MQTT-3.11.3-1" },
    title: "UNSUBACK has one reason code per filter, in order: 0x00 removed, 0x11 no subscription",
    area: "publish",
    async run(ctx) {
      const client = await ctx.connect();
      await ctx.subscribeOk(client, [ctx.topic("a"), ctx.topic("c")]);
      const packetId = client.packetId();
      await client.send({
        type: "unsubscribe",
        packetId,
        topicFilters: [ctx.topic("a"), ctx.topic("b"), ctx.topic("c")],
      });
      const unsuback = await client.expect("unsuback");
      ctx.check(
        unsuback.packetId === packetId && unsuback.reasonCodes?.join() === "0,17,0",
        `expected reason codes 0x00, 0x11, 0x00: ${describePacket(unsuback)}`,
      );
    },
  }),
];
