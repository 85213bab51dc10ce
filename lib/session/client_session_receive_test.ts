// ClientSession, incoming: deliveries and acknowledgements, QoS 2 exactly once, Topic
// Aliases, our Receive Maximum, application-controlled acknowledgements.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import type { SessionAction } from "./actions.ts";
import { bytes, connected, reconnect, sent, serverPublish, summary } from "./testdata/harness.ts";

function tokens(actions: SessionAction[]): number[] {
  return actions.flatMap((a) => (a.type === "deliver" && a.token !== undefined ? [a.token] : []));
}

function closeError(actions: SessionAction[]): ProtocolError {
  const close = actions.find((a) => a.type === "close");
  assert.ok(close?.type === "close" && close.error instanceof ProtocolError);
  return close.error;
}

describe("deliveries", () => {
  test("QoS 0 is delivered without acknowledgement", () => {
    const { session } = connected();
    const actions = session.handlePacket(
      serverPublish(undefined, 0, "a/b", { payload: bytes(9), properties: { contentType: "c" } }),
      0,
    );
    assert.deepEqual(actions, [{
      type: "deliver",
      message: {
        topic: "a/b",
        payload: bytes(9),
        qos: 0,
        retain: false,
        dup: false,
        properties: { contentType: "c" },
      },
      token: undefined,
    }]);
  });

  test("[MQTT-4.3.2-4] QoS 1 is delivered and answered with PUBACK", () => {
    const { session } = connected();
    const actions = session.handlePacket(serverPublish(3, 1), 0);
    assert.deepEqual(summary(actions), ["deliver t", "send puback 3"]);
    assert.deepEqual(sent(actions), [{ type: "puback", packetId: 3, reasonCode: 0 }]);
    assert.equal(session.incoming, 0);
  });

  test("[MQTT-4.3.2-5] after its PUBACK, the same Packet Identifier is a new message", () => {
    const { session } = connected();
    session.handlePacket(serverPublish(3, 1), 0);
    assert.deepEqual(summary(session.handlePacket(serverPublish(3, 1, "t", { dup: true }), 0)), [
      "deliver t",
      "send puback 3",
    ]);
  });

  test("MQTT 3.1.1 acknowledgements carry no reason code", () => {
    const { session } = connected({ protocolVersion: 4 });
    assert.deepEqual(sent(session.handlePacket(serverPublish(3, 1), 0)), [
      { type: "puback", packetId: 3 },
    ]);
    assert.deepEqual(sent(session.handlePacket(serverPublish(4, 2), 0)), [
      { type: "pubrec", packetId: 4 },
    ]);
    assert.deepEqual(sent(session.handlePacket({ type: "pubrel", packetId: 4 }, 0)), [
      { type: "pubcomp", packetId: 4 },
    ]);
  });
});

describe("QoS 2 exactly once", () => {
  test("[MQTT-4.3.3-10] a re-sent PUBLISH before PUBREL gets PUBREC again and is not delivered again", () => {
    const { session } = connected();
    assert.deepEqual(summary(session.handlePacket(serverPublish(7, 2), 0)), [
      "deliver t",
      "send pubrec 7",
    ]);
    assert.deepEqual(session.handlePacket(serverPublish(7, 2, "t", { dup: true }), 1), [
      { type: "send", packet: { type: "pubrec", packetId: 7, reasonCode: 0 } },
    ]);
    assert.equal(session.incoming, 1);
  });

  test("[MQTT-4.3.3-11] PUBREL is answered with PUBCOMP", () => {
    const { session } = connected();
    session.handlePacket(serverPublish(7, 2), 0);
    assert.deepEqual(session.handlePacket({ type: "pubrel", packetId: 7, reasonCode: 0 }, 1), [
      { type: "send", packet: { type: "pubcomp", packetId: 7, reasonCode: 0 } },
    ]);
    assert.equal(session.incoming, 0);
  });

  test("[MQTT-4.3.3-12] after PUBCOMP, the same Packet Identifier is a new message", () => {
    const { session } = connected();
    session.handlePacket(serverPublish(7, 2), 0);
    session.handlePacket({ type: "pubrel", packetId: 7, reasonCode: 0 }, 1);
    assert.deepEqual(summary(session.handlePacket(serverPublish(7, 2), 2)), [
      "deliver t",
      "send pubrec 7",
    ]);
  });

  test("[MQTT-4.3.3-11] a PUBREL for an unknown Packet Identifier gets PUBCOMP (0x92 in MQTT 5)", () => {
    const { session } = connected();
    assert.deepEqual(
      sent(session.handlePacket({ type: "pubrel", packetId: 5, reasonCode: 0 }, 0)),
      [
        { type: "pubcomp", packetId: 5, reasonCode: 0x92 },
      ],
    );
    const v4 = connected({ protocolVersion: 4 }).session;
    assert.deepEqual(sent(v4.handlePacket({ type: "pubrel", packetId: 5 }, 0)), [
      { type: "pubcomp", packetId: 5 },
    ]);
    assert.equal(v4.state, "connected");
  });

  test("a PUBREL before our PUBREC is a protocol error", () => {
    const { session } = connected({ manualAcks: true });
    session.handlePacket(serverPublish(5, 2), 0);
    const actions = session.handlePacket({ type: "pubrel", packetId: 5, reasonCode: 0 }, 1);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
  });

  test("a Packet Identifier of an unfinished exchange reused at another QoS is a protocol error", () => {
    const { session } = connected();
    session.handlePacket(serverPublish(5, 2), 0);
    const actions = session.handlePacket(serverPublish(5, 1), 1);
    assert.equal(closeError(actions).statement, "MQTT-2.2.1-4");
  });
});

describe("Topic Aliases (incoming)", () => {
  test("[MQTT-3.3.2-10] resolves aliases and delivers the full topic without the alias", () => {
    const { session } = connected({ topicAliasMaximum: 2 });
    const first = session.handlePacket(
      serverPublish(undefined, 0, "long/topic", { properties: { topicAlias: 2 } }),
      0,
    );
    const second = session.handlePacket(
      serverPublish(undefined, 0, "", { properties: { topicAlias: 2, contentType: "x" } }),
      0,
    );
    assert.deepEqual(
      [...first, ...second].map((a) => a.type === "deliver" && a.message),
      [
        { topic: "long/topic", payload: bytes(1), qos: 0, retain: false, dup: false },
        {
          topic: "long/topic",
          payload: bytes(1),
          qos: 0,
          retain: false,
          dup: false,
          properties: { contentType: "x" },
        },
      ],
    );
  });

  test("[MQTT-3.3.2-11] an alias above our maximum closes with DISCONNECT 0x94", () => {
    const { session } = connected({ topicAliasMaximum: 2 });
    const actions = session.handlePacket(
      serverPublish(undefined, 0, "t", { properties: { topicAlias: 3 } }),
      0,
    );
    assert.deepEqual(sent(actions), [{ type: "disconnect", reasonCode: 0x94 }]);
    assert.equal(closeError(actions).statement, "MQTT-3.3.2-11");
  });

  test("[MQTT-3.3.2-8] alias 0 closes with DISCONNECT 0x94", () => {
    const { session } = connected({ topicAliasMaximum: 2 });
    const actions = session.handlePacket(
      serverPublish(undefined, 0, "t", { properties: { topicAlias: 0 } }),
      0,
    );
    assert.deepEqual(sent(actions), [{ type: "disconnect", reasonCode: 0x94 }]);
  });

  test("an unknown alias with an empty topic closes with DISCONNECT 0x82", () => {
    const { session } = connected({ topicAliasMaximum: 2 });
    const actions = session.handlePacket(
      serverPublish(1, 1, "", { properties: { topicAlias: 1 } }),
      0,
    );
    assert.deepEqual(sent(actions), [{ type: "disconnect", reasonCode: 0x82 }]);
    assert.equal(session.incoming, 0);
  });

  test("[MQTT-3.3.2-7] aliases do not outlive the connection", () => {
    const { session } = connected({ topicAliasMaximum: 2, clean: false });
    session.handlePacket(serverPublish(undefined, 0, "t", { properties: { topicAlias: 1 } }), 0);
    reconnect(session, true);
    const actions = session.handlePacket(
      serverPublish(undefined, 0, "", { properties: { topicAlias: 1 } }),
      0,
    );
    assert.equal(closeError(actions).reasonCode, 0x82);
  });
});

describe("our Receive Maximum", () => {
  test("[MQTT-3.3.4-9] one QoS 1/2 message too many closes with DISCONNECT 0x93", () => {
    const { session } = connected({ receiveMaximum: 2, manualAcks: true });
    session.handlePacket(serverPublish(1, 1), 0);
    session.handlePacket(serverPublish(2, 2), 0);
    // QoS 0 and re-sent messages do not count
    assert.deepEqual(summary(session.handlePacket(serverPublish(undefined, 0), 0)), ["deliver t"]);
    assert.deepEqual(session.handlePacket(serverPublish(2, 2, "t", { dup: true }), 0), []);
    const actions = session.handlePacket(serverPublish(3, 1), 0);
    assert.deepEqual(sent(actions), [{ type: "disconnect", reasonCode: 0x93 }]);
    assert.equal(closeError(actions).statement, "MQTT-3.3.4-9");
  });

  test("strictReceiveMaximum false: the excess is delivered and counted, not fatal", () => {
    const { session } = connected({
      receiveMaximum: 2,
      manualAcks: true,
      strictReceiveMaximum: false,
    });
    const first = tokens(session.handlePacket(serverPublish(1, 1), 0));
    session.handlePacket(serverPublish(2, 2), 0);
    assert.equal(session.receiveMaximumExceeded, 0);
    const actions = session.handlePacket(serverPublish(3, 1), 0);
    assert.deepEqual(summary(actions), ["deliver t"]);
    session.handlePacket(serverPublish(4, 2), 0);
    assert.equal(session.receiveMaximumExceeded, 2);
    assert.equal(session.state, "connected");
    // the excess messages are acknowledged like the others, in order
    assert.deepEqual(summary(session.acknowledge(tokens(actions)[0]!, 0)), []);
    assert.deepEqual(summary(session.acknowledge(first[0]!, 0)), [
      "send puback 1",
      "send puback 3",
    ]);
    assert.equal(session.incoming, 2);
  });

  test("strictReceiveMaximum must be a boolean", () => {
    assert.throws(
      () => connected({ strictReceiveMaximum: "no" as unknown as boolean }),
      /'strictReceiveMaximum' must be a boolean: current value is 'no'/,
    );
  });

  test("a slot frees when we acknowledge: PUBACK for QoS 1, PUBREC for QoS 2", () => {
    const { session } = connected({ receiveMaximum: 2, manualAcks: true });
    const [one] = tokens(session.handlePacket(serverPublish(1, 1), 0));
    const [two] = tokens(session.handlePacket(serverPublish(2, 2), 0));
    assert.deepEqual(summary(session.acknowledge(one!, 0)), ["send puback 1"]);
    const [three] = tokens(session.handlePacket(serverPublish(3, 2), 0));
    // 2 and 3 await our PUBREC: no room
    assert.equal(closeError(session.handlePacket(serverPublish(4, 1), 0)).reasonCode, 0x93);

    const again = connected({ receiveMaximum: 2, manualAcks: true }).session;
    const [a] = tokens(again.handlePacket(serverPublish(2, 2), 0));
    again.handlePacket(serverPublish(3, 2), 0);
    // Mosquitto 2.0 sends the next message once it has the PUBREC, before PUBREL
    assert.deepEqual(summary(again.acknowledge(a!, 0)), ["send pubrec 2"]);
    assert.deepEqual(summary(again.handlePacket(serverPublish(4, 1), 0)), ["deliver t"]);
    assert.equal(again.state, "connected");
    assert.ok(two !== undefined && three !== undefined);
  });

  test("a re-sent PUBLISH whose PUBREC was lost is answered without using a slot", () => {
    const { session } = connected({ receiveMaximum: 1, clean: false });
    session.handlePacket(serverPublish(5, 2), 0); // PUBREC sent at once
    reconnect(session, true);
    assert.deepEqual(summary(session.handlePacket(serverPublish(5, 2, "t", { dup: true }), 1)), [
      "send pubrec 5",
    ]);
    assert.deepEqual(summary(session.handlePacket(serverPublish(6, 1), 1)), [
      "deliver t",
      "send puback 6",
    ]);
  });

  test("after a resumption, each exchange the server re-sent allows one more message", () => {
    const { session } = connected({ receiveMaximum: 2, clean: false, manualAcks: true });
    session.handlePacket(serverPublish(1, 2), 0); // delivered, not acknowledged
    session.handlePacket(serverPublish(2, 2), 0);
    reconnect(session, true);
    // Mosquitto 2.0: re-sends 1 and 2, then (once acknowledged) sends up to 4 more
    session.handlePacket(serverPublish(1, 2, "t", { dup: true }), 1);
    session.handlePacket(serverPublish(2, 2, "t", { dup: true }), 1);
    for (const packetId of [3, 4]) session.handlePacket(serverPublish(packetId, 2), 1);
    assert.equal(session.state, "connected");
    // 4 in flight = 2 + 2 re-sent: the next one is too many
    const actions = session.handlePacket(serverPublish(5, 2), 1);
    assert.equal(closeError(actions).reasonCode, 0x93);
    // the allowance lasts one connection
    reconnect(session, true);
    session.handlePacket(serverPublish(1, 2, "t", { dup: true }), 2);
    session.handlePacket(serverPublish(2, 2, "t", { dup: true }), 2);
    session.handlePacket(serverPublish(3, 2, "t", { dup: true }), 2);
    session.handlePacket(serverPublish(4, 2, "t", { dup: true }), 2);
    session.handlePacket(serverPublish(6, 2), 2);
    session.handlePacket(serverPublish(7, 2), 2);
    assert.equal(closeError(session.handlePacket(serverPublish(8, 2), 2)).reasonCode, 0x93);
  });

  test("MQTT 3.1.1 announces no Receive Maximum and enforces none", () => {
    const { session } = connected({ protocolVersion: 4, receiveMaximum: 1, manualAcks: true });
    session.handlePacket(serverPublish(1, 1), 0);
    assert.deepEqual(summary(session.handlePacket(serverPublish(2, 1), 0)), ["deliver t"]);
  });
});

describe("application-controlled acknowledgements", () => {
  test("the PUBACK waits for acknowledge(token)", () => {
    const { session } = connected({ manualAcks: true });
    const actions = session.handlePacket(serverPublish(4, 1), 0);
    assert.deepEqual(summary(actions), ["deliver t"]);
    const [token] = tokens(actions);
    assert.deepEqual(sent(session.acknowledge(token!, 1)), [
      { type: "puback", packetId: 4, reasonCode: 0 },
    ]);
    assert.deepEqual(session.acknowledge(token!, 2), []); // used
    assert.deepEqual(session.acknowledge(999, 2), []); // unknown
  });

  test("QoS 0 deliveries carry no token", () => {
    const { session } = connected({ manualAcks: true });
    assert.deepEqual(tokens(session.handlePacket(serverPublish(undefined, 0), 0)), []);
  });

  test("[MQTT-4.6.0-2] PUBACKs leave in the order the messages arrived", () => {
    const { session } = connected({ manualAcks: true });
    const [a] = tokens(session.handlePacket(serverPublish(10, 1), 0));
    const [b] = tokens(session.handlePacket(serverPublish(11, 1), 0));
    const [c] = tokens(session.handlePacket(serverPublish(12, 1), 0));
    assert.deepEqual(session.acknowledge(c!, 1), []);
    assert.deepEqual(session.acknowledge(b!, 1), []);
    assert.deepEqual(summary(session.acknowledge(a!, 2)), [
      "send puback 10",
      "send puback 11",
      "send puback 12",
    ]);
  });

  test("[MQTT-4.6.0-3] PUBRECs leave in the order the messages arrived", () => {
    const { session } = connected({ manualAcks: true });
    const [a] = tokens(session.handlePacket(serverPublish(20, 2), 0));
    const [b] = tokens(session.handlePacket(serverPublish(21, 2), 0));
    // a QoS 1 message in between is ordered on its own
    const [one] = tokens(session.handlePacket(serverPublish(22, 1), 0));
    assert.deepEqual(summary(session.acknowledge(one!, 1)), ["send puback 22"]);
    assert.deepEqual(session.acknowledge(b!, 1), []);
    assert.deepEqual(summary(session.acknowledge(a!, 1)), ["send pubrec 20", "send pubrec 21"]);
  });

  test("a re-sent QoS 2 PUBLISH awaiting the application is neither delivered nor answered", () => {
    const { session } = connected({ manualAcks: true });
    const [token] = tokens(session.handlePacket(serverPublish(30, 2), 0));
    assert.deepEqual(session.handlePacket(serverPublish(30, 2, "t", { dup: true }), 0), []);
    assert.deepEqual(summary(session.acknowledge(token!, 1)), ["send pubrec 30"]);
  });

  test("an MQTT 5 application may refuse a message; the Packet Identifier is then free (MQTT-4.3.3-9)", () => {
    const { session } = connected({ manualAcks: true });
    const [token] = tokens(session.handlePacket(serverPublish(40, 2), 0));
    assert.deepEqual(sent(session.acknowledge(token!, 1, 0x80)), [
      { type: "pubrec", packetId: 40, reasonCode: 0x80 },
    ]);
    assert.equal(session.incoming, 0);
    assert.deepEqual(summary(session.handlePacket(serverPublish(40, 2), 2)), ["deliver t"]);
  });

  test("acknowledge() checks the reason code", () => {
    const v5 = connected({ manualAcks: true }).session;
    assert.throws(() => v5.acknowledge(1, 0, 0x92), {
      name: "RangeError",
      message:
        "Cannot acknowledge as 'reasonCode' must be a PUBACK / PUBREC reason code: current value is 146",
    });
    const v4 = connected({ protocolVersion: 4, manualAcks: true }).session;
    assert.throws(() => v4.acknowledge(1, 0, 0x80), /0 before MQTT 5/);
  });

  test("a QoS 1 message acknowledged while offline is answered once the server re-sends it", () => {
    const { session } = connected({ manualAcks: true, clean: false });
    const [token] = tokens(session.handlePacket(serverPublish(50, 1), 0));
    session.connectionLost();
    assert.deepEqual(session.acknowledge(token!, 1), []);
    // resumed: no PUBACK yet, or the re-sent copy would count as a new message
    assert.deepEqual(summary(reconnect(session, true)), ["connected"]);
    assert.deepEqual(summary(session.handlePacket(serverPublish(50, 1, "t", { dup: true }), 2)), [
      "send puback 50",
    ]);
  });

  test("a QoS 1 message re-sent after a reconnection is not delivered again", () => {
    const { session } = connected({ manualAcks: true, clean: false });
    const [token] = tokens(session.handlePacket(serverPublish(51, 1), 0));
    reconnect(session, true);
    assert.deepEqual(session.handlePacket(serverPublish(51, 1, "t", { dup: true }), 1), []);
    assert.deepEqual(summary(session.acknowledge(token!, 2)), ["send puback 51"]);
  });

  test("[MQTT-4.3.3-10] a QoS 2 PUBREC owed from the last connection answers the re-sent PUBLISH, once", () => {
    const { session } = connected({ manualAcks: true, clean: false });
    const [token] = tokens(session.handlePacket(serverPublish(60, 2), 0));
    session.connectionLost();
    session.acknowledge(token!, 1);
    // not right after the CONNACK: the server re-sends the PUBLISH and gets one PUBREC
    assert.deepEqual(summary(reconnect(session, true)), ["connected"]);
    assert.deepEqual(session.handlePacket(serverPublish(60, 2, "t", { dup: true }), 1), [
      { type: "send", packet: { type: "pubrec", packetId: 60, reasonCode: 0 } },
    ]);
    assert.deepEqual(
      summary(session.handlePacket({ type: "pubrel", packetId: 60, reasonCode: 0 }, 2)),
      [
        "send pubcomp 60",
      ],
    );
  });

  test("owed acknowledgements keep the arrival order across a reconnection", () => {
    const { session } = connected({ manualAcks: true, clean: false });
    const [a] = tokens(session.handlePacket(serverPublish(61, 2), 0));
    session.connectionLost();
    session.acknowledge(a!, 1);
    reconnect(session, true);
    // a new message arrives before the server re-sent 61: its PUBREC waits behind 61's
    const [b] = tokens(session.handlePacket(serverPublish(62, 2), 1));
    assert.deepEqual(session.acknowledge(b!, 1), []);
    assert.deepEqual(summary(session.handlePacket(serverPublish(61, 2, "t", { dup: true }), 2)), [
      "send pubrec 61",
      "send pubrec 62",
    ]);
  });

  test("when the server lost the session, incoming exchanges are forgotten", () => {
    const { session } = connected({ manualAcks: true, clean: false });
    const [token] = tokens(session.handlePacket(serverPublish(70, 2), 0));
    reconnect(session, false);
    assert.equal(session.incoming, 0);
    assert.deepEqual(session.acknowledge(token!, 1), []);
    assert.deepEqual(summary(session.handlePacket(serverPublish(70, 2), 2)), ["deliver t"]);
  });
});
