/**
 * The client's MQTT 5 extras against real peers: enhanced authentication and
 * re-authentication against tern's broker (its `auth` option), subscriptions a
 * reconnection fails to restore, application acknowledgements (`ack: "manual"`), and a
 * server that exceeds our Receive Maximum (scripted: Mosquitto 2.0.11 keeps within it
 * once the session's allowances apply, see `ClientSessionOptions.receiveMaximum`).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type AuthMethod,
  connect,
  ConnectionRefusedError,
  type Message,
  type MqttClient,
  type MqttClientEventMap,
  ServerDisconnectError,
  SubscribeError,
} from "../mod.ts";
import { type AuthMethods, type RunningBroker, startBroker } from "../broker/mod.ts";
import { connect as connectWith } from "./client.ts";
import { decodePacket } from "./packet/decode.ts";
import { encodePacket } from "./packet/encode.ts";
import type { Packet } from "./packet/types.ts";
import type { Transport } from "./transport/types.ts";

const WAIT = 10_000;
const FAST_RECONNECT = { minDelay: 10, maxDelay: 100 };
const text = new TextEncoder();
const untext = (data: Uint8Array | undefined) => new TextDecoder().decode(data);

let counter = 0;
const id = (name: string) => `${name}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

function once<K extends keyof MqttClientEventMap>(
  client: MqttClient,
  type: K,
  filter: (event: MqttClientEventMap[K]) => boolean = () => true,
): Promise<MqttClientEventMap[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event within ${WAIT} ms`)), WAIT);
    const listener = (event: MqttClientEventMap[K]) => {
      if (!filter(event)) return;
      clearTimeout(timer);
      client.removeEventListener(type, listener);
      resolve(event);
    };
    client.addEventListener(type, listener);
  });
}

/** The next message of `source`, failing after a timeout. */
async function next(source: AsyncIterator<Message>): Promise<Message> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await Promise.race([
      source.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no message within ${WAIT} ms`)), WAIT);
      }),
    ]);
    if (result.done) throw new Error("the stream ended");
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` milliseconds (only to give an unwanted message time to show up). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A challenge-response method: the broker sends a nonce, the client answers
// "<nonce>:<secret>", the broker's final data is "ok:<nonce>", which the client checks.
function challengeBroker(secret: string): AuthMethods {
  return {
    "x-challenge": (data, { round, state, reauthenticate }) => {
      if (round === 1) {
        if (untext(data) !== "hello") return { action: "failure", reasonCode: 0x87 };
        const nonce = `n${Math.random().toString(36).slice(2, 8)}${reauthenticate ? "r" : ""}`;
        state!.nonce = nonce;
        return { action: "continue", data: text.encode(nonce) };
      }
      return untext(data) === `${state!.nonce}:${secret}`
        ? { action: "success", data: text.encode(`ok:${state!.nonce}`) }
        : { action: "failure", reasonCode: 0x86, reason: "wrong answer" };
    },
  };
}

function challengeClient(secret: () => string, log: string[] = []): AuthMethod {
  let nonce = "";
  return {
    method: "x-challenge",
    start: ({ reauthenticate, round }) => {
      log.push(`start ${reauthenticate ? "re" : "connect"} ${round}`);
      return text.encode("hello");
    },
    onChallenge: async (data, { round }) => {
      await pause(1); // an asynchronous answer
      nonce = untext(data);
      log.push(`challenge ${round}`);
      return text.encode(`${nonce}:${secret()}`);
    },
    onSuccess: (data, { reauthenticate }) => {
      log.push(`success ${reauthenticate ? "re" : "connect"}`);
      if (untext(data) !== `ok:${nonce}`) throw new Error("the server's proof is wrong");
    },
  };
}

describe("enhanced authentication against tern's broker", () => {
  let broker: RunningBroker;
  before(async () => {
    broker = await startBroker({ port: 0, strict: true, auth: challengeBroker("s3cret") });
  });
  after(async () => {
    await broker?.close();
  });

  test("[MQTT-4.12.0-2] CONNECT, AUTH 0x18 rounds, CONNACK: the method sees each step", async () => {
    const log: string[] = [];
    await using client = await connect(broker.url, {
      clientId: id("auth-ok"),
      auth: challengeClient(() => "s3cret", log),
      reconnect: false,
    });
    assert.equal(client.connected, true);
    assert.deepEqual(log, ["start connect 1", "challenge 2", "success connect"]);
    // the connection works
    await using subscription = await client.subscribe("auth/ok", { qos: 1 });
    await client.publish("auth/ok", "fine", { qos: 1 });
    assert.equal((await next(subscription[Symbol.asyncIterator]())).text(), "fine");
    assert.deepEqual(broker.violations, []);
  });

  test("a wrong answer is refused: connect() rejects with the CONNACK reason code", async () => {
    const error = await connect(broker.url, {
      clientId: id("auth-bad"),
      auth: challengeClient(() => "wrong"),
      reconnect: false,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ConnectionRefusedError, String(error));
    assert.equal(error.reasonCode, 0x86);
  });

  test("an unknown method is refused with 0x8C Bad authentication method", async () => {
    const error = await connect(broker.url, {
      clientId: id("auth-unknown"),
      auth: { method: "x-unknown", onChallenge: () => undefined },
      reconnect: false,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ConnectionRefusedError, String(error));
    assert.equal(error.reasonCode, 0x8c);
  });

  test("the method refusing the server's final data fails the connection attempt", async () => {
    const method = challengeClient(() => "s3cret");
    const error = await connect(broker.url, {
      clientId: id("auth-proof"),
      auth: { ...method, onSuccess: () => Promise.reject(new Error("bad server proof")) },
      reconnect: false,
    }).then(() => undefined, (e) => e);
    assert.match(String(error), /bad server proof/);
  });

  test("[MQTT-4.12.1-1] reauthenticate(): AUTH 0x19, a challenge, AUTH 0x00", async () => {
    const log: string[] = [];
    await using client = await connect(broker.url, {
      clientId: id("reauth"),
      auth: challengeClient(() => "s3cret", log),
      reconnect: false,
    });
    await client.reauthenticate();
    assert.deepEqual(log.slice(3), ["start re 1", "challenge 2", "success re"]);
    // and again, on the same connection
    await client.reauthenticate();
    assert.equal(client.connected, true);
    await client.publish("auth/after", "x", { qos: 1 });
    assert.deepEqual(broker.violations, []);
  });

  test("[MQTT-4.12.1-2] a refused re-authentication rejects with the server's DISCONNECT", async () => {
    let secret = "s3cret";
    await using client = await connect(broker.url, {
      clientId: id("reauth-bad"),
      auth: challengeClient(() => secret),
      reconnect: false,
    });
    secret = "stale";
    const disconnected = once(client, "disconnect");
    const error = await client.reauthenticate().then(() => undefined, (e) => e);
    assert.ok(error instanceof ServerDisconnectError, String(error));
    // the broker's 0x86 is no DISCONNECT code: it sends 0x87 Not authorized
    assert.equal(error.reasonCode, 0x87);
    assert.equal((await disconnected).reasonCode, 0x87);
  });

  test("reauthenticate() needs an auth method and a connection", async () => {
    await using plain = await connect(broker.url, { clientId: id("noauth"), reconnect: false });
    await assert.rejects(plain.reauthenticate(), TypeError);
    await assert.rejects(
      connect(broker.url, { auth: { method: "" } as unknown as AuthMethod }),
      /'auth' must have a non-empty 'method'/,
    );
    await assert.rejects(
      connect(broker.url, { protocolVersion: 4, auth: challengeClient(() => "") }),
      /enhanced authentication needs MQTT 5/,
    );
  });
});

describe("subscriptions a reconnection cannot restore", () => {
  let broker: RunningBroker;
  let denied = new Set<string>();
  before(async () => {
    broker = await startBroker({
      port: 0,
      authorize: ({ action, topic }) => action !== "subscribe" || !denied.has(topic),
    });
  });
  after(async () => {
    await broker?.close();
  });

  test("the subscription ends with a SubscribeError carrying the code, and an event fires", async () => {
    denied = new Set();
    const clientId = id("restore");
    await using client = await connect(broker.url, {
      clientId,
      reconnect: FAST_RECONNECT,
    });
    const lost = client.subscribe("restore/lost", { qos: 1 });
    const mixed = client.subscribe(["restore/kept", "restore/gone"], { qos: 1 });
    const [lostSubscription, mixedSubscription] = await Promise.all([lost, mixed]);
    await client.publish("restore/lost", "before", { qos: 1 });
    const lostMessages = lostSubscription[Symbol.asyncIterator]();
    assert.equal((await next(lostMessages)).text(), "before");

    denied = new Set(["restore/lost", "restore/gone"]);
    const events: MqttClientEventMap["subscriptionlost"][] = [];
    client.addEventListener("subscriptionlost", (event) => events.push(event));
    const reconnected = once(client, "connect", (event) => event.reconnected);
    const restored = once(client, "subscribe", (event) => event.reasonCodes.includes(0x87));
    assert.equal(broker.broker.disconnectClient(clientId), true);
    await reconnected;
    await restored;

    const error = await next(lostMessages).then(() => undefined, (e) => e);
    assert.ok(error instanceof SubscribeError, String(error));
    assert.equal(error.reasonCode, 0x87);
    assert.deepEqual(error.topicFilters, ["restore/lost"]);
    assert.equal(lostSubscription.active, false);

    assert.deepEqual(
      events.map((e) => [e.topicFilters, e.reasonCodes, e.subscription === lostSubscription])
        .sort(),
      [[["restore/gone"], [0x87], false], [["restore/lost"], [0x87], true]].sort(),
    );
    assert.ok(events.every((e) => e.error instanceof SubscribeError));

    // the subscription that kept a filter goes on with it
    assert.equal(mixedSubscription.active, true);
    await client.publish("restore/kept", "still here", { qos: 1 });
    assert.equal((await next(mixedSubscription[Symbol.asyncIterator]())).text(), "still here");
  });
});

describe('ack: "manual" against tern\'s broker', () => {
  let broker: RunningBroker;
  before(async () => {
    broker = await startBroker({ port: 0, strict: true });
  });
  after(async () => {
    await broker?.close();
  });

  for (const qos of [1, 2] as const) {
    test(`QoS ${qos}: a message not acknowledged is delivered again to a new process; auto would have lost it`, async () => {
      const topic = `manual/${qos}/${++counter}`;
      await using publisher = await connect(broker.url, { clientId: id("pub") });
      const run = async (ack: "auto" | "manual") => {
        const clientId = id(`sub-${ack}`);
        const options = {
          clientId,
          clean: false,
          sessionExpiryInterval: 300,
          reconnect: false as const,
          ack,
        };
        const first = await connect(broker.url, options);
        const subscription = await first.subscribe(`${topic}/${ack}`, { qos });
        await publisher.publish(`${topic}/${ack}`, "job", { qos });
        const message = await next(subscription[Symbol.asyncIterator]());
        assert.equal(message.text(), "job");
        // "crash": the connection ends without the message being acknowledged by the app
        await first.disconnect();
        // a new process, no store: the server has the session
        await using second = await connect(broker.url, { ...options, clean: false });
        const again = second.messages[Symbol.asyncIterator]();
        if (ack === "auto") {
          const raced = await Promise.race([again.next(), pause(300).then(() => "none")]);
          assert.equal(raced, "none", "auto acknowledged it on arrival: not re-sent");
          return;
        }
        const redelivered = await next(again);
        assert.equal(redelivered.text(), "job");
        assert.equal(redelivered.dup, true);
        await redelivered.ack();
        await redelivered.ack(); // idempotent
      };
      await run("manual");
      await run("auto");
      assert.deepEqual(broker.violations, []);
    });
  }

  test("acknowledgements wait for ack() and leave in arrival order", async () => {
    const topic = `manual/order/${++counter}`;
    await using publisher = await connect(broker.url, { clientId: id("pub") });
    await using client = await connect(broker.url, { clientId: id("sub"), reconnect: false });
    await using subscription = await client.subscribe(topic, { qos: 1, ack: "manual" });
    const iterator = subscription[Symbol.asyncIterator]();
    const sent = [1, 2, 3].map((i) => publisher.publish(topic, String(i), { qos: 1 }));
    const got = [await next(iterator), await next(iterator), await next(iterator)];
    assert.deepEqual(got.map((m) => m.text()), ["1", "2", "3"]);
    await Promise.all(sent);
    await Promise.all([got[2]!.ack(), got[1]!.ack(), got[0]!.ack()]);
    assert.deepEqual(broker.violations, []);
    await assert.rejects(client.subscribe(topic, { ack: "later" as "auto" }), /'ack' must be/);
  });
});

/**
 * A scripted server on an in-memory transport, for what no real broker does on cue: it
 * accepts the connection and records what the client sends; `send` writes a packet.
 */
function scriptedServer() {
  let toClient!: ReadableStreamDefaultController<Uint8Array>;
  const received: Packet[] = [];
  let waiters: { test: () => boolean; resolve: () => void }[] = [];
  /** Resolves once `test` holds, checked after each write of the client. */
  const until = (test: () => boolean) =>
    new Promise<void>((resolve) => {
      if (test()) resolve();
      else waiters.push({ test, resolve });
    });
  let buffered = new Uint8Array();
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) });
  const send = (packet: Packet) => toClient.enqueue(encodePacket(packet, 5));
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      const all = new Uint8Array(buffered.length + chunk.length);
      all.set(buffered);
      all.set(chunk, buffered.length);
      let at = 0;
      for (;;) {
        const decoded = decodePacket(all.subarray(at), { protocolVersion: 5 });
        if (decoded === undefined) break;
        at += decoded.bytesRead;
        received.push(decoded.packet);
        if (decoded.packet.type === "connect") {
          send({ type: "connack", sessionPresent: false, reasonCode: 0 });
        }
      }
      buffered = all.slice(at);
      const ready = waiters.filter((waiter) => waiter.test());
      waiters = waiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.resolve();
    },
  });
  const transport: Transport = {
    readable,
    writable,
    closed: Promise.resolve(),
    remoteAddress: undefined,
    close: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return { transport, received, send, until };
}

describe("a server exceeding our Receive Maximum (scripted)", () => {
  const publish = (packetId: number): Packet => ({
    type: "publish",
    topic: "rm",
    payload: text.encode(String(packetId)),
    qos: 1,
    retain: false,
    dup: false,
    packetId,
  });

  /**
   * Receive Maximum 3: the app acknowledges messages 2 and 3 but not 1, so our PUBACKs
   * wait (arrival order) and the server still has 3 unacknowledged; it sends 4 and 5.
   */
  async function exceed(strict: boolean | undefined) {
    const server = scriptedServer();
    const client = await connectWith("mqtt://scripted", {
      transport: () => Promise.resolve(server.transport),
      clientId: id("rm"),
      receiveMaximum: 3,
      reconnect: false,
      ack: "manual",
      ...(strict === undefined ? {} : { strictReceiveMaximum: strict }),
    });
    assert.equal(
      (server.received[0] as { properties?: { receiveMaximum?: number } }).properties
        ?.receiveMaximum,
      3,
      "announced",
    );
    const logs: string[] = [];
    client.addEventListener("log", (event) => logs.push(event.message));
    const disconnected = new Promise<MqttClientEventMap["disconnect"]>((resolve) =>
      client.addEventListener("disconnect", resolve, { once: true })
    );
    const messages = client.messages[Symbol.asyncIterator]();
    for (const packetId of [1, 2, 3, 4, 5]) server.send(publish(packetId));
    const first = [await next(messages), await next(messages), await next(messages)];
    await Promise.all([first[1]!.ack(), first[2]!.ack()]);
    return { client, server, messages, first, logs, disconnected };
  }

  test("lenient by default: the excess is delivered, counted and logged once", async () => {
    const { client, server, messages, first, logs } = await exceed(undefined);
    const rest = [await next(messages), await next(messages)];
    assert.deepEqual(rest.map((m) => m.text()), ["4", "5"]);
    assert.equal(client.receiveMaximumExceeded, 2);
    assert.equal(logs.filter((line) => /exceeds our Receive Maximum of 3/.test(line)).length, 1);
    assert.equal(client.connected, true);
    assert.equal(server.received.filter((p) => p.type === "puback").length, 0, "1 holds them");
    await Promise.all([first[0]!.ack(), rest[0]!.ack(), rest[1]!.ack()]);
    await server.until(() => server.received.filter((p) => p.type === "puback").length === 5);
    assert.deepEqual(
      server.received.flatMap((p) => p.type === "puback" ? [p.packetId] : []),
      [1, 2, 3, 4, 5],
    );
    await client.disconnect();
  });

  test('ack: "manual": no PUBACK before ack(), then in arrival order [MQTT-4.6.0-2]', async () => {
    const server = scriptedServer();
    await using client = await connectWith("mqtt://scripted", {
      transport: () => Promise.resolve(server.transport),
      clientId: id("order"),
      reconnect: false,
      ack: "manual",
    });
    const messages = client.messages[Symbol.asyncIterator]();
    for (const packetId of [1, 2, 3]) server.send(publish(packetId));
    const got = [await next(messages), await next(messages), await next(messages)];
    await got[2]!.ack();
    await got[1]!.ack();
    // a QoS 0 publication resolves once written, after anything the acks would have written
    await client.publish("marker", "", { qos: 0 });
    assert.ok(server.received.some((p) => p.type === "publish" && p.topic === "marker"));
    assert.deepEqual(server.received.filter((p) => p.type === "puback"), []);
    await got[0]!.ack();
    await server.until(() => server.received.filter((p) => p.type === "puback").length === 3);
    assert.deepEqual(
      server.received.flatMap((p) => p.type === "puback" ? [p.packetId] : []),
      [1, 2, 3],
    );
  });

  test("[MQTT-3.3.4-9] strictReceiveMaximum: true ends the connection with DISCONNECT 0x93", async () => {
    const { client, server, disconnected } = await exceed(true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const event = await Promise.race([
      disconnected,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no disconnect within ${WAIT} ms`)), WAIT);
      }),
    ]);
    clearTimeout(timer);
    assert.equal((event.error as { reasonCode?: number }).reasonCode, 0x93);
    assert.equal((event.error as { statement?: string }).statement, "MQTT-3.3.4-9");
    assert.ok(server.received.some((p) => p.type === "disconnect" && p.reasonCode === 0x93));
    assert.equal(client.connected, false);
    await client.disconnect();
  });
});
