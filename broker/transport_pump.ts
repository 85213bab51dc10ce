/**
 * The I/O around one {@link Connection}: reads bytes from a {@link Transport}, cuts them
 * into packets, asks the authentication and authorization hooks, feeds the connection,
 * and writes what it queued. Everything the connection queued while handling one read
 * (and every delivery from other connections in the same tick) goes out as one write:
 * the cost is in write calls, not bytes.
 *
 * @module
 */

import { ProtocolError } from "../lib/errors.ts";
import { decodeFrame, frameLength } from "../lib/packet/decode.ts";
import { encodePacket } from "../lib/packet/encode.ts";
import { ReasonCode } from "../lib/packet/reason_codes.ts";
import type { Packet, Properties, ProtocolVersion } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";
import { type DirectTransport, isDirectTransport } from "../lib/transport/direct.ts";
import type { Connection, ConnectionSink, ConnectVerdict, PacketVerdict } from "./connection.ts";
import type { Authenticate, Authorize } from "./options.ts";
import type { Clock } from "./scheduler.ts";

/** How long a closing connection may take to write its last packets before it is cut. */
const CLOSE_GRACE_MS = 2_000;

/** Byte counters a pump adds to. */
export interface ByteCounters {
  bytesReceived: number;
  bytesSent: number;
}

/** What {@link TransportPump} needs besides the transport and the connection. */
export interface TransportPumpOptions {
  clock: Clock;
  /** Largest packet accepted from the client, in bytes. */
  maximumPacketSize: number;
  authenticate?: Authenticate;
  authorize?: Authorize;
  counters: ByteCounters;
  /** Called once when {@link TransportPump.run} is about to resolve. */
  onEnd?: (pump: TransportPump) => void;
}

/**
 * Pumps bytes between a transport and a connection until either side closes.
 *
 * @example Serve a connection over an in-memory transport
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * import { TransportPump } from "./transport_pump.ts";
 *
 * await using broker = new Broker();
 * const toBroker = new TransformStream<Uint8Array, Uint8Array>();
 * const fromBroker = new TransformStream<Uint8Array, Uint8Array>();
 * const closed = Promise.withResolvers<void>();
 * const transport = {
 *   readable: toBroker.readable,
 *   writable: fromBroker.writable,
 *   closed: closed.promise,
 *   remoteAddress: undefined,
 *   close: async () => {
 *     await toBroker.writable.close().catch(() => {});
 *     await fromBroker.writable.close().catch(() => {});
 *     closed.resolve();
 *   },
 *   [Symbol.asyncDispose]() { return this.close(); },
 * };
 * const connection = broker.createConnection();
 * const pump = new TransportPump(transport, connection, {
 *   clock: broker.clock, maximumPacketSize: 1024, counters: { bytesReceived: 0, bytesSent: 0 },
 * });
 * const done = pump.run();
 * const writer = toBroker.writable.getWriter();
 * // CONNECT (3.1.1, clean, client id "a") then DISCONNECT
 * await writer.write(new Uint8Array([0x10, 13, 0, 4, 77, 81, 84, 84, 4, 2, 0, 0, 0, 1, 97]));
 * const reader = fromBroker.readable.getReader();
 * assert.deepEqual((await reader.read()).value, new Uint8Array([0x20, 2, 0, 0]));
 * await writer.write(new Uint8Array([0xe0, 0]));
 * await done;
 * assert.equal(connection.closed, true);
 * ```
 */
export class TransportPump implements ConnectionSink {
  #transport: Transport;
  #connection: Connection;
  #options: TransportPumpOptions;
  /** The stream-free path of the broker's own listeners, else undefined. */
  #direct: DirectTransport | undefined;
  /** The writer of a plain transport's stream (undefined with #direct). */
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Encoded packets waiting for the next write; undefined when none (idle: no array). */
  #pending: Uint8Array[] | undefined = undefined;
  #pendingBytes = 0;
  #writingBytes = 0;
  #writing = false;
  #flushQueued = false;
  #writeFailed = false;
  #idle: PromiseWithResolvers<void> | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;
  #ended = false;
  /** The start of a packet whose end has not arrived yet. */
  #carry: Uint8Array | undefined = undefined;

  constructor(transport: Transport, connection: Connection, options: TransportPumpOptions) {
    this.#transport = transport;
    this.#connection = connection;
    this.#options = options;
    if (isDirectTransport(transport)) {
      this.#direct = transport;
    } else {
      this.#writer = transport.writable.getWriter();
      // A write error shows up in #write; keep the writer's own promise from going unhandled.
      this.#writer.closed.catch(() => {});
    }
    connection.setSink(this);
  }

  /** Schedules a flush of the connection's output at the end of this tick. */
  wake(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.flush();
    });
  }

  /**
   * Encodes the connection's queued packets and starts writing them; once the
   * connection is closed, closes the transport after the last write (or a grace period).
   */
  flush(): void {
    const connection = this.#connection;
    const packets = connection.takeOutput();
    if (packets.length > 0 && !this.#writeFailed) {
      const version = connection.protocolVersion;
      for (const packet of packets) this.#enqueue(encodeOutgoing(packet, version));
      if (!this.#writing) void this.#write();
    }
    connection.backlogBytes = this.#pendingBytes + this.#writingBytes;
    if (connection.closed) this.#close();
  }

  /** Runs until the transport and the connection are both closed. Never rejects. */
  async run(): Promise<void> {
    const connection = this.#connection;
    const hooks = this.#options.authenticate !== undefined || this.#options.authorize !== undefined;
    const direct = this.#direct;
    const reader = direct === undefined ? this.#transport.readable.getReader() : undefined;
    // Few locals live across the awaits: an idle connection's suspended run stays small.
    try {
      while (!connection.closed) {
        let value: Uint8Array | undefined;
        if (direct !== undefined) {
          value = await direct.readChunk();
          if (value === undefined) break;
        } else {
          const result = await reader!.read();
          if (result.done) break;
          value = result.value;
        }
        if (value === undefined || value.length === 0) continue;
        if (hooks) await this.#consumeWithHooks(value);
        else this.#consume(value);
        this.flush();
      }
    } catch {
      // The transport failed (reset, TLS error): an abnormal close, handled below.
    } finally {
      reader?.releaseLock();
    }
    connection.transportClosed(this.#options.clock.now());
    this.flush();
    await this.#closing;
    this.#ended = true;
    this.#options.onEnd?.(this);
  }

  /** Counts `value` and prepends the partial packet carried from the last read. */
  #take(value: Uint8Array): Uint8Array {
    this.#options.counters.bytesReceived += value.length;
    const carry = this.#carry;
    if (carry === undefined) return value;
    this.#carry = undefined;
    const bytes = new Uint8Array(carry.length + value.length);
    bytes.set(carry);
    bytes.set(value, carry.length);
    return bytes;
  }

  /** Handles every whole packet in `value`, synchronously (no hooks to ask). */
  #consume(value: Uint8Array): void {
    const connection = this.#connection;
    const { clock, maximumPacketSize } = this.#options;
    const bytes = this.#take(value);
    // One time for the whole read: its packets arrived together.
    const now = clock.now();
    let offset = 0;
    while (offset < bytes.length && !connection.closed) {
      const version = connection.protocolVersion;
      let packet: Packet;
      try {
        const length = frameLength(bytes, offset, bytes.length, version, maximumPacketSize);
        if (length < 0 || offset + length > bytes.length) break;
        packet = decodeFrame(bytes, offset, length, version);
        offset += length;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        connection.malformed(error, now, bytes.subarray(offset));
        break;
      }
      connection.receive(packet, now);
    }
    if (!connection.closed && offset < bytes.length) this.#carry = bytes.subarray(offset);
  }

  /** Like {@link #consume}, asking the authentication and authorization hooks first. */
  async #consumeWithHooks(value: Uint8Array): Promise<void> {
    const connection = this.#connection;
    const { clock, maximumPacketSize } = this.#options;
    const bytes = this.#take(value);
    let offset = 0;
    while (offset < bytes.length && !connection.closed) {
      const version = connection.protocolVersion;
      let packet: Packet;
      try {
        const length = frameLength(bytes, offset, bytes.length, version, maximumPacketSize);
        if (length < 0 || offset + length > bytes.length) break;
        packet = decodeFrame(bytes, offset, length, version);
        offset += length;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        connection.malformed(error, clock.now(), bytes.subarray(offset));
        break;
      }
      const pending = this.#verdict(packet);
      const verdict = isPromise(pending) ? await pending : pending;
      connection.receive(packet, clock.now(), verdict);
    }
    if (!connection.closed && offset < bytes.length) this.#carry = bytes.subarray(offset);
  }

  /** True once {@link run} has finished (or is about to resolve). */
  get ended(): boolean {
    return this.#ended;
  }

  #enqueue(bytes: Uint8Array): void {
    (this.#pending ??= []).push(bytes);
    this.#pendingBytes += bytes.length;
  }

  async #write(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#pending !== undefined) {
        const chunks = this.#pending;
        const size = this.#pendingBytes;
        this.#pending = undefined;
        this.#pendingBytes = 0;
        let chunk: Uint8Array;
        if (chunks.length === 1) chunk = chunks[0]!;
        else {
          chunk = new Uint8Array(size);
          let at = 0;
          for (const part of chunks) {
            chunk.set(part, at);
            at += part.length;
          }
        }
        this.#writingBytes = size;
        this.#connection.backlogBytes = this.#pendingBytes + size;
        if (this.#direct !== undefined) {
          // Usually taken at once: no promise, no await.
          const pending = this.#direct.writeChunk(chunk);
          if (pending !== undefined) await pending;
        } else {
          await this.#writer!.write(chunk);
        }
        this.#options.counters.bytesSent += size;
      }
    } catch {
      this.#writeFailed = true;
      this.#pending = undefined;
      this.#pendingBytes = 0;
      this.#connection.transportClosed(this.#options.clock.now());
    } finally {
      this.#writing = false;
      this.#writingBytes = 0;
      this.#connection.backlogBytes = this.#pendingBytes;
      this.#idle?.resolve();
      this.#idle = undefined;
    }
    if (this.#connection.closed) this.#close();
  }

  /** Closes the transport once the writes are done, or after the grace period. */
  #close(): void {
    if (this.#closing !== undefined) return;
    this.#closing = (async () => {
      if (this.#writing || this.#pending !== undefined) {
        const idle = this.#idle ??= Promise.withResolvers<void>();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        });
        await Promise.race([idle.promise, grace]);
        clearTimeout(timer);
      }
      try {
        await this.#transport.close();
      } catch {
        // Already closed or failed: nothing left to do.
      }
    })();
  }

  /** Runs the hooks that concern `packet`; undefined when none does. */
  #verdict(packet: Packet): PacketVerdict | Promise<PacketVerdict> {
    const connection = this.#connection;
    const { authenticate, authorize } = this.#options;
    if (packet.type === "connect") {
      if (authenticate === undefined || connection.state !== "awaiting-connect") return undefined;
      return guard(
        () =>
          authenticate({
            clientId: packet.clientId,
            protocolVersion: packet.protocolVersion,
            clean: packet.clean,
            ...(packet.username === undefined ? {} : { username: packet.username }),
            ...(packet.password === undefined ? {} : { password: packet.password }),
            ...(connection.remoteAddress === undefined
              ? {}
              : { remoteAddress: connection.remoteAddress }),
          }),
        ReasonCode.UnspecifiedError as ConnectVerdict,
      );
    }
    if (authorize === undefined || connection.state !== "connected") return undefined;
    const clientId = connection.clientId!;
    const username = connection.username;
    const ask = (action: "publish" | "subscribe", topic: string) =>
      guard(
        () =>
          authorize(
            username === undefined
              ? { action, clientId, topic }
              : { action, clientId, username, topic },
          ),
        false,
      );
    if (packet.type === "publish") {
      const topic = connection.peekTopic(packet);
      return topic === undefined ? undefined : ask("publish", topic);
    }
    if (packet.type === "subscribe") {
      const answers = packet.subscriptions.map((s) => ask("subscribe", s.topicFilter));
      return answers.some(isPromise) ? Promise.all(answers) : answers as boolean[];
    }
    return undefined;
  }
}

/**
 * QoS 0 PUBLISH packets already encoded, by payload: a message routed to many clients
 * is encoded once per variant (protocol level, retain flag, topic, properties) and
 * every subscriber's write shares the same bytes. Held weakly: when the broker lets go
 * of a message (its payload), its bytes go too.
 */
const encodedPublishes = new WeakMap<Uint8Array, EncodedPublish>();

interface EncodedPublish {
  readonly version: ProtocolVersion;
  readonly retain: boolean;
  readonly topic: string;
  readonly properties: Properties | undefined;
  readonly bytes: Uint8Array;
  /** Another variant of the same payload. */
  readonly next: EncodedPublish | undefined;
}

/** Most variants of one payload kept. */
const MAX_VARIANTS = 4;

/** `encodePacket`, sharing the bytes of QoS 0 PUBLISH packets of the same message. */
function encodeOutgoing(packet: Packet, version: ProtocolVersion): Uint8Array {
  if (packet.type !== "publish" || packet.qos !== 0 || packet.dup) {
    return encodePacket(packet, version);
  }
  const { payload, retain, topic, properties } = packet;
  const first = encodedPublishes.get(payload);
  let count = 0;
  for (let v = first; v !== undefined; v = v.next, count++) {
    if (
      v.version === version && v.retain === retain && v.topic === topic &&
      v.properties === properties
    ) {
      return v.bytes;
    }
  }
  const bytes = encodePacket(packet, version);
  if (count < MAX_VARIANTS) {
    encodedPublishes.set(payload, { version, retain, topic, properties, bytes, next: first });
  }
  return bytes;
}

/** Calls a hook; a throw or rejection becomes `onError`. */
function guard<T>(hook: () => T | Promise<T>, onError: T): T | Promise<T> {
  try {
    const result = hook();
    return isPromise(result) ? result.catch(() => onError) : result;
  } catch {
    return onError;
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
