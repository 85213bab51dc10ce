/**
 * Fault injection against a real Mosquitto: a relay between the client and the broker
 * cuts the connection at each step of the QoS 1 and QoS 2 flows, in both directions,
 * dropping the packet that was about to pass. After the automatic reconnection no
 * message is lost, and no QoS 2 message is delivered twice. Skipped, with a note, when
 * Mosquitto is not installed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as net from "node:net";
import { connect, type Message, type MqttClient } from "../mod.ts";
import { type Mosquitto, startMosquitto } from "../testing/mosquitto.ts";

const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) {
  console.warn(
    "client_fault_test: mosquitto is not installed, skipping (apt-get install mosquitto)",
  );
}

const WAIT = 10_000;
const TYPES = { publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7 } as const;
type Direction = "to broker" | "to client";

/** Cuts the connection when a packet of `type` is about to pass in `direction`. */
interface Fault {
  direction: Direction;
  type: keyof typeof TYPES;
}

/**
 * A TCP relay that understands MQTT framing: it forwards whole packets, and when the
 * armed fault matches, drops that packet and destroys both sockets (once).
 */
class FaultRelay {
  readonly port: number;
  #server: net.Server;
  #fault: Fault | undefined;
  #fired = Promise.withResolvers<void>();
  #sockets = new Set<net.Socket>();

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static start(target: number): Promise<FaultRelay> {
    return new Promise((resolve, reject) => {
      let relay: FaultRelay;
      const server = net.createServer((socket) => relay.#relay(socket, target));
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        relay = new FaultRelay(server, (server.address() as net.AddressInfo).port);
        resolve(relay);
      });
    });
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  arm(fault: Fault): Promise<void> {
    this.#fault = fault;
    this.#fired = Promise.withResolvers<void>();
    return this.#fired.promise;
  }

  #relay(client: net.Socket, target: number): void {
    const broker = net.connect(target, "127.0.0.1");
    for (const socket of [client, broker]) {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.#sockets.delete(socket);
        client.destroy();
        broker.destroy();
      });
    }
    const cut = () => {
      client.destroy();
      broker.destroy();
    };
    client.on("data", this.#framer("to broker", (frame) => broker.write(frame), cut));
    broker.on("data", this.#framer("to client", (frame) => client.write(frame), cut));
  }

  /** Splits a byte stream into MQTT packets and passes each on, unless the fault hits it. */
  #framer(direction: Direction, forward: (frame: Uint8Array) => void, cut: () => void) {
    let pending = new Uint8Array(0);
    return (chunk: Uint8Array) => {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      let offset = 0;
      for (;;) {
        const length = frameLength(joined, offset);
        if (length === undefined || offset + length > joined.length) break;
        const frame = joined.subarray(offset, offset + length);
        offset += length;
        const fault = this.#fault;
        if (fault && fault.direction === direction && frame[0]! >> 4 === TYPES[fault.type]) {
          this.#fault = undefined;
          cut();
          this.#fired.resolve();
          return;
        }
        forward(frame.slice());
      }
      pending = joined.slice(offset);
    };
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** The length of the MQTT packet at `offset`, or undefined when its header is incomplete. */
function frameLength(bytes: Uint8Array, offset: number): number | undefined {
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    if (offset + i >= bytes.length) return undefined;
    const byte = bytes[offset + i]!;
    value += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) return 1 + i + value;
  }
  throw new Error("malformed remaining length");
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT} ms`)), WAIT);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Collects what a subscription delivers. */
function collect(source: AsyncIterable<Message>): { texts: string[]; next: () => Promise<void> } {
  const texts: string[] = [];
  const waiters: (() => void)[] = [];
  (async () => {
    for await (const message of source) {
      texts.push(message.text());
      waiters.shift()?.();
    }
  })().catch(() => {});
  return {
    texts,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
  };
}

let counter = 0;
function id(name: string): string {
  return `tern-fault-${name}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

const FAST = { minDelay: 5, maxDelay: 50 };

describe("connection cut at each step of a flow (Mosquitto)", { skip: !HAVE_MOSQUITTO }, () => {
  let broker: Mosquitto;
  let relay: FaultRelay;
  before(async () => {
    broker = await startMosquitto();
    relay = await FaultRelay.start(broker.port);
  });
  after(async () => {
    await relay?.close();
    await broker?.stop();
  });

  for (const protocolVersion of [4, 5] as const) {
    const level = protocolVersion === 4 ? "MQTT 3.1.1" : "MQTT 5";
    const session = { clean: false, sessionExpiryInterval: 300, reconnect: FAST, protocolVersion };

    const outgoing: [0 | 1 | 2, Fault][] = [
      [1, { direction: "to broker", type: "publish" }],
      [1, { direction: "to client", type: "puback" }],
      [2, { direction: "to broker", type: "publish" }],
      [2, { direction: "to client", type: "pubrec" }],
      [2, { direction: "to broker", type: "pubrel" }],
      [2, { direction: "to client", type: "pubcomp" }],
    ];
    for (const [qos, fault] of outgoing) {
      test(`${level} publisher, QoS ${qos}: cut as ${fault.type.toUpperCase()} goes ${fault.direction}`, async () => {
        const topic = `fault/out/${counter}`;
        await using subscriber = await connect(broker.url, {
          clientId: id("sub"),
          protocolVersion,
        });
        await using subscription = await subscriber.subscribe(topic, { qos: 2 });
        const seen = collect(subscription);
        await using publisher = await connect(relay.url, { clientId: id("pub"), ...session });
        const fired = relay.arm(fault);
        const lost = new Promise((resolve) =>
          publisher.addEventListener("disconnect", resolve, { once: true })
        );
        const first = seen.next();
        const result = await within(publisher.publish(topic, "the message", { qos }), "publish");
        await within(fired, "the fault");
        await within(lost, "the disconnect");
        assert.equal(typeof result.reasonCode, "number");
        await within(first, "delivery");
        // Room for a duplicate to show up, if there were one.
        await publisher.publish(topic, "marker", { qos: 1 });
        while (!seen.texts.includes("marker")) await within(seen.next(), "marker");
        const copies = seen.texts.filter((text) => text === "the message").length;
        if (qos === 2) assert.equal(copies, 1, "exactly once");
        else assert.ok(copies >= 1, "at least once");
      });
    }

    const incoming: Fault[] = [
      { direction: "to client", type: "publish" },
      { direction: "to broker", type: "pubrec" },
      { direction: "to client", type: "pubrel" },
      { direction: "to broker", type: "pubcomp" },
    ];
    for (const fault of incoming) {
      test(`${level} subscriber, QoS 2: cut as ${fault.type.toUpperCase()} goes ${fault.direction}`, async () => {
        const topic = `fault/in/${counter}`;
        await using subscriber = await connect(relay.url, { clientId: id("sub"), ...session });
        await using subscription = await subscriber.subscribe(topic, { qos: 2 });
        const seen = collect(subscription);
        await using publisher = await connect(broker.url, { clientId: id("pub"), protocolVersion });
        const back = reconnection(subscriber);
        const fired = relay.arm(fault);
        await publisher.publish(topic, "the message", { qos: 2 });
        await within(fired, "the fault");
        await within(back, "the reconnection");
        await publisher.publish(topic, "marker", { qos: 2 });
        while (!seen.texts.includes("marker")) await within(seen.next(), "marker");
        assert.deepEqual(seen.texts, ["the message", "marker"], "each exactly once, in order");
      });
    }
  }
});

/** Resolves once `client` has lost its connection and connected again. */
function reconnection(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    let lost = false;
    client.addEventListener("disconnect", () => void (lost = true), { once: true });
    const onConnect = () => {
      if (!lost) return;
      client.removeEventListener("connect", onConnect);
      resolve();
    };
    client.addEventListener("connect", onConnect);
  });
}
