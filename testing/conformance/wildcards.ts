/**
 * Broker conformance scenarios, area "wildcards": matching with `#` and `+`, topics
 * starting with `$`, and invalid topic filters.
 *
 * @module
 */

import { defineScenario, type Scenario, type ScenarioContext } from "./scenario.ts";

/**
 * Subscribes to `filter`, publishes to every topic of `topics` then to a marker topic
 * that matches, and returns the topics received before the marker.
 */
async function matched(
  ctx: ScenarioContext,
  filter: string,
  topics: string[],
  marker: string,
): Promise<string[]> {
  const sub = await ctx.connect();
  await ctx.subscribeOk(sub, filter, { qos: 1 });
  const pub = await ctx.connect();
  for (const topic of topics) await ctx.publish(pub, topic, topic, { qos: 1 });
  await ctx.publish(pub, marker, "marker", { qos: 1 });
  const got: string[] = [];
  for (;;) {
    const message = await ctx.receive(sub);
    await ctx.ack(sub, message);
    if (message.topic === marker) return got;
    got.push(message.topic);
  }
}

/**
 * The "wildcards" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { WILDCARD_SCENARIOS } from "./wildcards.ts";
 * assert.ok(WILDCARD_SCENARIOS.every((s) => s.area === "wildcards"));
 * ```
 */
export const WILDCARD_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "wildcards.multi-level",
    ids: { 4: "MQTT-4.7.1-2", 5: "MQTT-4.7.1-1" },
    title: "'#' matches its parent level and every level below it",
    area: "wildcards",
    async run(ctx) {
      const base = ctx.topic("m");
      const topics = [base, `${base}/a`, `${base}/a/b/c`, `${base}/`];
      const got = await matched(ctx, `${base}/#`, [...topics, ctx.topic("other")], `${base}/z`);
      ctx.check(got.join() === topics.join(), `matched ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "wildcards.single-level",
    ids: { 4: "MQTT-4.7.1-3", 5: "MQTT-4.7.1-2" },
    title: "'+' matches exactly one level, an empty level included",
    area: "wildcards",
    async run(ctx) {
      const base = ctx.topic("s");
      const yes = [`${base}/a/end`, `${base}//end`];
      const no = [`${base}/a/b/end`, `${base}/end`, `${base}/a/end/x`];
      const got = await matched(ctx, `${base}/+/end`, [...yes, ...no], `${base}/z/end`);
      ctx.check(got.join() === yes.join(), `matched ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "wildcards.dollar-topics",
    ids: { 4: "MQTT-4.7.2-1", 5: "MQTT-4.7.2-1" },
    title: "A filter starting with a wildcard does not match topics starting with '$'",
    area: "wildcards",
    async run(ctx) {
      const unique = ctx.topic().replaceAll("/", "-");
      const got = await matched(
        ctx,
        `+/${unique}/#`,
        [`$cf/${unique}/x`],
        `cf/${unique}/x`,
      );
      ctx.check(got.length === 0, `matched ${got.join()}`);
    },
  }),
  ...defineScenario({
    name: "wildcards.hash-not-last",
    ids: { 4: "MQTT-4.7.1-2", 5: "MQTT-4.7.1-1" },
    title: "A filter with '#' before its last level is refused",
    area: "wildcards",
    run: (ctx) => ctx.expectRefused(`${ctx.topic("#")}/x`),
  }),
  ...defineScenario({
    name: "wildcards.plus-in-level",
    ids: { 4: "MQTT-4.7.1-3", 5: "MQTT-4.7.1-2" },
    title: "A filter with '+' sharing a level with other characters is refused",
    area: "wildcards",
    run: (ctx) => ctx.expectRefused(`${ctx.topic("a+")}/x`),
  }),
  ...defineScenario({
    name: "wildcards.empty-filter",
    ids: { 4: "MQTT-4.7.3-1", 5: "MQTT-4.7.3-1" },
    title: "An empty topic filter is refused",
    area: "wildcards",
    run: (ctx) => ctx.expectRefused(""),
  }),
];
