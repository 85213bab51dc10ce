/**
 * Routing tests, without sockets: QoS flows both ways, QoS downgrade, overlapping
 * subscriptions, No Local, Retain As Published, "$" topics, shared subscriptions,
 * retained messages and authorization.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import type { BrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { HandClient, text } from "./_test_client.ts";
import type { Subscription } from "../lib/packet/types.ts";

function setup(options: BrokerOptions = {}): { broker: Broker; clock: ManualClock } {
  const clock = new ManualClock(0);
  return { broker: new Broker({ clock, ...options }), clock };
}

/** An MQTT 5 subscription with explicit options. */
function sub5(
  topicFilter: string,
  qos: 0 | 1 | 2,
  options: Partial<Subscription> = {},
): Subscription {
  return {
    topicFilter,
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    ...options,
  };
}

describe("QoS flows", () => {
  test("[MQTT-3.3.4-1] [MQTT-4.3.2-2] [MQTT-4.3.3-2] the broker answers each QoS as 3.1.1 says", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a" });
    assert.deepEqual(client.publish("t", "0"), []);
    assert.deepEqual(client.publish("t", "1", { qos: 1, packetId: 10 }), [{
      type: "puback",
      packetId: 10,
    }]);
    assert.deepEqual(client.publish("t", "2", { qos: 2, packetId: 11 }), [{
      type: "pubrec",
      packetId: 11,
    }]);
    client.send({ type: "pubrel", packetId: 11 });
    assert.deepEqual(client.take(), [{ type: "pubcomp", packetId: 11 }]);
    client.send({ type: "pubrel", packetId: 11 });
    assert.deepEqual(
      client.take(),
      [{ type: "pubcomp", packetId: 11 }],
      "a re-sent PUBREL is completed again",
    );
    assert.deepEqual(broker.violations, []);
  });

  test("MQTT 5 acknowledgements carry 0x10 No matching subscribers, or 0x00", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    assert.deepEqual(client.publish("t", "1", { qos: 1, packetId: 1 }), [{
      type: "puback",
      packetId: 1,
      reasonCode: 0x10,
    }]);
    client.subscribe([sub5("t", 0)]);
    assert.deepEqual(
      client.publish("t", "2", { qos: 2, packetId: 2 }).filter((p) => p.type === "pubrec"),
      [
        { type: "pubrec", packetId: 2, reasonCode: 0 },
      ],
    );
  });

  test("[MQTT-4.3.2-1] [MQTT-4.3.3-1] QoS 1 and 2 to a subscriber: PUBACK, and PUBREC / PUBREL / PUBCOMP complete the flows", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "t/#", qos: 2 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t/1", "one", { qos: 1, packetId: 1 });
    publisher.publish("t/2", "two", { qos: 2, packetId: 2 });
    const [one, two] = subscriber.publishes();
    assert.equal(one!.qos, 1);
    assert.equal(two!.qos, 2);
    assert.equal(one!.dup, false);
    assert.notEqual(one!.packetId, two!.packetId);
    subscriber.send({ type: "puback", packetId: one!.packetId! });
    subscriber.send({ type: "pubrec", packetId: two!.packetId! });
    assert.deepEqual(subscriber.take(), [{ type: "pubrel", packetId: two!.packetId }]);
    subscriber.send({ type: "pubcomp", packetId: two!.packetId! });
    assert.equal(subscriber.connection.session?.outbound.size, 0);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-3.8.4-6] [MQTT-3.8.4-8] the QoS delivered is the minimum of the published and the granted QoS", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    assert.deepEqual(
      subscriber.subscribe([{ topicFilter: "low", qos: 1 }, { topicFilter: "high", qos: 2 }]),
      [1, 2],
    );
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("low", "a", { qos: 2, packetId: 1 });
    publisher.publish("high", "b", { qos: 0 });
    assert.deepEqual(subscriber.publishes().map((p) => [p.topic, p.qos]), [["low", 1], [
      "high",
      0,
    ]]);
  });

  test("a broker with maximumQoS 1 grants at most QoS 1", async () => {
    const { broker } = setup({ maximumQoS: 1 });
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    assert.deepEqual(subscriber.subscribe([{ topicFilter: "t", qos: 2 }]), [1]);
  });
});

describe("matching", () => {
  test("[MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-4] overlapping subscriptions deliver one copy at the highest QoS with every identifier", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s", protocolVersion: 5 });
    subscriber.subscribe([sub5("home/+/temp", 0)], { id: 1 });
    subscriber.subscribe([sub5("home/#", 2)], { id: 2, packetId: 2 });
    subscriber.subscribe([sub5("home/kitchen/temp", 1)], { packetId: 3 });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("home/kitchen/temp", "21", { qos: 2, packetId: 1 });
    const received = subscriber.publishes();
    assert.equal(received.length, 1);
    assert.equal(received[0]!.qos, 2);
    assert.deepEqual([...received[0]!.properties!.subscriptionIdentifiers!].sort(), [1, 2]);
  });

  test("[MQTT-3.3.5-1] MQTT 3.1.1: overlapping subscriptions deliver one copy at the maximum QoS", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "a/+", qos: 1 }, { topicFilter: "#", qos: 0 }, {
      topicFilter: "a/b",
      qos: 0,
    }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("a/b", "x", { qos: 2, packetId: 1 });
    const received = subscriber.publishes();
    assert.deepEqual(received.map((p) => [p.topic, p.qos, p.properties]), [["a/b", 1, undefined]]);
  });

  test("[MQTT-3.8.3-3] No Local: a client does not get its own messages", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "me", protocolVersion: 5 });
    client.subscribe([sub5("chat", 0, { noLocal: true })]);
    const [other] = HandClient.connect(broker, { clientId: "other", protocolVersion: 5 });
    other.subscribe([sub5("chat", 0)]);
    client.publish("chat", "hello");
    assert.deepEqual(client.take(), []);
    assert.deepEqual(other.publishes().map((p) => text(p.payload)), ["hello"]);
    other.publish("chat", "hi");
    assert.deepEqual(client.publishes().map((p) => text(p.payload)), ["hi"]);
  });

  test("[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the RETAIN flag; otherwise it is cleared", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [keep] = HandClient.connect(broker, { clientId: "keep", protocolVersion: 5 });
    keep.subscribe([sub5("t", 0, { retainAsPublished: true })]);
    const [clear] = HandClient.connect(broker, { clientId: "clear", protocolVersion: 5 });
    clear.subscribe([sub5("t", 0)]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "r", { retain: true });
    assert.equal(keep.publishes()[0]?.retain, true);
    assert.equal(clear.publishes()[0]?.retain, false);
  });

  test("[MQTT-3.3.1-9] MQTT 3.1.1: a message for an established subscription has RETAIN 0", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "t", qos: 0 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "r", { retain: true });
    assert.equal(subscriber.publishes()[0]?.retain, false);
  });

  test("[MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with $", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [all] = HandClient.connect(broker, { clientId: "all" });
    all.subscribe([{ topicFilter: "#", qos: 0 }, { topicFilter: "+/broker/uptime", qos: 0 }]);
    const [sys] = HandClient.connect(broker, { clientId: "sys" });
    sys.subscribe([{ topicFilter: "$SYS/#", qos: 0 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("$SYS/broker/uptime", "1");
    publisher.publish("plain", "2");
    assert.deepEqual(all.publishes().map((p) => p.topic), ["plain"]);
    assert.deepEqual(sys.publishes().map((p) => p.topic), ["$SYS/broker/uptime"]);
  });

  test("[MQTT-4.8.2-3] a shared subscription group gets one copy per message, its members in turn", async () => {
    const { broker } = setup();
    await using _ = broker;
    const members = ["w1", "w2", "w3"].map((clientId) =>
      HandClient.connect(broker, { clientId, protocolVersion: 5 })[0]
    );
    for (const member of members) member.subscribe([sub5("$share/workers/jobs/+", 1)]);
    const [plain] = HandClient.connect(broker, { clientId: "plain" });
    plain.subscribe([{ topicFilter: "jobs/#", qos: 0 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    for (let i = 0; i < 6; i++) publisher.publish(`jobs/${i}`, `${i}`, { qos: 1, packetId: i + 1 });
    const got = members.map((member) => member.publishes().map((p) => Number(text(p.payload))));
    assert.deepEqual(got.flat().sort(), [0, 1, 2, 3, 4, 5]);
    for (const share of got) assert.equal(share.length, 2);
    assert.deepEqual(got.map((share) => share[1]! - share[0]!), [3, 3, 3], "round robin");
    assert.equal(plain.publishes().length, 6, "a non-shared subscription gets every message");
  });

  test("shared subscriptions skip members that are offline while another is online", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [a] = HandClient.connect(broker, { clientId: "a", clean: false });
    a.subscribe([{ topicFilter: "$share/g/t", qos: 1 }]);
    const [b] = HandClient.connect(broker, { clientId: "b", clean: false });
    b.subscribe([{ topicFilter: "$share/g/t", qos: 1 }]);
    b.send({ type: "disconnect" });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    for (let i = 1; i <= 3; i++) publisher.publish("t", `${i}`, { qos: 1, packetId: i });
    assert.equal(a.publishes().length, 3);
  });

  test("[MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-5] UNSUBSCRIBE stops deliveries and is always answered", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [v5] = HandClient.connect(broker, { clientId: "s5", protocolVersion: 5 });
    v5.subscribe([sub5("a", 0)]);
    v5.send({ type: "unsubscribe", packetId: 4, topicFilters: ["a", "never"] });
    assert.deepEqual(v5.take(), [{ type: "unsuback", packetId: 4, reasonCodes: [0, 0x11] }]);
    const [v4] = HandClient.connect(broker, { clientId: "s4" });
    v4.send({ type: "unsubscribe", packetId: 5, topicFilters: ["nothing"] });
    assert.deepEqual(v4.take(), [{ type: "unsuback", packetId: 5 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("a", "x");
    assert.deepEqual(v5.take(), []);
    assert.equal(broker.stats.subscriptions, 0);
  });

  test("[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "t", qos: 0 }]);
    subscriber.subscribe([{ topicFilter: "t", qos: 2 }]);
    assert.equal(broker.stats.subscriptions, 1);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "x", { qos: 2, packetId: 1 });
    assert.deepEqual(subscriber.publishes().map((p) => p.qos), [2]);
  });

  test("[MQTT-3.3.5-2] authorization: a denied subscription gets 0x80 / 0x87, a denied publish 0x87 (MQTT 5) and is dropped", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [v4] = HandClient.connect(broker, { clientId: "s4" });
    assert.deepEqual(
      v4.subscribe([{ topicFilter: "secret", qos: 1 }, { topicFilter: "open", qos: 1 }], {
        verdict: [false, true],
      }),
      [0x80, 1],
    );
    const [v5] = HandClient.connect(broker, { clientId: "s5", protocolVersion: 5 });
    assert.deepEqual(v5.subscribe([sub5("secret", 1)], { verdict: [false] }), [0x87]);
    v5.send({
      type: "publish",
      topic: "open",
      payload: new Uint8Array([1]),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 3,
    }, { verdict: false });
    assert.deepEqual(v5.take(), [{ type: "puback", packetId: 3, reasonCode: 0x87 }]);
    const [p4] = HandClient.connect(broker, { clientId: "p4" });
    p4.send({
      type: "publish",
      topic: "open",
      payload: new Uint8Array([1]),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 4,
    }, { verdict: false });
    assert.deepEqual(
      p4.take(),
      [{ type: "puback", packetId: 4 }],
      "3.1.1: a positive acknowledgement",
    );
    assert.deepEqual(v4.take(), [], "denied messages are not delivered");
  });
});

describe("retained messages", () => {
  test("[MQTT-3.3.1-5] [MQTT-3.3.1-8] a retained message is stored and sent with RETAIN 1 to new subscriptions", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("status/door", "open", { qos: 1, packetId: 1, retain: true });
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "status/+", qos: 2 }]);
    const received = subscriber.publishes();
    assert.deepEqual(received.map((p) => [p.topic, text(p.payload), p.retain, p.qos]), [[
      "status/door",
      "open",
      true,
      1,
    ]]);
  });

  test("[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] retained messages are replaced, and cleared by an empty payload", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p", protocolVersion: 5 });
    publisher.publish("a", "1", { retain: true });
    publisher.publish("a", "2", { retain: true });
    publisher.publish("b", "x", { retain: true });
    publisher.publish("b", "", { retain: true });
    assert.equal(broker.stats.retainedMessages, 1);
    const [subscriber] = HandClient.connect(broker, { clientId: "s", protocolVersion: 5 });
    subscriber.subscribe([sub5("#", 0)]);
    assert.deepEqual(subscriber.publishes().map((p) => [p.topic, text(p.payload)]), [["a", "2"]]);
  });

  test("[MQTT-3.3.1-8] (5.0) a PUBLISH with RETAIN 0 does not touch the retained message", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p", protocolVersion: 5 });
    publisher.publish("a", "kept", { retain: true });
    publisher.publish("a", "live");
    publisher.publish("a", "");
    const [subscriber] = HandClient.connect(broker, { clientId: "s", protocolVersion: 5 });
    subscriber.subscribe([sub5("a", 0)]);
    assert.deepEqual(subscriber.publishes().map((p) => text(p.payload)), ["kept"]);
  });

  test("[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] Retain Handling 0, 1 and 2", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "r", { retain: true });
    const [subscriber] = HandClient.connect(broker, { clientId: "s", protocolVersion: 5 });
    subscriber.subscribe([sub5("t", 0, { retainHandling: 0 })]);
    subscriber.subscribe([sub5("t", 0, { retainHandling: 0 })], { packetId: 2 });
    assert.equal(subscriber.publishes().length, 2, "0: sent on every subscribe (MQTT-3.8.4-4)");
    subscriber.subscribe([sub5("t", 0, { retainHandling: 1 })], { packetId: 3 });
    assert.equal(subscriber.publishes().length, 0, "1: not when the subscription existed");
    subscriber.subscribe([sub5("t/#", 0, { retainHandling: 1 })], { packetId: 4 });
    assert.equal(subscriber.publishes().length, 1, "1: sent for a new subscription");
    subscriber.subscribe([sub5("+", 0, { retainHandling: 2 })], { packetId: 5 });
    assert.equal(subscriber.publishes().length, 0, "2: never");
  });

  test("retained messages are not sent to shared subscriptions", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "r", { retain: true });
    const [subscriber] = HandClient.connect(broker, { clientId: "s", protocolVersion: 5 });
    subscriber.subscribe([sub5("$share/g/t", 1)]);
    assert.deepEqual(subscriber.take(), []);
  });

  test("a retained message expires with its Message Expiry Interval", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const [publisher] = HandClient.connect(broker, { clientId: "p", protocolVersion: 5 });
    publisher.publish("t", "r", { retain: true, properties: { messageExpiryInterval: 10 } });
    clock.advance(4_000);
    const [early] = HandClient.connect(broker, { clientId: "early", protocolVersion: 5 });
    early.subscribe([sub5("t", 0)]);
    assert.deepEqual(early.publishes().map((p) => p.properties?.messageExpiryInterval), [6]);
    clock.advance(6_000);
    const [late] = HandClient.connect(broker, { clientId: "late", protocolVersion: 5 });
    late.subscribe([sub5("t", 0)]);
    assert.deepEqual(late.take(), []);
    assert.equal(broker.stats.retainedMessages, 0);
  });

  test("Broker.publish sends a server-side message and can retain it", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "server/#", qos: 1 }]);
    assert.equal(broker.publish({ topic: "server/hello", payload: "hi", qos: 1, retain: true }), 1);
    assert.deepEqual(subscriber.publishes().map((p) => [p.topic, text(p.payload), p.qos]), [[
      "server/hello",
      "hi",
      1,
    ]]);
    assert.throws(() => broker.publish({ topic: "a/#", payload: "x" }), TypeError);
    assert.throws(() => broker.publish({ topic: "a", payload: "x", qos: 3 as 0 }), {
      name: "RangeError",
      message: "Cannot publish as 'qos' must be 0, 1 or 2: current value is 3",
    });
  });
});
