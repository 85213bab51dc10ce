/**
 * Session features beyond the basics, without sockets: wills checked against the
 * `authorize` hook, QoS 0 queued for offline sessions (option), and resumed in-flight
 * messages re-sent within a Receive Maximum the client lowered between connections.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import type { Authorize, BrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { bytes, eventually, HandClient, text } from "./_test_client.ts";

function setup(options: BrokerOptions = {}): { broker: Broker; clock: ManualClock } {
  const clock = new ManualClock(0);
  return { broker: new Broker({ clock, ...options }), clock };
}

function will(topic: string, delay?: number) {
  return {
    topic,
    payload: bytes(`bye from ${topic}`),
    qos: 1 as const,
    retain: false,
    ...(delay === undefined ? {} : { properties: { willDelayInterval: delay } }),
  };
}

describe("wills and the authorize hook", () => {
  const authorize: Authorize = ({ action, topic }) =>
    action === "subscribe" || !topic.startsWith("forbidden/");

  test("a will the client may not publish is not published; an allowed one is", async () => {
    const { broker } = setup({ authorize });
    await using _ = broker;
    const [watcher] = HandClient.connect(broker, { clientId: "watcher" });
    watcher.subscribe([{ topicFilter: "#", qos: 1 }]);
    const [denied] = HandClient.connect(broker, {
      clientId: "denied",
      will: will("forbidden/denied"),
    });
    const [allowed] = HandClient.connect(broker, { clientId: "allowed", will: will("ok/allowed") });
    denied.connection.transportClosed(broker.clock.now());
    allowed.connection.transportClosed(broker.clock.now());
    assert.deepEqual(watcher.publishes().map((p) => p.topic), ["ok/allowed"]);
  });

  test("an asynchronous hook is awaited; a delayed will is checked when it is published", async () => {
    const asked: string[] = [];
    const { broker, clock } = setup({
      authorize: async (request) => {
        asked.push(`${request.clientId} ${request.topic}`);
        await Promise.resolve();
        return authorize(request);
      },
    });
    await using _ = broker;
    const [watcher] = HandClient.connect(broker, { clientId: "watcher", protocolVersion: 5 });
    watcher.subscribe([{ topicFilter: "#", qos: 1 }], { verdict: [true] });
    const persistent = { protocolVersion: 5 as const, properties: { sessionExpiryInterval: 60 } };
    const [late] = HandClient.connect(broker, {
      clientId: "late",
      ...persistent,
      will: will("ok/late", 5),
    });
    const [bad] = HandClient.connect(broker, {
      clientId: "bad",
      ...persistent,
      will: will("forbidden/bad", 5),
    });
    late.connection.transportClosed(clock.now());
    bad.connection.transportClosed(clock.now());
    assert.deepEqual(asked, [], "not asked before the delay");
    clock.advance(5_000);
    await eventually(() => asked.length === 2, 5_000, "both wills checked");
    await eventually(() => watcher.connection.session!.outbound.size > 0, 5_000, "the will");
    const got = watcher.publishes();
    assert.deepEqual(got.map((p) => [p.topic, text(p.payload)]), [["ok/late", "bye from ok/late"]]);
  });
});

describe("QoS 0 for offline sessions", () => {
  for (const queueQos0 of [false, true]) {
    test(`queueQos0 ${queueQos0}: QoS 0 messages ${queueQos0 ? "wait" : "do not wait"} for an offline persistent session`, async () => {
      const { broker } = setup({ queueQos0 });
      await using _ = broker;
      const [first] = HandClient.connect(broker, { clientId: "durable", clean: false });
      first.subscribe([{ topicFilter: "t", qos: 1 }]);
      first.send({ type: "disconnect" });
      const [publisher] = HandClient.connect(broker, { clientId: "pub" });
      publisher.publish("t", "zero");
      publisher.publish("t", "one", { qos: 1 });
      const [second, connack] = HandClient.connect(broker, { clientId: "durable", clean: false });
      assert.equal(connack.sessionPresent, true);
      const got = second.publishes().map((p) => `${text(p.payload)} ${p.qos}`);
      assert.deepEqual(got, queueQos0 ? ["zero 0", "one 1"] : ["one 1"]);
    });
  }

  test("queued QoS 0 messages count against maxQueuedMessages", async () => {
    const { broker } = setup({ queueQos0: true, maxQueuedMessages: 2 });
    await using _ = broker;
    const [first] = HandClient.connect(broker, { clientId: "durable", clean: false });
    first.subscribe([{ topicFilter: "t", qos: 0 }]);
    first.send({ type: "disconnect" });
    const [publisher] = HandClient.connect(broker, { clientId: "pub" });
    for (let i = 0; i < 3; i++) publisher.publish("t", `${i}`);
    assert.equal(broker.session("durable")?.dropped, 1);
    const [second] = HandClient.connect(broker, { clientId: "durable", clean: false });
    assert.deepEqual(second.publishes().map((p) => text(p.payload)), ["0", "1"]);
  });
});

describe("Receive Maximum lowered between connections", () => {
  test("[MQTT-3.3.4-9] [MQTT-4.4.0-1] resumed in-flight messages are re-sent only as the new Receive Maximum allows, with their packet ids", async () => {
    const { broker } = setup();
    await using _ = broker;
    const connect = (receiveMaximum: number) =>
      HandClient.connect(broker, {
        clientId: "r",
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 300, receiveMaximum },
      });
    const [first] = connect(10);
    first.subscribe([{ topicFilter: "q", qos: 1 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "pub" });
    for (let i = 1; i <= 5; i++) publisher.publish("q", `m${i}`, { qos: 1, packetId: i });
    assert.equal(first.publishes().length, 5, "five in flight, none acknowledged");
    first.connection.transportClosed(broker.clock.now());
    publisher.publish("q", "m6", { qos: 1, packetId: 6 }); // queued while offline

    const [second] = connect(2);
    const resent = second.publishes();
    assert.deepEqual(resent.map((p) => [p.packetId, text(p.payload), p.dup]), [
      [1, "m1", true],
      [2, "m2", true],
    ]);
    const seen: Array<[number | undefined, string, boolean]> = [];
    for (let id = 1; id <= 6; id++) {
      second.send({ type: "puback", packetId: id, reasonCode: 0 });
      for (const p of second.publishes()) seen.push([p.packetId, text(p.payload), p.dup]);
      const unacknowledged = resent.length + seen.length - id;
      assert.ok(unacknowledged <= 2, `${unacknowledged} in flight after PUBACK ${id}`);
    }
    assert.deepEqual(seen, [
      [3, "m3", true],
      [4, "m4", true],
      [5, "m5", true],
      [6, "m6", false],
    ]);
    assert.deepEqual(broker.violations, []);
  });

  test("PUBREL re-sends are not held back, and count against the new maximum", async () => {
    const { broker } = setup();
    await using _ = broker;
    const connect = (receiveMaximum: number) =>
      HandClient.connect(broker, {
        clientId: "r",
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 300, receiveMaximum },
      });
    const [first] = connect(10);
    first.subscribe([{ topicFilter: "q", qos: 2 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "pub", protocolVersion: 5 });
    for (let i = 1; i <= 3; i++) {
      publisher.publish("q", `m${i}`, { qos: 2, packetId: i });
      publisher.send({ type: "pubrel", packetId: i, reasonCode: 0 });
      publisher.take();
    }
    assert.equal(first.publishes().length, 3);
    first.send({ type: "pubrec", packetId: 1, reasonCode: 0 });
    assert.deepEqual(first.take(), [{ type: "pubrel", packetId: 1, reasonCode: 0 }]);
    first.connection.transportClosed(broker.clock.now());
    const [second] = connect(2);
    const packets = second.take();
    assert.deepEqual(
      packets.map((p) => `${p.type} ${"packetId" in p ? p.packetId : ""}`),
      ["pubrel 1", "publish 2"],
    );
    second.send({ type: "pubcomp", packetId: 1, reasonCode: 0 });
    const next = second.publishes();
    assert.deepEqual(next.map((p) => [p.packetId, p.dup]), [[3, true]]);
  });
});
