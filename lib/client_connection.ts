/**
 * {@link Connection}: one transport of an `MqttClient` and its write queue, which batches
 * the packets of one turn of the event loop into one write and, while many packets wait
 * for the server's answer, defers new ones to the next answer. Also {@link AuthRun}, the
 * enhanced authentication exchange under way on a connection.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { ConnectionClosedError } from "./errors.ts";
import type { ConnectedAction } from "./session/actions.ts";
import { type DirectTransport, isDirectTransport } from "./transport/direct.ts";
import type { Transport } from "./transport/types.ts";

/**
 * An enhanced authentication exchange in progress on a connection.
 *
 * @example One exchange at a time: another re-authentication is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientAuth } from "./client_auth.ts";
 * import { type AuthRun, Connection } from "./client_connection.ts";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * import type { Transport } from "./transport/types.ts";
 * const transport: Transport = {
 *   readable: new ReadableStream(), writable: new WritableStream(), closed: Promise.resolve(),
 *   remoteAddress: undefined, close: async () => {}, [Symbol.asyncDispose]: async () => {},
 * };
 * const conn = new Connection(new URL("mqtt://memory"), transport, undefined, () => {});
 * conn.connected = true;
 * const run: AuthRun = { reauthenticate: true, round: 1, busy: true, done: undefined };
 * conn.auth = run;
 * const host = {
 *   session: new ClientSession(), assertOpen() {}, connection: () => conn,
 * } as Partial<ClientHost> as ClientHost;
 * const auth = new ClientAuth(host, { method: "SCRAM-SHA-1", onChallenge: () => undefined });
 * await assert.rejects(auth.reauthenticate(), {
 *   name: "TypeError",
 *   message: "Cannot reauthenticate as a re-authentication is under way",
 * });
 * ```
 */
export interface AuthRun {
  reauthenticate: boolean;
  round: number;
  /** An answer to the server is being computed: a second challenge now is an error. */
  busy: boolean;
  /** Settles `reauthenticate()`. */
  done: PromiseWithResolvers<void> | undefined;
}

/**
 * One transport and its write queue. Packets written in the same turn of the event loop
 * go out as one chunk; while a write is under way, the next chunk gathers.
 *
 * @example Packets queued in one turn leave as one write
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./client_connection.ts";
 * import type { Transport } from "./transport/types.ts";
 *
 * const chunks: Uint8Array[] = [];
 * const transport: Transport = {
 *   readable: new ReadableStream(),
 *   writable: new WritableStream({ write: (chunk) => void chunks.push(chunk) }),
 *   closed: Promise.resolve(),
 *   remoteAddress: undefined,
 *   close: async () => {},
 *   [Symbol.asyncDispose]: async () => {},
 * };
 * const conn = new Connection(new URL("mqtt://memory"), transport, undefined, (error) => {
 *   throw error;
 * });
 * conn.write(new Uint8Array([0xc0, 0x00])); // PINGREQ
 * conn.write(new Uint8Array([0xe0, 0x00])); // DISCONNECT
 * await conn.written();
 * assert.deepEqual(chunks, [new Uint8Array([0xc0, 0x00, 0xe0, 0x00])]);
 * conn.close();
 * await assert.rejects(conn.written(), { name: "ConnectionClosedError" });
 * ```
 */
export class Connection {
  readonly url: URL;
  readonly transport: Transport;
  /** The CONNACK accepted the connection. */
  connected = false;
  /** The client is done with this connection (it may still be draining its writes). */
  lost = false;
  /** The warning about a server exceeding our Receive Maximum was logged. */
  excessLogged = false;
  /** The enhanced authentication exchange under way, if any. */
  auth: AuthRun | undefined;
  readonly ready = Promise.withResolvers<ConnectedAction>();
  /** The transport's stream-free fast path, when it has one; else `#writer`. */
  #direct: DirectTransport | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #outbox: Uint8Array[] = [];
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #pumping: Promise<void> | undefined;
  #ending = false;
  #closed = false;
  #beforeWrite: (() => Promise<void>) | undefined;
  #onError: (error: unknown) => void;
  /** Packets written that wait for the server's answer: QoS 1/2 PUBLISH, PUBREC, PUBREL. */
  #awaiting = 0;
  /** How many of the queued packets will wait for an answer once written. */
  #queuedAwaiting = 0;
  #outboxBytes = 0;
  /**
   * Covers a server that stops answering while packets wait. Armed lazily and left
   * running when an answer releases them (re-arming a timer per write costs more than
   * the write saves); when it fires it checks {@link #deferredAt}.
   */
  #deferTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the packets now waiting for an answer started waiting (ms); -1: none wait. */
  #deferredAt = -1;
  /** An answer came while packets were queued: they leave with the next write. */
  #released = false;

  constructor(
    url: URL,
    transport: Transport,
    beforeWrite: (() => Promise<void>) | undefined,
    onError: (error: unknown) => void,
  ) {
    this.url = url;
    this.transport = transport;
    if (isDirectTransport(transport)) {
      this.#direct = transport;
    } else {
      this.#writer = transport.writable.getWriter();
      this.#writer.closed.catch(() => {});
    }
    this.#beforeWrite = beforeWrite;
    this.#onError = onError;
    // A connection that never resolves `ready` must not leave an unhandled rejection.
    this.ready.promise.catch(() => {});
  }

  /**
   * Queues bytes; they leave with the others of this turn, or, while many packets wait
   * for the server's answer, with the next answer (see {@link DEFER_AWAITING}). Ignored
   * once ending. `awaitsAnswer`: the packet is a QoS 1/2 PUBLISH, a PUBREC or a PUBREL.
   */
  write(bytes: Uint8Array, awaitsAnswer = false): void {
    if (this.#ending || this.#closed) return;
    this.#outbox.push(bytes);
    this.#outboxBytes += bytes.length;
    if (awaitsAnswer) this.#queuedAwaiting++;
    this.#schedule(false);
  }

  /** The server answered a packet that waited for it (PUBACK, PUBREC, PUBREL, PUBCOMP). */
  answered(): void {
    if (this.#awaiting > 0) this.#awaiting--;
    if (this.#outbox.length > 0) {
      // The first answer releases what waits, with what the answers of this read cause
      // (also when a write is under way: they leave right after it). Waiting on until
      // fewer packets are awaited would let the pipeline run dry, and a server with
      // Nagle's algorithm on (Mosquitto's default) holds its next answers until our side
      // acknowledges the segment just read, which our packets carry.
      this.#released = true;
      this.#deferredAt = -1;
      this.#schedule(false);
    }
  }

  /** Whether queued packets wait for the next answer rather than leave this turn. */
  #deferring(): boolean {
    return !this.#released && this.#awaiting >= DEFER_AWAITING &&
      this.#outboxBytes < DEFER_MAX_BYTES &&
      !this.#ending;
  }

  #schedule(force: boolean): void {
    if (this.#pumping !== undefined || this.#outbox.length === 0 || this.#closed) return;
    if (!force && this.#deferring()) {
      // Answers are on their way and will flush the queue; the timer only covers a
      // server that stops answering.
      if (this.#deferredAt < 0) this.#deferredAt = performance.now();
      this.#deferTimer ??= setTimeout(this.#onDeferTimer, DEFER_MAX_MS);
      return;
    }
    this.#pumping = Promise.resolve().then(() => this.#pump(force));
  }

  #onDeferTimer = (): void => {
    this.#deferTimer = undefined;
    if (this.#deferredAt < 0 || this.#closed) return;
    const left = this.#deferredAt + DEFER_MAX_MS - performance.now();
    if (left > 0.5) {
      // An answer released the packets that armed the timer; these started later.
      this.#deferTimer = setTimeout(this.#onDeferTimer, left);
      return;
    }
    this.#deferredAt = -1;
    this.#schedule(true);
  };

  /** Resolves once everything queued so far reached the transport. */
  written(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectionClosedError("The connection closed before the packet was written"),
      );
    }
    if (this.#outbox.length === 0 && this.#pumping === undefined) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ resolve, reject });
    return promise;
  }

  /** Takes no more packets, waits (up to `timeout` ms) for the queued ones, then closes. */
  async flushAndClose(timeout: number): Promise<void> {
    this.#ending = true;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
    this.#deferredAt = -1;
    this.#schedule(true);
    if (this.#outbox.length > 0 || this.#pumping !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.written().catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, timeout)),
      ]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** Closes the transport at once and fails what waits to be written. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    this.#outbox = [];
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
    this.#deferredAt = -1;
    const waiters = this.#waiters;
    this.#waiters = [];
    const error = new ConnectionClosedError("The connection closed before the packet was written");
    for (const waiter of waiters) waiter.reject(error);
    this.transport.close().catch(() => {});
  }

  async #pump(force: boolean): Promise<void> {
    try {
      while (this.#outbox.length > 0 && !this.#closed && (force || !this.#deferring())) {
        force = false;
        const chunks = this.#outbox;
        const waiters = this.#waiters;
        this.#released = false;
        this.#deferredAt = -1;
        this.#outbox = [];
        this.#waiters = [];
        this.#awaiting += this.#queuedAwaiting;
        this.#queuedAwaiting = 0;
        this.#outboxBytes = 0;
        // Persist the state these packets follow from before they leave (later packets,
        // queued while saving, wait for the next round and its own save).
        if (this.#beforeWrite) await this.#beforeWrite();
        if (this.#closed) {
          const error = new ConnectionClosedError(
            "The connection closed before the packet was written",
          );
          for (const waiter of waiters) waiter.reject(error);
          break;
        }
        const bytes = chunks.length === 1 ? chunks[0]! : concat(chunks);
        // A direct write the runtime took at once returns nothing: no promise to wait on.
        const writing = this.#direct !== undefined
          ? this.#direct.writeChunk(bytes)
          : this.#writer!.write(bytes);
        if (writing !== undefined) await writing;
        for (const waiter of waiters) waiter.resolve();
      }
    } catch (error) {
      if (!this.#closed) this.#onError(error);
    } finally {
      this.#pumping = undefined;
      if (this.#outbox.length === 0 && !this.#closed) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) waiter.resolve();
      } else {
        this.#schedule(false);
      }
    }
  }
}

/**
 * While this many QoS 1/2 PUBLISH, PUBREC and PUBREL packets wait for the server's answer,
 * new packets wait for the next answer (PUBACK, PUBREC, PUBREL, PUBCOMP) instead of leaving
 * at once, and then leave together with the packets that answer causes:
 * a pipelining publisher then writes tens of packets per system call instead of a few,
 * and the server answers in bigger batches too. It costs no latency worth the name, as
 * that many packets are queued at the server ahead of the new ones anyway, and none when
 * fewer wait (a request / response exchange never waits).
 *
 * @example Deferral starts with a deep pipeline only
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFER_AWAITING } from "./client_connection.ts";
 * assert.equal(DEFER_AWAITING, 32);
 * ```
 */
export const DEFER_AWAITING = 32;
/**
 * Queued bytes that leave at once even while answers are awaited.
 *
 * @example 64 KiB
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFER_MAX_BYTES } from "./client_connection.ts";
 * assert.equal(DEFER_MAX_BYTES, 65_536);
 * ```
 */
export const DEFER_MAX_BYTES = 64 * 1024;
/**
 * How long queued packets wait for an answer at most, in ms.
 *
 * @example A couple of milliseconds at most
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFER_MAX_MS } from "./client_connection.ts";
 * assert.equal(DEFER_MAX_MS, 2);
 * ```
 */
export const DEFER_MAX_MS = 2;

/**
 * Joins `chunks` into one array.
 *
 * @example Two packets in one buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { concat } from "./client_connection.ts";
 * const joined = concat([new Uint8Array([0xc0, 0]), new Uint8Array([]), new Uint8Array([0xe0, 0])]);
 * assert.deepEqual(joined, new Uint8Array([0xc0, 0, 0xe0, 0]));
 * assert.deepEqual(concat([]), new Uint8Array());
 * ```
 */
export function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
