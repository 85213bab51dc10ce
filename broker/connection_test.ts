/**
 * Connection state machine tests, without sockets: CONNECT rules, keep-alive, session
 * takeover, violations and strict mode, MQTT 5 flow control. Time comes from a
 * ManualClock, so timeouts are checked without waiting.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import type { BrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { bytes, HandClient, text } from "./_test_client.ts";
import { ProtocolError } from "../lib/errors.ts";
import type { ConnectPacket, QoS } from "../lib/packet/types.ts";

function setup(options: BrokerOptions = {}): { broker: Broker; clock: ManualClock } {
  const clock = new ManualClock(0);
  return { broker: new Broker({ clock, ...options }), clock };
}

/** An MQTT 5 client "s" (plus `connect`) subscribed to `topicFilter` with default options. */
function v5Subscriber(
  broker: Broker,
  topicFilter: string,
  qos: QoS,
  connect: Partial<ConnectPacket> = {},
): HandClient {
  const [subscriber] = HandClient.connect(broker, {
    clientId: "s",
    protocolVersion: 5,
    ...connect,
  });
  subscriber.subscribe([{
    topicFilter,
    qos,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
  }]);
  return subscriber;
}

describe("CONNECT", () => {
  test("[MQTT-3.1.4-5] [MQTT-3.1.4-4] a valid CONNECT gets CONNACK 0 and the connection is open", async () => {
    const { broker } = setup();
    await using _ = broker;
    for (const protocolVersion of [3, 4, 5] as const) {
      const [client, connack] = HandClient.connect(broker, {
        clientId: `c${protocolVersion}`,
        protocolVersion,
      });
      assert.equal(connack.reasonCode, 0);
      assert.equal(client.connection.state, "connected");
      assert.equal(client.connection.protocolVersion, protocolVersion);
    }
    assert.equal(broker.stats.clientsConnected, 3);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-3.1.0-1] a packet before CONNECT closes the connection without an answer", async () => {
    const { broker } = setup();
    await using _ = broker;
    const client = new HandClient(broker);
    client.send({ type: "pingreq" });
    assert.deepEqual(client.take(), []);
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations.length, 1);
    assert.equal(broker.violations[0]!.statement, "MQTT-3.1.0-1");
    assert.equal(broker.violations[0]!.packetType, "pingreq");
    assert.equal(broker.violations[0]!.clientId, undefined);
  });

  test("[MQTT-3.1.0-2] a second CONNECT is a protocol error: DISCONNECT 0x82 in MQTT 5, close in 3.1.1", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [v5] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    v5.send({ type: "connect", protocolVersion: 5, clientId: "a", clean: true, keepalive: 0 });
    const [disconnect] = v5.take();
    assert.equal(disconnect?.type, "disconnect");
    assert.equal(disconnect?.type === "disconnect" && disconnect.reasonCode, 0x82);
    assert.equal(v5.connection.closed, true);
    const [v4] = HandClient.connect(broker, { clientId: "b" });
    v4.send({ type: "connect", protocolVersion: 4, clientId: "b", clean: true, keepalive: 0 });
    assert.deepEqual(v4.take(), []);
    assert.equal(v4.connection.closed, true);
    assert.deepEqual(broker.violations.map((v) => [v.clientId, v.statement, v.reasonCode]), [
      ["a", "MQTT-3.1.0-2", 0x82],
      ["b", "MQTT-3.1.0-2", 0x82],
    ]);
  });

  test("[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 (3.1.1) or 0x84 (5.0) and is closed", async () => {
    const { broker } = setup({ protocolVersions: [4] });
    await using _ = broker;
    const [v3, refused3] = HandClient.connect(broker, { clientId: "old", protocolVersion: 3 });
    assert.equal(refused3.reasonCode, 0x01);
    assert.equal(v3.connection.closed, true);
    const [v5, refused5] = HandClient.connect(broker, { clientId: "new", protocolVersion: 5 });
    assert.equal(refused5.reasonCode, 0x84);
    assert.equal(refused5.sessionPresent, false);
    assert.equal(v5.connection.closed, true);
    assert.equal(broker.stats.sessions, 0);
  });

  test("[MQTT-3.1.3-8] an empty client id with CleanSession 0 gets CONNACK 0x02 in 3.1.1", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client, connack] = HandClient.connect(broker, { clientId: "", clean: false });
    assert.equal(connack.reasonCode, 0x02);
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations[0]?.statement, "MQTT-3.1.3-8");
  });

  test("[MQTT-3.1.3-6] an empty client id with CleanSession 1 is given a unique id in 3.1.1", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [a, connackA] = HandClient.connect(broker, { clientId: "" });
    const [b] = HandClient.connect(broker, { clientId: "" });
    assert.equal(connackA.reasonCode, 0);
    assert.equal(connackA.properties, undefined);
    assert.ok(a.connection.clientId);
    assert.notEqual(a.connection.clientId, b.connection.clientId);
    assert.equal(a.connection.closed, false);
  });

  test("[MQTT-3.1.3-7] [MQTT-3.2.2-16] an empty client id in MQTT 5 gets an Assigned Client Identifier", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [a, connackA] = HandClient.connect(broker, {
      clientId: "",
      protocolVersion: 5,
      clean: false,
    });
    const [, connackB] = HandClient.connect(broker, { clientId: "", protocolVersion: 5 });
    const assigned = connackA.properties?.assignedClientIdentifier;
    assert.ok(assigned);
    assert.equal(a.connection.clientId, assigned);
    assert.notEqual(connackB.properties?.assignedClientIdentifier, assigned);
  });

  test("MQTT 3.1 requires a client id: an empty one gets CONNACK 0x02", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client, connack] = HandClient.connect(broker, { clientId: "", protocolVersion: 3 });
    assert.equal(connack.reasonCode, 0x02);
    assert.equal(client.connection.closed, true);
  });

  test("strict mode refuses an MQTT 3.1 client id over 23 characters; lenient mode accepts it", async () => {
    const long = "a".repeat(24);
    const strict = setup({ strict: true });
    await using _ = strict.broker;
    assert.equal(
      HandClient.connect(strict.broker, { clientId: long, protocolVersion: 3 })[1].reasonCode,
      0x02,
    );
    assert.equal(strict.broker.violations.length, 1);
    const lenient = setup();
    await using __ = lenient.broker;
    assert.equal(
      HandClient.connect(lenient.broker, { clientId: long, protocolVersion: 3 })[1].reasonCode,
      0,
    );
  });

  test("[MQTT-4.7.0-1] a Will Topic with a wildcard is refused: CONNACK 0x90 in MQTT 5, close in 3.1.1", async () => {
    const { broker } = setup();
    await using _ = broker;
    const will = { topic: "a/#", payload: bytes("x"), qos: 0 as const, retain: false };
    const [v5, connack] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5, will });
    assert.equal(connack.reasonCode, 0x90);
    assert.equal(v5.connection.closed, true);
    const v4 = new HandClient(broker);
    v4.send({
      type: "connect",
      protocolVersion: 4,
      clientId: "b",
      clean: true,
      keepalive: 0,
      will,
    });
    assert.deepEqual(v4.take(), []);
    assert.equal(v4.connection.closed, true);
    assert.deepEqual(broker.violations.map((v) => v.statement), ["MQTT-4.7.0-1", "MQTT-4.7.1-1"]);
  });

  test("[MQTT-4.12.0-1] an Authentication Method is refused with 0x8C (no enhanced authentication)", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client, connack] = HandClient.connect(broker, {
      clientId: "a",
      protocolVersion: 5,
      properties: { authenticationMethod: "SCRAM-SHA-1" },
    });
    assert.equal(connack.reasonCode, 0x8c);
    assert.equal(client.connection.closed, true);
  });

  test("[MQTT-3.1.4-2] the authenticate verdict refuses: 0x86 / 0x87 in MQTT 5, 4 / 5 in 3.1.1", async () => {
    const { broker } = setup();
    await using _ = broker;
    const refuse = (protocolVersion: 4 | 5, verdict: false | number) => {
      const client = new HandClient(broker);
      client.send({ type: "connect", protocolVersion, clientId: "x", clean: true, keepalive: 0 }, {
        verdict,
      });
      const [connack] = client.take();
      assert.equal(client.connection.closed, true);
      return connack?.type === "connack" ? connack.reasonCode : undefined;
    };
    assert.equal(refuse(5, false), 0x86);
    assert.equal(refuse(5, 0x87), 0x87);
    assert.equal(refuse(4, false), 4);
    assert.equal(refuse(4, 0x87), 5);
    assert.equal(broker.stats.sessions, 0);
  });

  test("a connection that never sends CONNECT is closed after connectTimeout", async () => {
    const { broker, clock } = setup({ connectTimeout: 5_000 });
    await using _ = broker;
    const client = new HandClient(broker);
    clock.advance(4_999);
    assert.equal(client.connection.closed, false);
    clock.advance(1);
    assert.equal(client.connection.closed, true);
    assert.deepEqual(client.take(), []);
  });
});

describe("keep alive", () => {
  test("[MQTT-3.1.2-22] no packet within 1.5 times Keep Alive closes the connection (MQTT 5: DISCONNECT 0x8D)", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, {
      clientId: "a",
      protocolVersion: 5,
      keepalive: 10,
    });
    clock.advance(10_000);
    client.send({ type: "pingreq" });
    assert.deepEqual(client.take(), [{ type: "pingresp" }]);
    clock.advance(14_999); // 15 s after the PINGREQ is the deadline
    assert.equal(client.connection.closed, false);
    clock.advance(1);
    assert.equal(client.connection.closed, true);
    assert.deepEqual(client.take(), [{ type: "disconnect", reasonCode: 0x8d }]);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-3.1.2-24] MQTT 3.1.1: keep alive enforced at 1.5 times, closed without a packet", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", keepalive: 2 });
    clock.advance(2_999);
    assert.equal(client.connection.closed, false);
    clock.advance(1);
    assert.equal(client.connection.closed, true);
    assert.deepEqual(client.take(), []);
  });

  test("Keep Alive 0 turns the check off", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", keepalive: 0 });
    clock.advance(1_000_000);
    assert.equal(client.connection.closed, false);
  });

  test("[MQTT-3.2.2-21] a Keep Alive over maxKeepAlive is answered with Server Keep Alive and enforced", async () => {
    const { broker, clock } = setup({ maxKeepAlive: 30 });
    await using _ = broker;
    const [client, connack] = HandClient.connect(broker, {
      clientId: "a",
      protocolVersion: 5,
      keepalive: 100,
    });
    assert.equal(connack.properties?.serverKeepAlive, 30);
    clock.advance(45_000);
    assert.equal(client.connection.closed, true);
    const [zero, connackZero] = HandClient.connect(broker, {
      clientId: "b",
      protocolVersion: 5,
      keepalive: 0,
    });
    assert.equal(connackZero.properties?.serverKeepAlive, 30);
    const [fine, connackFine] = HandClient.connect(broker, {
      clientId: "c",
      protocolVersion: 5,
      keepalive: 20,
    });
    assert.equal(connackFine.properties?.serverKeepAlive, undefined);
    clock.advance(30_000);
    assert.equal(fine.connection.closed, true);
    assert.equal(zero.connection.closed, false);
    clock.advance(15_000);
    assert.equal(zero.connection.closed, true);
  });
});

describe("session takeover", () => {
  test("[MQTT-3.1.4-3] a second connection with the same client id takes over the session (MQTT 5: DISCONNECT 0x8E)", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [old] = HandClient.connect(broker, {
      clientId: "same",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
    });
    old.subscribe([{ topicFilter: "t", qos: 1 }]);
    const [current, connack] = HandClient.connect(broker, {
      clientId: "same",
      protocolVersion: 5,
      clean: false,
    });
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(old.take(), [{ type: "disconnect", reasonCode: 0x8e }]);
    assert.equal(old.connection.closed, true);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "hello");
    assert.deepEqual(current.publishes().map((p) => text(p.payload)), ["hello"]);
    assert.deepEqual(old.take(), []);
    assert.equal(broker.stats.clientsConnected, 2);
  });

  test("[MQTT-3.1.4-2] MQTT 3.1.1: the existing client is disconnected", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [old] = HandClient.connect(broker, { clientId: "same" });
    const [current] = HandClient.connect(broker, { clientId: "same" });
    assert.equal(old.connection.closed, true);
    assert.deepEqual(old.take(), []);
    assert.equal(current.connection.closed, false);
  });
});

describe("violations and strict mode", () => {
  test("decoding errors are recorded with statement and reason code; MQTT 5 gets DISCONNECT with that code", async () => {
    const seen: string[] = [];
    const { broker } = setup({ onViolation: (v) => seen.push(v.statement ?? "") });
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    client.connection.malformed(
      new ProtocolError("PUBLISH has QoS 3", { reasonCode: 0x81, statement: "MQTT-3.3.1-4" }),
      0,
      new Uint8Array([0x36, 0]),
    );
    const [disconnect] = client.take();
    assert.equal(disconnect?.type === "disconnect" && disconnect.reasonCode, 0x81);
    assert.match(
      disconnect?.type === "disconnect" ? disconnect.properties?.reasonString ?? "" : "",
      /QoS 3/,
    );
    assert.deepEqual(seen, ["MQTT-3.3.1-4"]);
    assert.equal(broker.violations[0]?.packetType, "publish");
    assert.equal(broker.violations[0]?.clientId, "a");
  });

  test("an acknowledgement for an unknown packet id: recorded; lenient keeps the connection, strict closes it", async () => {
    for (const strict of [false, true]) {
      const { broker } = setup({ strict });
      await using _ = broker;
      const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
      client.send({ type: "puback", packetId: 7, reasonCode: 0 });
      assert.equal(broker.violations[0]?.statement, "MQTT-2.2.1-5");
      assert.equal(client.connection.closed, strict);
      assert.deepEqual(
        client.take(),
        strict
          ? [{
            type: "disconnect",
            reasonCode: 0x82,
            properties: {
              reasonString: "PUBACK for Packet Identifier 7, which has no PUBLISH in flight",
            },
          }]
          : [],
      );
    }
  });

  test("[MQTT-4.3.3-10] a QoS 2 PUBLISH re-sent before PUBREL is acknowledged but not delivered twice", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "t", qos: 2 }]);
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    assert.deepEqual(publisher.publish("t", "once", { qos: 2, packetId: 5 }), [{
      type: "pubrec",
      packetId: 5,
    }]);
    assert.deepEqual(publisher.publish("t", "once", { qos: 2, packetId: 5, dup: true }), [{
      type: "pubrec",
      packetId: 5,
    }]);
    publisher.send({ type: "pubrel", packetId: 5 });
    assert.deepEqual(publisher.take(), [{ type: "pubcomp", packetId: 5 }]);
    assert.equal(subscriber.publishes().length, 1);
    assert.deepEqual(broker.violations, []);
    // After PUBCOMP the id is free: the same id is a new message (MQTT-4.3.3-12).
    publisher.publish("t", "twice", { qos: 2, packetId: 5 });
    assert.deepEqual(subscriber.publishes().map((p) => text(p.payload)), ["twice"]);
  });

  test("[MQTT-2.3.1-2] reusing an unreleased QoS 2 packet id with DUP 0: lenient treats it as a re-send, strict closes", async () => {
    for (const strict of [false, true]) {
      const { broker } = setup({ strict });
      await using _ = broker;
      const [subscriber] = HandClient.connect(broker, { clientId: "s" });
      subscriber.subscribe([{ topicFilter: "t", qos: 2 }]);
      const [publisher] = HandClient.connect(broker, { clientId: "p" });
      publisher.publish("t", "a", { qos: 2, packetId: 5 });
      const answer = publisher.publish("t", "b", { qos: 2, packetId: 5 });
      assert.equal(broker.violations[0]?.statement, "MQTT-2.3.1-2");
      assert.equal(broker.violations[0]?.reasonCode, 0x91);
      assert.deepEqual(answer, strict ? [] : [{ type: "pubrec", packetId: 5 }]);
      assert.equal(publisher.connection.closed, strict);
      assert.equal(subscriber.publishes().length, 1);
    }
  });

  test("[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    client.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{
        topicFilter: "$share/g/t",
        qos: 0,
        noLocal: true,
        retainAsPublished: false,
        retainHandling: 0,
      }],
    });
    const [disconnect] = client.take();
    assert.equal(disconnect?.type === "disconnect" && disconnect.reasonCode, 0x82);
    assert.equal(broker.violations[0]?.statement, "MQTT-3.8.3-4");
  });

  test("[MQTT-4.7.1-1] an invalid topic filter: lenient SUBACK 0x8F / 0x80 for that filter, strict DISCONNECT", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [v5] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    assert.deepEqual(
      v5.subscribe([{ topicFilter: "a/#/b", qos: 1 }, { topicFilter: "ok", qos: 1 }]),
      [0x8f, 1],
    );
    const [v4] = HandClient.connect(broker, { clientId: "b" });
    assert.deepEqual(v4.subscribe([{ topicFilter: "a+", qos: 0 }]), [0x80]);
    assert.deepEqual(broker.violations.map((v) => v.statement), ["MQTT-4.7.1-1", "MQTT-4.7.1-3"]);
    const strict = setup({ strict: true });
    await using __ = strict.broker;
    const [c] = HandClient.connect(strict.broker, { clientId: "c", protocolVersion: 5 });
    c.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "$share//t", qos: 0 }],
    });
    const [disconnect] = c.take();
    assert.equal(disconnect?.type === "disconnect" && disconnect.reasonCode, 0x8f);
    assert.equal(strict.broker.violations[0]?.statement, "MQTT-4.8.2-1");
  });

  test("[MQTT-3.3.4-6] a Subscription Identifier in a client's PUBLISH is a protocol error", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    client.publish("t", "x", { properties: { subscriptionIdentifiers: [1] } });
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations[0]?.statement, "MQTT-3.3.4-6");
  });

  test("a non-zero Session Expiry Interval on DISCONNECT after 0 on CONNECT is a protocol error", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    client.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
    const [disconnect] = client.take();
    assert.equal(disconnect?.type === "disconnect" && disconnect.reasonCode, 0x82);
    assert.equal(broker.stats.sessions, 0);
  });

  test("[MQTT-4.12.0-7] AUTH without an Authentication Method in CONNECT is a protocol error", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    client.send({ type: "auth", reasonCode: 0x19 });
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations[0]?.statement, "MQTT-4.12.0-7");
  });

  test("a client sending a server-only packet (SUBACK) is closed", async () => {
    const { broker } = setup();
    await using _ = broker;
    const [client] = HandClient.connect(broker, { clientId: "a" });
    client.send({ type: "suback", packetId: 1, reasonCodes: [0] });
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations[0]?.packetType, "suback");
  });

  test("strict mode checks the Payload Format Indicator: invalid UTF-8 gets DISCONNECT 0x99", async () => {
    for (const strict of [false, true]) {
      const { broker } = setup({ strict });
      await using _ = broker;
      const [client] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
      client.send({
        type: "publish",
        topic: "t",
        payload: new Uint8Array([0xff, 0xfe]),
        qos: 0,
        retain: false,
        dup: false,
        properties: { payloadFormatIndicator: 1 },
      });
      assert.equal(client.connection.closed, strict);
      assert.equal(broker.violations.length, strict ? 1 : 0);
      if (strict) assert.equal(broker.violations[0]?.reasonCode, 0x99);
    }
  });
});

describe("MQTT 5 flow control", () => {
  test("[MQTT-3.3.2-8] [MQTT-3.3.2-9] [MQTT-3.3.2-12] topic aliases from the client: mapped; 0 (0x82) and over the maximum (0x94) refused", async () => {
    const { broker } = setup({ topicAliasMaximum: 2 });
    await using _ = broker;
    const [subscriber] = HandClient.connect(broker, { clientId: "s" });
    subscriber.subscribe([{ topicFilter: "#", qos: 0 }]);
    const [client, connack] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    assert.equal(connack.properties?.topicAliasMaximum, 2);
    client.publish("long/topic/name", "1", { properties: { topicAlias: 2 } });
    client.publish("", "2", { properties: { topicAlias: 2 } });
    assert.deepEqual(subscriber.publishes().map((p) => [p.topic, text(p.payload), p.properties]), [
      ["long/topic/name", "1", undefined],
      ["long/topic/name", "2", undefined],
    ]);
    client.publish("", "3", { properties: { topicAlias: 1 } });
    assert.equal(client.connection.closed, true, "an alias never set is a protocol error");
    const [zero] = HandClient.connect(broker, { clientId: "b", protocolVersion: 5 });
    assert.deepEqual(zero.publish("t", "x", { properties: { topicAlias: 0 } }), [{
      type: "disconnect",
      reasonCode: 0x82,
      properties: { reasonString: "PUBLISH has Topic Alias 0" },
    }]);
    const [over] = HandClient.connect(broker, { clientId: "c", protocolVersion: 5 });
    over.publish("t", "x", { properties: { topicAlias: 3 } });
    assert.equal(over.connection.closed, true);
    assert.deepEqual(broker.violations.map((v) => [v.statement, v.reasonCode]), [
      [undefined, 0x82],
      ["MQTT-3.3.2-8", 0x82],
      ["MQTT-3.3.2-9", 0x94],
    ]);
  });

  test("[MQTT-3.1.2-26] [MQTT-3.3.2-11] the broker assigns its own topic aliases up to the client's maximum", async () => {
    const { broker } = setup();
    await using _ = broker;
    const subscriber = v5Subscriber(broker, "#", 0, { properties: { topicAliasMaximum: 1 } });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    for (const topic of ["a", "a", "b", "b"]) publisher.publish(topic, topic);
    assert.deepEqual(
      subscriber.publishes().map((p) => [p.topic, text(p.payload), p.properties?.topicAlias]),
      [
        ["a", "a", 1],
        ["", "a", 1],
        ["b", "b", 1],
        ["", "b", 1],
      ],
    );
  });

  test("[MQTT-3.3.4-9] no more QoS 1 and 2 messages in flight to a client than its Receive Maximum", async () => {
    const { broker } = setup();
    await using _ = broker;
    const subscriber = v5Subscriber(broker, "t", 2, { properties: { receiveMaximum: 2 } });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    for (let i = 1; i <= 5; i++) publisher.publish("t", `${i}`, { qos: 1, packetId: i });
    const first = subscriber.publishes();
    assert.deepEqual(first.map((p) => text(p.payload)), ["1", "2"]);
    subscriber.send({ type: "puback", packetId: first[0]!.packetId!, reasonCode: 0 });
    const next = subscriber.publishes();
    assert.deepEqual(next.map((p) => text(p.payload)), ["3"]);
    // QoS 2: the slot is held until PUBCOMP, not PUBREC.
    publisher.publish("t", "q2", { qos: 2, packetId: 9 });
    subscriber.send({ type: "puback", packetId: first[1]!.packetId!, reasonCode: 0 });
    subscriber.send({ type: "puback", packetId: next[0]!.packetId!, reasonCode: 0 });
    assert.deepEqual(subscriber.publishes().map((p) => text(p.payload)), ["4", "5"]);
  });

  test("[MQTT-3.3.4-7] more QoS 2 messages in flight than the broker's Receive Maximum gets DISCONNECT 0x93", async () => {
    const { broker } = setup({ receiveMaximum: 2 });
    await using _ = broker;
    const [client, connack] = HandClient.connect(broker, { clientId: "a", protocolVersion: 5 });
    assert.equal(connack.properties?.receiveMaximum, 2);
    client.publish("t", "1", { qos: 2, packetId: 1 });
    client.publish("t", "2", { qos: 2, packetId: 2 });
    assert.equal(client.connection.closed, false);
    const answer = client.publish("t", "3", { qos: 2, packetId: 3 });
    assert.equal(answer[0]?.type === "disconnect" && answer[0].reasonCode, 0x93);
    assert.equal(broker.violations[0]?.statement, "MQTT-3.3.4-7");
  });

  test("[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client's Maximum Packet Size is not sent", async () => {
    const { broker } = setup();
    await using _ = broker;
    const subscriber = v5Subscriber(broker, "t", 1, { properties: { maximumPacketSize: 64 } });
    const [publisher] = HandClient.connect(broker, { clientId: "p" });
    publisher.publish("t", "x".repeat(100), { qos: 1, packetId: 1 });
    publisher.publish("t", "small", { qos: 1, packetId: 2 });
    const received = subscriber.publishes();
    assert.deepEqual(received.map((p) => text(p.payload)), ["small"]);
    assert.equal(
      subscriber.connection.session?.outbound.size,
      1,
      "the dropped message holds no slot",
    );
    assert.equal(broker.stats.messagesDropped, 1);
  });

  test("[MQTT-3.3.2-5] [MQTT-3.3.2-6] message expiry is counted down and expired messages are dropped", async () => {
    const { broker, clock } = setup();
    await using _ = broker;
    const subscriber = v5Subscriber(broker, "t", 1, {
      clean: true,
      properties: { sessionExpiryInterval: 100 },
    });
    subscriber.send({ type: "disconnect", reasonCode: 0 });
    const [publisher] = HandClient.connect(broker, { clientId: "p", protocolVersion: 5 });
    publisher.publish("t", "short", {
      qos: 1,
      packetId: 1,
      properties: { messageExpiryInterval: 5 },
    });
    publisher.publish("t", "long", {
      qos: 1,
      packetId: 2,
      properties: { messageExpiryInterval: 10 },
    });
    clock.advance(6_000);
    const [back, connack] = HandClient.connect(broker, {
      clientId: "s",
      protocolVersion: 5,
      clean: false,
    });
    assert.equal(connack.sessionPresent, true);
    const received = back.publishes();
    assert.deepEqual(received.map((p) => [text(p.payload), p.properties?.messageExpiryInterval]), [[
      "long",
      4,
    ]]);
  });

  test("[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] properties are forwarded untouched", async () => {
    const { broker } = setup();
    await using _ = broker;
    const subscriber = v5Subscriber(broker, "t", 0);
    const [publisher] = HandClient.connect(broker, { clientId: "p", protocolVersion: 5 });
    const properties = {
      payloadFormatIndicator: 1,
      contentType: "application/json",
      responseTopic: "replies/p",
      correlationData: new Uint8Array([1, 2, 3]),
      userProperties: [["b", "2"], ["a", "1"], ["b", "3"]] as [string, string][],
    };
    publisher.publish("t", "{}", { properties });
    assert.deepEqual(subscriber.publishes()[0]?.properties, properties);
  });
});
