/**
 * The conformance suite's own raw MQTT client: it writes exactly the packets (or bytes) a
 * scenario asks for and queues every packet the broker answers with, so a scenario can
 * take them in order or pick the first one that matches. Self-contained on purpose: it
 * depends on lib/packet and lib/transport only, never on tern's broker, so the suite can
 * be pointed at any broker.
 *
 * @module
 */

import { encodePacket } from "../../lib/packet/encode.ts";
import { PacketDecoderStream } from "../../lib/packet/streams.ts";
import type { Packet, PacketType, ProtocolVersion } from "../../lib/packet/types.ts";
import { openTransport } from "../../lib/transport/open.ts";
import type { TlsOptions, Transport } from "../../lib/transport/types.ts";

/**
 * Options of {@link RawClient.open}.
 *
 * @example Options for an MQTT 5 connection
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RawClientOptions } from "./_raw_client.ts";
 * const options: RawClientOptions = { version: 5, timeoutMs: 1_000 };
 * assert.equal(options.version, 5);
 * ```
 */
export interface RawClientOptions {
  /** Protocol level used to encode and decode (default 4). */
  version?: ProtocolVersion;
  /** TLS settings for an `mqtts:` URL. */
  tls?: TlsOptions;
  /** Milliseconds to wait for the connection and, by default, for each packet (default 2,500). */
  timeoutMs?: number;
}

/**
 * A connection to a broker that sends and receives raw packets.
 *
 * @example Ping a broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { RawClient } from "./_raw_client.ts";
 * await assert.rejects(RawClient.open("mqtt://127.0.0.1:1", { timeoutMs: 500 }));
 * ```
 */
export class RawClient implements AsyncDisposable {
  /** Protocol level used to encode the packets sent and decode those received. */
  readonly version: ProtocolVersion;
  /** Default wait, in milliseconds, of {@link RawClient.next} and friends. */
  readonly timeoutMs: number;
  #transport: Transport;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #queue: Packet[] = [];
  #wake: (() => void)[] = [];
  #closed = false;
  #error: unknown;
  #nextPacketId = 1;
  #bytes: Uint8Array[] = [];
  /** Resolves once the broker closed the connection (or it failed, or `close()` was called). */
  readonly ended: Promise<void>;

  private constructor(transport: Transport, version: ProtocolVersion, timeoutMs: number) {
    this.#transport = transport;
    this.version = version;
    this.timeoutMs = timeoutMs;
    this.#writer = transport.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.ended = this.#pump();
  }

  /**
   * Opens a connection to `url` without sending anything.
   *
   * @example Refused connection
   * ```ts
   * import assert from "node:assert/strict";
   * import { RawClient } from "./_raw_client.ts";
   * await assert.rejects(RawClient.open("mqtt://127.0.0.1:1", { version: 5 }));
   * ```
   */
  static async open(url: string, options: RawClientOptions = {}): Promise<RawClient> {
    const timeoutMs = options.timeoutMs ?? 2_500;
    const transport = await openTransport(url, {
      signal: AbortSignal.timeout(timeoutMs),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    return new RawClient(transport, options.version ?? 4, timeoutMs);
  }

  /**
   * Wraps a connection accepted by a listener, so a scripted server can read and write
   * raw packets the same way (see the client conformance suite).
   *
   * @example Wrap an accepted connection
   * ```ts
   * import assert from "node:assert/strict";
   * import { RawClient } from "./_raw_client.ts";
   * import { listen } from "../../broker/listener.ts";
   * import type { Transport } from "../../lib/transport/types.ts";
   * const accepted = Promise.withResolvers<Transport>();
   * await using listener = await listen({ kind: "tcp", hostname: "127.0.0.1", port: 0 }, accepted.resolve);
   * await using client = await RawClient.open(listener.url);
   * await using server = RawClient.accept(await accepted.promise);
   * await client.send({ type: "pingreq" });
   * assert.equal((await server.next()).type, "pingreq");
   * ```
   */
  static accept(transport: Transport, options: RawClientOptions = {}): RawClient {
    return new RawClient(transport, options.version ?? 4, options.timeoutMs ?? 2_500);
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Why the connection ended, when it was not a clean close (a decoding error, a reset). */
  get error(): unknown {
    return this.#error;
  }

  /** Packets received and not taken yet, oldest first. */
  get pending(): readonly Packet[] {
    return this.#queue;
  }

  /** Every byte received so far, decodable or not. */
  get receivedBytes(): Uint8Array {
    const out = new Uint8Array(this.#bytes.reduce((n, chunk) => n + chunk.length, 0));
    let offset = 0;
    for (const chunk of this.#bytes) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  /** A fresh packet identifier (1, 2, 3...). */
  packetId(): number {
    const id = this.#nextPacketId;
    this.#nextPacketId = id === 65_535 ? 1 : id + 1;
    return id;
  }

  /** Encodes `packet` at this client's protocol level and writes it. */
  async send(packet: Packet): Promise<void> {
    await this.sendRaw(encodePacket(packet, this.version));
  }

  /** Writes bytes as they are (for packets the encoder refuses to produce). */
  async sendRaw(bytes: Uint8Array | readonly number[]): Promise<void> {
    if (this.#closed) throw new Error("Cannot send as the connection is closed");
    await this.#writer.write(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  }

  /** The next packet received; rejects once the connection ends or `timeoutMs` passes. */
  next(timeoutMs = this.timeoutMs): Promise<Packet> {
    return this.take(() => true, timeoutMs, "a packet");
  }

  /** The next packet, which must be of `type`. */
  async expect<T extends PacketType>(
    type: T,
    timeoutMs = this.timeoutMs,
  ): Promise<Extract<Packet, { type: T }>> {
    const packet = await this.next(timeoutMs);
    if (packet.type !== type) {
      throw new Error(`Expected ${type.toUpperCase()}, got ${describePacket(packet)}`);
    }
    return packet as Extract<Packet, { type: T }>;
  }

  /**
   * The oldest received packet for which `match` is true, removed from the queue (the
   * others stay); rejects once the connection ends or `timeoutMs` passes.
   */
  async take<P extends Packet = Packet>(
    match: (packet: Packet) => boolean,
    timeoutMs = this.timeoutMs,
    what = "the expected packet",
  ): Promise<P> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#queue.findIndex(match);
      if (index !== -1) return this.#queue.splice(index, 1)[0] as P;
      if (this.#closed) {
        throw new Error(`The broker closed the connection before sending ${what}${this.#why()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No ${what} from the broker within ${timeoutMs} ms`);
      await this.#sleep(left);
    }
  }

  /**
   * Waits up to `timeoutMs` for the broker to close the connection; true if it did. The
   * packets it sent first stay in {@link RawClient.pending}.
   */
  async waitClosed(timeoutMs = this.timeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.#sleep(left);
    }
    return true;
  }

  /** Closes the connection (without DISCONNECT) and waits until it is closed. Idempotent. */
  async close(): Promise<void> {
    await this.#transport.close().catch(() => {});
    await this.ended;
  }

  /** Same as {@link RawClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #why(): string {
    return this.#error === undefined ? "" : ` (${String(this.#error)})`;
  }

  async #pump(): Promise<void> {
    const decoder = new PacketDecoderStream({ protocolVersion: this.version });
    const record = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        this.#bytes.push(chunk.slice());
        controller.enqueue(chunk);
      },
    });
    const reader = this.#transport.readable.pipeThrough(record).pipeThrough(decoder).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#queue.push(value);
        this.#notify();
      }
    } catch (error) {
      this.#error = error;
    } finally {
      this.#closed = true;
      this.#notify();
      reader.cancel().catch(() => {});
      // A decoding error leaves the socket open: close it so nothing leaks.
      await this.#transport.close().catch(() => {});
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const index = this.#wake.indexOf(done);
        if (index !== -1) this.#wake.splice(index, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake.push(done);
    });
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }
}

/**
 * A packet as short readable text for failure details: payloads as text, long ones cut.
 *
 * @example Describe a PUBACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { describePacket } from "./_raw_client.ts";
 * assert.equal(describePacket({ type: "puback", packetId: 3 }), 'PUBACK {"packetId":3}');
 * ```
 */
export function describePacket(packet: Packet): string {
  const { type, ...rest } = packet;
  const body = JSON.stringify(rest, (_key, value) => {
    if (value instanceof Uint8Array) {
      const text = new TextDecoder().decode(value);
      return text.length > 40 ? `${text.slice(0, 40)}...` : text;
    }
    return value;
  });
  return `${type.toUpperCase()} ${body}`;
}
