/**
 * MQTT 5 enhanced authentication (AUTH exchange, re-authentication, unknown methods) and
 * Response Information, driven by hand and over a real socket.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import type { AuthHandler, AuthMethods } from "./enhanced_auth.ts";
import type { BrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { startBroker } from "./start.ts";
import { bytes, eventually, HandClient, RawClient, text } from "./_test_client.ts";
import type { AuthPacket, ConnectPacket, Packet } from "../lib/packet/types.ts";

function setup(options: BrokerOptions = {}): Broker {
  return new Broker({ clock: new ManualClock(0), ...options });
}

/** Round 1: send a nonce; round 2: success when the client echoes "signed:" + nonce. */
const challenge: AuthHandler = (data, { round, state }) => {
  if (round === 1) {
    state!.nonce = `nonce-${text(data ?? new Uint8Array())}`;
    return { action: "continue", data: bytes(state!.nonce as string) };
  }
  return text(data ?? new Uint8Array()) === `signed:${state!.nonce}`
    ? { action: "success", data: bytes("welcome") }
    : { action: "failure", reasonCode: 0x86, reason: "bad proof" };
};

function connect5(clientId: string, method?: string, data?: string): ConnectPacket {
  return {
    type: "connect",
    protocolVersion: 5,
    clientId,
    clean: true,
    keepalive: 0,
    ...(method === undefined ? {} : {
      properties: {
        authenticationMethod: method,
        ...(data === undefined ? {} : { authenticationData: bytes(data) }),
      },
    }),
  };
}

function auth(reasonCode: number, method: string, data?: string): AuthPacket {
  return {
    type: "auth",
    reasonCode,
    properties: {
      authenticationMethod: method,
      ...(data === undefined ? {} : { authenticationData: bytes(data) }),
    },
  };
}

function only(packets: Packet[]): Packet {
  assert.equal(packets.length, 1, JSON.stringify(packets));
  return packets[0]!;
}

describe("enhanced authentication on CONNECT", () => {
  test("[MQTT-4.12.0-1] an unknown Authentication Method gets CONNACK 0x8C and the connection is closed", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "SCRAM-SHA-1"));
    assert.deepEqual(client.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x8c }]);
    assert.equal(client.connection.closed, true);
    assert.equal(broker.session("a"), undefined);
  });

  test("[MQTT-4.12.0-2] [MQTT-4.12.0-5] challenge and response with AUTH 0x18, then CONNACK with the same method", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    assert.deepEqual(only(client.take()), auth(0x18, "challenge", "nonce-x"));
    assert.equal(client.connection.state, "awaiting-connect");
    assert.equal(broker.session("a"), undefined, "no session before authentication succeeds");
    client.send(auth(0x18, "challenge", "signed:nonce-x"));
    const connack = only(client.take());
    assert.equal(connack.type, "connack");
    assert.equal(connack.type === "connack" && connack.reasonCode, 0);
    assert.equal(
      connack.type === "connack" && connack.properties?.authenticationMethod,
      "challenge",
    );
    assert.deepEqual(
      connack.type === "connack" && connack.properties?.authenticationData,
      bytes("welcome"),
    );
    assert.equal(client.connection.state, "connected");
    assert.equal(broker.stats.clientsConnected, 1);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-4.12.0-4] a failed proof gets the handler's CONNACK reason code and the connection is closed", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    client.send(auth(0x18, "challenge", "signed:wrong"));
    assert.deepEqual(client.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x86 }]);
    assert.equal(client.connection.closed, true);
    assert.equal(broker.stats.clientsConnected, 0);
  });

  test("an asynchronous handler answers later; a throwing one fails with 0x87", async () => {
    const methods: AuthMethods = {
      slow: async (data) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return text(data!) === "ok" ? { action: "success" } : { action: "failure" };
      },
      broken: () => {
        throw new Error("database down");
      },
    };
    await using broker = setup({ auth: methods });
    const good = new HandClient(broker);
    good.send(connect5("good", "slow", "ok"));
    assert.deepEqual(good.take(), []);
    await eventually(() => good.connection.state === "connected", 5_000, "CONNACK");
    const connack = only(good.take());
    assert.equal(connack.type === "connack" && connack.reasonCode, 0);
    const bad = new HandClient(broker);
    bad.send(connect5("bad", "slow", "no"));
    await eventually(() => bad.connection.closed, 5_000, "refusal");
    assert.deepEqual(bad.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x87 }]);
    const broken = new HandClient(broker);
    broken.send(connect5("broken", "broken"));
    assert.deepEqual(broken.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x87 }]);
  });

  test("[MQTT-3.1.2-30] a packet other than AUTH or DISCONNECT during the exchange is a protocol error", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    client.send({ type: "pingreq" });
    assert.deepEqual(client.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x82 }]);
    assert.equal(client.connection.closed, true);
    assert.equal(broker.violations.at(-1)?.statement, "MQTT-3.1.2-30");
  });

  test("[MQTT-4.12.0-5] an AUTH naming another method is a protocol error", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    client.send(auth(0x18, "other", "signed:nonce-x"));
    assert.deepEqual(client.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x82 }]);
    assert.equal(broker.violations.at(-1)?.statement, "MQTT-4.12.0-5");
  });

  test("[MQTT-4.12.0-3] an AUTH answering a challenge with a reason code other than 0x18 is a protocol error", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    client.send(auth(0x19, "challenge", "signed:nonce-x"));
    assert.deepEqual(client.take(), [{ type: "connack", sessionPresent: false, reasonCode: 0x82 }]);
    assert.equal(broker.violations.at(-1)?.statement, "MQTT-4.12.0-3");
  });

  test("the CONNECT timeout still runs during a stalled exchange", async () => {
    const clock = new ManualClock(0);
    await using broker = new Broker({ clock, connectTimeout: 1_000, auth: { challenge } });
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    clock.advance(1_000);
    assert.equal(client.connection.closed, true);
  });
});

describe("re-authentication", () => {
  function connected(broker: Broker): HandClient {
    const client = new HandClient(broker);
    client.send(connect5("a", "challenge", "x"));
    client.take();
    client.send(auth(0x18, "challenge", "signed:nonce-x"));
    client.take();
    return client;
  }

  test("[MQTT-4.12.1-1] AUTH 0x19 starts a new exchange that ends with AUTH 0x00", async () => {
    const contexts: boolean[] = [];
    const recording: AuthHandler = (data, context) => {
      contexts.push(context.reauthenticate);
      return challenge(data, context);
    };
    await using broker = setup({ auth: { challenge: recording } });
    const client = connected(broker);
    client.send(auth(0x19, "challenge", "y"));
    assert.deepEqual(only(client.take()), auth(0x18, "challenge", "nonce-y"));
    // Other packets may flow during re-authentication.
    client.send({ type: "pingreq" });
    assert.deepEqual(client.take(), [{ type: "pingresp" }]);
    client.send(auth(0x18, "challenge", "signed:nonce-y"));
    assert.deepEqual(only(client.take()), auth(0x00, "challenge", "welcome"));
    assert.equal(client.connection.state, "connected");
    assert.deepEqual(contexts, [false, false, true, true]);
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-4.12.1-2] a failed re-authentication gets DISCONNECT (0x87 for a code DISCONNECT cannot carry) and closes", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = connected(broker);
    client.send(auth(0x19, "challenge", "y"));
    client.take();
    client.send(auth(0x18, "challenge", "signed:forged"));
    assert.deepEqual(client.take(), [{
      type: "disconnect",
      reasonCode: 0x87,
      properties: { reasonString: "bad proof" },
    }]);
    assert.equal(client.connection.closed, true);
  });

  test("[MQTT-4.12.1-1] re-authenticating with another method is a protocol error", async () => {
    await using broker = setup({ auth: { challenge } });
    const client = connected(broker);
    client.send(auth(0x19, "token", "y"));
    const disconnect = only(client.take());
    assert.equal(disconnect.type === "disconnect" && disconnect.reasonCode, 0x82);
    assert.equal(broker.violations.at(-1)?.statement, "MQTT-4.12.0-5");
  });

  test("[MQTT-4.12.0-7] AUTH from a client that connected without a method is a protocol error", async () => {
    await using broker = setup({ auth: { challenge } });
    const [client] = HandClient.connect(broker, { clientId: "plain", protocolVersion: 5 });
    client.send(auth(0x19, "challenge"));
    const disconnect = only(client.take());
    assert.equal(disconnect.type === "disconnect" && disconnect.reasonCode, 0x82);
    assert.equal(broker.violations.at(-1)?.statement, "MQTT-4.12.0-7");
  });
});

describe("Response Information", () => {
  test("is the configured prefix and the client id, only when asked for", async () => {
    await using broker = setup({ responseInformation: "replies/" });
    const [, asked] = HandClient.connect(broker, {
      clientId: "a",
      protocolVersion: 5,
      properties: { requestResponseInformation: 1 },
    });
    assert.equal(asked.properties?.responseInformation, "replies/a");
    const [, silent] = HandClient.connect(broker, { clientId: "b", protocolVersion: 5 });
    assert.equal(silent.properties?.responseInformation, undefined);
  });

  test("defaults to response/ and is not sent when the prefix is empty", async () => {
    await using first = setup();
    const [, asked] = HandClient.connect(first, {
      clientId: "a",
      protocolVersion: 5,
      properties: { requestResponseInformation: 1 },
    });
    assert.equal(asked.properties?.responseInformation, "response/a");
    await using second = setup({ responseInformation: "" });
    const [, none] = HandClient.connect(second, {
      clientId: "a",
      protocolVersion: 5,
      properties: { requestResponseInformation: 1 },
    });
    assert.equal(none.properties?.responseInformation, undefined);
  });
});

describe("over a socket", () => {
  test("an asynchronous challenge-response exchange, then publishing works", async () => {
    const slowChallenge: AuthHandler = async (data, context) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return challenge(data, context);
    };
    await using broker = await startBroker({ port: 0, auth: { challenge: slowChallenge } });
    await using client = await RawClient.open(broker.url, 5);
    await client.send(connect5("sock", "challenge", "z"));
    assert.deepEqual(await client.expect("auth"), auth(0x18, "challenge", "nonce-z"));
    await client.send(auth(0x18, "challenge", "signed:nonce-z"));
    const connack = await client.expect("connack");
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, "challenge");
    await client.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "t", qos: 0 }],
    });
    await client.expect("suback");
    await client.send({
      type: "publish",
      topic: "t",
      payload: bytes("hi"),
      qos: 0,
      retain: false,
      dup: false,
    });
    const publish = await client.expect("publish");
    assert.equal(text(publish.payload), "hi");
    assert.deepEqual(broker.violations, []);
  });
});
