// ClientSession: CONNECT / CONNACK, server limits, keep-alive, DISCONNECT, AUTH, and the
// protocol errors of a connection.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ClientSession } from "./client_session.ts";
import { ConnectionRefusedError, KeepAliveTimeoutError, ProtocolError } from "../errors.ts";
import { bytes, connack, connected, sent, serverPublish, summary } from "./testdata/harness.ts";

describe("CONNECT", () => {
  test("MQTT 5 announces only the limits that differ from the defaults", () => {
    const plain = new ClientSession({ clientId: "a" }).connectPacket();
    assert.deepEqual(plain, {
      type: "connect",
      protocolVersion: 5,
      clientId: "a",
      clean: true,
      keepalive: 60,
    });
    const session = new ClientSession({
      clientId: "a",
      clean: false,
      keepalive: 10,
      sessionExpiryInterval: 3600,
      receiveMaximum: 20,
      topicAliasMaximum: 8,
      maximumPacketSize: 4096,
      username: "u",
      password: bytes(1, 2),
      will: { topic: "w", payload: bytes(0), qos: 1, retain: false },
      properties: { requestProblemInformation: 0, receiveMaximum: 99 },
    });
    assert.deepEqual(session.connectPacket(), {
      type: "connect",
      protocolVersion: 5,
      clientId: "a",
      clean: false,
      keepalive: 10,
      username: "u",
      password: bytes(1, 2),
      will: { topic: "w", payload: bytes(0), qos: 1, retain: false },
      properties: {
        requestProblemInformation: 0,
        receiveMaximum: 20,
        sessionExpiryInterval: 3600,
        topicAliasMaximum: 8,
        maximumPacketSize: 4096,
      },
    });
    assert.equal(session.state, "connecting");
  });

  test("MQTT 3.1.1 carries no properties", () => {
    const session = new ClientSession({
      protocolVersion: 4,
      clientId: "a",
      receiveMaximum: 5,
      properties: { userProperties: [["a", "b"]] },
    });
    assert.deepEqual(session.connectPacket(), {
      type: "connect",
      protocolVersion: 4,
      clientId: "a",
      clean: true,
      keepalive: 60,
    });
  });

  test("[MQTT-3.1.3-7] MQTT 3.1.1 refuses an empty Client Identifier without a clean session", () => {
    const session = new ClientSession({ protocolVersion: 4, clean: false });
    assert.throws(() => session.connectPacket(), { name: "TypeError", message: /MQTT-3\.1\.3-7/ });
    assert.equal(session.connectPacket({ clean: true }).clean, true);
  });

  test("MQTT 3.1 needs a Client Identifier of 1 to 23 characters", () => {
    assert.throws(() => new ClientSession({ protocolVersion: 3 }), RangeError);
    assert.throws(
      () => new ClientSession({ protocolVersion: 3, clientId: "x".repeat(24) }),
      RangeError,
    );
    const packet = new ClientSession({ protocolVersion: 3, clientId: "x" }).connectPacket();
    assert.equal(packet.protocolVersion, 3);
  });

  test("options out of range are caller mistakes with a precise message", () => {
    assert.throws(() => new ClientSession({ keepalive: 70_000 }), {
      name: "RangeError",
      message:
        "Cannot create a session as 'keepalive' must be an integer from 0 to 65535: current value is 70000",
    });
    assert.throws(() => new ClientSession({ receiveMaximum: 0 }), RangeError);
    assert.throws(() => new ClientSession({ topicAliasMaximum: -1 }), RangeError);
    assert.throws(() => new ClientSession({ maximumPacketSize: 0 }), RangeError);
    assert.throws(() => new ClientSession({ pingTimeout: 0 }), RangeError);
    assert.throws(() => new ClientSession({ protocolVersion: 6 as 5 }), RangeError);
    assert.throws(
      () => new ClientSession({ will: { topic: "a/#", payload: bytes(), qos: 0, retain: false } }),
      TypeError,
    );
  });

  test("CONNECT fields the encoder would refuse are refused at construction", () => {
    assert.throws(() => new ClientSession({ clientId: "a\u0000" }), TypeError);
    assert.throws(
      () =>
        new ClientSession({
          will: {
            topic: "w",
            payload: bytes(),
            qos: 0,
            retain: false,
            properties: { responseTopic: "+" },
          },
        }),
      TypeError,
    );
    assert.throws(
      () => new ClientSession({ properties: { requestProblemInformation: 2 } }),
      RangeError,
    );
  });
});

describe("CONNACK", () => {
  test("a refusal closes with a ConnectionRefusedError carrying the reason code", () => {
    const session = new ClientSession({ clientId: "a" });
    session.connectPacket();
    const actions = session.handlePacket(
      connack(false, { reasonString: "go away", serverReference: "b:1883" }, 0x9c),
      0,
    );
    assert.equal(actions.length, 1);
    const [close] = actions;
    assert.equal(close?.type, "close");
    const error = close?.type === "close" ? close.error : undefined;
    assert.ok(error instanceof ConnectionRefusedError);
    assert.equal(error.reasonCode, 0x9c);
    assert.equal(error.serverReference, "b:1883");
    assert.match(error.message, /UseAnotherServer \(0x9c\): go away/);
    assert.equal(session.state, "offline");
  });

  test("an MQTT 3.1.1 return code is named as such", () => {
    const session = new ClientSession({ clientId: "a", protocolVersion: 4 });
    session.connectPacket();
    const [close] = session.handleConnack(connack(false, undefined, 5), 0);
    assert.ok(close?.type === "close" && close.error instanceof ConnectionRefusedError);
    assert.equal(close.error.reasonCode, 5);
    assert.match(close.error.message, /NotAuthorized \(0x05\)/);
  });

  test("records the server's limits, with defaults for what it left out", () => {
    const session = new ClientSession({ clientId: "a" });
    assert.equal(session.limits.receiveMaximum, 65535);
    session.connectPacket();
    const [action] = session.handlePacket(
      connack(false, {
        receiveMaximum: 3,
        topicAliasMaximum: 4,
        maximumPacketSize: 1000,
        maximumQoS: 1,
        retainAvailable: 0,
        wildcardSubscriptionAvailable: 0,
        serverKeepAlive: 5,
      }),
      0,
    );
    assert.ok(action?.type === "connected");
    assert.equal(action.sessionPresent, false);
    assert.deepEqual(action.limits, {
      receiveMaximum: 3,
      topicAliasMaximum: 4,
      maximumPacketSize: 1000,
      maximumQoS: 1,
      retainAvailable: false,
      wildcardSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      serverKeepAlive: 5,
      assignedClientIdentifier: undefined,
    });
    assert.deepEqual(session.limits, action.limits);
  });

  test("an MQTT 3.1.1 server gets the defaults, whatever properties it carried", () => {
    const { session } = connected({ protocolVersion: 4 }, { receiveMaximum: 1, maximumQoS: 0 });
    assert.equal(session.limits.receiveMaximum, 65535);
    assert.equal(session.limits.maximumQoS, 2);
  });

  test("[MQTT-3.2.2-16] uses the Assigned Client Identifier for later connections", () => {
    const session = new ClientSession({ clean: false });
    assert.equal(session.connectPacket().clientId, "");
    const [action] = session.handlePacket(
      connack(false, { assignedClientIdentifier: "auto-1" }),
      0,
    );
    assert.ok(action?.type === "connected");
    assert.equal(action.clientId, "auto-1");
    assert.equal(session.clientId, "auto-1");
    session.connectionLost();
    assert.equal(session.connectPacket().clientId, "auto-1");
  });

  test("[MQTT-3.2.2-4] Session Present after a clean start is a protocol error", () => {
    const session = new ClientSession({ clientId: "a", clean: true });
    session.connectPacket();
    const actions = session.handlePacket(connack(true), 0);
    assert.deepEqual(sent(actions), [{ type: "disconnect", reasonCode: 0x82 }]);
    const close = actions[1];
    assert.ok(close?.type === "close" && close.error instanceof ProtocolError);
    assert.equal(close.error.statement, "MQTT-3.2.2-4");
    assert.equal(session.state, "offline");
  });

  test("[MQTT-3.2.0-1] a packet other than CONNACK or AUTH before CONNACK is a protocol error", () => {
    const session = new ClientSession({ clientId: "a" });
    session.connectPacket();
    const actions = session.handlePacket(serverPublish(undefined, 0), 0);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
    assert.ok(actions[1]?.type === "close");
    assert.match(actions[1].error.message, /PUBLISH before CONNACK.*MQTT-3\.2\.0-1/);
  });

  test("[MQTT-3.2.0-2] a second CONNACK is a protocol error", () => {
    const { session } = connected();
    const actions = session.handlePacket(connack(), 1);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
  });

  test("a Receive Maximum of 0 is a protocol error", () => {
    const session = new ClientSession({ clientId: "a" });
    session.connectPacket();
    const actions = session.handlePacket(connack(false, { receiveMaximum: 0 }), 0);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
  });

  test("an MQTT 3.1.1 protocol error closes without DISCONNECT", () => {
    const session = new ClientSession({ clientId: "a", protocolVersion: 4 });
    session.connectPacket();
    session.handlePacket(connack(), 0);
    const actions = session.handlePacket({ type: "pingreq" }, 1);
    assert.deepEqual(summary(actions), ["close ProtocolError"]);
  });

  test("packets arriving after the connection closed are ignored", () => {
    const { session } = connected();
    session.connectionLost();
    assert.deepEqual(session.handlePacket(serverPublish(1, 1), 5), []);
    assert.deepEqual(session.handlePacket(connack(), 5), []);
  });
});

describe("keep-alive", () => {
  test("[MQTT-3.1.2-20] PINGREQ one Keep Alive after the last packet sent", () => {
    const { session } = connected({ keepalive: 10 }, undefined, 1000);
    assert.equal(session.nextDeadline(), 11_000);
    assert.deepEqual(session.poll(10_999), []);
    // sending anything postpones the PINGREQ...
    session.publish({ topic: "t", payload: bytes() }, 5000);
    // ...but the silent server is probed one interval after the CONNACK
    assert.equal(session.nextDeadline(), 11_000);
    session.handlePacket(serverPublish(undefined, 0), 6000);
    assert.equal(session.nextDeadline(), 15_000);
    assert.deepEqual(session.poll(15_000), [{ type: "send", packet: { type: "pingreq" } }]);
    // waiting for the PINGRESP: dead after one more interval of silence
    assert.equal(session.nextDeadline(), 25_000);
    session.handlePacket({ type: "pingresp" }, 15_050);
    assert.equal(session.nextDeadline(), 25_000);
    assert.deepEqual(session.poll(24_999), []);
  });

  test("no answer to PINGREQ within the timeout closes with KeepAliveTimeoutError", () => {
    const { session } = connected({ keepalive: 10, pingTimeout: 2000 }, undefined, 0);
    assert.deepEqual(summary(session.poll(10_000)), ["send pingreq"]);
    assert.equal(session.nextDeadline(), 12_000);
    const actions = session.poll(12_000);
    assert.equal(actions.length, 1);
    assert.ok(actions[0]?.type === "close" && actions[0].error instanceof KeepAliveTimeoutError);
    assert.equal(actions[0].error.reasonCode, 0x8d);
    assert.equal(session.state, "offline");
    assert.equal(session.nextDeadline(), undefined);
  });

  test("[MQTT-3.2.2-21] the Server Keep Alive replaces ours", () => {
    const { session } = connected({ keepalive: 60 }, { serverKeepAlive: 5 }, 0);
    assert.equal(session.nextDeadline(), 5000);
  });

  test("Keep Alive 0 turns it off", () => {
    const { session } = connected({ keepalive: 0 });
    assert.equal(session.nextDeadline(), undefined);
    assert.deepEqual(session.poll(1e12), []);
  });

  test("no deadline before the CONNACK", () => {
    const session = new ClientSession({ clientId: "a", keepalive: 1 });
    assert.equal(session.nextDeadline(), undefined);
    session.connectPacket();
    assert.equal(session.nextDeadline(), undefined);
    assert.deepEqual(session.poll(1e9), []);
  });
});

describe("DISCONNECT and AUTH", () => {
  test("a server DISCONNECT becomes a disconnected action with its Server Reference", () => {
    const { session } = connected();
    const actions = session.handlePacket(
      {
        type: "disconnect",
        reasonCode: 0x9d,
        properties: { serverReference: "other:1883", reasonString: "moved" },
      },
      1,
    );
    assert.deepEqual(actions, [{
      type: "disconnected",
      reasonCode: 0x9d,
      reasonString: "moved",
      serverReference: "other:1883",
      properties: { serverReference: "other:1883", reasonString: "moved" },
    }]);
    assert.equal(session.state, "offline");
  });

  test("an MQTT 3.1.1 DISCONNECT has reason code 0", () => {
    const { session } = connected({ protocolVersion: 4 });
    assert.deepEqual(session.handlePacket({ type: "disconnect" }, 1), [
      { type: "disconnected", reasonCode: 0 },
    ]);
  });

  test("disconnect() sends DISCONNECT and goes offline", () => {
    const { session } = connected({ sessionExpiryInterval: 10 });
    assert.deepEqual(
      session.disconnect(5, { reasonCode: 0x04, properties: { sessionExpiryInterval: 0 } }),
      [{
        type: "send",
        packet: { type: "disconnect", reasonCode: 0x04, properties: { sessionExpiryInterval: 0 } },
      }],
    );
    assert.equal(session.state, "offline");
    assert.deepEqual(session.disconnect(6), []);
  });

  test("disconnect() refuses a Session Expiry Interval when CONNECT had none", () => {
    const { session } = connected();
    assert.throws(
      () => session.disconnect(0, { properties: { sessionExpiryInterval: 10 } }),
      TypeError,
    );
    assert.throws(() => session.disconnect(0, { reasonCode: 0x10 }), RangeError);
    assert.throws(
      () => session.disconnect(0, { properties: { reasonString: "\u0000" } }),
      TypeError,
    );
    assert.equal(session.state, "connected");
  });

  test("AUTH from the server is passed through, before and after CONNACK", () => {
    const session = new ClientSession({
      clientId: "a",
      properties: { authenticationMethod: "SCRAM-SHA-256" },
    });
    session.connectPacket();
    const challenge = {
      type: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "SCRAM-SHA-256", authenticationData: bytes(1) },
    } as const;
    assert.deepEqual(session.handlePacket(challenge, 0), [{ type: "auth", packet: challenge }]);
    const answer = {
      type: "auth",
      reasonCode: 0x18,
      properties: { authenticationMethod: "SCRAM-SHA-256", authenticationData: bytes(2) },
    } as const;
    assert.deepEqual(session.sendAuth(answer, 1), [{ type: "send", packet: answer }]);
    assert.throws(() => session.sendAuth({ type: "auth", reasonCode: 0x87 }, 1), RangeError);
    assert.equal(session.handlePacket(connack(), 2)[0]?.type, "connected");
  });

  test("[MQTT-4.12.0-6] AUTH without an Authentication Method in CONNECT is a protocol error", () => {
    const { session } = connected();
    const actions = session.handlePacket({ type: "auth", reasonCode: 0x18 }, 1);
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
    assert.throws(() => session.sendAuth({ type: "auth", reasonCode: 0x19 }, 1), /MQTT-4\.12\.0-7/);
  });

  test("a packet only clients send is a protocol error", () => {
    const { session } = connected();
    const actions = session.handlePacket(
      { type: "subscribe", packetId: 1, subscriptions: [{ topicFilter: "a", qos: 0 }] },
      1,
    );
    assert.deepEqual(summary(actions), ["send disconnect", "close ProtocolError"]);
  });
});
