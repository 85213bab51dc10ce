/**
 * The client against a real Mosquitto, started by the tests on free loopback ports
 * (testing/mosquitto.ts). Skipped, with a note, when Mosquitto is not installed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import {
  connect,
  ConnectionRefusedError,
  type ConnectOptions,
  type Message,
  type MqttClient,
  type MqttClientEventMap,
  publishMultiple,
  publishSingle,
  ServerLimitError,
  subscribeCallback,
  subscribeSimple,
} from "../mod.ts";
import { type Mosquitto, startMosquitto } from "../testing/mosquitto.ts";
import { generateTlsCerts } from "../testing/tls_certs.ts";

const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) {
  console.warn(
    "client_mosquitto_test: mosquitto is not installed, skipping (apt-get install mosquitto)",
  );
}
const skip = !HAVE_MOSQUITTO;
const WAIT = 10_000;
const FAST_RECONNECT = { minDelay: 20, maxDelay: 200 };

let counter = 0;
/** A client id unique within this run. */
function id(name: string): string {
  return `tern-${name}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
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

/** Reads `count` messages from an async iterable, failing after a timeout. */
async function take(source: AsyncIterable<Message>, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  const iterator = source[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${messages.length} of ${count} messages within ${WAIT} ms`)),
      WAIT,
    );
  });
  try {
    while (messages.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) {
        throw new Error(`the stream ended after ${messages.length} of ${count} messages`);
      }
      messages.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return messages;
}

/**
 * A TCP relay in front of a broker: clients connect to it, it connects to the broker's
 * port. `cut()` drops every relayed connection abruptly (as a network failure would);
 * `target` can point to another broker, or nowhere (connections are then refused).
 */
class Relay {
  readonly port: number;
  target: number | undefined;
  #server: net.Server;
  #sockets = new Set<net.Socket>();

  private constructor(server: net.Server, port: number, target: number | undefined) {
    this.#server = server;
    this.port = port;
    this.target = target;
  }

  static start(target: number | undefined): Promise<Relay> {
    return new Promise((resolve, reject) => {
      let relay: Relay;
      const server = net.createServer((socket) => relay.#relay(socket));
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        relay = new Relay(server, (server.address() as net.AddressInfo).port, target);
        resolve(relay);
      });
    });
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  #relay(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    if (this.target === undefined) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(this.target, "127.0.0.1");
    this.#sockets.add(upstream);
    upstream.on("close", () => {
      this.#sockets.delete(upstream);
      socket.destroy();
    });
    upstream.on("error", () => {});
    socket.on("close", () => upstream.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
  }

  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe("client against Mosquitto", { skip }, () => {
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto({ websockets: true });
  });
  after(async () => {
    await broker?.stop();
  });

  for (const protocolVersion of [4, 5] as const) {
    test(`MQTT ${protocolVersion === 4 ? "3.1.1" : "5"}: QoS 0, 1 and 2 round trips in both directions`, async () => {
      await using a = await connect(broker.url, { clientId: id("a"), protocolVersion });
      await using b = await connect(broker.url, { clientId: id("b"), protocolVersion });
      const base = `roundtrip/${protocolVersion}/${counter}`;
      await using toB = await b.subscribe(`${base}/to-b/+`, { qos: 2 });
      await using toA = await a.subscribe(`${base}/to-a/+`, { qos: 2 });
      assert.deepEqual(toB.reasonCodes, [2]);
      for (const qos of [0, 1, 2] as const) {
        assert.deepEqual(await a.publish(`${base}/to-b/${qos}`, `a->b q${qos}`, { qos }), {
          reasonCode: 0,
        });
        assert.deepEqual(
          await b.publish(`${base}/to-a/${qos}`, new TextEncoder().encode(`b->a q${qos}`), { qos }),
          {
            reasonCode: 0,
          },
        );
      }
      const atB = await take(toB, 3);
      const atA = await take(toA, 3);
      assert.deepEqual(
        atB.map((m) => [m.topic, m.text(), m.qos]),
        [0, 1, 2].map((q) => [`${base}/to-b/${q}`, `a->b q${q}`, q]),
      );
      assert.deepEqual(
        atA.map((m) => [m.topic, m.text(), m.qos]),
        [0, 1, 2].map((q) => [`${base}/to-a/${q}`, `b->a q${q}`, q]),
      );
    });
  }

  test("MQTT 5 properties travel: user properties, content type, response topic, correlation data, message expiry", async () => {
    await using client = await connect(broker.url, { clientId: id("props") });
    const topic = `props/${counter}`;
    await using subscription = await client.subscribe(topic, { qos: 1 });
    await client.publish(topic, '{"ok":true}', {
      qos: 1,
      properties: {
        contentType: "application/json",
        responseTopic: "reply/to",
        correlationData: new Uint8Array([1, 2, 3]),
        messageExpiryInterval: 60,
        userProperties: [["a", "1"], ["a", "2"]],
      },
    });
    const [message] = await take(subscription, 1);
    assert.deepEqual(message!.json(), { ok: true });
    assert.equal(message!.contentType, "application/json");
    assert.equal(message!.responseTopic, "reply/to");
    assert.deepEqual(message!.correlationData, new Uint8Array([1, 2, 3]));
    assert.deepEqual(message!.userProperties, [["a", "1"], ["a", "2"]]);
    assert.ok(message!.properties.messageExpiryInterval! <= 60);
  });

  test("a retained message reaches a later subscriber with the retain flag, and can be cleared", async () => {
    const topic = `retained/${counter}`;
    await using publisher = await connect(broker.url, {
      clientId: id("ret-pub"),
      protocolVersion: 4,
    });
    await publisher.publish(topic, "kept", { qos: 1, retain: true });
    await using subscriber = await connect(broker.url, { clientId: id("ret-sub") });
    {
      await using subscription = await subscriber.subscribe(topic, { qos: 1 });
      const [message] = await take(subscription, 1);
      assert.equal(message!.text(), "kept");
      assert.equal(message!.retain, true);
    }
    await publisher.publish(topic, "", { qos: 1, retain: true });
    await using again = await subscriber.subscribe([topic, `${topic}/marker`], { qos: 1 });
    await publisher.publish(`${topic}/marker`, "after", { qos: 1 });
    const [first] = await take(again, 1);
    assert.equal(first!.topic, `${topic}/marker`, "no retained message any more");
  });

  test("the Will is published when the connection drops without DISCONNECT", async () => {
    const relay = await Relay.start(broker.port);
    try {
      const topic = `will/${counter}`;
      await using watcher = await connect(broker.url, { clientId: id("watcher") });
      await using subscription = await watcher.subscribe(topic, { qos: 1 });
      const doomed = await connect(relay.url, {
        clientId: id("doomed"),
        will: { topic, payload: "gone", qos: 1 },
        reconnect: false,
      });
      relay.cut();
      const [will] = await take(subscription, 1);
      assert.equal(will!.text(), "gone");
      await doomed.closed;
    } finally {
      await relay.close();
    }
  });

  for (const protocolVersion of [4, 5] as const) {
    test(`MQTT ${protocolVersion === 4 ? "3.1.1" : "5"}: a persistent session gets the messages queued while away, through client.messages`, async () => {
      const clientId = id("persistent");
      const topic = `persistent/${protocolVersion}/${counter}`;
      const options: ConnectOptions = {
        clientId,
        protocolVersion,
        clean: false,
        sessionExpiryInterval: 300,
      };
      {
        // MQTT 5 starts clean and keeps the session by its expiry; 3.1.1 needs clean false.
        await using first = await connect(broker.url, {
          ...options,
          clean: protocolVersion === 4 ? false : true,
        });
        await first.subscribe(`${topic}/#`, { qos: 1 });
      }
      await using publisher = await connect(broker.url, { clientId: id("persistent-pub") });
      for (let i = 0; i < 5; i++) {
        await publisher.publish(`${topic}/${i}`, `queued ${i}`, { qos: 1 });
      }
      const client = await connect(broker.url, options);
      try {
        const messages = await take(client.messages, 5);
        assert.deepEqual(messages.map((m) => m.text()), [0, 1, 2, 3, 4].map((i) => `queued ${i}`));
        assert.ok(messages.every((m) => m.qos === 1));
      } finally {
        // Leave no session behind on the broker.
        await client.disconnect(
          protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {},
        );
      }
    });
  }

  test("connection refused: the CONNACK code, in MQTT 5 and 3.1.1", async () => {
    await using closed = await startMosquitto({ config: "allow_anonymous false" });
    await assert.rejects(connect(closed.url, { clientId: id("refused") }), (error) => {
      assert.ok(error instanceof ConnectionRefusedError);
      assert.equal(error.reasonCode, 0x87);
      return true;
    });
    await assert.rejects(
      connect(closed.url, { clientId: id("refused"), protocolVersion: 4 }),
      (error) => {
        assert.ok(error instanceof ConnectionRefusedError);
        assert.equal(error.reasonCode, 5);
        return true;
      },
    );
    await assert.rejects(
      connect(closed.url, { clientId: "tern-mqtt31", protocolVersion: 3 }),
      (error) => error instanceof ConnectionRefusedError && error.reasonCode === 5,
    );
  });

  test("a slow consumer holds the flow back: no loss, no duplicate, bounded buffering", async () => {
    const topic = `slow/${counter}`;
    const total = 300;
    await using subscriber = await connect(broker.url, { clientId: id("slow"), highWaterMark: 5 });
    await using subscription = await subscriber.subscribe(topic, { qos: 1 });
    await using publisher = await connect(broker.url, { clientId: id("fast") });
    const publishing = Promise.all(
      Array.from({ length: total }, (_, i) => publisher.publish(topic, `${i}`, { qos: 1 })),
    );
    let maxBuffered = 0;
    const seen: number[] = [];
    for await (const message of subscription) {
      maxBuffered = Math.max(maxBuffered, subscription.buffered);
      seen.push(Number(message.text()));
      if (seen.length % 50 === 0) await new Promise((r) => setTimeout(r, 20)); // fall behind
      if (seen.length === total) break;
    }
    await publishing;
    assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i));
    // What the reader has not taken: at most the high-water mark plus the messages held
    // unacknowledged (100 by default, after which the client stops reading the socket).
    assert.ok(maxBuffered <= 5 + 100, `buffered up to ${maxBuffered}`);
    assert.ok(maxBuffered >= 5, `the reader did fall behind (${maxBuffered})`);
  });

  test("abort signals: connect to a silent server, subscribe and publish", async () => {
    const silent = net.createServer((socket) => socket.on("error", () => {}));
    const sockets = new Set<net.Socket>();
    silent.on("connection", (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const controller = new AbortController();
      const pending = connect(`mqtt://127.0.0.1:${port}`, {
        clientId: id("abort"),
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(new Error("took too long")), 100);
      await assert.rejects(pending, /took too long/);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
    await using client = await connect(broker.url, { clientId: id("abort2") });
    const reason = new Error("not any more");
    await assert.rejects(client.subscribe("a", { signal: AbortSignal.abort(reason) }), reason);
    await assert.rejects(
      client.publish("a", "x", { qos: 1, signal: AbortSignal.abort(reason) }),
      reason,
    );
    assert.equal(client.connected, true);
  });

  test("the broker killed and restarted: reconnection, subscriptions restored, no QoS 1 message lost", async () => {
    const first = await startMosquitto();
    let second: Mosquitto | undefined;
    const subscriberRelay = await Relay.start(first.port);
    const publisherRelay = await Relay.start(first.port);
    try {
      const topic = `restart/${counter}`;
      await using subscriber = await connect(subscriberRelay.url, {
        clientId: id("restart-sub"),
        reconnect: FAST_RECONNECT,
      });
      await using publisher = await connect(publisherRelay.url, {
        clientId: id("restart-pub"),
        reconnect: FAST_RECONNECT,
      });
      await using subscription = await subscriber.subscribe(topic, { qos: 1 });
      for (let i = 0; i < 20; i++) await publisher.publish(topic, `${i}`, { qos: 1 });
      const before = await take(subscription, 20);

      const lost = [once(subscriber, "disconnect"), once(publisher, "disconnect")];
      subscriberRelay.target = undefined;
      publisherRelay.target = undefined;
      await first.stop();
      const events = await Promise.all(lost);
      assert.ok(events.every((event) => event.willReconnect));
      // Published while the broker is down: they wait in the offline queue.
      const offline = Array.from(
        { length: 20 },
        (_, i) => publisher.publish(topic, `${20 + i}`, { qos: 1 }),
      );

      second = await startMosquitto();
      const restored = once(subscriber, "subscribe");
      subscriberRelay.target = second.port;
      const resubscribed = await restored;
      assert.deepEqual(resubscribed.topicFilters, [topic]);
      publisherRelay.target = second.port;
      await Promise.all(offline);
      const afterRestart = await take(subscription, 20);
      const received = [...before, ...afterRestart].map((m) => Number(m.text()));
      assert.deepEqual(received, Array.from({ length: 40 }, (_, i) => i));
    } finally {
      await subscriberRelay.close();
      await publisherRelay.close();
      await first.stop();
      await second?.stop();
    }
  });

  test("MQTT 5 subscription identifiers tell which subscription matched", async () => {
    await using client = await connect(broker.url, { clientId: id("subid") });
    const base = `subid/${counter}`;
    await using wide = await client.subscribe(`${base}/#`, {
      qos: 1,
      properties: { subscriptionIdentifiers: [11] },
    });
    await using narrow = await client.subscribe(`${base}/x`, {
      qos: 1,
      properties: { subscriptionIdentifiers: [22] },
    });
    await client.publish(`${base}/x`, "both", { qos: 1 });
    await client.publish(`${base}/y`, "wide only", { qos: 1 });
    const atWide = await take(wide, 2);
    const atNarrow = await take(narrow, 1);
    // Mosquitto sends one copy per matching subscription, each with its identifier.
    assert.deepEqual(atNarrow[0]!.subscriptionIdentifiers, [22]);
    assert.deepEqual(atWide.find((m) => m.text() === "wide only")!.subscriptionIdentifiers, [11]);
  });

  test("request / response with Response Topic and Correlation Data", async () => {
    await using requester = await connect(broker.url, { clientId: id("requester") });
    await using responder = await connect(broker.url, { clientId: id("responder") });
    const service = `service/${counter}/double`;
    await using requests = await responder.subscribe(service, { qos: 1 });
    (async () => {
      for await (const request of requests) {
        await responder.publish(request.responseTopic!, String(Number(request.text()) * 2), {
          qos: 1,
          properties: { correlationData: request.correlationData! },
        });
      }
    })();
    const answers = await Promise.all([1, 2, 3].map((n) => requester.request(service, String(n))));
    assert.deepEqual(answers.map((m) => m.text()), ["2", "4", "6"]);
    await assert.rejects(
      requester.request(`${service}/nobody`, "x", { timeout: 100 }),
      /No response/,
    );
    await using old = await connect(broker.url, { clientId: id("v4"), protocolVersion: 4 });
    await assert.rejects(old.request(service, "1"), TypeError);
  });

  test("the server's limits are honoured: Retain Available 0 refuses retained messages before sending", async () => {
    await using limited = await startMosquitto({ config: "retain_available false" });
    await using client = await connect(limited.url, { clientId: id("limited") });
    assert.equal(client.serverLimits.retainAvailable, false);
    await assert.rejects(
      client.publish("limits", "x", { qos: 1, retain: true }),
      (e) =>
        e instanceof ServerLimitError && e.reasonCode === 0x9a && e.statement === "MQTT-3.2.2-14",
    );
    // Accepted, and told that nobody listens.
    assert.deepEqual(await client.publish("limits", "x", { qos: 1 }), { reasonCode: 0x10 });
    assert.equal(client.connected, true);
  });

  test("one-shot helpers: publishSingle, publishMultiple, subscribeSimple, subscribeCallback", async () => {
    const base = `helpers/${counter}`;
    await publishSingle(broker.url, `${base}/status`, "online", {
      qos: 1,
      retain: true,
      clientId: id("single"),
    });
    const [status] = await subscribeSimple(broker.url, `${base}/status`, {
      clientId: id("simple"),
    });
    assert.equal(status!.text(), "online");
    assert.equal(status!.retain, true);

    const collecting = subscribeSimple(broker.url, `${base}/batch/+`, {
      clientId: id("simple-3"),
      count: 3,
      qos: 2,
      retained: false,
    });
    // subscribeSimple subscribes before it waits: publish once its SUBSCRIBE is in.
    await using watcher = await connect(broker.url, { clientId: id("helpers-watch") });
    await new Promise((r) => setTimeout(r, 100));
    await publishMultiple(broker.url, [
      { topic: `${base}/batch/1`, payload: "a", qos: 0 },
      { topic: `${base}/batch/2`, payload: "b", qos: 1 },
      { topic: `${base}/batch/3`, payload: "c", qos: 2 },
    ], { clientId: id("multiple") });
    assert.deepEqual((await collecting).map((m) => m.text()), ["a", "b", "c"]);
    assert.equal(watcher.connected, true);

    const seen: string[] = [];
    const controller = new AbortController();
    const callback = subscribeCallback(broker.url, `${base}/status`, (message) => {
      seen.push(message.text());
      controller.abort(new Error("enough"));
    }, { clientId: id("callback"), signal: controller.signal });
    await assert.rejects(callback, /enough/);
    assert.deepEqual(seen, ["online"]);
    await publishSingle(broker.url, `${base}/status`, "", { retain: true, clientId: id("clear") });
  });

  test("WebSocket transport", async () => {
    await using client = await connect(broker.wsUrl!, { clientId: id("ws") });
    const topic = `ws/${counter}`;
    await using subscription = await client.subscribe(topic, { qos: 2 });
    const big = new Uint8Array(30_000).map((_, i) => i % 251);
    await client.publish(topic, big, { qos: 2 });
    await client.publish(topic, "small", { qos: 1 });
    const [large, small] = await take(subscription, 2);
    assert.deepEqual(large!.payload, big);
    assert.equal(small!.text(), "small");
  });

  test("TLS with a client certificate (mutual TLS)", async () => {
    const certs = await generateTlsCerts();
    await using secure = await startMosquitto({
      tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true },
    });
    await using client = await connect(secure.tlsUrl!, {
      clientId: id("tls"),
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
    });
    const topic = `tls/${counter}`;
    await using subscription = await client.subscribe(topic, { qos: 1 });
    await client.publish(topic, "secret", { qos: 1 });
    assert.equal((await take(subscription, 1))[0]!.text(), "secret");
    await assert.rejects(
      connect(secure.tlsUrl!, {
        clientId: id("tls-anon"),
        tls: { ca: certs.ca },
        connectTimeout: 5000,
      }),
      (error) => error instanceof Error, // a client without a certificate is refused
    );
  });
});
