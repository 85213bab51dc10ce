/**
 * Test helper: a raw MQTT client that speaks tern's own packets over a real transport, so
 * broker tests can send exactly the bytes they want (well-formed or not) and inspect
 * every packet the broker answers with.
 *
 * @module
 */

import { decodePacket } from "../lib/packet/decode.ts";
import { encodePacket } from "../lib/packet/encode.ts";
import type {
  ConnackPacket,
  ConnectPacket,
  Packet,
  PacketType,
  ProtocolVersion,
} from "../lib/packet/types.ts";
import { openTransport } from "../lib/transport/open.ts";
import type { Transport } from "../lib/transport/types.ts";

/** How long {@link RawClient.next} waits by default: generous for a loaded machine. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** A client that sends and receives raw packets. */
export class RawClient implements AsyncDisposable {
  readonly version: ProtocolVersion;
  #transport: Transport;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #buffer = new Uint8Array(0);
  #packets: Packet[] = [];
  #waiters: Array<() => void> = [];
  #ended = false;
  /** Resolves when the broker closed the connection (the readable ended or failed). */
  readonly ended: Promise<void>;

  private constructor(transport: Transport, version: ProtocolVersion) {
    this.#transport = transport;
    this.version = version;
    this.#writer = transport.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.ended = this.#read();
  }

  /** Opens a transport to `url` without sending anything. */
  static async open(
    url: string,
    version: ProtocolVersion = 4,
    options: Parameters<typeof openTransport>[1] = {},
  ): Promise<RawClient> {
    return new RawClient(await openTransport(url, options), version);
  }

  /**
   * Opens a transport, sends CONNECT (client id, clean, keepalive 0 unless overridden) and
   * returns the client and the CONNACK.
   */
  static async connect(
    url: string,
    connect: Partial<ConnectPacket> & { clientId: string },
  ): Promise<[RawClient, ConnackPacket]> {
    const version = connect.protocolVersion ?? 4;
    const client = await RawClient.open(url, version);
    await client.send({
      type: "connect",
      protocolVersion: version,
      clean: true,
      keepalive: 0,
      ...connect,
    });
    const connack = await client.expect("connack");
    return [client, connack];
  }

  /** Whether the broker closed the connection. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /** Encodes and writes one packet. */
  async send(packet: Packet): Promise<void> {
    await this.sendRaw(encodePacket(packet, this.version));
  }

  /** Writes bytes as they are. */
  async sendRaw(bytes: Uint8Array | number[]): Promise<void> {
    await this.#writer.write(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  }

  /** The next packet from the broker; rejects if the connection ends or time runs out. */
  async next(timeout = DEFAULT_TIMEOUT_MS): Promise<Packet> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const packet = this.#packets.shift();
      if (packet !== undefined) return packet;
      if (this.#ended) throw new Error("The broker closed the connection");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No packet from the broker within ${timeout} ms`);
      await this.#wait(left);
    }
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends PacketType>(
    type: T,
    timeout?: number,
  ): Promise<Extract<Packet, { type: T }>> {
    const packet = await this.next(timeout);
    if (packet.type !== type) {
      throw new Error(
        `Expected ${type.toUpperCase()} from the broker, got ${JSON.stringify(packet, replacer)}`,
      );
    }
    return packet as Extract<Packet, { type: T }>;
  }

  /**
   * Waits until the broker closes the connection and returns the packets it sent before
   * that (not yet taken with `next`).
   */
  async untilEnded(timeout = DEFAULT_TIMEOUT_MS): Promise<Packet[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeout);
    });
    const outcome = await Promise.race([this.ended.then(() => "ended" as const), expired]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      throw new Error(`The broker did not close the connection within ${timeout} ms`);
    }
    return this.#packets.splice(0);
  }

  /** Packets received and not yet taken. */
  get received(): readonly Packet[] {
    return this.#packets;
  }

  /** Closes the transport. */
  async close(): Promise<void> {
    await this.#transport.close().catch(() => {});
    await this.ended;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #read(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const joined = new Uint8Array(this.#buffer.length + value.length);
        joined.set(this.#buffer);
        joined.set(value, this.#buffer.length);
        let offset = 0;
        for (;;) {
          const result = decodePacket(joined.subarray(offset), { protocolVersion: this.version });
          if (result === undefined) break;
          this.#packets.push(result.packet);
          offset += result.bytesRead;
        }
        this.#buffer = joined.slice(offset);
        this.#notify();
      }
    } catch {
      // A reset or a decoding failure ends the client like a close.
    } finally {
      this.#ended = true;
      reader.releaseLock();
      this.#notify();
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.#waiters;
      function done() {
        clearTimeout(timer);
        const index = waiters.indexOf(done);
        if (index !== -1) waiters.splice(index, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/** JSON.stringify replacer that shows bytes as text. */
export function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? `<${new TextDecoder().decode(value)}>` : value;
}

/** UTF-8 bytes of `text`. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A PUBLISH of `payload` to `topic`, neither retained nor a duplicate. */
export function publishPacket(
  topic: string,
  payload: string,
  qos: import("../lib/packet/types.ts").QoS = 0,
  packetId?: number,
): import("../lib/packet/types.ts").PublishPacket {
  return {
    type: "publish",
    topic,
    payload: bytes(payload),
    qos,
    retain: false,
    dup: false,
    ...(packetId === undefined ? {} : { packetId }),
  };
}

/** `text` decoded from UTF-8 bytes. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** Resolves once `check()` is true, polling every 5 ms; rejects after `timeout` ms. */
export async function eventually(
  check: () => boolean,
  timeout = DEFAULT_TIMEOUT_MS,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A client driven by hand against `Broker.createConnection()`: no sockets, time given
 * explicitly. `take()` returns what the broker sent since the last call.
 */
export class HandClient {
  readonly connection: import("./connection.ts").Connection;
  #now: () => number;

  constructor(broker: import("./broker.ts").Broker) {
    this.connection = broker.createConnection();
    this.#now = () => broker.clock.now();
  }

  /** Connects with `connect` (defaults: level 4, clean, keepalive 0) and returns the CONNACK. */
  static connect(
    broker: import("./broker.ts").Broker,
    connect: Partial<ConnectPacket> & { clientId: string },
  ): [HandClient, ConnackPacket] {
    const client = new HandClient(broker);
    client.send({ type: "connect", protocolVersion: 4, clean: true, keepalive: 0, ...connect });
    const [connack, ...rest] = client.take();
    if (connack?.type !== "connack") {
      throw new Error(`Expected CONNACK, got ${JSON.stringify(connack, replacer)}`);
    }
    client.#pending.push(...rest);
    return [client, connack];
  }

  #pending: Packet[] = [];

  /** Hands a packet to the broker at the clock's time (or `now`). */
  send(
    packet: Packet,
    options: { now?: number; verdict?: import("./connection.ts").PacketVerdict } = {},
  ): void {
    this.connection.receive(packet, options.now ?? this.#now(), options.verdict);
  }

  /** The packets the broker sent since the last call. */
  take(): Packet[] {
    const packets = [...this.#pending, ...this.connection.takeOutput()];
    this.#pending = [];
    return packets;
  }

  /** The PUBLISH packets among {@link take}'s, failing on anything else. */
  publishes(): import("../lib/packet/types.ts").PublishPacket[] {
    return this.take().map((packet) => {
      if (packet.type !== "publish") {
        throw new Error(`Expected PUBLISH, got ${JSON.stringify(packet, replacer)}`);
      }
      return packet;
    });
  }

  /** Subscribes and returns the SUBACK's reason codes (retained messages stay pending). */
  subscribe(
    subscriptions: import("../lib/packet/types.ts").Subscription[],
    options: { packetId?: number; id?: number; verdict?: boolean[] } = {},
  ): number[] {
    this.send({
      type: "subscribe",
      packetId: options.packetId ?? 1,
      subscriptions,
      ...(options.id === undefined
        ? {}
        : { properties: { subscriptionIdentifiers: [options.id] } }),
    }, options.verdict === undefined ? {} : { verdict: options.verdict });
    const packets = this.take();
    const index = packets.findIndex((p) => p.type === "suback");
    const suback = packets[index];
    if (suback?.type !== "suback") {
      throw new Error(`Expected SUBACK, got ${JSON.stringify(packets, replacer)}`);
    }
    packets.splice(index, 1);
    this.#pending.push(...packets);
    return suback.reasonCodes;
  }

  /** Publishes (QoS 0 unless given) and returns the broker's answer packets. */
  publish(
    topic: string,
    payload: string,
    options: Partial<import("../lib/packet/types.ts").PublishPacket> = {},
  ): Packet[] {
    const qos = options.qos ?? 0;
    this.send({ ...publishPacket(topic, payload, qos, qos > 0 ? 1 : undefined), ...options });
    return this.take();
  }
}
