/**
 * Broker conformance scenarios, area "shared" (MQTT 5): shared subscriptions spread
 * messages over a group, share name rules, No Local on a shared subscription.
 *
 * @module
 */

import { describePacket, type RawClient } from "./_raw_client.ts";
import {
  defineScenario,
  rawPacket,
  rawString,
  type Scenario,
  type ScenarioContext,
  text,
} from "./scenario.ts";

/** Skips the scenario when the CONNACK says shared subscriptions are not available. */
function requireShared(
  ctx: ScenarioContext,
  client: { connack: { properties?: { sharedSubscriptionAvailable?: number } } },
): void {
  if (client.connack.properties?.sharedSubscriptionAvailable === 0) {
    ctx.skip("not supported: Shared Subscription Available is 0");
  }
}

/** Takes `count` QoS 1 PUBLISH packets spread over `clients`, acknowledging each. */
async function collect(
  ctx: ScenarioContext,
  clients: RawClient[],
  count: number,
): Promise<string[][]> {
  const got: string[][] = clients.map(() => []);
  const deadline = Date.now() + ctx.timeoutMs;
  let total = 0;
  while (total < count) {
    let progressed = false;
    for (const [i, client] of clients.entries()) {
      if (!client.pending.some((p) => p.type === "publish")) continue;
      const message = await ctx.receive(client);
      await ctx.ack(client, message);
      ctx.check(
        message.qos === 1,
        `delivered at QoS ${message.qos} on a subscription granted QoS 1`,
      );
      got[i]!.push(text(message.payload));
      total++;
      progressed = true;
    }
    if (progressed) continue;
    ctx.check(Date.now() < deadline, `only ${total} of ${count} messages reached the group`);
    await ctx.sleep(5);
  }
  return got;
}

/**
 * The "shared" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { SHARED_SCENARIOS } from "./shared.ts";
 * assert.ok(SHARED_SCENARIOS.every((s) => s.area === "shared" && s.version === 5));
 * ```
 */
export const SHARED_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "shared.one-per-group",
    ids: { 5: "MQTT-4.8.2-3" },
    title:
      "Each message on a shared subscription goes to one member of the group, at the QoS granted to it",
    area: "shared",
    async run(ctx) {
      const topic = ctx.topic();
      const filter = `$share/g${ctx.clientId()}/${topic}`;
      const members = [await ctx.connect(), await ctx.connect()];
      requireShared(ctx, members[0]!);
      for (const member of members) {
        const suback = await ctx.subscribe(member, filter, { qos: 1 });
        if (suback.reasonCodes[0] === 0x9e) ctx.skip("not supported: SUBACK 0x9E");
        ctx.check(suback.reasonCodes[0]! < 0x80, `SUBACK refused: ${describePacket(suback)}`);
      }
      const pub = await ctx.connect();
      const sent = ["0", "1", "2", "3", "4", "5"];
      for (const payload of sent) await ctx.publish(pub, topic, payload, { qos: 2 });
      const got = await collect(ctx, members, sent.length);
      const all = got.flat().sort();
      ctx.check(all.join() === sent.join(), `the group received ${all.join()}`);
      for (const member of members) await ctx.expectQuiet(member, "a second copy");
    },
  }),
  ...defineScenario({
    name: "shared.invalid-share-name",
    ids: { 5: "MQTT-4.8.2-2" },
    title: "A shared subscription whose share name contains a wildcard is refused",
    area: "shared",
    async run(ctx) {
      await ctx.expectRefused(`$share/g+/${ctx.topic()}`);
    },
  }),
  ...defineScenario({
    name: "shared.no-local",
    ids: { 5: "MQTT-3.8.3-4" },
    title: "No Local on a shared subscription is a protocol error: the connection is closed",
    area: "shared",
    async run(ctx) {
      const client = await ctx.connect();
      requireShared(ctx, client);
      // The encoder refuses this packet: written by hand (options: No Local, QoS 1).
      const filter = `$share/g/${ctx.topic()}`;
      await client.sendRaw(rawPacket(0x82, [0, 9, 0, ...rawString(filter), 0x05]));
      const sent = await ctx.expectClosed(client, "No Local on a shared subscription");
      ctx.check(
        !sent.some((p) => p.type === "suback" && p.reasonCodes.every((code) => code < 0x80)),
        "the subscription was granted",
      );
    },
  }),
];
