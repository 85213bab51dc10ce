/**
 * Session and will tests, without sockets: clean session / clean start, session expiry,
 * queued messages for offline clients (bounded), re-sending with DUP on resumption, QoS 2
 * receive state across connections, and the Last Will with its delay.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import type { BrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { bytes, HandClient, text } from "./_test_client.ts";
import { DeliveryQueue } from "./sessions.ts";
import type { Will } from "../lib/packet/types.ts";

function setup(options: BrokerOptions = {}): { broker: Broker; clock: ManualClock } {
  const clock = new ManualClock(0);
  return { broker: new Broker({ clock, ...options }), clock };
}

function will(topic: string, payload: string, extra: Partial<Will> = {}): Will {
  return { topic, payload: bytes(payload), qos: 1, retain: false, ...extra };
}

describe("sessions", () => {
  test("[MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3] Session Present says whether a stored session was resumed (3.1.1)", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [first, firstAck] = HandClient.connect(broker, { clientId: "a", clean: false });
    assert.equal(firstAck.sessionPresent, false);
    first.send({ type: "disconnect" });
    const [, resumed] = HandClient.connect(broker, { clientId: "a", clean: false });
    assert.equal(resumed.sessionPresent, true);
    const [, cleaned] = HandClient.connect(broker, { clientId: "a", clean: true });
    assert.equal(cleaned.sessionPresent, false);
  });

  test("[MQTT-3.1.2-6] (3.1.1) [MQTT-3.1.2-4] (5.0) a clean session discards the stored subscriptions", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [first] = HandClient.connect(broker, { clientId: "a", clean: false });
    first.subscribe([{ topicFilter: "t", qos: 1 }]);
    first.send({ type: "disconnect" });
    const [second] = HandClient.connect(broker, { clientId: "a", clean: true });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "x", { qos: 1, packetId: 1 });
    assert.deepEqual(second.take(), []);
    assert.equal(broker.stats.subscriptions, 0);
  });

  test("[MQTT-3.1.2-5] (3.1.1) an offline persistent session queues QoS 1 and 2 messages, not QoS 0, and gets them in order", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [first] = HandClient.connect(broker, { clientId: "s", clean: false });
    first.subscribe([{ topicFilter: "t/#", qos: 2 }]);
    first.send({ type: "disconnect" });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t/1", "q1", { qos: 1, packetId: 1 });
    publisher.publish("t/0", "q0", { qos: 0 });
    publisher.publish("t/2", "q2", { qos: 2, packetId: 2 });
    publisher.publish("t/3", "q1b", { qos: 1, packetId: 3 });
    const [back, connack] = HandClient.connect(broker, { clientId: "s", clean: false });
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(back.publishes().map((p) => [text(p.payload), p.qos, p.dup]), [
      ["q1", 1, false],
      ["q2", 2, false],
      ["q1b", 1, false],
    ]);
  });

  test("the offline queue is bounded: messages beyond maxQueuedMessages are dropped and counted", async () => {
    const { broker } = setup({ maxQueuedMessages: 3 });
    await using _ = broker;
    const [first] = HandClient.connect(broker, { clientId: "s", clean: false });
    first.subscribe([{ topicFilter: "t", qos: 1 }]);
    first.send({ type: "disconnect" });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    for (let i = 1; i <= 5; i++) publisher.publish("t", `${i}`, { qos: 1, packetId: i });
    assert.equal(broker.stats.messagesDropped, 2);
    const [back] = HandClient.connect(broker, { clientId: "s", clean: false });
    assert.equal(back.connection.session?.dropped, 2);
    assert.deepEqual(back.publishes().map((p) => text(p.payload)), ["1", "2", "3"]);
  });

  test("a slow reader: QoS 0 beyond maxBufferedBytes is dropped, QoS 1 waits behind its in-flight window", async () => {
    const { broker } = setup({
      maxBufferedBytes: 100,
      maxInflightMessages: 2,
      maxQueuedMessages: 5,
    });
    await using _ = broker;
    const [slow] = HandClient.connect(broker, { clientId: "slow" });
    slow.subscribe([{ topicFilter: "#", qos: 1 }]);
    slow.connection.backlogBytes = 1_000; // what the I/O pump reports for a peer that does not read
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("zero", "dropped");
    for (let i = 1; i <= 10; i++) publisher.publish("one", `${i}`, { qos: 1, packetId: i });
    assert.deepEqual(slow.publishes().map((p) => text(p.payload)), ["1", "2"]);
    assert.equal(slow.connection.session?.queue.length, 5);
    assert.equal(broker.stats.messagesDropped, 1 + 3);
  });

  test("[MQTT-4.4.0-1] [MQTT-3.3.1-1] unacknowledged messages are re-sent with DUP on resumption, PUBREL re-sent for QoS 2", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [first] = HandClient.connect(broker, { clientId: "s", clean: false });
    first.subscribe([{ topicFilter: "t", qos: 2 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "one", { qos: 1, packetId: 1 });
    publisher.publish("t", "two", { qos: 2, packetId: 2 });
    publisher.publish("t", "three", { qos: 2, packetId: 3 });
    const sent = first.publishes();
    first.send({ type: "pubrec", packetId: sent[1]!.packetId! });
    assert.deepEqual(first.take(), [{ type: "pubrel", packetId: sent[1]!.packetId }]);
    first.connection.transportClosed(broker.clock.now()); // connection lost
    const [back] = HandClient.connect(broker, { clientId: "s", clean: false });
    const resent = back.take();
    assert.deepEqual(
      resent.map((
        p,
      ) => [
        p.type,
        "packetId" in p ? p.packetId : undefined,
        p.type === "publish" ? p.dup : undefined,
      ]),
      [
        ["publish", sent[0]!.packetId, true],
        ["pubrel", sent[1]!.packetId, undefined],
        ["publish", sent[2]!.packetId, true],
      ],
    );
    back.send({ type: "puback", packetId: sent[0]!.packetId! });
    back.send({ type: "pubcomp", packetId: sent[1]!.packetId! });
    back.send({ type: "pubrec", packetId: sent[2]!.packetId! });
    back.send({ type: "pubcomp", packetId: sent[2]!.packetId! });
    assert.equal(back.connection.session?.outbound.size, 0);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-4.3.3-10] QoS 2 receive state outlives the connection: a PUBLISH re-sent after reconnecting is not delivered twice", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "t", qos: 2 }]);
    const [first] = HandClient.connect(broker, { clientId: "p", clean: false });
    first.publish("t", "once", { qos: 2, packetId: 7 });
    first.connection.transportClosed(broker.clock.now());
    const [back] = HandClient.connect(broker, { clientId: "p", clean: false });
    assert.deepEqual(back.publish("t", "once", { qos: 2, packetId: 7, dup: true }), [{
      type: "pubrec",
      packetId: 7,
    }]);
    back.send({ type: "pubrel", packetId: 7 });
    assert.deepEqual(back.take(), [{ type: "pubcomp", packetId: 7 }]);
    assert.equal(subscriber.publishes().length, 1);
  });

  test("[MQTT-3.1.2-23] [MQTT-4.1.0-2] MQTT 5 sessions expire after the Session Expiry Interval", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const connect = () =>
      HandClient.connect(broker, {
        clientId: "s",
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 10 },
      });
    const [first] = connect();
    first.subscribe([{
      topicFilter: "t",
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
    }]);
    first.send({ type: "disconnect", reasonCode: 0 });
    clock.advance(9_000);
    const [second, resumed] = connect();
    assert.equal(resumed.sessionPresent, true);
    second.connection.transportClosed(clock.now());
    clock.advance(10_000);
    assert.equal(broker.stats.sessions, 0);
    assert.equal(broker.stats.subscriptions, 0);
    const [, expired] = connect();
    assert.equal(expired.sessionPresent, false);
  });

  test("MQTT 5: Session Expiry Interval 0 ends the session with the connection; DISCONNECT may extend it", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [a] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5, clean: false });
    a.send({ type: "disconnect", reasonCode: 0 });
    assert.equal(broker.stats.sessions, 0);
    const [b] = HandClient.connect(broker, {
      clientId: "b",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 5 },
    });
    b.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    assert.equal(broker.stats.sessions, 0);
    const [c] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 5 },
    });
    c.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
    assert.equal(broker.session("c")?.expiryInterval, 100);
  });

  test("maxSessionExpiryInterval caps the expiry and the CONNACK says so", async () => {
    const { broker } = setup({ maxSessionExpiryInterval: 60 });
    await using _ = broker;
    const [, connack] = HandClient.connect(broker, {
      clientId: "a",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3_600 },
    });
    assert.equal(connack.properties?.sessionExpiryInterval, 60);
  });

  test("DeliveryQueue keeps order across many shifts", () => {
    const queue = new DeliveryQueue(5_000);
    const make = (i: number) =>
      ({
        message: { topic: `${i}`, payload: new Uint8Array(), qos: 1, retain: false },
        qos: 1,
        retain: false,
      }) as const;
    for (let i = 0; i < 3_000; i++) queue.push(make(i));
    for (let i = 0; i < 2_000; i++) assert.equal(queue.shift()?.message.topic, `${i}`);
    for (let i = 3_000; i < 4_000; i++) queue.push(make(i));
    const rest: string[] = [];
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      rest.push(item.message.topic);
    }
    assert.equal(rest.length, 2_000);
    assert.equal(rest[0], "2000");
    assert.equal(rest.at(-1), "3999");
  });
});

describe("last will", () => {
  function watcher(broker: Broker): HandClient {
    const [client] = HandClient.connect(broker, { clientId: "watcher", protocolVersion: 5 });
    client.subscribe([{
      topicFilter: "wills/#",
      qos: 1,
      noLocal: false,
      retainAsPublished: true,
      retainHandling: 0,
    }]);
    return client;
  }

  test("[MQTT-3.1.2-8] the will is published when the connection closes without DISCONNECT", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const [client] = HandClient.connect(broker, { clientId: "c", will: will("wills/c", "gone") });
    client.connection.transportClosed(clock.now());
    assert.deepEqual(watch.publishes().map((p) => [p.topic, text(p.payload), p.qos]), [[
      "wills/c",
      "gone",
      1,
    ]]);
  });

  test("[MQTT-3.1.2-8] the will is published on a keep-alive timeout and on a protocol error", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    HandClient.connect(broker, {
      clientId: "idle",
      keepalive: 1,
      will: will("wills/idle", "timeout"),
    });
    clock.advance(1_500);
    const [bad] = HandClient.connect(broker, { clientId: "bad", will: will("wills/bad", "error") });
    bad.send({ type: "connect", protocolVersion: 4, clientId: "bad", clean: true, keepalive: 0 });
    assert.deepEqual(watch.publishes().map((p) => text(p.payload)), ["timeout", "error"]);
  });

  test("[MQTT-3.14.4-2] (3.1.1) [MQTT-3.14.4-3] (5.0) no will after a normal DISCONNECT", async () => {
    const { broker } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const [v4] = HandClient.connect(broker, { clientId: "v4", will: will("wills/v4", "x") });
    v4.send({ type: "disconnect" });
    const [v5] = HandClient.connect(broker, {
      clientId: "v5",
      protocolVersion: 5,
      will: will("wills/v5", "x"),
    });
    v5.send({ type: "disconnect", reasonCode: 0 });
    assert.deepEqual(watch.take(), []);
  });

  test("DISCONNECT with reason 0x04 publishes the will", async () => {
    const { broker } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const [client] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      will: will("wills/c", "asked"),
    });
    client.send({ type: "disconnect", reasonCode: 0x04 });
    assert.deepEqual(watch.publishes().map((p) => text(p.payload)), ["asked"]);
  });

  test("[MQTT-3.1.2-15] a will with Will Retain 1 is published retained; its properties go along", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      will: will("wills/c", "offline", { retain: true, properties: { contentType: "text/plain" } }),
    });
    client.connection.transportClosed(clock.now());
    const watch = watcher(broker);
    const [retained] = watch.publishes();
    assert.equal(retained?.retain, true);
    assert.equal(text(retained!.payload), "offline");
    assert.equal(retained?.properties?.contentType, "text/plain");
  });

  test("MQTT 5 Will Delay Interval: the will waits, and goes out when the delay passes", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const [client] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
      will: will("wills/c", "late", { properties: { willDelayInterval: 5 } }),
    });
    client.connection.transportClosed(clock.now());
    clock.advance(4_999);
    assert.deepEqual(watch.take(), []);
    clock.advance(1);
    assert.deepEqual(
      watch.publishes().map((p) => [text(p.payload), p.properties?.subscriptionIdentifiers]),
      [["late", undefined]],
    );
  });

  test("[MQTT-3.1.3-9] a reconnection within the Will Delay Interval cancels the will", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const options = {
      clientId: "c",
      protocolVersion: 5 as const,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: will("wills/c", "late", { properties: { willDelayInterval: 5 } }),
    };
    const [client] = HandClient.connect(broker, options);
    client.connection.transportClosed(clock.now());
    clock.advance(3_000);
    HandClient.connect(broker, { ...options, will: undefined });
    clock.advance(10_000);
    assert.deepEqual(watch.take(), []);
  });

  test("a session ending before the Will Delay Interval publishes the will when it ends", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    const [client] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 2 },
      will: will("wills/c", "session over", { properties: { willDelayInterval: 30 } }),
    });
    client.connection.transportClosed(clock.now());
    clock.advance(2_000);
    assert.deepEqual(watch.publishes().map((p) => text(p.payload)), ["session over"]);
    assert.equal(broker.stats.sessions, 1, "only the watcher's session is left");
  });

  test("[MQTT-3.1.4-3] a takeover publishes the old connection's will (no delay)", async () => {
    const { broker } = setup();
    await using _ = broker;
    const watch = watcher(broker);
    HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      will: will("wills/c", "taken over"),
    });
    HandClient.connect(broker, { clientId: "c", protocolVersion: 5 });
    assert.deepEqual(watch.publishes().map((p) => text(p.payload)), ["taken over"]);
  });

  test("server shutdown closes MQTT 5 clients with DISCONNECT 0x8B and publishes no will", async () => {
    const { broker } = setup();
    const watch = watcher(broker);
    const [client] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      will: will("wills/c", "x"),
    });
    await broker.close();
    assert.deepEqual(client.take(), [{ type: "disconnect", reasonCode: 0x8b }]);
    assert.deepEqual(watch.take(), [{ type: "disconnect", reasonCode: 0x8b }]);
  });
});
