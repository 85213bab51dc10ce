/**
 * Scenario steps that many broker scenarios share: a message relayed from a publisher
 * to a subscriber, and retained messages published before a subscription.
 *
 * @module
 */

import type { PublishPacket, Subscription } from "../../lib/packet/types.ts";
import type { Connected, ScenarioContext, ScenarioPublishOptions } from "./scenario.ts";

/**
 * The subscription of a flow, without its filter (the flow's topic): a maximum QoS and,
 * in MQTT 5, the subscription options.
 *
 * @example A QoS 1 subscription that keeps the RETAIN flag
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FlowSubscription } from "./_flows.ts";
 * const subscription: FlowSubscription = { qos: 1, retainAsPublished: true };
 * assert.equal(subscription.qos, 1);
 * ```
 */
export type FlowSubscription = Omit<Subscription, "topicFilter">;

/**
 * What {@link relay} leaves behind: the topic, both clients and the delivered message.
 *
 * @example Read the delivery of a relay
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Relayed } from "./_flows.ts";
 * function delivered(relayed: Relayed): number {
 *   return relayed.message.qos;
 * }
 * assert.equal(typeof delivered, "function");
 * ```
 */
export interface Relayed {
  /** The fresh topic the message went to. */
  topic: string;
  /** The subscribed client (its delivery is not acknowledged yet). */
  sub: Connected;
  /** The publishing client. */
  pub: Connected;
  /** The PUBLISH the subscriber received. */
  message: PublishPacket;
}

/**
 * Subscribes a new client to a fresh topic, publishes `payload` to it from a second
 * client (completing the QoS 1 / 2 handshake) and takes the subscriber's delivery. A
 * retained publication is cleared when the scenario ends.
 *
 * @example A scenario relaying one QoS 1 message
 * ```ts
 * import assert from "node:assert/strict";
 * import { relay } from "./_flows.ts";
 * import { defineScenario } from "./scenario.ts";
 * const scenarios = defineScenario({
 *   name: "example.relay",
 *   ids: { 4: "MQTT-4.3.2-2" },
 *   title: "A QoS 1 message arrives at QoS 1",
 *   area: "publish",
 *   async run(ctx) {
 *     const { message } = await relay(ctx, { qos: 1 }, "one", { qos: 1 });
 *     ctx.check(message.qos === 1, `delivered at QoS ${message.qos}`);
 *   },
 * });
 * assert.equal(scenarios.length, 1);
 * ```
 */
export async function relay(
  ctx: ScenarioContext,
  subscription: FlowSubscription,
  payload: string | Uint8Array,
  options: ScenarioPublishOptions = {},
): Promise<Relayed> {
  const topic = ctx.topic();
  if (options.retain) ctx.clearRetainedAfter(topic);
  const sub = await ctx.connect();
  await ctx.subscribeOk(sub, { topicFilter: topic, ...subscription });
  const pub = await ctx.connect();
  await ctx.publish(pub, topic, payload, options);
  const message = await ctx.receive(sub);
  return { topic, sub, pub, message };
}

/**
 * A publication of {@link subscribeAfterRetained}: a payload published retained, or one
 * with its RETAIN flag given.
 *
 * @example Both forms
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Publication } from "./_flows.ts";
 * const publications: Publication[] = ["kept", { payload: "not kept", retain: false }];
 * assert.equal(publications.length, 2);
 * ```
 */
export type Publication = string | Uint8Array | { payload: string | Uint8Array; retain: boolean };

/**
 * Publishes `publications` at QoS 1 to a fresh topic (cleared of retained messages when
 * the scenario ends), then subscribes a new client to that topic with `subscription`.
 * Returns the topic and both clients; what the subscriber received is still queued.
 *
 * @example A scenario checking the retained message
 * ```ts
 * import assert from "node:assert/strict";
 * import { subscribeAfterRetained } from "./_flows.ts";
 * import { defineScenario, text } from "./scenario.ts";
 * const scenarios = defineScenario({
 *   name: "example.retained",
 *   ids: { 4: "MQTT-3.3.1-6", 5: "MQTT-3.3.1-9" },
 *   title: "A new subscription gets the retained message",
 *   area: "retained",
 *   async run(ctx) {
 *     const { sub } = await subscribeAfterRetained(ctx, ["kept"], { qos: 1 });
 *     const message = await ctx.receive(sub);
 *     ctx.check(text(message.payload) === "kept", "another payload");
 *   },
 * });
 * assert.equal(scenarios.length, 2);
 * ```
 */
export async function subscribeAfterRetained(
  ctx: ScenarioContext,
  publications: readonly Publication[],
  subscription: FlowSubscription,
): Promise<{ topic: string; sub: Connected; pub: Connected }> {
  const topic = ctx.topic();
  ctx.clearRetainedAfter(topic);
  const pub = await ctx.connect();
  for (const publication of publications) {
    const { payload, retain } = typeof publication === "string" ||
        publication instanceof Uint8Array
      ? { payload: publication, retain: true }
      : publication;
    await ctx.publish(pub, topic, payload, { qos: 1, retain });
  }
  const sub = await ctx.connect();
  await ctx.subscribeOk(sub, { topicFilter: topic, ...subscription });
  return { topic, sub, pub };
}
