/**
 * {@link Subscription}: the messages of one `subscribe()` call, as an async iterable and
 * a ReadableStream, with backpressure; and the bounded {@link MessageBuffer} behind it
 * (and behind `client.messages`).
 *
 * @module
 */

import type { Message } from "./message.ts";

/** Options of {@link MessageBuffer}. */
export interface MessageBufferOptions {
  /**
   * How many messages may wait for a reader before acknowledgements are held back (and
   * QoS 0 messages dropped). Default 100.
   */
  highWaterMark?: number;
}

interface Entry {
  message: Message;
  release: (() => void) | undefined;
}

/**
 * A queue of messages between the connection and one reader, bounded by holding back
 * acknowledgements.
 *
 * Each QoS 1 or 2 message comes with a `release` callback that lets its PUBACK / PUBREC
 * go. While fewer than `highWaterMark` messages wait, it is called at once; beyond that,
 * only when reads make room. The server cannot send more than its inflight window of
 * unacknowledged messages, so memory stays bounded and no QoS 1/2 message is ever
 * dropped. QoS 0 messages (which nothing can slow down) are dropped when the buffer is
 * full and counted in {@link dropped}.
 *
 * @example Acknowledgements wait for the reader
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message } from "./message.ts";
 * import { MessageBuffer } from "./subscription.ts";
 * const buffer = new MessageBuffer({ highWaterMark: 1 });
 * const message = (qos: 0 | 1) =>
 *   new Message({ topic: "a", payload: new Uint8Array(), qos, retain: false });
 * const released: number[] = [];
 * buffer.push(message(1), () => released.push(1));
 * buffer.push(message(1), () => released.push(2));
 * assert.equal(buffer.push(message(0)), false); // full: QoS 0 is dropped
 * assert.deepEqual(released, [1]);
 * await buffer.read();
 * assert.deepEqual(released, [1, 2]);
 * buffer.close();
 * assert.equal((await buffer.read()).done, false);
 * assert.equal((await buffer.read()).done, true);
 * assert.equal(buffer.dropped, 1);
 * ```
 */
export class MessageBuffer {
  #entries: Entry[] = [];
  #head = 0;
  #highWaterMark: number;
  #readers: {
    resolve: (result: IteratorResult<Message>) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #state: "open" | "closed" | "errored" = "open";
  #error: unknown;
  #dropped = 0;
  #readable: ReadableStream<Message> | undefined;
  #drainWaiters: (() => void)[] = [];

  /** Throws a RangeError for a bad high-water mark. */
  constructor(options: MessageBufferOptions = {}) {
    const { highWaterMark = 100 } = options;
    if (!Number.isInteger(highWaterMark) || highWaterMark < 1) {
      throw new RangeError(
        `Cannot create a message buffer as 'highWaterMark' must be a positive integer: current value is ${highWaterMark}`,
      );
    }
    this.#highWaterMark = highWaterMark;
  }

  /** How many messages wait for a reader. */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Whether as many messages wait as the high-water mark: one more QoS 0 would be dropped. */
  get full(): boolean {
    return this.length >= this.#highWaterMark;
  }

  /**
   * Resolves once no message waits: at once when none does, else when a reader takes the
   * last one or the buffer is closed. Lets the connection pause while a reader that keeps
   * up catches up with a burst, rather than drop QoS 0 messages.
   */
  drained(): Promise<void> {
    if (this.length === 0 || this.#state !== "open") return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#drainWaiters.push(resolve);
    return promise;
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** How many QoS 0 messages were dropped because the buffer was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether {@link close} or {@link error} was called. */
  get closed(): boolean {
    return this.#state !== "open";
  }

  /**
   * Hands a message to the reader. `release` lets its acknowledgement go (see the class
   * description); it is called exactly once, possibly right away. Returns false, calling
   * `release` at once, when the message was not kept: a QoS 0 message with the buffer
   * full, or any message once the buffer is closed.
   */
  push(message: Message, release?: () => void): boolean {
    if (this.#state !== "open") {
      release?.();
      return false;
    }
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      release?.();
      reader.resolve({ done: false, value: message });
      return true;
    }
    if (release === undefined && this.length >= this.#highWaterMark) {
      this.#dropped++;
      return false;
    }
    const admitted = this.length < this.#highWaterMark;
    this.#entries.push({ message, release: admitted ? undefined : release });
    if (admitted) release?.();
    return true;
  }

  /**
   * The next message, waiting for one if need be; `{ done: true }` once the buffer is
   * closed and empty. After {@link error}, rejects with the error once the messages that
   * arrived before it were read.
   */
  read(): Promise<IteratorResult<Message>> {
    if (this.length > 0) {
      const entry = this.#entries[this.#head]!;
      this.#entries[this.#head++] = undefined as never;
      if (this.#head === this.#entries.length) {
        this.#entries = [];
        this.#head = 0;
        if (this.#drainWaiters.length > 0) this.#wakeDrainWaiters();
      } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
        this.#entries = this.#entries.slice(this.#head);
        this.#head = 0;
      }
      entry.release?.();
      // The message that just moved within the high-water mark may be acknowledged now.
      const admitted = this.#entries[this.#head + this.#highWaterMark - 1];
      if (admitted?.release !== undefined) {
        const release = admitted.release;
        admitted.release = undefined;
        release();
      }
      return Promise.resolve({ done: false, value: entry.message });
    }
    if (this.#state === "closed") return Promise.resolve({ done: true, value: undefined });
    if (this.#state === "errored") return Promise.reject(this.#error);
    const { promise, resolve, reject } = Promise.withResolvers<IteratorResult<Message>>();
    this.#readers.push({ resolve, reject });
    return promise;
  }

  /**
   * Ends the buffer: no more messages come in, the waiting ones can still be read, then
   * reads report done. Every held acknowledgement is released.
   */
  close(): void {
    this.#finish("closed", undefined);
  }

  /** Like {@link close}, but reads reject with `error` once the waiting messages are read. */
  error(error: unknown): void {
    this.#finish("errored", error);
  }

  /** Empties the buffer and releases every held acknowledgement; returns the messages. */
  takeAll(): Message[] {
    const entries = this.#entries.slice(this.#head);
    this.#entries = [];
    this.#head = 0;
    for (const entry of entries) entry.release?.();
    this.#wakeDrainWaiters();
    return entries.map((entry) => entry.message);
  }

  /**
   * A ReadableStream over the buffer (the same one on every call). It reads one message
   * each time its consumer asks, so backpressure reaches the connection; cancelling the
   * stream leaves the buffer as it is.
   */
  get readable(): ReadableStream<Message> {
    this.#readable ??= new ReadableStream<Message>({
      pull: async (controller) => {
        const result = await this.read();
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  #finish(state: "closed" | "errored", error: unknown): void {
    if (this.#state !== "open") return;
    this.#state = state;
    this.#error = error;
    this.#wakeDrainWaiters();
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      const release = entry.release;
      entry.release = undefined;
      release?.();
    }
    const readers = this.#readers;
    this.#readers = [];
    for (const reader of readers) {
      if (state === "closed") reader.resolve({ done: true, value: undefined });
      else reader.reject(error);
    }
  }
}

/** What a {@link Subscription} asks of its client. */
export interface SubscriptionOwner {
  /**
   * Unsubscribes `subscription`'s filters that no other live subscription holds, and
   * closes its buffer once the UNSUBACK came.
   */
  unsubscribe(subscription: Subscription): Promise<void>;
}

/** What a {@link Subscription} is made of. */
export interface SubscriptionInit {
  topicFilters: readonly string[];
  /** The SUBACK's reason codes, one per filter. */
  reasonCodes: readonly number[];
  buffer: MessageBuffer;
  owner: SubscriptionOwner;
}

/** Options of {@link Subscription.unsubscribe}. */
export interface UnsubscribeOptions {
  /**
   * Stops waiting for the UNSUBACK: the promise rejects with `signal.reason` (the
   * unsubscription itself goes on).
   */
  signal?: AbortSignal;
}

/**
 * The messages that match one `client.subscribe()` call, made by the client (do not
 * construct one yourself).
 *
 * - Iterate it with `for await`, or read {@link readable}. Leaving a loop early does not
 *   unsubscribe: iterate again to go on, and call {@link unsubscribe} (or dispose the
 *   subscription with `await using`) to stop.
 * - A consumer that falls behind holds back acknowledgements, so the server slows down;
 *   no QoS 1 or 2 message is dropped (see {@link MessageBuffer}).
 * - Messages that arrive between the SUBSCRIBE and its SUBACK (retained messages, say)
 *   are already buffered here.
 * - The iteration ends after {@link unsubscribe} and after `client.disconnect()`; it
 *   throws when the client loses its connection for good.
 *
 * @example Read two messages, then unsubscribe
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message } from "./message.ts";
 * import { MessageBuffer, Subscription } from "./subscription.ts";
 * const buffer = new MessageBuffer();
 * const owner = { unsubscribe: async () => buffer.close() };
 * const subscription = new Subscription({
 *   topicFilters: ["sensors/+/temp"], reasonCodes: [1], buffer, owner,
 * });
 * for (const text of ["21.5", "22"]) {
 *   buffer.push(new Message({
 *     topic: "sensors/a/temp", payload: new TextEncoder().encode(text), qos: 1, retain: false,
 *   }));
 * }
 * const seen: string[] = [];
 * for await (const message of subscription) {
 *   seen.push(message.text());
 *   if (seen.length === 2) break;
 * }
 * await subscription.unsubscribe();
 * assert.deepEqual(seen, ["21.5", "22"]);
 * assert.equal(subscription.active, false);
 * ```
 */
export class Subscription implements AsyncIterable<Message>, AsyncDisposable {
  /** The topic filters, in the order they were subscribed. */
  readonly topicFilters: readonly string[];
  /**
   * The SUBACK's reason codes, one per topic filter: the granted QoS (0, 1, 2), or a
   * failure code of 0x80 or above for a filter the server refused (when others passed).
   */
  readonly reasonCodes: readonly number[];
  #buffer: MessageBuffer;
  #owner: SubscriptionOwner;
  #unsubscribing: Promise<void> | undefined;

  /** Made by the client on SUBACK. */
  constructor(init: SubscriptionInit) {
    this.topicFilters = Object.freeze([...init.topicFilters]);
    this.reasonCodes = Object.freeze([...init.reasonCodes]);
    this.#buffer = init.buffer;
    this.#owner = init.owner;
  }

  /** Whether the subscription still takes in messages. */
  get active(): boolean {
    return !this.#buffer.closed;
  }

  /** How many messages wait to be read. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** How many QoS 0 messages were dropped because the reader fell behind. */
  get dropped(): number {
    return this.#buffer.dropped;
  }

  /**
   * The messages as a ReadableStream (the same stream on every access). Cancelling it
   * does not unsubscribe.
   */
  get readable(): ReadableStream<Message> {
    return this.#buffer.readable;
  }

  /**
   * Unsubscribes: sends UNSUBSCRIBE for the filters no other live subscription of the
   * client holds, and resolves on the UNSUBACK. The messages that arrived before it can
   * still be read; then the iteration ends. Calling it again while it is under way waits
   * for the same outcome.
   */
  unsubscribe(options: UnsubscribeOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#unsubscribing === undefined) {
      const pending = this.#owner.unsubscribe(this);
      this.#unsubscribing = pending;
      // A failed attempt (the connection dropped) may be tried again.
      pending.catch(() => {
        if (this.#unsubscribing === pending) this.#unsubscribing = undefined;
      });
    }
    if (signal === undefined) return this.#unsubscribing;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#unsubscribing.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
    return promise;
  }

  /** The next message; see the class description. */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: () => this.#buffer.read(),
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  /** Same as {@link unsubscribe}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe();
  }
}
