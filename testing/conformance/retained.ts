/**
 * Broker conformance scenarios, area "retained": storing, replacing and removing
 * retained messages, the RETAIN flag on delivery and (MQTT 5) Retain Handling and
 * Retain As Published.
 *
 * @module
 */

import { relay, subscribeAfterRetained } from "./_flows.ts";
import { describePacket } from "./_raw_client.ts";
import { defineScenario, type Scenario, text } from "./scenario.ts";

/**
 * The "retained" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { RETAINED_SCENARIOS } from "./retained.ts";
 * assert.ok(RETAINED_SCENARIOS.every((s) => s.area === "retained"));
 * ```
 */
export const RETAINED_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "retained.sent-on-subscribe",
    ids: { 4: "MQTT-3.3.1-6", 5: "MQTT-3.3.1-9" },
    title: "A new subscription gets the retained message, with RETAIN 1",
    area: "retained",
    async run(ctx) {
      const { sub } = await subscribeAfterRetained(ctx, ["kept"], { qos: 1 });
      const message = await ctx.receive(sub, "the retained message");
      ctx.check(text(message.payload) === "kept", describePacket(message));
      ctx.check(message.retain, "RETAIN is 0 on a message sent for a new subscription");
    },
  }),
  ...defineScenario({
    name: "retained.wildcard-subscribe",
    ids: { 4: "MQTT-3.3.1-6", 5: "MQTT-3.3.1-9" },
    title: "A new wildcard subscription gets the retained message of every matching topic",
    area: "retained",
    async run(ctx) {
      const topics = [ctx.topic("w/a"), ctx.topic("w/b"), ctx.topic("w/c/d")];
      const pub = await ctx.connect();
      for (const topic of topics) {
        ctx.clearRetainedAfter(topic);
        await ctx.publish(pub, topic, topic, { qos: 1, retain: true });
      }
      const sub = await ctx.connect();
      await ctx.subscribeOk(sub, ctx.topic("w/#"), { qos: 1 });
      const got = new Set<string>();
      for (let i = 0; i < topics.length; i++) got.add((await ctx.receive(sub)).topic);
      ctx.check(topics.every((t) => got.has(t)), `retained messages received: ${[...got].join()}`);
    },
  }),
  ...defineScenario({
    name: "retained.live-retain-0",
    ids: { 4: "MQTT-3.3.1-9", 5: "MQTT-3.3.1-12" },
    title: "A retained message sent to an established subscription has RETAIN 0",
    area: "retained",
    async run(ctx) {
      const { message } = await relay(ctx, { qos: 1 }, "live", { qos: 1, retain: true });
      ctx.check(!message.retain, "RETAIN is 1 on a delivery to an established subscription");
    },
  }),
  ...defineScenario({
    name: "retained.replace",
    ids: { 4: "MQTT-3.3.1-5", 5: "MQTT-3.3.1-5" },
    title: "A new retained message replaces the previous one on its topic",
    area: "retained",
    async run(ctx) {
      const { sub } = await subscribeAfterRetained(ctx, ["old", "new"], { qos: 1 });
      const message = await ctx.receive(sub);
      ctx.check(text(message.payload) === "new", `retained payload is "${text(message.payload)}"`);
      await ctx.ack(sub, message);
      await ctx.expectQuiet(sub, "a second retained message");
    },
  }),
  ...defineScenario({
    name: "retained.empty-removes",
    ids: { 4: "MQTT-3.3.1-10", 5: "MQTT-3.3.1-6" },
    title: "A retained message with an empty payload removes the retained message",
    area: "retained",
    async run(ctx) {
      const publications = ["soon gone", new Uint8Array(0)];
      const { sub } = await subscribeAfterRetained(ctx, publications, { qos: 1 });
      await ctx.expectQuiet(sub, "a retained message after it was removed");
    },
  }),
  ...defineScenario({
    name: "retained.retain-0-keeps",
    ids: { 4: "MQTT-3.3.1-12", 5: "MQTT-3.3.1-8" },
    title: "A PUBLISH with RETAIN 0 neither stores nor replaces the retained message",
    area: "retained",
    async run(ctx) {
      const publications = ["retained", { payload: "not retained", retain: false }];
      const { sub } = await subscribeAfterRetained(ctx, publications, { qos: 1 });
      const message = await ctx.receive(sub);
      ctx.check(text(message.payload) === "retained", `got "${text(message.payload)}"`);
    },
  }),
  ...defineScenario({
    name: "retained.handling-1",
    ids: { 5: "MQTT-3.3.1-10" },
    title: "Retain Handling 1 sends retained messages only when the subscription is new",
    area: "retained",
    async run(ctx) {
      const handling1 = { qos: 1, retainHandling: 1 } as const;
      const { topic, sub } = await subscribeAfterRetained(ctx, ["r"], handling1);
      const subscription = { topicFilter: topic, ...handling1 };
      const first = await ctx.receive(sub, "the retained message for a new subscription");
      await ctx.ack(sub, first);
      await ctx.subscribeOk(sub, subscription);
      await ctx.expectQuiet(sub, "retained message sent again for an existing subscription");
    },
  }),
  ...defineScenario({
    name: "retained.handling-2",
    ids: { 5: "MQTT-3.3.1-11" },
    title: "Retain Handling 2 sends no retained messages on subscribe",
    area: "retained",
    async run(ctx) {
      const { sub } = await subscribeAfterRetained(ctx, ["r"], { qos: 1, retainHandling: 2 });
      await ctx.expectQuiet(sub, "retained message sent despite Retain Handling 2");
    },
  }),
  ...defineScenario({
    name: "retained.as-published",
    ids: { 5: "MQTT-3.3.1-13" },
    title: "Retain As Published keeps RETAIN 1 on deliveries to an established subscription",
    area: "retained",
    async run(ctx) {
      const { message } = await relay(ctx, { qos: 1, retainAsPublished: true }, "r", {
        qos: 1,
        retain: true,
      });
      ctx.check(message.retain, "RETAIN is 0 despite Retain As Published");
    },
  }),
];
