/**
 * Broker conformance scenarios, area "flow-control" (MQTT 5): the client's Receive
 * Maximum and Maximum Packet Size bound what the broker sends.
 *
 * @module
 */

import { describePacket, type RawClient } from "./_raw_client.ts";
import { defineScenario, type Scenario, text } from "./scenario.ts";

/**
 * The "flow-control" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { FLOW_CONTROL_SCENARIOS } from "./flow_control.ts";
 * assert.ok(FLOW_CONTROL_SCENARIOS.every((s) => s.area === "flow-control"));
 * ```
 */
export const FLOW_CONTROL_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "flow-control.receive-maximum",
    ids: { 5: "MQTT-3.3.4-9" },
    title: "The broker keeps at most the client's Receive Maximum QoS 1 messages unacknowledged",
    area: "flow-control",
    async run(ctx) {
      const topic = ctx.topic();
      const sub: RawClient = await ctx.connect({ properties: { receiveMaximum: 2 } });
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      const pub = await ctx.connect();
      for (let i = 0; i < 5; i++) await ctx.publish(pub, topic, String(i), { qos: 1 });
      const inflight = [await ctx.receive(sub), await ctx.receive(sub)];
      await ctx.expectQuiet(sub, "a third message while two are unacknowledged");
      const got = inflight.map((m) => text(m.payload));
      for (const message of inflight) await ctx.ack(sub, message);
      for (let i = 2; i < 5; i++) {
        const message = await ctx.receive(sub, "the next message once a slot was free");
        got.push(text(message.payload));
        await ctx.ack(sub, message);
      }
      ctx.check(got.join() === "0,1,2,3,4", `received ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "flow-control.maximum-packet-size",
    ids: { 5: "MQTT-3.1.2-24" },
    title: "The broker never sends a packet larger than the client's Maximum Packet Size",
    area: "flow-control",
    async run(ctx) {
      const topic = ctx.topic();
      const sub = await ctx.connect({ properties: { maximumPacketSize: 128 } });
      await ctx.subscribeOk(sub, topic, { qos: 1 });
      const pub = await ctx.connect();
      await ctx.publish(pub, topic, "x".repeat(300), { qos: 1 });
      await ctx.publish(pub, topic, "small", { qos: 1 });
      const first = await ctx.receive(sub);
      ctx.check(text(first.payload) === "small", `received ${describePacket(first)}`);
    },
  }),
];
