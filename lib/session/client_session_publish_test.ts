// ClientSession, outgoing: QoS 0/1/2 flows, packet ids, Receive Maximum, Topic Aliases,
// server limits, SUBSCRIBE / UNSUBSCRIBE.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { PublishPacket } from "../packet/types.ts";
import { ClientSession } from "./client_session.ts";
import { AcknowledgementError, ProtocolError, ServerLimitError } from "../errors.ts";
import { publishPacketSize } from "./packet_size.ts";
import {
  bytes,
  connack,
  connected,
  reconnect,
  sent,
  settles,
  summary,
} from "./testdata/harness.ts";

const payload = bytes(1, 2, 3);

describe("QoS flows", () => {
  test("[MQTT-4.3.1-1] QoS 0 is sent with DUP 0 and settled at once", () => {
    const { session } = connected();
    const { id, actions } = session.publish({ topic: "a", payload }, 1);
    assert.deepEqual(actions, [
      {
        type: "send",
        packet: { type: "publish", topic: "a", payload, qos: 0, retain: false, dup: false },
      },
      { type: "settle", id, request: "publish", reasonCodes: [] },
    ]);
    assert.equal(session.inflight, 0);
  });

  test("[MQTT-4.3.2-2] QoS 1 is settled by its PUBACK", () => {
    const { session } = connected();
    const { id, actions } = session.publish(
      { topic: "a", payload, qos: 1, retain: true, properties: { contentType: "x" } },
      1,
    );
    assert.deepEqual(sent(actions), [{
      type: "publish",
      topic: "a",
      payload,
      qos: 1,
      retain: true,
      dup: false,
      packetId: 1,
      properties: { contentType: "x" },
    }]);
    assert.equal(session.inflight, 1);
    const done = session.handlePacket(
      { type: "puback", packetId: 1, reasonCode: 0x10, properties: { reasonString: "nobody" } },
      2,
    );
    assert.deepEqual(done, [{
      type: "settle",
      id,
      request: "publish",
      reasonCodes: [0x10],
      properties: { reasonString: "nobody" },
    }]);
    assert.equal(session.inflight, 0);
  });

  test("[MQTT-4.4.0-2] a PUBACK of 0x80 or above settles with an AcknowledgementError", () => {
    const { session } = connected();
    const { id } = session.publish({ topic: "a", payload, qos: 1 }, 1);
    const [settle] = session.handlePacket(
      { type: "puback", packetId: 1, reasonCode: 0x87, properties: { reasonString: "no" } },
      2,
    );
    assert.ok(settle?.type === "settle" && settle.error instanceof AcknowledgementError);
    assert.equal(settle.id, id);
    assert.equal(settle.error.reasonCode, 0x87);
    assert.equal(settle.error.packetType, "puback");
    assert.equal(settle.error.reasonString, "no");
  });

  test("[MQTT-4.3.3-4] QoS 2: PUBREC is answered with PUBREL, PUBCOMP settles", () => {
    const { session } = connected();
    const { id, actions } = session.publish({ topic: "a", payload, qos: 2 }, 1);
    assert.deepEqual(summary(actions), ["send publish 1 a"]);
    assert.deepEqual(session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 2), [
      { type: "send", packet: { type: "pubrel", packetId: 1, reasonCode: 0 } },
    ]);
    assert.deepEqual(session.handlePacket({ type: "pubcomp", packetId: 1, reasonCode: 0 }, 3), [
      { type: "settle", id, request: "publish", reasonCodes: [0, 0] },
    ]);
  });

  test("MQTT 3.1.1 acknowledgements carry no reason code", () => {
    const { session } = connected({ protocolVersion: 4 });
    const { id } = session.publish({ topic: "a", payload, qos: 2 }, 1);
    assert.deepEqual(sent(session.handlePacket({ type: "pubrec", packetId: 1 }, 2)), [
      { type: "pubrel", packetId: 1 },
    ]);
    assert.deepEqual(session.handlePacket({ type: "pubcomp", packetId: 1 }, 3), [
      { type: "settle", id, request: "publish", reasonCodes: [0, 0] },
    ]);
  });

  test("[MQTT-4.3.3-4] a failed PUBREC ends the exchange without PUBREL", () => {
    const { session } = connected({}, { receiveMaximum: 1 });
    const first = session.publish({ topic: "a", payload, qos: 2 }, 1);
    const second = session.publish({ topic: "b", payload, qos: 2 }, 1);
    assert.deepEqual(second.actions, []); // held back by Receive Maximum 1
    const actions = session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0x97 }, 2);
    // no PUBREL; the send quota comes back, so the next message goes
    assert.deepEqual(summary(actions), [`settle ${first.id} error`, "send publish 2 b"]);
    const settle = settles(actions)[0]!;
    assert.ok(settle.error instanceof AcknowledgementError);
    assert.equal(settle.error.packetType, "pubrec");
    assert.deepEqual(settle.reasonCodes, [0x97]);
  });

  test("a PUBCOMP with 0x92 settles with an error", () => {
    const { session } = connected();
    session.publish({ topic: "a", payload, qos: 2 }, 1);
    session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 2);
    const [settle] = session.handlePacket({ type: "pubcomp", packetId: 1, reasonCode: 0x92 }, 3);
    assert.ok(settle?.type === "settle" && settle.error instanceof AcknowledgementError);
    assert.equal(settle.error.reasonCode, 0x92);
  });

  test("a duplicate PUBREC gets PUBREL again", () => {
    const { session } = connected();
    session.publish({ topic: "a", payload, qos: 2 }, 1);
    session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 2);
    assert.deepEqual(
      summary(session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 3)),
      [
        "send pubrel 1",
      ],
    );
  });
});

describe("unexpected acknowledgements", () => {
  test("a PUBACK or PUBCOMP for an unknown Packet Identifier is ignored", () => {
    const { session } = connected();
    assert.deepEqual(session.handlePacket({ type: "puback", packetId: 9, reasonCode: 0 }, 1), []);
    assert.deepEqual(session.handlePacket({ type: "pubcomp", packetId: 9, reasonCode: 0 }, 1), []);
    assert.equal(session.state, "connected");
  });

  test("a PUBREC for an unknown Packet Identifier gets PUBREL 0x92 (MQTT 5) or PUBREL (3.1.1)", () => {
    const { session } = connected();
    assert.deepEqual(
      sent(session.handlePacket({ type: "pubrec", packetId: 9, reasonCode: 0 }, 1)),
      [
        { type: "pubrel", packetId: 9, reasonCode: 0x92 },
      ],
    );
    const v4 = connected({ protocolVersion: 4 }).session;
    assert.deepEqual(sent(v4.handlePacket({ type: "pubrec", packetId: 9 }, 1)), [
      { type: "pubrel", packetId: 9 },
    ]);
  });

  test("an acknowledgement of the wrong kind is a protocol error", () => {
    const one = connected().session;
    one.publish({ topic: "a", payload, qos: 2 }, 1);
    assert.deepEqual(summary(one.handlePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 2)), [
      "send disconnect",
      "close ProtocolError",
    ]);
    const two = connected().session;
    two.publish({ topic: "a", payload, qos: 1 }, 1);
    assert.deepEqual(summary(two.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 2)), [
      "send disconnect",
      "close ProtocolError",
    ]);
    const three = connected().session;
    three.publish({ topic: "a", payload, qos: 2 }, 1);
    assert.deepEqual(
      summary(three.handlePacket({ type: "pubcomp", packetId: 1, reasonCode: 0 }, 2)),
      ["send disconnect", "close ProtocolError"],
    );
  });
});

describe("Packet Identifiers", () => {
  test("[MQTT-2.2.1-3] wrap from 65535 to 1 and skip the ones in use", () => {
    const { session } = connected();
    // Packet Identifier 1 stays in flight throughout
    const held = session.publish({ topic: "held", payload, qos: 1 }, 0);
    assert.equal((sent(held.actions)[0] as PublishPacket).packetId, 1);
    for (let id = 2; id <= 65535; id++) {
      const { actions } = session.publish({ topic: "t", payload, qos: 1 }, 0);
      assert.equal((sent(actions)[0] as PublishPacket).packetId, id);
      session.handlePacket({ type: "puback", packetId: id, reasonCode: 0 }, 0);
    }
    const { actions } = session.publish({ topic: "t", payload, qos: 1 }, 0);
    assert.equal((sent(actions)[0] as PublishPacket).packetId, 2);
    // subscriptions share the space
    const sub = session.subscribe({ subscriptions: [{ topicFilter: "x", qos: 0 }] }, 0);
    assert.deepEqual(summary(sub.actions), ["send subscribe 3"]);
  });

  test("when all 65535 are in use, messages wait for one to be freed", () => {
    const { session } = connected();
    for (let id = 1; id <= 65535; id++) session.publish({ topic: "t", payload, qos: 1 }, 0);
    const waiting = session.publish({ topic: "w", payload, qos: 1 }, 0);
    assert.deepEqual(waiting.actions, []);
    assert.equal(session.queued, 1);
    const actions = session.handlePacket({ type: "puback", packetId: 500, reasonCode: 0 }, 1);
    assert.deepEqual(summary(actions), ["settle 500", "send publish 500 w"]);
  });
});

describe("Receive Maximum (flow control)", () => {
  test("[MQTT-4.9.0-2] queues beyond the server's Receive Maximum, sends as acks free slots", () => {
    const { session } = connected({}, { receiveMaximum: 2 });
    const ids = [1, 2, 3, 4].map((n) =>
      session.publish({ topic: `m${n}`, payload, qos: n % 2 === 0 ? 2 : 1 }, 0)
    );
    assert.deepEqual(summary(ids[0]!.actions), ["send publish 1 m1"]);
    assert.deepEqual(summary(ids[1]!.actions), ["send publish 2 m2"]);
    assert.deepEqual(ids[2]!.actions, []);
    assert.deepEqual(ids[3]!.actions, []);
    assert.equal(session.queued, 2);
    // a QoS 0 message keeps its place in the queue
    const zero = session.publish({ topic: "z", payload }, 0);
    assert.deepEqual(zero.actions, []);
    // PUBREC does not free the slot of a QoS 2 message...
    assert.deepEqual(
      summary(session.handlePacket({ type: "pubrec", packetId: 2, reasonCode: 0 }, 1)),
      [
        "send pubrel 2",
      ],
    );
    // ...PUBACK does
    assert.deepEqual(
      summary(session.handlePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 2)),
      [
        `settle ${ids[0]!.id}`,
        "send publish 3 m3",
      ],
    );
    // and PUBCOMP does
    assert.deepEqual(
      summary(session.handlePacket({ type: "pubcomp", packetId: 2, reasonCode: 0 }, 3)),
      [`settle ${ids[1]!.id}`, "send publish 4 m4", "send publish - z", `settle ${zero.id}`],
    );
  });

  test("[MQTT-3.3.4-8] SUBSCRIBE and acknowledgements are never held back by it", () => {
    const { session } = connected({}, { receiveMaximum: 1 });
    session.publish({ topic: "a", payload, qos: 1 }, 0);
    session.publish({ topic: "b", payload, qos: 1 }, 0);
    const sub = session.subscribe({ subscriptions: [{ topicFilter: "x", qos: 1 }] }, 0);
    assert.deepEqual(summary(sub.actions), ["send subscribe 2"]);
    const incoming = session.handlePacket(
      { type: "publish", topic: "x", payload, qos: 1, retain: false, dup: false, packetId: 1 },
      0,
    );
    assert.deepEqual(summary(incoming), ["deliver x", "send puback 1"]);
  });

  test("the quota never grows above the Receive Maximum", () => {
    const { session } = connected({ clean: false }, { receiveMaximum: 1 });
    session.publish({ topic: "a", payload, qos: 2 }, 0);
    session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 0);
    // the connection drops during the second phase; the PUBREL is re-sent, using no quota
    const actions = reconnect(session, true, { receiveMaximum: 1 });
    assert.deepEqual(summary(actions).slice(1), ["send pubrel 1"]);
    // its PUBCOMP must not raise the quota to 2
    session.handlePacket({ type: "pubcomp", packetId: 1, reasonCode: 0 }, 0);
    assert.deepEqual(summary(session.publish({ topic: "b", payload, qos: 1 }, 0).actions), [
      "send publish 2 b",
    ]);
    assert.deepEqual(session.publish({ topic: "c", payload, qos: 1 }, 0).actions, []);
    assert.equal(session.inflight, 1);
    assert.equal(session.queued, 1);
  });

  test("publications made offline are sent in order once connected", () => {
    const session = new ClientSession({ clientId: "a" });
    const a = session.publish({ topic: "a", payload, qos: 1 }, 0);
    const b = session.publish({ topic: "b", payload }, 0);
    assert.deepEqual([a.actions, b.actions], [[], []]);
    session.connectPacket();
    assert.deepEqual(session.publish({ topic: "c", payload, qos: 2 }, 0).actions, []);
    const actions = session.handlePacket(connack(false, { receiveMaximum: 5 }), 1);
    assert.deepEqual(summary(actions), [
      "connected",
      "send publish 1 a",
      "send publish - b",
      `settle ${b.id}`,
      "send publish 2 c",
    ]);
  });

  test("cancel() withdraws what has not been sent", () => {
    const session = new ClientSession({ clientId: "a" });
    const a = session.publish({ topic: "a", payload, qos: 1 }, 0);
    const b = session.publish({ topic: "b", payload, qos: 1 }, 0);
    const sub = session.subscribe({ subscriptions: [{ topicFilter: "s", qos: 0 }] }, 0);
    assert.equal(session.cancel(a.id), true);
    assert.equal(session.cancel(a.id), false);
    assert.equal(session.cancel(sub.id), true);
    session.connectPacket();
    assert.deepEqual(summary(session.handlePacket(connack(), 0)), [
      "connected",
      "send publish 1 b",
    ]);
    assert.equal(session.cancel(b.id), false); // in flight: the exchange must complete
  });
});

describe("Topic Aliases (outgoing)", () => {
  test("[MQTT-3.3.2-9] topic and alias first, alias alone after, never above the maximum", () => {
    const { session } = connected({}, { topicAliasMaximum: 2 });
    const packets = ["a/1", "a/1", "a/2", "a/1", "a/3", "a/2", "a/1"].map((topic) => {
      const [packet] = sent(session.publish({ topic, payload }, 0).actions) as PublishPacket[];
      return [packet!.topic, packet!.properties?.topicAlias];
    });
    assert.deepEqual(packets, [
      ["a/1", 1],
      ["", 1],
      ["a/2", 2],
      ["", 1],
      ["a/3", 2], // a/2 was the least recently used
      ["a/2", 1], // a/1 was
      ["a/1", 2],
    ]);
  });

  test("keeps the message's own properties beside the alias", () => {
    const { session } = connected({}, { topicAliasMaximum: 1 });
    const [packet] = sent(
      session.publish({ topic: "t", payload, properties: { contentType: "json" } }, 0).actions,
    );
    assert.deepEqual((packet as PublishPacket).properties, { contentType: "json", topicAlias: 1 });
  });

  test("[MQTT-3.2.2-18] no aliases when the server announced none, nor before MQTT 5", () => {
    const v5 = connected().session;
    v5.publish({ topic: "t", payload }, 0);
    const [packet] = sent(v5.publish({ topic: "t", payload }, 0).actions) as PublishPacket[];
    assert.equal(packet!.topic, "t");
    assert.equal(packet!.properties, undefined);
    const v4 = connected({ protocolVersion: 4 }, { topicAliasMaximum: 5 }).session;
    const [old] = sent(v4.publish({ topic: "t", payload }, 0).actions) as PublishPacket[];
    assert.equal(old!.properties, undefined);
  });

  test("[MQTT-3.3.2-7] a new connection starts a new mapping", () => {
    const { session } = connected({ clean: false }, { topicAliasMaximum: 5 });
    session.publish({ topic: "t", payload }, 0);
    reconnect(session, true, { topicAliasMaximum: 5 });
    const [packet] = sent(session.publish({ topic: "t", payload }, 0).actions) as PublishPacket[];
    assert.equal(packet!.topic, "t");
    assert.equal(packet!.properties?.topicAlias, 1);
  });

  test("the session owns Topic Aliases: a caller's alias is refused", () => {
    const { session } = connected({}, { topicAliasMaximum: 5 });
    assert.throws(
      () => session.publish({ topic: "t", payload, properties: { topicAlias: 1 } }, 0),
      TypeError,
    );
  });
});

describe("server limits", () => {
  test("[MQTT-3.2.2-11] a QoS above the server's Maximum QoS is refused", () => {
    const { session } = connected({}, { maximumQoS: 1 });
    const { id, actions } = session.publish({ topic: "t", payload, qos: 2 }, 0);
    assert.equal(actions.length, 1);
    const [settle] = settles(actions);
    assert.equal(settle?.id, id);
    assert.ok(settle?.error instanceof ServerLimitError);
    assert.equal(settle.error.reasonCode, 0x9b);
    assert.equal(settle.error.statement, "MQTT-3.2.2-11");
    assert.equal(session.inflight, 0);
    assert.equal(session.queued, 0);
  });

  test("[MQTT-3.2.2-14] a retained message is refused when Retain Available is 0", () => {
    const { session } = connected({}, { retainAvailable: 0 });
    const [settle] = settles(session.publish({ topic: "t", payload, retain: true }, 0).actions);
    assert.ok(settle?.error instanceof ServerLimitError);
    assert.equal(settle.error.reasonCode, 0x9a);
    assert.deepEqual(summary(session.publish({ topic: "t", payload }, 0).actions).length, 2);
  });

  test("[MQTT-3.2.2-15] a packet above the server's Maximum Packet Size is refused", () => {
    const message = { topic: "t", payload: new Uint8Array(100), qos: 1 as const };
    const size = publishPacketSize({
      type: "publish",
      ...message,
      retain: false,
      dup: false,
      packetId: 1,
    }, 5);
    const exact = connected({}, { maximumPacketSize: size }).session;
    assert.deepEqual(summary(exact.publish(message, 0).actions), ["send publish 1 t"]);
    const below = connected({}, { maximumPacketSize: size - 1 }).session;
    const { actions } = below.publish(message, 0);
    const [settle] = settles(actions);
    assert.ok(settle?.error instanceof ServerLimitError);
    assert.equal(settle.error.reasonCode, 0x95);
    assert.equal(settle.error.statement, "MQTT-3.2.2-15");
    assert.equal(sent(actions).length, 0);
  });

  test("the size check counts the Topic Alias, and a refused message takes no alias", () => {
    const small = { topic: "topic", payload: new Uint8Array(10) };
    // type + length + (2 + 5 topic) + (1 property length + 3 alias) + 10 payload
    const withAlias = 2 + 7 + 4 + 10;
    const { session } = connected({}, {
      topicAliasMaximum: 1,
      maximumPacketSize: withAlias,
    });
    const big = { topic: "other", payload: new Uint8Array(11) };
    assert.ok(settles(session.publish(big, 0).actions)[0]?.error instanceof ServerLimitError);
    const [first] = sent(session.publish(small, 0).actions) as PublishPacket[];
    assert.deepEqual([first!.topic, first!.properties?.topicAlias], ["topic", 1]);
    // with the alias alone, the topic's bytes are free again
    const [second] = sent(
      session.publish({ topic: "topic", payload: new Uint8Array(15) }, 0).actions,
    ) as PublishPacket[];
    assert.deepEqual([second!.topic, second!.properties?.topicAlias], ["", 1]);
  });

  test("limits apply to messages queued offline, once the CONNACK tells them", () => {
    const session = new ClientSession({ clientId: "a" });
    const two = session.publish({ topic: "t", payload, qos: 2 }, 0);
    const one = session.publish({ topic: "t", payload, qos: 1 }, 0);
    session.connectPacket();
    const actions = session.handlePacket(connack(false, { maximumQoS: 1 }), 0);
    assert.deepEqual(summary(actions), ["connected", `settle ${two.id} error`, "send publish 1 t"]);
    assert.equal(settles(actions)[0]?.id, two.id);
    assert.notEqual(one.id, two.id);
  });
});

describe("publish() validation", () => {
  test("caller mistakes throw with a precise message", () => {
    const { session } = connected();
    assert.throws(() => session.publish({ topic: "t", payload, qos: 3 as 2 }, 0), {
      name: "RangeError",
      message: "Cannot publish as 'qos' must be 0, 1 or 2: current value is 3",
    });
    assert.throws(() => session.publish({ topic: "", payload }, 0), TypeError);
    assert.throws(() => session.publish({ topic: "a/+", payload }, 0), /MQTT-3\.3\.2-2/);
    assert.throws(() => session.publish({ topic: "a/#", payload }, 0), TypeError);
    assert.throws(
      () => session.publish({ topic: "t", payload: "text" as unknown as Uint8Array }, 0),
      /'payload' must be a Uint8Array/,
    );
    assert.throws(
      () =>
        session.publish({ topic: "t", payload, properties: { subscriptionIdentifiers: [1] } }, 0),
      /MQTT-3\.3\.4-6/,
    );
    assert.throws(() => session.publish({ topic: "é".repeat(40_000), payload }, 0), RangeError);
    assert.equal(session.inflight + session.queued, 0);
  });

  test("what the encoder would refuse is refused by publish(), before the session takes it", () => {
    const { session } = connected();
    // [MQTT-3.3.2-14] no wildcard in a Response Topic
    assert.throws(
      () =>
        session.publish({ topic: "t", payload, qos: 1, properties: { responseTopic: "r/#" } }, 0),
      TypeError,
    );
    // [MQTT-1.5.4-1] a topic must be well-formed UTF-16 to be well-formed UTF-8
    assert.throws(() => session.publish({ topic: "a\ud800", payload, qos: 1 }, 0), TypeError);
    assert.throws(
      () => session.publish({ topic: "t", payload, properties: { payloadFormatIndicator: 7 } }, 0),
      RangeError,
    );
    assert.equal(session.inflight + session.queued, 0);
    // the id counter did not move either
    assert.deepEqual(summary(session.publish({ topic: "t", payload, qos: 1 }, 0).actions), [
      "send publish 1 t",
    ]);
  });
});

describe("SUBSCRIBE and UNSUBSCRIBE", () => {
  test("SUBACK settles with one reason code per filter; granted filters are remembered", () => {
    const { session } = connected();
    const { id, actions } = session.subscribe({
      subscriptions: [
        { topicFilter: "a/#", qos: 1, noLocal: true },
        { topicFilter: "b", qos: 2 },
      ],
      properties: { subscriptionIdentifiers: [7] },
    }, 0);
    assert.deepEqual(sent(actions), [{
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "a/#", qos: 1, noLocal: true }, { topicFilter: "b", qos: 2 }],
      properties: { subscriptionIdentifiers: [7] },
    }]);
    const done = session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [1, 0x87] }, 1);
    assert.deepEqual(done, [{
      type: "settle",
      id,
      request: "subscribe",
      reasonCodes: [1, 0x87],
      topicFilters: ["a/#", "b"],
    }]);
    assert.deepEqual(session.subscriptions, [{
      subscription: { topicFilter: "a/#", qos: 1, noLocal: true },
      properties: { subscriptionIdentifiers: [7] },
    }]);
  });

  test("UNSUBACK settles and forgets the filters", () => {
    const { session } = connected();
    session.subscribe({
      subscriptions: [{ topicFilter: "a", qos: 0 }, { topicFilter: "b", qos: 0 }],
    }, 0);
    session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [0, 0] }, 0);
    const { id, actions } = session.unsubscribe({ topicFilters: ["a", "b"] }, 0);
    assert.deepEqual(sent(actions), [{
      type: "unsubscribe",
      packetId: 2,
      topicFilters: ["a", "b"],
    }]);
    const done = session.handlePacket(
      { type: "unsuback", packetId: 2, reasonCodes: [0x00, 0x87] },
      0,
    );
    assert.deepEqual(settles(done), [{
      type: "settle",
      id,
      request: "unsubscribe",
      reasonCodes: [0, 0x87],
      topicFilters: ["a", "b"],
    }]);
    assert.deepEqual(session.subscriptions.map((s) => s.subscription.topicFilter), ["b"]);
  });

  test("an MQTT 3.1.1 UNSUBACK has no reason codes: every filter succeeded", () => {
    const { session } = connected({ protocolVersion: 4 });
    const { id } = session.unsubscribe({ topicFilters: ["a", "b"] }, 0);
    assert.deepEqual(settles(session.handlePacket({ type: "unsuback", packetId: 1 }, 0)), [{
      type: "settle",
      id,
      request: "unsubscribe",
      reasonCodes: [0, 0],
      topicFilters: ["a", "b"],
    }]);
  });

  test("[MQTT-3.8.4-6] a SUBACK with the wrong number of reason codes is a protocol error", () => {
    const { session } = connected();
    session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 0 }] }, 0);
    const actions = session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [0, 0] }, 0);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
    assert.ok(actions[1]?.type === "close" && actions[1].error instanceof ProtocolError);
    assert.equal(actions[1].error.statement, "MQTT-3.8.4-6");
  });

  test("a SUBACK answering an UNSUBSCRIBE is a protocol error; an unknown one is ignored", () => {
    const { session } = connected();
    assert.deepEqual(
      session.handlePacket({ type: "suback", packetId: 4, reasonCodes: [0] }, 0),
      [],
    );
    session.unsubscribe({ topicFilters: ["a"] }, 0);
    const actions = session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [0] }, 0);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
  });

  test("requests made offline are sent once connected; unacknowledged ones are sent again", () => {
    const session = new ClientSession({ clientId: "a" });
    session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 1 }] }, 0);
    session.connectPacket();
    assert.deepEqual(summary(session.handlePacket(connack(), 0)), [
      "connected",
      "send subscribe 1",
    ]);
    assert.deepEqual(summary(reconnect(session, false)), ["connected", "send subscribe 1"]);
  });

  test("MQTT 3.1.1 subscriptions carry topic filter and QoS only", () => {
    const { session } = connected({ protocolVersion: 4 });
    const { actions } = session.subscribe({
      subscriptions: [{ topicFilter: "a", qos: 1, noLocal: true, retainHandling: 2 }],
      properties: { subscriptionIdentifiers: [3] },
    }, 0);
    assert.deepEqual(sent(actions), [{
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "a", qos: 1 }],
    }]);
  });

  test("caller mistakes throw", () => {
    const { session } = connected();
    assert.throws(() => session.subscribe({ subscriptions: [] }, 0), TypeError);
    assert.throws(
      () =>
        session.subscribe({
          subscriptions: [{ topicFilter: "a", qos: 0 }],
          properties: { userProperties: [["k", "\u0000"]] },
        }, 0),
      TypeError,
    );
    assert.throws(
      () => session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 3 as 2 }] }, 0),
      {
        name: "RangeError",
        message: "Cannot subscribe as 'qos' must be 0, 1 or 2: current value is 3",
      },
    );
    assert.throws(
      () =>
        session.subscribe(
          { subscriptions: [{ topicFilter: "$share/g/a", qos: 0, noLocal: true }] },
          0,
        ),
      /MQTT-3\.8\.3-4/,
    );
    assert.throws(
      () =>
        session.subscribe({
          subscriptions: [{ topicFilter: "a", qos: 0 }],
          properties: { subscriptionIdentifiers: [0] },
        }, 0),
      RangeError,
    );
    assert.throws(() => session.unsubscribe({ topicFilters: [] }, 0), TypeError);
    assert.throws(() => session.unsubscribe({ topicFilters: [""] }, 0), TypeError);
    // nothing was taken: neither a request id nor a Packet Identifier
    const ok = session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 0 }] }, 0);
    assert.equal(ok.id, 1);
    assert.deepEqual(summary(ok.actions), ["send subscribe 1"]);
  });
});
