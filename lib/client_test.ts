/**
 * The client against a scripted in-memory server: every packet the client writes is
 * decoded and checked, and the server's answers are written by the test. Covers what a
 * real broker cannot be made to do on cue (refusals, silence, failure codes, cuts at
 * chosen moments).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect as connectWith, type ConnectOptions, type MqttClient } from "./client.ts";
import {
  ConnectionClosedError,
  OfflineQueueFullError,
  ServerDisconnectError,
  SubscribeError,
  UnsubscribeError,
} from "./errors.ts";
import type {
  ConnectEvent,
  ConnectFailedEvent,
  DisconnectEvent,
  LogEvent,
  MqttClientEventMap,
  PublishEvent,
} from "./events.ts";
import { encodePacket } from "./packet/encode.ts";
import { PacketDecoderStream } from "./packet/streams.ts";
import type { Packet, Properties, PublishPacket } from "./packet/types.ts";
import {
  AcknowledgementError,
  ConnectionRefusedError,
  KeepAliveTimeoutError,
  ServerLimitError,
} from "./errors.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { Transport } from "./transport/types.ts";

const text = new TextEncoder();
const WAIT = 5000;

/** One connection as the server sees it. */
class ServerSide {
  readonly transport: Transport;
  version: 3 | 4 | 5 = 5;
  closedByClient = false;
  #toClient!: ReadableStreamDefaultController<Uint8Array>;
  #packets: Packet[] = [];
  #waiters: ((packet: Packet) => void)[] = [];
  #ended = false;
  #closed = Promise.withResolvers<void>();

  constructor() {
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.#toClient = controller),
    });
    const decoder = new PacketDecoderStream({ protocolVersion: 5 });
    (async () => {
      try {
        for await (const packet of decoder.readable) {
          if (packet.type === "connect") this.version = packet.protocolVersion;
          const waiter = this.#waiters.shift();
          if (waiter) waiter(packet);
          else this.#packets.push(packet);
        }
      } catch {
        // the client closed mid-packet: nothing more to read
      }
    })();
    const close = () => {
      this.closedByClient = true;
      this.end();
      this.#closed.resolve();
      return Promise.resolve();
    };
    this.transport = {
      readable,
      writable: decoder.writable,
      closed: this.#closed.promise,
      remoteAddress: "memory",
      close,
      [Symbol.asyncDispose]: close,
    };
  }

  /** The next packet the client wrote. */
  next(): Promise<Packet> {
    const packet = this.#packets.shift();
    if (packet) return Promise.resolve(packet);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no packet from the client within ${WAIT} ms`)),
        WAIT,
      );
      this.#waiters.push((p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends Packet["type"]>(type: T): Promise<Extract<Packet, { type: T }>> {
    const packet = await this.next();
    assert.equal(packet.type, type, `expected ${type}, got ${JSON.stringify(packet)}`);
    return packet as Extract<Packet, { type: T }>;
  }

  /** Takes the next SUBSCRIBE and answers with a SUBACK of `reasonCodes`. */
  async acceptSubscribe(reasonCodes: number[] = [0]): Promise<void> {
    const { packetId } = await this.expect("subscribe");
    this.send({ type: "suback", packetId, reasonCodes });
  }

  /** Takes the next PUBLISH, checks that its payload reads `payload`, and sends PUBACK 0. */
  async ackPublish(payload: string): Promise<PublishPacket> {
    const packet = await this.expect("publish");
    assert.equal(new TextDecoder().decode(packet.payload), payload);
    this.send({ type: "puback", packetId: packet.packetId!, reasonCode: 0 });
    return packet;
  }

  /** Packets written so far and not yet taken. */
  get pending(): Packet[] {
    return this.#packets;
  }

  send(packet: Packet): void {
    if (this.#ended) return;
    try {
      this.#toClient.enqueue(encodePacket(packet, this.version));
    } catch {
      this.#ended = true; // the client cancelled its side
    }
  }

  /** Takes the CONNECT and accepts it, with the CONNACK `properties` given. */
  async accept(sessionPresent = false, properties?: Properties): Promise<void> {
    await this.expect("connect");
    this.send({
      type: "connack",
      sessionPresent,
      reasonCode: 0,
      ...(properties === undefined ? {} : { properties }),
    });
  }

  /** The server closes the connection. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#toClient.close();
    } catch {
      // the client cancelled its side already
    }
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }
}

/** A scripted server: every connection attempt gets a new ServerSide. */
class FakeServer {
  readonly connections: ServerSide[] = [];
  #waiters: ((side: ServerSide) => void)[] = [];
  refuse: Error | undefined;

  opener = (_url: URL, options: { signal?: AbortSignal }): Promise<Transport> => {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.refuse) return Promise.reject(this.refuse);
    const side = new ServerSide();
    this.connections.push(side);
    const waiter = this.#waiters.shift();
    if (waiter) waiter(side);
    return Promise.resolve(side.transport);
  };

  /** The connection after `count` earlier ones. */
  connection(index: number): Promise<ServerSide> {
    const side = this.connections[index];
    if (side) return Promise.resolve(side);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no connection #${index} within ${WAIT} ms`)),
        WAIT,
      );
      const check = (s: ServerSide) => {
        if (this.connections[index] === s) {
          clearTimeout(timer);
          resolve(s);
        } else {
          this.#waiters.push(check);
        }
      };
      this.#waiters.push(check);
    });
  }
}

function connect(server: FakeServer, options: ConnectOptions = {}): Promise<MqttClient> {
  return connectWith("mqtt://fake", {
    clientId: "test",
    reconnect: { minDelay: 1, maxDelay: 5 },
    ...options,
    transport: server.opener,
  });
}

/** Connects and lets the server accept, with the CONNACK `properties` given. */
async function connected(
  server: FakeServer,
  options: ConnectOptions = {},
  properties?: Properties,
): Promise<{ client: MqttClient; side: ServerSide }> {
  const index = server.connections.length;
  const pending = connect(server, options);
  const side = await server.connection(index);
  await side.accept(false, properties);
  return { client: await pending, side };
}

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

function publishPacket(
  packetId: number | undefined,
  payload: string,
  qos: 0 | 1 | 2 = 1,
  topic = "a/b",
): PublishPacket {
  const packet: PublishPacket = {
    type: "publish",
    topic,
    payload: text.encode(payload),
    qos,
    retain: false,
    dup: false,
  };
  if (packetId !== undefined) packet.packetId = packetId;
  return packet;
}

describe("connect", () => {
  test("resolves after CONNACK with the options in CONNECT", async () => {
    const server = new FakeServer();
    const pending = connect(server, {
      clientId: "dev-1",
      keepalive: 30,
      username: "u",
      password: "p",
      clean: false,
      sessionExpiryInterval: 60,
      will: { topic: "status", payload: "gone", qos: 1, retain: true },
    });
    const side = await server.connection(0);
    const packet = await side.expect("connect");
    assert.equal(packet.clientId, "dev-1");
    assert.equal(packet.keepalive, 30);
    assert.equal(packet.clean, false);
    assert.equal(packet.username, "u");
    assert.deepEqual(packet.password, text.encode("p"));
    assert.deepEqual(packet.will, {
      topic: "status",
      payload: text.encode("gone"),
      qos: 1,
      retain: true,
    });
    assert.equal(packet.properties?.sessionExpiryInterval, 60);
    assert.equal(packet.properties?.receiveMaximum, undefined, "not announced unless set");
    side.send({
      type: "connack",
      sessionPresent: false,
      reasonCode: 0,
      properties: { receiveMaximum: 7 },
    });
    const client = await pending;
    assert.equal(client.state, "connected");
    assert.equal(client.serverLimits.receiveMaximum, 7);
    await client.disconnect();
    await side.expect("disconnect");
    assert.equal(client.state, "closed");
  });

  for (
    const [version, code, name] of [[5, 0x86, "BadUserNameOrPassword"], [
      4,
      5,
      "NotAuthorized",
    ]] as const
  ) {
    test(`rejects a refused MQTT ${version} connection with the CONNACK code (${name})`, async () => {
      const server = new FakeServer();
      const pending = connect(server, { protocolVersion: version });
      const side = await server.connection(0);
      await side.expect("connect");
      side.send({ type: "connack", sessionPresent: false, reasonCode: code });
      await assert.rejects(pending, (error) => {
        assert.ok(error instanceof ConnectionRefusedError);
        assert.equal(error.reasonCode, code);
        assert.match(error.message, new RegExp(name));
        return true;
      });
      await side.closed;
      assert.equal(server.connections.length, 1, "the first connection is not retried");
    });
  }

  test("rejects with the transport's error when the broker is unreachable", async () => {
    const server = new FakeServer();
    server.refuse = new Error("connection refused (os error 111)");
    await assert.rejects(connect(server), server.refuse);
  });

  test("tries each URL in turn", async () => {
    const tried: string[] = [];
    const server = new FakeServer();
    const pending = connectWith(["mqtt://first", "mqtt://second"], {
      clientId: "x",
      transport: (url, options) => {
        tried.push(url.host);
        return url.host === "first"
          ? Promise.reject(new Error("down"))
          : server.opener(url, options);
      },
    });
    await (await server.connection(0)).accept();
    const client = await pending;
    assert.deepEqual(tried, ["first", "second"]);
    assert.equal(client.url.host, "second");
    await client.disconnect();
  });

  test("follows MQTT 5 Server Reference redirects, on CONNACK and on DISCONNECT", async () => {
    const server = new FakeServer();
    const urls: string[] = [];
    const pending = connectWith("mqtt://first:1883", {
      clientId: "x",
      reconnect: { minDelay: 1, maxDelay: 5 },
      transport: (url, options) => {
        urls.push(url.href);
        return server.opener(url, options);
      },
    });
    const first = await server.connection(0);
    await first.expect("connect");
    first.send({
      type: "connack",
      sessionPresent: false,
      reasonCode: 0x9c,
      properties: { serverReference: "second:1884 third:1885" },
    });
    await (await server.connection(1)).accept();
    const client = await pending;
    assert.equal(client.url.href, "mqtt://second:1884");
    const lost = once(client, "disconnect");
    server.connections[1]!.send({
      type: "disconnect",
      reasonCode: 0x9d,
      properties: { serverReference: "ws://moved.example/mqtt" },
    });
    assert.equal((await lost).willReconnect, true);
    const reconnected = once(client, "connect");
    await (await server.connection(2)).accept();
    await reconnected;
    assert.deepEqual(urls, ["mqtt://first:1883", "mqtt://second:1884", "ws://moved.example/mqtt"]);
    await client.disconnect();
  });

  test("an abort before CONNACK rejects with the signal's reason and closes the transport", async () => {
    const server = new FakeServer();
    const controller = new AbortController();
    const pending = connect(server, { signal: controller.signal });
    const side = await server.connection(0);
    await side.expect("connect");
    const reason = new Error("user gave up");
    controller.abort(reason);
    await assert.rejects(pending, reason);
    await side.closed;
    await assert.rejects(connect(server, { signal: AbortSignal.abort(reason) }), reason);
  });

  test("gives up when no CONNACK comes within connectTimeout", async () => {
    const server = new FakeServer();
    await assert.rejects(connect(server, { connectTimeout: 50 }), /no CONNACK came within 50 ms/);
    await server.connections[0]!.closed;
  });

  test("the credentials hook supplies the user name and password of each attempt", async () => {
    const server = new FakeServer();
    const attempts: number[] = [];
    const pending = connect(server, {
      username: "static",
      credentials: ({ attempt }) => {
        attempts.push(attempt);
        return {
          username: `token-${attempts.length}`,
          password: new Uint8Array([attempts.length]),
        };
      },
    });
    const side = await server.connection(0);
    const first = await side.expect("connect");
    assert.equal(first.username, "token-1");
    assert.deepEqual(first.password, new Uint8Array([1]));
    side.send({ type: "connack", sessionPresent: false, reasonCode: 0 });
    const client = await pending;
    side.end();
    const again = await (await server.connection(1)).expect("connect");
    assert.equal(again.username, "token-2");
    assert.deepEqual(attempts, [1, 1]);
    await client.disconnect();
  });

  test("caller mistakes are TypeErrors and RangeErrors", async () => {
    const server = new FakeServer();
    await assert.rejects(connect(server, { store: new MemoryStore(), clientId: "" }), TypeError);
    await assert.rejects(connectWith("not a url", { transport: server.opener }), TypeError);
    await assert.rejects(connect(server, { will: { topic: "a/#" } }), TypeError);
    await assert.rejects(connect(server, { will: { topic: "a", qos: 3 as 0 } }), {
      name: "RangeError",
      message: "Cannot connect with a will as 'qos' must be 0, 1 or 2: current value is 3",
    });
  });
});

describe("publish", () => {
  test("QoS 0 resolves once written, QoS 1 on PUBACK, QoS 2 on PUBCOMP", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    assert.deepEqual(await client.publish("t/0", "zero"), { reasonCode: 0 });
    const p0 = await side.expect("publish");
    assert.equal(p0.qos, 0);
    let settled = false;
    const q1 = client.publish("t/1", new Uint8Array([1]), { qos: 1 }).then((
      r,
    ) => (settled = true, r));
    const p1 = await side.expect("publish");
    assert.equal(p1.qos, 1);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(settled, false);
    side.send({ type: "puback", packetId: p1.packetId!, reasonCode: 0x10 });
    assert.deepEqual(await q1, { reasonCode: 0x10 });
    const q2 = client.publish("t/2", "two", {
      qos: 2,
      retain: true,
      properties: { contentType: "text/plain" },
    });
    const p2 = await side.expect("publish");
    assert.equal(p2.retain, true);
    assert.equal(p2.properties?.contentType, "text/plain");
    side.send({ type: "pubrec", packetId: p2.packetId!, reasonCode: 0 });
    const rel = await side.expect("pubrel");
    assert.equal(rel.packetId, p2.packetId);
    side.send({ type: "pubcomp", packetId: p2.packetId!, reasonCode: 0 });
    assert.deepEqual(await q2, { reasonCode: 0 });
    await client.disconnect();
  });

  test("a refusal in PUBACK or PUBREC rejects with the reason code", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const events: PublishEvent[] = [];
    client.addEventListener("publish", (e) => events.push(e));
    const q1 = client.publish("t", "x", { qos: 1 });
    side.send({
      type: "puback",
      packetId: (await side.expect("publish")).packetId!,
      reasonCode: 0x87,
    });
    await assert.rejects(q1, (e) => e instanceof AcknowledgementError && e.reasonCode === 0x87);
    const q2 = client.publish("t", "x", { qos: 2 });
    side.send({
      type: "pubrec",
      packetId: (await side.expect("publish")).packetId!,
      reasonCode: 0x97,
    });
    await assert.rejects(q2, (e) => e instanceof AcknowledgementError && e.reasonCode === 0x97);
    assert.deepEqual(events.map((e) => [e.reasonCode, e.error instanceof AcknowledgementError]), [[
      0x87,
      true,
    ], [0x97, true]]);
    await client.disconnect();
  });

  test("publishes are pipelined in order and written together", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const results = Array.from({ length: 20 }, (_, i) => client.publish("t", `${i}`, { qos: 1 }));
    for (let i = 0; i < 20; i++) await side.ackPublish(`${i}`);
    await Promise.all(results);
    await client.disconnect();
  });

  test("caller mistakes reject with TypeError / RangeError naming the option", async () => {
    const server = new FakeServer();
    const { client } = await connected(server);
    await assert.rejects(client.publish("t", "x", { qos: 3 as 0 }), {
      name: "RangeError",
      message: "Cannot publish as 'qos' must be 0, 1 or 2: current value is 3",
    });
    await assert.rejects(client.publish("a/+", "x"), TypeError);
    await assert.rejects(client.publish("t", 42 as unknown as string), TypeError);
    await assert.rejects(client.publish("t", "x", { properties: { topicAlias: 1 } }), TypeError);
    await assert.rejects(
      client.publish("t", "x", {
        qos: 1,
        properties: { userProperties: [["only a name"]] as never },
      }),
      /userProperties/,
    );
    await assert.rejects(
      client.subscribe("t", { properties: { userProperties: [[1, 2]] as never } }),
      TypeError,
    );
    assert.equal(client.connected, true, "a caller mistake does not hurt the connection");
    assert.throws(() => client.publishAndForget("", "x"), TypeError);
    await client.disconnect();
    await assert.rejects(client.publish("t", "x"), ConnectionClosedError);
    assert.throws(() => client.publishAndForget("t", "x"), ConnectionClosedError);
  });

  test("an abort withdraws a message the server's Receive Maximum holds back", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, {}, { receiveMaximum: 1 });
    const first = client.publish("t", "1", { qos: 1 });
    const controller = new AbortController();
    const second = client.publish("t", "2", { qos: 1, signal: controller.signal });
    const third = client.publish("t", "3", { qos: 1 });
    const p1 = await side.expect("publish");
    controller.abort("changed my mind");
    await assert.rejects(second, (e) => e === "changed my mind");
    side.send({ type: "puback", packetId: p1.packetId!, reasonCode: 0 });
    await side.ackPublish("3");
    await Promise.all([first, third]);
    await client.disconnect();
  });

  test("the server's Maximum QoS and Maximum Packet Size refuse a message before it is sent", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, {}, { maximumQoS: 1, maximumPacketSize: 100 });
    await assert.rejects(
      client.publish("t", "x", { qos: 2 }),
      (e) => e instanceof ServerLimitError && e.reasonCode === 0x9b,
    );
    await assert.rejects(
      client.publish("t", new Uint8Array(200), { qos: 1 }),
      (e) => e instanceof ServerLimitError && e.reasonCode === 0x95,
    );
    const ok = client.publish("t", "fits", { qos: 1 });
    await side.ackPublish("fits");
    await ok;
    await client.disconnect();
  });

  test("publishAndForget reports failures through log events", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const logged = once(client, "log", (e) => e.level === "warn");
    client.publishAndForget("t", "x", { qos: 1 });
    side.send({
      type: "puback",
      packetId: (await side.expect("publish")).packetId!,
      reasonCode: 0x80,
    });
    assert.match((await logged).message, /A publication to 't' failed/);
    await client.disconnect();
  });
});

describe("subscribe", () => {
  test("resolves on SUBACK; messages before the SUBACK reach the subscription", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const pending = client.subscribe(["a/+", "$share/g/b/#"], {
      qos: 1,
      retainAsPublished: true,
      properties: { subscriptionIdentifiers: [5] },
    });
    const packet = await side.expect("subscribe");
    assert.deepEqual(
      packet.subscriptions.map((s) => [s.topicFilter, s.qos, s.retainAsPublished]),
      [["a/+", 1, true], ["$share/g/b/#", 1, true]],
    );
    assert.deepEqual(packet.properties?.subscriptionIdentifiers, [5]);
    side.send({ ...publishPacket(undefined, "retained", 0, "a/x"), retain: true });
    side.send(publishPacket(undefined, "shared", 0, "b/c/d"));
    side.send({ type: "suback", packetId: packet.packetId, reasonCodes: [1, 0] });
    const subscription = await pending;
    assert.deepEqual(subscription.reasonCodes, [1, 0]);
    const seen: string[] = [];
    for await (const message of subscription) {
      seen.push(`${message.topic}=${message.text()}${message.retain ? " (retained)" : ""}`);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["a/x=retained (retained)", "b/c/d=shared"]);
    await client.disconnect();
  });

  test("a SUBACK refusing every filter rejects with SubscribeError; early messages go to client.messages", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const pending = client.subscribe("secret/#", { qos: 1 });
    const packet = await side.expect("subscribe");
    side.send(publishPacket(undefined, "early", 0, "secret/x"));
    side.send({ type: "suback", packetId: packet.packetId, reasonCodes: [0x87] });
    await assert.rejects(pending, (e) => e instanceof SubscribeError && e.reasonCode === 0x87);
    const reader = client.messages.getReader();
    assert.equal((await reader.read()).value?.text(), "early");
    reader.releaseLock();
    await client.disconnect();
  });

  test("unsubscribe sends UNSUBSCRIBE only for filters no other subscription holds", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const subscribeBoth = async () => {
      const a = client.subscribe("x");
      await side.acceptSubscribe();
      return await a;
    };
    const first = await subscribeBoth();
    const second = await subscribeBoth();
    await first.unsubscribe();
    assert.equal(first.active, false);
    assert.equal(side.pending.length, 0, "no UNSUBSCRIBE while another subscription holds 'x'");
    side.send(publishPacket(undefined, "for second", 0, "x"));
    const reader = second.readable.getReader();
    assert.equal((await reader.read()).value?.text(), "for second");
    reader.releaseLock();
    const leaving = second.unsubscribe();
    const unsubscribe = await side.expect("unsubscribe");
    assert.deepEqual(unsubscribe.topicFilters, ["x"]);
    // A message between UNSUBSCRIBE and UNSUBACK still reaches the subscription.
    side.send(publishPacket(undefined, "straggler", 0, "x"));
    side.send({ type: "unsuback", packetId: unsubscribe.packetId, reasonCodes: [0] });
    await leaving;
    const rest: string[] = [];
    for await (const message of second) rest.push(message.text());
    assert.deepEqual(rest, ["straggler"]);
    await client.disconnect();
  });

  test("an UNSUBACK failure code rejects with UnsubscribeError", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const pending = client.subscribe("x");
    await side.acceptSubscribe();
    const subscription = await pending;
    const leaving = subscription.unsubscribe();
    side.send({
      type: "unsuback",
      packetId: (await side.expect("unsubscribe")).packetId,
      reasonCodes: [0x87],
    });
    await assert.rejects(leaving, (e) => e instanceof UnsubscribeError && e.reasonCode === 0x87);
    await client.disconnect();
  });

  test("an aborted subscribe rejects and is undone when its SUBACK comes", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const controller = new AbortController();
    const pending = client.subscribe("late/#", { signal: controller.signal });
    const packet = await side.expect("subscribe");
    controller.abort(new Error("too slow"));
    await assert.rejects(pending, /too slow/);
    side.send({ type: "suback", packetId: packet.packetId, reasonCodes: [0] });
    const undo = await side.expect("unsubscribe");
    assert.deepEqual(undo.topicFilters, ["late/#"]);
    side.send({ type: "unsuback", packetId: undo.packetId, reasonCodes: [0] });
    await client.disconnect();
  });

  test("caller mistakes are TypeErrors and RangeErrors", async () => {
    const server = new FakeServer();
    const { client } = await connected(server);
    await assert.rejects(client.subscribe([]), TypeError);
    await assert.rejects(client.subscribe("a/#/b"), TypeError);
    await assert.rejects(client.subscribe("$share/+/x"), TypeError);
    await assert.rejects(client.subscribe("a", { qos: -1 as 0 }), RangeError);
    await assert.rejects(client.subscribe("a", { highWaterMark: 0 }), RangeError);
    await client.disconnect();
    await assert.rejects(client.subscribe("a"), ConnectionClosedError);
  });
});

describe("incoming messages", () => {
  test("a slow reader holds back PUBACKs beyond the high-water mark, and they leave in order as it reads", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { highWaterMark: 2 });
    const pending = client.subscribe("a/#", { qos: 1 });
    await side.acceptSubscribe([1]);
    const subscription = await pending;
    for (let id = 1; id <= 6; id++) side.send(publishPacket(id, `m${id}`));
    assert.equal((await side.expect("puback")).packetId, 1);
    assert.equal((await side.expect("puback")).packetId, 2);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(side.pending.length, 0, "no PUBACK beyond the high-water mark");
    assert.equal(subscription.buffered, 6);
    const iterator = subscription[Symbol.asyncIterator]();
    for (let id = 1; id <= 6; id++) {
      assert.equal((await iterator.next()).value?.text(), `m${id}`);
      if (id <= 4) assert.equal((await side.expect("puback")).packetId, id + 2);
    }
    await client.disconnect();
  });

  test("QoS 2: PUBREC after the reader takes the message, PUBCOMP on PUBREL, a re-sent PUBLISH is not delivered twice", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { highWaterMark: 1 });
    const reader = client.messages.getReader();
    side.send(publishPacket(1, "first", 2));
    side.send(publishPacket(2, "second", 2));
    assert.equal((await side.expect("pubrec")).packetId, 1);
    side.send({ ...publishPacket(2, "second", 2), dup: true });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(side.pending.length, 0, "the second PUBREC waits for the reader");
    assert.equal((await reader.read()).value?.text(), "first");
    assert.equal((await side.expect("pubrec")).packetId, 2);
    assert.equal((await reader.read()).value?.text(), "second");
    side.send({ type: "pubrel", packetId: 1, reasonCode: 0 });
    assert.equal((await side.expect("pubcomp")).packetId, 1);
    side.send({ ...publishPacket(2, "second", 2), dup: true });
    assert.equal((await side.expect("pubrec")).packetId, 2);
    side.send({ type: "pubrel", packetId: 2, reasonCode: 0 });
    assert.equal((await side.expect("pubcomp")).packetId, 2);
    reader.releaseLock();
    await client.disconnect();
    assert.equal(client.state, "closed");
  });

  test("message events see every message; unclaimed ones go to client.messages, which ends on disconnect", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const topics: string[] = [];
    client.addEventListener("message", (e) => topics.push(e.message.topic));
    side.send(publishPacket(undefined, "1", 0, "x/1"));
    side.send(publishPacket(7, "2", 1, "x/2"));
    await side.expect("puback");
    await client.disconnect();
    const unclaimed: string[] = [];
    for await (const message of client.messages) unclaimed.push(message.topic);
    assert.deepEqual(unclaimed, ["x/1", "x/2"]);
    assert.deepEqual(topics, ["x/1", "x/2"]);
  });
});

describe("connection loss and reconnection", () => {
  test("keep-alive: PINGREQ when idle, and a silent server is declared dead", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { keepalive: 1, pingTimeout: 100 });
    const lost = once(client, "disconnect");
    await side.expect("pingreq");
    const event: DisconnectEvent = await lost;
    assert.ok(event.error instanceof KeepAliveTimeoutError);
    assert.equal(event.willReconnect, true);
    await side.closed;
    const again = await server.connection(1);
    const reconnected = once(client, "connect");
    await again.accept();
    await reconnected;
    await again.expect("pingreq");
    again.send({ type: "pingresp" });
    await client.disconnect();
  });

  test("unacknowledged QoS 1 and 2 are re-sent with DUP after reconnecting, PUBREL again for phase two", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { clean: false, sessionExpiryInterval: 60 });
    const q1 = client.publish("t", "one", { qos: 1 });
    const q2a = client.publish("t", "two-a", { qos: 2 });
    const q2b = client.publish("t", "two-b", { qos: 2 });
    const p1 = await side.expect("publish");
    const p2a = await side.expect("publish");
    const p2b = await side.expect("publish");
    side.send({ type: "pubrec", packetId: p2a.packetId!, reasonCode: 0 });
    await side.expect("pubrel");
    side.end();
    const again = await server.connection(1);
    const connectPacket = await again.expect("connect");
    assert.equal(connectPacket.clean, false);
    again.send({ type: "connack", sessionPresent: true, reasonCode: 0 });
    const resent = [await again.next(), await again.next(), await again.next()];
    assert.deepEqual(
      resent.map((p) => [p.type, (p as { packetId: number }).packetId, (p as PublishPacket).dup]),
      [
        ["publish", p1.packetId, true],
        ["pubrel", p2a.packetId, undefined],
        ["publish", p2b.packetId, true],
      ],
    );
    again.send({ type: "puback", packetId: p1.packetId!, reasonCode: 0 });
    again.send({ type: "pubcomp", packetId: p2a.packetId!, reasonCode: 0 });
    again.send({ type: "pubrec", packetId: p2b.packetId!, reasonCode: 0 });
    again.send({
      type: "pubcomp",
      packetId: (await again.expect("pubrel")).packetId,
      reasonCode: 0,
    });
    await Promise.all([q1, q2a, q2b]);
    await client.disconnect();
  });

  test("a session the server lost: subscriptions restored, publications sent again as new", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const pending = client.subscribe("a/#", { qos: 1 });
    await side.acceptSubscribe([1]);
    const subscription = await pending;
    const q1 = client.publish("t", "one", { qos: 1 });
    await side.expect("publish");
    side.end();
    const again = await server.connection(1);
    await again.accept(false);
    const restore = await again.expect("subscribe");
    assert.deepEqual(restore.subscriptions.map((s) => s.topicFilter), ["a/#"]);
    const p = await again.expect("publish");
    assert.equal(p.dup, false);
    again.send({ type: "suback", packetId: restore.packetId, reasonCodes: [1] });
    again.send({ type: "puback", packetId: p.packetId!, reasonCode: 0 });
    await q1;
    again.send(publishPacket(1, "after", 1, "a/b"));
    const iterator = subscription[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.text(), "after");
    await client.disconnect();
  });

  test("offline publications wait in order and go out after the reconnection", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { reconnect: { minDelay: 50, maxDelay: 50 } });
    const lost = once(client, "disconnect");
    side.end();
    await lost;
    assert.equal(client.state, "reconnecting");
    const results = ["a", "b", "c"].map((t) => client.publish("t", t, { qos: 1 }));
    const again = await server.connection(1);
    await again.accept();
    for (const expected of ["a", "b", "c"]) await again.ackPublish(expected);
    await Promise.all(results);
    await client.disconnect();
  });

  test("the offline queue is bounded: reject-new and drop-oldest", async () => {
    for (const policy of ["reject-new", "drop-oldest"] as const) {
      const server = new FakeServer();
      const { client, side } = await connected(server, {
        reconnect: { minDelay: 60_000, maxDelay: 60_000 },
        offlineQueue: { maxMessages: 2, policy },
      });
      const lost = once(client, "disconnect");
      side.end();
      await lost;
      const results = ["a", "b", "c"].map((t) =>
        client.publish("t", t).then(() => "sent", (e) => e)
      );
      await client.disconnect();
      const outcomes = await Promise.all(results);
      const full = outcomes.map((o) => o instanceof OfflineQueueFullError);
      assert.deepEqual(
        full,
        policy === "reject-new" ? [false, false, true] : [true, false, false],
        policy,
      );
      assert.ok(
        outcomes.every((o) => o instanceof Error),
        "the rest rejects when the client closes",
      );
    }
  });

  test("an abort takes a publication out of the offline queue", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, {
      reconnect: { minDelay: 100, maxDelay: 100 },
    });
    const lost = once(client, "disconnect");
    side.end();
    await lost;
    const controller = new AbortController();
    const dropped = client.publish("t", "dropped", { qos: 1, signal: controller.signal });
    const kept = client.publish("t", "kept", { qos: 1 });
    controller.abort("no");
    await assert.rejects(dropped, (e) => e === "no");
    const again = await server.connection(1);
    await again.accept();
    await again.ackPublish("kept");
    await kept;
    await client.disconnect();
  });

  test("a refusal that cannot heal stops the reconnection; events tell the story", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const events: string[] = [];
    client.addEventListener(
      "disconnect",
      (e: DisconnectEvent) => events.push(`disconnect willReconnect=${e.willReconnect}`),
    );
    client.addEventListener(
      "connectfailed",
      (e: ConnectFailedEvent) =>
        events.push(
          `connectfailed ${(e.error as ConnectionRefusedError).reasonCode} retryIn=${e.retryIn}`,
        ),
    );
    const pending = client.publish("t", "x", { qos: 1 });
    side.end();
    const again = await server.connection(1);
    await again.expect("connect");
    again.send({ type: "connack", sessionPresent: false, reasonCode: 0x88 }); // server unavailable: heals
    const third = await server.connection(2);
    await third.expect("connect");
    third.send({ type: "connack", sessionPresent: false, reasonCode: 0x8a }); // banned: does not
    await client.closed;
    assert.equal(client.state, "closed");
    assert.equal(events[0], "disconnect willReconnect=true");
    assert.match(events[1]!, /^connectfailed 136 retryIn=\d+$/);
    assert.equal(events[2], "connectfailed 138 retryIn=undefined");
    await assert.rejects(
      pending,
      (e) => e instanceof ConnectionClosedError && e.cause instanceof ConnectionRefusedError,
    );
  });

  test("a server DISCONNECT is surfaced with its reason code; session taken over is not fought", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const subscription = client.subscribe("x");
    await side.acceptSubscribe();
    const sub = await subscription;
    const lost = once(client, "disconnect");
    side.send({
      type: "disconnect",
      reasonCode: 0x8e,
      properties: { reasonString: "another client" },
    });
    const event = await lost;
    assert.equal(event.reasonCode, 0x8e);
    assert.equal(event.willReconnect, false);
    assert.ok(event.error instanceof ServerDisconnectError);
    assert.match(event.error.message, /SessionTakenOver \(0x8e\): another client/);
    await client.closed;
    await assert.rejects(sub[Symbol.asyncIterator]().next(), ServerDisconnectError);
    assert.equal(server.connections.length, 1);
  });

  test("reconnect: false closes the client when the connection drops", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server, { reconnect: false });
    const logs: LogEvent[] = [];
    client.addEventListener("log", (e) => logs.push(e));
    const lost = once(client, "disconnect");
    side.end();
    assert.equal((await lost).willReconnect, false);
    await client.closed;
    assert.equal(client.state, "closed");
    assert.ok(logs.some((e) => e.level === "error"));
  });

  test("connect events mark reconnections; the logger option gets the log lines", async () => {
    const server = new FakeServer();
    const lines: string[] = [];
    const { client, side } = await connected(server, { logger: { info: (m) => lines.push(m) } });
    const reconnected = once(client, "connect");
    side.end();
    const again = await server.connection(1);
    await again.accept(false);
    const event: ConnectEvent = await reconnected;
    assert.equal(event.reconnected, true);
    assert.equal(event.sessionPresent, false);
    assert.ok(lines.filter((l) => l.startsWith("Connected to mqtt://fake")).length === 2);
    await client.disconnect();
  });
});

describe("session store", () => {
  test("a later client with the same store and clean: false re-sends what was left unfinished", async () => {
    const store = new MemoryStore();
    const server = new FakeServer();
    const { client, side } = await connected(server, { clientId: "durable", clean: false, store });
    const unfinished = client.publish("t", "keep me", { qos: 1 });
    await side.expect("publish");
    await client.disconnect();
    await assert.rejects(unfinished, ConnectionClosedError);
    const saved = await store.load("durable");
    assert.equal(saved?.outgoing.length, 1);

    const pending = connect(server, { clientId: "durable", clean: false, store });
    const again = await server.connection(1);
    await again.accept(true);
    const client2 = await pending;
    const resent = await again.expect("publish");
    assert.equal(resent.dup, true);
    assert.equal(new TextDecoder().decode(resent.payload), "keep me");
    const done = once(client2, "publish");
    again.send({ type: "puback", packetId: resent.packetId!, reasonCode: 0 });
    await done;
    await client2.disconnect();
    assert.equal((await store.load("durable"))?.outgoing.length, 0);
  });

  test("the store is written before the packets that follow from a change", async () => {
    const server = new FakeServer();
    const saves: number[] = [];
    let written = 0;
    const store = new MemoryStore();
    const save = store.save.bind(store);
    store.save = async (id, snapshot) => {
      await new Promise((r) => setTimeout(r, 5)); // a slow disk
      saves.push(written);
      return save(id, snapshot);
    };
    const { client, side } = await connected(server, { clientId: "slow", store, clean: false });
    const publishing = client.publish("t", "x", { qos: 1 });
    const before = saves.length;
    const p = await side.expect("publish");
    written++;
    assert.ok(saves.length > before, "saved before the PUBLISH was written");
    assert.equal((await store.load("slow"))?.outgoing[0]?.phase, "publish");
    side.send({ type: "puback", packetId: p.packetId!, reasonCode: 0 });
    await publishing;
    await client.disconnect();
  });

  test("clean: true discards a stored session", async () => {
    const store = new MemoryStore();
    await store.save("gone", {
      format: 1,
      protocolVersion: 5,
      clientId: "gone",
      nextPacketId: 1,
      nextId: 2,
      outgoing: [{ id: 1, topic: "t", payload: "", qos: 1, retain: false, phase: "queued" }],
      incoming: [],
      subscriptions: [],
    });
    const server = new FakeServer();
    const { client, side } = await connected(server, { clientId: "gone", store });
    assert.equal(await store.load("gone"), undefined);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(side.pending.length, 0);
    await client.disconnect();
  });
});

describe("disconnect", () => {
  test("sends DISCONNECT with the reason code, rejects pending requests, is idempotent, and works with await using", async () => {
    const server = new FakeServer();
    const { client, side } = await connected(server);
    const pending = client.publish("t", "x", { qos: 1 });
    await side.expect("publish");
    await Promise.all([client.disconnect({ reasonCode: 0x04 }), client.disconnect()]);
    const packet = await side.expect("disconnect");
    assert.equal(packet.reasonCode, 0x04);
    await side.closed;
    await assert.rejects(pending, ConnectionClosedError);
    {
      const second = await connected(server);
      await using _client = second.client;
    }
    await server.connections[1]!.expect("disconnect");
    const third = await connected(server);
    await assert.rejects(third.client.disconnect({ reasonCode: 0x10 }), RangeError);
    assert.equal(third.client.connected, true, "a refused reason code leaves the client as it was");
    await assert.rejects(
      third.client.disconnect({ signal: AbortSignal.abort("now") }),
      (e) => e === "now",
    );
    assert.equal(third.client.connected, true);
    await third.client.disconnect();
    assert.equal(third.client.state, "closed");
  });
});
