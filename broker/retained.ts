/**
 * The retained message store: the last retained message per topic, kept in a trie of
 * topic levels so that a new subscription's filter finds its messages by walking only the
 * branches it can match.
 *
 * @module
 */

import type { BrokerMessage } from "./message.ts";

const DOLLAR = 0x24;

class Node {
  children: Map<string, Node> | undefined = undefined;
  message: BrokerMessage | undefined = undefined;
  constructor(readonly parent: Node | undefined, readonly level: string) {}
}

/**
 * Retained messages by topic (MQTT-3.3.1-5 to MQTT-3.3.1-8 in MQTT 5; MQTT-3.3.1-5,
 * -7, -10, -11 in 3.1.1): {@link set} stores or replaces, an empty payload clears, and
 * {@link match} returns what a topic filter selects, skipping "$" topics for filters that
 * start with a wildcard (MQTT-4.7.2-1) and dropping expired messages.
 *
 * @example Store, replace, clear and match
 * ```ts
 * import assert from "node:assert/strict";
 * import { RetainedStore } from "./retained.ts";
 * const store = new RetainedStore();
 * const text = new TextEncoder();
 * const message = (topic: string, body: string) =>
 *   ({ topic, payload: text.encode(body), qos: 0, retain: true }) as const;
 * store.set(message("home/kitchen/temp", "20"));
 * store.set(message("home/kitchen/temp", "21"));
 * store.set(message("home/hall/temp", "18"));
 * store.set(message("$SYS/uptime", "5"));
 * assert.deepEqual(store.match("home/+/temp", 0).map((m) => m.topic).sort(), [
 *   "home/hall/temp",
 *   "home/kitchen/temp",
 * ]);
 * assert.equal(store.match("#", 0).length, 2);
 * store.set(message("home/hall/temp", ""));
 * assert.equal(store.size, 2);
 * ```
 */
export class RetainedStore {
  #root = new Node(undefined, "");
  #size = 0;

  /** The number of retained messages held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `message` as the retained message of its topic, replacing any, or removes the
   * retained message when the payload is empty.
   */
  set(message: BrokerMessage): void {
    if (message.payload.length === 0) {
      this.delete(message.topic);
      return;
    }
    let node = this.#root;
    for (const level of message.topic.split("/")) {
      const children = node.children ??= new Map();
      let child = children.get(level);
      if (child === undefined) {
        child = new Node(node, level);
        children.set(level, child);
      }
      node = child;
    }
    if (node.message === undefined) this.#size++;
    node.message = message;
  }

  /** The retained message of `topic`, if any (expired or not). */
  get(topic: string): BrokerMessage | undefined {
    return this.#find(topic)?.message;
  }

  /** Removes the retained message of `topic`. Returns true when there was one. */
  delete(topic: string): boolean {
    const node = this.#find(topic);
    if (node?.message === undefined) return false;
    node.message = undefined;
    this.#size--;
    this.#prune(node);
    return true;
  }

  /**
   * Every retained message whose topic matches `filter` and that has not expired at
   * `now` (expired ones found on the way are removed). `filter` must be a valid topic
   * filter, without a "$share/group/" prefix.
   */
  match(filter: string, now: number): BrokerMessage[] {
    const found: BrokerMessage[] = [];
    const expired: BrokerMessage[] = [];
    const levels = filter.split("/");
    const take = (node: Node) => {
      const message = node.message;
      if (message === undefined) return;
      if (message.expiresAt !== undefined && message.expiresAt <= now) expired.push(message);
      else found.push(message);
    };
    const stack: Array<[Node, number]> = [[this.#root, 0]];
    while (stack.length > 0) {
      const [node, depth] = stack.pop()!;
      if (depth === levels.length) {
        take(node);
        continue;
      }
      const level = levels[depth]!;
      const atRoot = depth === 0;
      if (level === "#") {
        // "#" matches the parent level itself and everything below it.
        if (!atRoot) take(node);
        this.#collect(node, atRoot, take);
        continue;
      }
      const children = node.children;
      if (children === undefined) continue;
      if (level === "+") {
        for (const [name, child] of children) {
          if (atRoot && name.charCodeAt(0) === DOLLAR) continue;
          stack.push([child, depth + 1]);
        }
      } else {
        const child = children.get(level);
        if (child !== undefined) stack.push([child, depth + 1]);
      }
    }
    for (const message of expired) {
      if (this.get(message.topic) === message) this.delete(message.topic);
    }
    return found;
  }

  /** Every retained message, expired or not. */
  *values(): Generator<BrokerMessage, void, undefined> {
    const stack: Node[] = [this.#root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      if (node.message !== undefined) yield node.message;
      if (node.children !== undefined) stack.push(...node.children.values());
    }
  }

  /** Removes every retained message. */
  clear(): void {
    this.#root = new Node(undefined, "");
    this.#size = 0;
  }

  /** Visits every message strictly below `start`, skipping "$" topics at the root. */
  #collect(start: Node, atRoot: boolean, take: (node: Node) => void): void {
    const stack: Node[] = [];
    for (const [name, child] of start.children ?? []) {
      if (atRoot && name.charCodeAt(0) === DOLLAR) continue;
      stack.push(child);
    }
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      take(node);
      if (node.children !== undefined) stack.push(...node.children.values());
    }
  }

  #find(topic: string): Node | undefined {
    let node: Node | undefined = this.#root;
    for (const level of topic.split("/")) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return node;
  }

  #prune(node: Node): void {
    let current = node;
    while (
      current.parent !== undefined && current.message === undefined &&
      (current.children === undefined || current.children.size === 0)
    ) {
      const parent: Node = current.parent;
      parent.children!.delete(current.level);
      if (parent.children!.size === 0) parent.children = undefined;
      current = parent;
    }
  }
}
