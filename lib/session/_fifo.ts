/**
 * A first-in first-out queue with O(1) `shift()` (an array and a moving head), for the
 * session's queues, which can hold many thousands of messages while offline.
 *
 * @module
 */

/** First-in first-out queue. Internal to lib/session. */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** @param items initial items, first out first. */
  constructor(items: Iterable<T> = []) {
    this.#items = [...items];
  }

  /** Number of items. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the first item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T; // let it be collected
    this.#head++;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes the first item for which `match` is true; returns it, or undefined. */
  remove(match: (item: T) => boolean): T | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T;
      if (match(item)) {
        this.#items.splice(i, 1);
        return item;
      }
    }
    return undefined;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  /** The items, first out first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}
