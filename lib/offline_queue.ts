/**
 * The bounded queue that holds publications while the client is offline.
 *
 * @module
 */

/** What {@link OfflineQueue} does when a new entry does not fit. */
export type OfflineQueuePolicy = "reject-new" | "drop-oldest";

/** Options of {@link OfflineQueue}. */
export interface OfflineQueueOptions {
  /** Most entries held at once (default 1000); 0 turns offline buffering off. */
  maxMessages?: number;
  /** Most bytes held at once, as counted by the caller (default 16 MiB). */
  maxBytes?: number;
  /**
   * When full: refuse the new entry (`"reject-new"`, the default), or make room by
   * dropping the oldest entries (`"drop-oldest"`).
   */
  policy?: OfflineQueuePolicy;
}

/** The outcome of {@link OfflineQueue.push}. */
export interface OfflineQueuePushResult<T> {
  /** Whether the new entry is in the queue. */
  accepted: boolean;
  /** Older entries dropped to make room for it, oldest first (policy `"drop-oldest"`). */
  dropped: T[];
}

/**
 * A first-in first-out queue bounded by entry count and byte size. An entry larger than
 * `maxBytes` on its own is always refused.
 *
 * @example Drop the oldest when full
 * ```ts
 * import assert from "node:assert/strict";
 * import { OfflineQueue } from "./offline_queue.ts";
 * const queue = new OfflineQueue<string>({ maxMessages: 2, policy: "drop-oldest" });
 * queue.push("a", 1);
 * queue.push("b", 1);
 * assert.deepEqual(queue.push("c", 1), { accepted: true, dropped: ["a"] });
 * assert.deepEqual(queue.drain(), ["b", "c"]);
 * ```
 *
 * @example Refuse new entries when full
 * ```ts
 * import assert from "node:assert/strict";
 * import { OfflineQueue } from "./offline_queue.ts";
 * const queue = new OfflineQueue<string>({ maxBytes: 10 });
 * assert.equal(queue.push("a", 8).accepted, true);
 * assert.deepEqual(queue.push("b", 3), { accepted: false, dropped: [] });
 * assert.equal(queue.bytes, 8);
 * ```
 */
export class OfflineQueue<T> {
  #items: { item: T; bytes: number }[] = [];
  #head = 0;
  #bytes = 0;
  #maxMessages: number;
  #maxBytes: number;
  #policy: OfflineQueuePolicy;

  constructor(options: OfflineQueueOptions = {}) {
    const { maxMessages = 1000, maxBytes = 16 * 1024 * 1024, policy = "reject-new" } = options;
    if (!Number.isInteger(maxMessages) || maxMessages < 0) {
      throw new RangeError(
        `Cannot create an offline queue as 'maxMessages' must be a non-negative integer: current value is ${maxMessages}`,
      );
    }
    if (!Number.isFinite(maxBytes) || maxBytes < 0) {
      throw new RangeError(
        `Cannot create an offline queue as 'maxBytes' must be a non-negative number: current value is ${maxBytes}`,
      );
    }
    if (policy !== "reject-new" && policy !== "drop-oldest") {
      throw new TypeError(
        `Cannot create an offline queue as 'policy' must be "reject-new" or "drop-oldest": current value is ${
          JSON.stringify(policy)
        }`,
      );
    }
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
    this.#policy = policy;
  }

  /** How many entries the queue holds. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** How many bytes the queue holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds an entry of `bytes` bytes at the end, if it fits (see {@link OfflineQueuePolicy}). */
  push(item: T, bytes: number): OfflineQueuePushResult<T> {
    const dropped: T[] = [];
    if (this.#maxMessages === 0 || bytes > this.#maxBytes) return { accepted: false, dropped };
    const fits = () => this.length < this.#maxMessages && this.#bytes + bytes <= this.#maxBytes;
    if (!fits()) {
      if (this.#policy === "reject-new") return { accepted: false, dropped };
      while (!fits()) dropped.push(this.shift() as T);
    }
    this.#items.push({ item, bytes });
    this.#bytes += bytes;
    return { accepted: true, dropped };
  }

  /** Removes and returns the oldest entry. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as never;
    this.#bytes -= entry.bytes;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return entry.item;
  }

  /** Removes one entry wherever it is (an aborted publication); false when absent. */
  remove(item: T): boolean {
    for (let i = this.#head; i < this.#items.length; i++) {
      const entry = this.#items[i]!;
      if (entry.item === item) {
        this.#items.splice(i, 1);
        this.#bytes -= entry.bytes;
        return true;
      }
    }
    return false;
  }

  /** Removes and returns every entry, oldest first. */
  drain(): T[] {
    const items = this.#items.slice(this.#head).map((entry) => entry.item);
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    return items;
  }
}
