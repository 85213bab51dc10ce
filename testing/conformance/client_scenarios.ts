/**
 * The scenarios of the client conformance suite: what a client must do when the server
 * cuts a connection mid-flow, re-sends a QoS 2 PUBLISH, uses topic aliases, announces
 * small limits in CONNACK, sets its own keep alive, disconnects with a reason code or
 * drops the session; and that the packets of an ordinary session pass tern's strict
 * broker. Each is named after the spec statement it checks.
 *
 * @module
 */

import type {
  Packet,
  Properties,
  PublishPacket,
  QoS,
  SubscribePacket,
} from "../../lib/packet/types.ts";
import { withBroker } from "../with_broker.ts";
import { describePacket, type RawClient } from "./_raw_client.ts";
import type { ClientScenario, ClientScenarioContext, ClientUnderTest } from "./client_scenario.ts";
import type { Area, SuiteVersion } from "./scenario.ts";

/**
 * A client scenario for each version listed in `ids` (see {@link CLIENT_SCENARIOS}).
 *
 * @example One scenario for MQTT 5.0 only
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineClientScenario } from "./client_scenarios.ts";
 * const scenarios = defineClientScenario({
 *   name: "connect.v5", ids: { 5: "MQTT-3.1.2-2" }, title: "Speaks MQTT 5", area: "connect",
 *   async run(ctx) {
 *     const { connect } = await ctx.connect();
 *     ctx.check(connect.protocolVersion === 5, "not MQTT 5");
 *   },
 * });
 * assert.deepEqual(scenarios.map((s) => s.version), [5]);
 * ```
 */
export function defineClientScenario(definition: {
  name: string;
  ids: { 4?: string; 5?: string };
  title: string;
  area: Area;
  extraMs?: number;
  run(ctx: ClientScenarioContext): Promise<void>;
}): ClientScenario[] {
  const { ids, ...rest } = definition;
  const out: ClientScenario[] = [];
  for (const version of [4, 5] as const) {
    const id = ids[version];
    if (id !== undefined) out.push({ ...rest, id, version });
  }
  return out;
}

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

function ok(version: SuiteVersion): { reasonCode?: number } {
  return version === 5 ? { reasonCode: 0 } : {};
}

function persistent(ctx: ClientScenarioContext) {
  return {
    clean: false,
    reconnectMs: 50,
    ...(ctx.version === 5 ? { sessionExpiryInterval: 300 } : {}),
  };
}

function isPublish(packet: Packet, topic?: string): packet is PublishPacket {
  return packet.type === "publish" && (topic === undefined || packet.topic === topic);
}

/** Answers the client's SUBSCRIBE with a SUBACK granting `qos`; returns the SUBSCRIBE. */
async function grantSubscribe(
  ctx: ClientScenarioContext,
  server: RawClient,
  qos: 0 | 1 | 2,
): Promise<SubscribePacket> {
  const subscribe = await ctx.packet<SubscribePacket>(
    server,
    (p) => p.type === "subscribe",
    "SUBSCRIBE",
  );
  await server.send({
    type: "suback",
    packetId: subscribe.packetId,
    reasonCodes: subscribe.subscriptions.map(() => qos),
  });
  return subscribe;
}

/**
 * Subscribes the client under test to `filter`, grants every filter at `options.qos` and
 * waits for the subscribe to settle. Returns the SUBSCRIBE the client sent.
 */
async function subscribeGranted(
  ctx: ClientScenarioContext,
  { client, server }: Pick<ClientUnderTest, "client" | "server">,
  filter: string,
  options: { qos: QoS; subscriptionIdentifier?: number },
): Promise<SubscribePacket> {
  const subscribing = client.subscribe(filter, options);
  const subscribe = await grantSubscribe(ctx, server, options.qos);
  await ctx.settle(subscribing, "The subscribe");
  return subscribe;
}

/** Waits for `promise` to settle; fails the scenario with "`failure`: error" if it rejected. */
async function settleOk(
  ctx: ClientScenarioContext,
  promise: Promise<unknown>,
  what: string,
  failure: string,
): Promise<void> {
  const { error } = await ctx.settle(promise, what);
  ctx.check(error === undefined, `${failure}: ${error}`);
}

const RESEND_PUBLISH = defineClientScenario({
  name: "publish.resend-dup",
  ids: { 4: "MQTT-4.4.0-1", 5: "MQTT-4.4.0-1" },
  title:
    "An unacknowledged QoS 1 PUBLISH is re-sent with DUP=1 and its packet id after reconnecting",
  area: "publish",
  async run(ctx) {
    const { client, server } = await ctx.connect(persistent(ctx));
    const publishing = client.publish("cc/resend", bytes("once"), { qos: 1 });
    publishing.catch(() => {});
    const first = await ctx.packet<PublishPacket>(server, (p) => isPublish(p), "PUBLISH");
    ctx.check(!first.dup, `The first PUBLISH has DUP=1: ${describePacket(first)}`);
    await server.close();
    const [again, connect] = await ctx.answerConnect({
      sessionPresent: true,
      what: "reconnection",
    });
    ctx.check(!connect.clean, "The client reconnected with a clean session");
    const resent = await ctx.packet<PublishPacket>(again, (p) => isPublish(p), "re-sent PUBLISH");
    ctx.check(
      resent.packetId === first.packetId && resent.topic === first.topic,
      `Re-sent ${describePacket(resent)} instead of packet id ${first.packetId}`,
    );
    ctx.check(resent.dup, `The re-sent PUBLISH has DUP=0: ${describePacket(resent)}`);
    await again.send({ type: "puback", packetId: resent.packetId!, ...ok(ctx.version) });
    await settleOk(ctx, publishing, "The publish", "The publish failed after PUBACK");
  },
});

const RESEND_PUBREL = defineClientScenario({
  name: "publish.resend-pubrel",
  ids: { 4: "MQTT-4.4.0-1", 5: "MQTT-4.4.0-1" },
  title: "A PUBREL without PUBCOMP is re-sent (not the PUBLISH) after reconnecting",
  area: "publish",
  async run(ctx) {
    const { client, server } = await ctx.connect(persistent(ctx));
    const publishing = client.publish("cc/pubrel", bytes("twice?"), { qos: 2 });
    publishing.catch(() => {});
    const publish = await ctx.packet<PublishPacket>(server, (p) => isPublish(p), "PUBLISH");
    await server.send({ type: "pubrec", packetId: publish.packetId!, ...ok(ctx.version) });
    await ctx.packet(server, (p) => p.type === "pubrel", "PUBREL");
    await server.close();
    const [again] = await ctx.answerConnect({ sessionPresent: true, what: "reconnection" });
    const next = await ctx.packet(
      again,
      (p) => p.type === "pubrel" || isPublish(p),
      "re-sent PUBREL",
    );
    ctx.check(
      next.type === "pubrel" && next.packetId === publish.packetId,
      `Sent ${describePacket(next)} instead of PUBREL for packet id ${publish.packetId}`,
    );
    await again.send({ type: "pubcomp", packetId: publish.packetId!, ...ok(ctx.version) });
    await settleOk(ctx, publishing, "The publish", "The publish failed after PUBCOMP");
  },
});

const QOS2_ONCE = defineClientScenario({
  name: "publish.qos2-exactly-once",
  ids: { 4: "MQTT-4.3.3-2", 5: "MQTT-4.3.3-10" },
  title:
    "A QoS 2 PUBLISH re-sent with DUP=1 before PUBREL is acknowledged again and delivered once",
  area: "publish",
  async run(ctx) {
    const connected = await ctx.connect();
    const { server, messages } = connected;
    await subscribeGranted(ctx, connected, "cc/once", { qos: 2 });
    const publish: PublishPacket = {
      type: "publish",
      topic: "cc/once",
      payload: bytes("exactly once"),
      qos: 2,
      retain: false,
      dup: false,
      packetId: 7,
    };
    await server.send(publish);
    await ctx.packet(server, (p) => p.type === "pubrec" && p.packetId === 7, "PUBREC");
    await server.send({ ...publish, dup: true });
    await ctx.packet(server, (p) => p.type === "pubrec" && p.packetId === 7, "second PUBREC");
    await server.send({ type: "pubrel", packetId: 7, ...ok(ctx.version) });
    await ctx.packet(server, (p) => p.type === "pubcomp" && p.packetId === 7, "PUBCOMP");
    await ctx.until(() => messages.length > 0, "The message was not delivered");
    await ctx.sleep(200);
    ctx.check(messages.length === 1, `The message was delivered ${messages.length} times`);
  },
});

const TOPIC_ALIAS = defineClientScenario({
  name: "topic-alias.server-assigned",
  ids: { 5: "MQTT-3.3.2-10" },
  title: "A topic alias the server sets is resolved in a later alias-only PUBLISH",
  area: "topic-alias",
  async run(ctx) {
    const connected = await ctx.connect({ topicAliasMaximum: 10 });
    const { server, connect, messages } = connected;
    const maximum = connect.properties?.topicAliasMaximum ?? 0;
    if (maximum === 0) ctx.skip("not supported: the client announces no Topic Alias Maximum");
    await subscribeGranted(ctx, connected, "cc/alias/#", { qos: 0 });
    const base = { type: "publish", qos: 0, retain: false, dup: false } as const;
    await server.send({
      ...base,
      topic: "cc/alias/long",
      payload: bytes("a"),
      properties: { topicAlias: 1 },
    });
    await server.send({ ...base, topic: "", payload: bytes("b"), properties: { topicAlias: 1 } });
    await ctx.until(() => messages.length >= 2, `Delivered ${messages.length} of 2 messages`);
    ctx.check(
      messages.every((m) => m.topic === "cc/alias/long"),
      `Delivered on topics ${messages.map((m) => JSON.stringify(m.topic)).join(", ")}`,
    );
  },
});

const RECEIVE_MAXIMUM = defineClientScenario({
  name: "flow-control.receive-maximum",
  ids: { 5: "MQTT-3.3.4-7" },
  title: "With Receive Maximum 2 the client never has more than 2 unacknowledged QoS 1 PUBLISH",
  area: "flow-control",
  extraMs: 2_000,
  async run(ctx) {
    const { client, server } = await ctx.connect({ connackProperties: { receiveMaximum: 2 } });
    const publishing = Array.from(
      { length: 5 },
      (_, i) => client.publish("cc/quota", bytes(`m${i}`), { qos: 1 }),
    );
    for (const p of publishing) p.catch(() => {});
    let received = 0;
    let most = 0;
    while (received < 5) {
      const first = await ctx.packet<PublishPacket>(
        server,
        (p) => isPublish(p),
        `PUBLISH ${received + 1} of 5`,
      );
      const unacked = [first.packetId!];
      // Give the client time to overrun its quota before acknowledging.
      await ctx.sleep(150);
      while (server.pending.some((p) => isPublish(p))) {
        unacked.push((await server.take<PublishPacket>((p) => isPublish(p))).packetId!);
      }
      received += unacked.length;
      most = Math.max(most, unacked.length);
      ctx.check(most <= 2, `${most} QoS 1 PUBLISH were unacknowledged at once`);
      for (const packetId of unacked) {
        await server.send({ type: "puback", packetId, reasonCode: 0 });
      }
    }
    await settleOk(ctx, Promise.all(publishing), "The publishes", "A publish failed");
  },
});

const MAXIMUM_PACKET_SIZE = defineClientScenario({
  name: "flow-control.maximum-packet-size",
  ids: { 5: "MQTT-3.2.2-15" },
  title: "No packet above the server's Maximum Packet Size (128) is sent",
  area: "flow-control",
  async run(ctx) {
    const { client, server } = await ctx.connect({
      connackProperties: { maximumPacketSize: 128 },
    });
    const big = client.publish("cc/big", new Uint8Array(400).fill(0x61), { qos: 1 });
    big.catch(() => {});
    const small = client.publish("cc/small", bytes("fits"), { qos: 1 });
    small.catch(() => {});
    const fits = await ctx.packet<PublishPacket>(
      server,
      (p) => isPublish(p, "cc/small"),
      "the small PUBLISH",
    );
    await ctx.sleep(100);
    const oversized = server.pending.find((p) => isPublish(p, "cc/big"));
    ctx.check(
      oversized === undefined,
      `Sent a ${
        (oversized as PublishPacket | undefined)?.payload.length
      }-byte payload past Maximum Packet Size 128`,
    );
    await server.send({ type: "puback", packetId: fits.packetId!, reasonCode: 0 });
    await settleOk(ctx, small, "The small publish", "The small publish failed");
  },
});

/** Waits for a PINGREQ and checks it came within `keepalive` seconds (plus slack). */
async function expectPing(
  ctx: ClientScenarioContext,
  server: RawClient,
  keepalive: number,
  since: number,
): Promise<void> {
  await ctx.packet(server, (p) => p.type === "pingreq", "PINGREQ", keepalive * 1_000 + 2_000);
  const elapsed = Date.now() - since;
  ctx.check(
    elapsed <= keepalive * 1_000 + 600,
    `The first PINGREQ came ${elapsed} ms after CONNACK with keep alive ${keepalive} s`,
  );
  await server.send({ type: "pingresp" });
}

const KEEP_ALIVE = defineClientScenario({
  name: "connect.keep-alive-ping",
  ids: { 4: "MQTT-3.1.2-23", 5: "MQTT-3.1.2-20" },
  title: "An idle client sends PINGREQ within its Keep Alive (1 s)",
  area: "connect",
  extraMs: 3_000,
  async run(ctx) {
    const { server } = await ctx.connect({ keepalive: 1 });
    await expectPing(ctx, server, 1, Date.now());
  },
});

const SERVER_KEEP_ALIVE = defineClientScenario({
  name: "connect.server-keep-alive",
  ids: { 5: "MQTT-3.2.2-21" },
  title: "The Server Keep Alive (1 s) in CONNACK replaces the client's 60 s",
  area: "connect",
  extraMs: 3_000,
  async run(ctx) {
    const { server } = await ctx.connect({
      keepalive: 60,
      connackProperties: { serverKeepAlive: 1 },
    });
    await expectPing(ctx, server, 1, Date.now());
  },
});

const SERVER_DISCONNECT = defineClientScenario({
  name: "connect.server-disconnect",
  ids: { 5: "MQTT-3.14.4-2" },
  title: "A server DISCONNECT (0x8B) is reported with its reason code and ends the connection",
  area: "connect",
  async run(ctx) {
    const { server, disconnects } = await ctx.connect();
    await server.send({ type: "disconnect", reasonCode: 0x8b });
    // The client, as receiver, should close the connection too; the server closes it
    // anyway, as the sender must.
    const closedByClient = await server.waitClosed(500);
    const after = server.pending.filter((p) => p.type !== "disconnect");
    await server.close();
    await ctx.until(
      () => disconnects.some((d) => d.reasonCode === 0x8b),
      `The client reported ${JSON.stringify(disconnects)}, not reason code 0x8B,`,
    );
    ctx.check(
      after.length === 0,
      `The client sent ${after.map(describePacket).join(", ")} after the server's DISCONNECT`,
    );
    void closedByClient;
  },
});

const SESSION_PRESENT_0 = defineClientScenario({
  name: "sessions.session-present-0",
  ids: { 5: "MQTT-3.2.2-5" },
  title: "Session Present 0 after a persistent session: the old QoS 2 flow is not resumed",
  area: "sessions",
  async run(ctx) {
    const { client, server } = await ctx.connect(persistent(ctx));
    const publishing = client.publish("cc/lost", bytes("gone"), { qos: 2 });
    publishing.catch(() => {});
    const publish = await ctx.packet<PublishPacket>(server, (p) => isPublish(p), "PUBLISH");
    await server.send({ type: "pubrec", packetId: publish.packetId!, reasonCode: 0 });
    await ctx.packet(server, (p) => p.type === "pubrel", "PUBREL");
    await server.close();
    const [again] = await ctx.answerConnect({ sessionPresent: false, what: "reconnection" });
    const sent = await ctx.quiet(again, 400);
    const stale = sent.find((p) =>
      (p.type === "pubrel" && p.packetId === publish.packetId) ||
      (isPublish(p) && p.dup)
    );
    ctx.check(
      stale === undefined,
      `Resumed the discarded session with ${stale === undefined ? "" : describePacket(stale)}`,
    );
  },
});

const UNIQUE_IDS = defineClientScenario({
  name: "publish.unique-packet-ids",
  ids: { 4: "MQTT-2.3.1-2", 5: "MQTT-2.2.1-3" },
  title: "In-flight QoS 1 and 2 PUBLISH and SUBSCRIBE use distinct packet ids",
  area: "publish",
  async run(ctx) {
    const { client, server } = await ctx.connect();
    const pending = [
      ...Array.from({ length: 4 }, (_, i) => client.publish("cc/ids", bytes(`${i}`), { qos: 1 })),
      ...Array.from({ length: 3 }, (_, i) => client.publish("cc/ids", bytes(`${i}`), { qos: 2 })),
      client.subscribe("cc/ids/sub", { qos: 1 }),
    ];
    for (const p of pending) p.catch(() => {});
    const ids: number[] = [];
    const seen: Packet[] = [];
    while (seen.length < pending.length) {
      const packet = await ctx.packet(
        server,
        (p) => isPublish(p) || p.type === "subscribe",
        `packet ${seen.length + 1} of ${pending.length}`,
      );
      seen.push(packet);
      ids.push((packet as { packetId: number }).packetId);
    }
    ctx.check(new Set(ids).size === ids.length, `Packet ids in flight: ${ids.join(", ")}`);
    for (const packet of seen) {
      if (packet.type === "subscribe") {
        await server.send({ type: "suback", packetId: packet.packetId, reasonCodes: [1] });
      } else if (isPublish(packet) && packet.qos === 1) {
        await server.send({ type: "puback", packetId: packet.packetId!, ...ok(ctx.version) });
      } else if (isPublish(packet)) {
        await server.send({ type: "pubrec", packetId: packet.packetId!, ...ok(ctx.version) });
        await ctx.packet(
          server,
          (p) => p.type === "pubrel" && p.packetId === packet.packetId,
          "PUBREL",
        );
        await server.send({ type: "pubcomp", packetId: packet.packetId!, ...ok(ctx.version) });
      }
    }
    await settleOk(ctx, Promise.all(pending), "The publishes", "A publish or subscribe failed");
  },
});

/** Waits until `promise` settles or a PUBLISH on `topic` arrives; returns that PUBLISH. */
async function publishOrRefusal(
  ctx: ClientScenarioContext,
  server: RawClient,
  topic: string,
  promise: Promise<void>,
): Promise<PublishPacket | undefined> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await ctx.until(
    () => settled || server.pending.some((p) => isPublish(p, topic)),
    "Neither a PUBLISH nor a refusal came",
  );
  await ctx.sleep(50);
  return server.pending.find((p): p is PublishPacket => isPublish(p, topic));
}

/**
 * Connects with `connackProperties` announcing a server limit, publishes `payload` to
 * `topic` with `options`, and checks that the client either refused the publish or sent
 * a PUBLISH that `honours` the limit; a QoS 1 PUBLISH sent is acknowledged.
 */
async function checkLimitHonoured(
  ctx: ClientScenarioContext,
  connackProperties: Properties,
  topic: string,
  options: { qos: QoS; retain?: boolean },
  honours: (sent: PublishPacket) => boolean,
): Promise<void> {
  const { client, server } = await ctx.connect({ connackProperties });
  const publishing = client.publish(topic, bytes("limited"), options);
  publishing.catch(() => {});
  const sent = await publishOrRefusal(ctx, server, topic, publishing);
  ctx.check(
    sent === undefined || honours(sent),
    sent === undefined ? "" : `Sent ${describePacket(sent)}`,
  );
  if (sent?.qos === 1) {
    await server.send({ type: "puback", packetId: sent.packetId!, reasonCode: 0 });
  }
}

const MAXIMUM_QOS = defineClientScenario({
  name: "publish.maximum-qos",
  ids: { 5: "MQTT-3.2.2-11" },
  title: "With Maximum QoS 1 in CONNACK no QoS 2 PUBLISH is sent",
  area: "publish",
  async run(ctx) {
    await checkLimitHonoured(
      ctx,
      { maximumQoS: 1 },
      "cc/maxqos",
      { qos: 2 },
      (sent) => sent.qos <= 1,
    );
  },
});

const RETAIN_AVAILABLE = defineClientScenario({
  name: "publish.retain-available",
  ids: { 5: "MQTT-3.2.2-14" },
  title: "With Retain Available 0 in CONNACK no PUBLISH with RETAIN=1 is sent",
  area: "retained",
  async run(ctx) {
    await checkLimitHonoured(
      ctx,
      { retainAvailable: 0 },
      "cc/retain",
      { qos: 1, retain: true },
      (sent) => !sent.retain,
    );
  },
});

const SUBSCRIPTION_IDENTIFIER = defineClientScenario({
  name: "publish.subscription-identifier",
  ids: { 5: "MQTT-3.3.4-3" },
  title: "The Subscription Identifier of a PUBLISH reaches the application",
  area: "publish",
  async run(ctx) {
    const connected = await ctx.connect();
    const { server, messages } = connected;
    const subscribe = await subscribeGranted(ctx, connected, "cc/subid", {
      qos: 0,
      subscriptionIdentifier: 9,
    });
    const identifiers = subscribe.properties?.subscriptionIdentifiers ?? [];
    if (identifiers.length === 0) {
      ctx.skip("not supported: the client sent no Subscription Identifier");
    }
    await server.send({
      type: "publish",
      topic: "cc/subid",
      payload: bytes("tagged"),
      qos: 0,
      retain: false,
      dup: false,
      properties: { subscriptionIdentifiers: identifiers },
    });
    await ctx.until(() => messages.length > 0, "The message was not delivered");
    const got = messages[0]!.properties.subscriptionIdentifiers ?? [];
    ctx.check(
      identifiers.every((id) => got.includes(id)),
      `Delivered subscription identifiers ${JSON.stringify(got)}, sent ${
        JSON.stringify(identifiers)
      }`,
    );
  },
});

const STRICT_BROKER = defineClientScenario({
  name: "connect.strict-broker",
  ids: { 4: "MQTT-3.1.0-1", 5: "MQTT-3.1.0-1" },
  title: "A QoS 0/1/2 session passes tern's strict broker with no recorded violation",
  area: "connect",
  async run(ctx) {
    await using broker = await withBroker({ strict: true });
    const { client, messages } = await ctx.connectTo(broker.url, { keepalive: 30 });
    await ctx.settle(client.subscribe("cc/strict/#", { qos: 2 }), "The subscribe");
    for (const qos of [0, 1, 2] as const) {
      await settleOk(
        ctx,
        client.publish(`cc/strict/${qos}`, bytes(`qos ${qos}`), { qos }),
        `The QoS ${qos} publish`,
        `The QoS ${qos} publish failed`,
      );
    }
    await ctx.until(() => messages.length >= 3, `Received ${messages.length} of 3 messages`);
    await ctx.settle(client.disconnect(), "The disconnect");
    ctx.check(
      broker.violations.length === 0,
      `The strict broker recorded ${
        broker.violations.map((v) => `[${v.statement ?? "?"}] ${v.message}`).join("; ")
      }`,
    );
  },
});

/**
 * Every client scenario, in report order.
 *
 * @example Count the scenarios per version
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIENT_SCENARIOS } from "./client_scenarios.ts";
 * assert.ok(CLIENT_SCENARIOS.filter((s) => s.version === 5).length >= 14);
 * assert.ok(CLIENT_SCENARIOS.filter((s) => s.version === 4).length >= 5);
 * ```
 */
export const CLIENT_SCENARIOS: readonly ClientScenario[] = [
  ...STRICT_BROKER,
  ...KEEP_ALIVE,
  ...SERVER_KEEP_ALIVE,
  ...SERVER_DISCONNECT,
  ...RESEND_PUBLISH,
  ...RESEND_PUBREL,
  ...QOS2_ONCE,
  ...UNIQUE_IDS,
  ...MAXIMUM_QOS,
  ...SUBSCRIPTION_IDENTIFIER,
  ...RETAIN_AVAILABLE,
  ...SESSION_PRESENT_0,
  ...TOPIC_ALIAS,
  ...RECEIVE_MAXIMUM,
  ...MAXIMUM_PACKET_SIZE,
];
