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
import type { Packet } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";
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
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writingBytes = 0;
  #writing = false;
  #flushQueued = false;
  #writeFailed = false;
  #idle: PromiseWithResolvers<void> | undefined = undefined;
  #closing: Promise<void> | undefined = undefined;

  constructor(transport: Transport, connection: Connection, options: TransportPumpOptions) {
    this.#transport = transport;
    this.#connection = connection;
    this.#options = options;
    this.#writer = transport.writable.getWriter();
    // A write error shows up in #write; keep the writer's own promise from going unhandled.
    this.#writer.closed.catch(() => {});
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
      for (const packet of packets) this.#enqueue(encodePacket(packet, version));
      if (!this.#writing) void this.#write();
    }
    connection.backlogBytes = this.#pendingBytes + this.#writingBytes;
    if (connection.closed) this.#close();
  }

  /** Runs until the transport and the connection are both closed. Never rejects. */
  async run(): Promise<void> {
    const connection = this.#connection;
    const { clock, maximumPacketSize, counters } = this.#options;
    const hooks = this.#options.authenticate !== undefined || this.#options.authorize !== undefined;
    const reader = this.#transport.readable.getReader();
    let carry: Uint8Array | undefined;
    try {
      while (!connection.closed) {
        const { value, done } = await reader.read();
        if (done) break;
        if (value === undefined || value.length === 0) continue;
        counters.bytesReceived += value.length;
        let bytes = value;
        if (carry !== undefined) {
          bytes = new Uint8Array(carry.length + value.length);
          bytes.set(carry);
          bytes.set(value, carry.length);
          carry = undefined;
        }
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
          let verdict: PacketVerdict = undefined;
          if (hooks) {
            const pending = this.#verdict(packet);
            verdict = isPromise(pending) ? await pending : pending;
          }
          connection.receive(packet, clock.now(), verdict);
        }
        if (!connection.closed && offset < bytes.length) carry = bytes.subarray(offset);
        this.flush();
      }
    } catch {
      // The transport failed (reset, TLS error): an abnormal close, handled below.
    } finally {
      reader.releaseLock();
    }
    connection.transportClosed(clock.now());
    this.flush();
    await this.#closing;
  }

  #enqueue(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  async #write(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#pending.length > 0) {
        const chunks = this.#pending;
        const size = this.#pendingBytes;
        this.#pending = [];
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
        await this.#writer.write(chunk);
        this.#options.counters.bytesSent += size;
      }
    } catch {
      this.#writeFailed = true;
      this.#pending = [];
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
      if (this.#writing || this.#pending.length > 0) {
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
