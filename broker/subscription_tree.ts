/**
 * The broker's subscription index: a trie keyed by topic levels, so a PUBLISH is matched
 * by walking only the branches its topic can reach instead of testing every filter.
 *
 * @module
 */

import { validateTopicFilter } from "../lib/topic.ts";

const DOLLAR = 0x24;

/** One trie node: the filters that share a prefix of levels end here or pass through. */
class TrieNode<V> {
  /** Parent node, for pruning; undefined for the root. */
  readonly parent: TrieNode<V> | undefined;
  /** The level this node stands for under its parent: a literal level, "+" or "#". */
  readonly level: string;
  /** Literal child levels. Never holds "+" or "#": those have their own fields. */
  children: Map<string, TrieNode<V>> | undefined = undefined;
  /** Child for a "+" level. */
  plus: TrieNode<V> | undefined = undefined;
  /** Child for a "#" level; it only ever holds subscribers. */
  hash: TrieNode<V> | undefined = undefined;
  /** The full filter of the subscriptions that end at this node (set with the first one). */
  filter = "";
  /** Subscriptions that end at this node, by subscriber key. */
  subscribers: Map<string, V> | undefined = undefined;

  constructor(parent: TrieNode<V> | undefined, level: string) {
    this.parent = parent;
    this.level = level;
  }

  isEmpty(): boolean {
    return this.subscribers === undefined && this.children === undefined &&
      this.plus === undefined && this.hash === undefined;
  }
}

/**
 * Called once per matching subscription by {@link SubscriptionTree.forEachMatch}.
 *
 * @param key The subscriber key given to {@link SubscriptionTree.add}, such as a client id.
 * @param value The value stored with that subscription, such as its options.
 * @param filter The topic filter of that subscription.
 */
export type SubscriptionVisitor<V> = (key: string, value: V, filter: string) => void;

/**
 * A set of subscriptions, each a (topic filter, subscriber key) pair carrying a value of
 * type `V`, indexed for matching topic names. One key may hold several overlapping filters
 * ("a/+" and "a/#"): matching reports every pair, so a broker can take the highest QoS and
 * gather every subscription identifier for a client.
 *
 * Matching follows section 4.7 of MQTT 3.1.1 and 5.0: "+" matches one level (possibly
 * empty), "#" matches the parent level and everything below it, empty levels ("a//b", "/a")
 * are levels like any other, and a filter starting with a wildcard does not match a topic
 * starting with "$" (MQTT-4.7.2-1).
 *
 * Shared subscriptions are not handled here: "$share/group/filter" is stored and matched
 * as the literal filter it spells (which is what MQTT 3.1.1 requires). A broker that
 * supports them strips the prefix with `parseSharedSubscription` from lib/topic.ts, adds
 * the inner filter under a key of its choosing and picks one member per group itself.
 *
 * Matching visits only the trie nodes the topic can reach (one map lookup per level, plus
 * the "+" and "#" branches that exist) and does not recurse, so very deep filters and
 * topics cannot overflow the stack. Nodes left empty by {@link SubscriptionTree.remove}
 * are pruned, so memory follows the live subscriptions, not the history of churn.
 *
 * @example Match a topic against overlapping subscriptions
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscriptionTree } from "./subscription_tree.ts";
 * const tree = new SubscriptionTree<{ qos: number }>();
 * tree.add("sport/tennis/+", "alice", { qos: 1 });
 * tree.add("sport/#", "alice", { qos: 2 });
 * tree.add("sport/golf", "bob", { qos: 0 });
 * const found = tree.match("sport/tennis/player1").map(([key, value, filter]) =>
 *   `${key} ${filter} ${value.qos}`
 * ).sort();
 * assert.deepEqual(found, ["alice sport/# 2", "alice sport/tennis/+ 1"]);
 * ```
 */
export class SubscriptionTree<V> {
  #root = new TrieNode<V>(undefined, "");
  #size = 0;
  #nodes = 0;

  /**
   * Adds the subscription of `key` to `filter` with `value`, or replaces the value if that
   * pair already exists. Returns true when the pair is new.
   *
   * Throws a `TypeError` when `filter` is not a valid topic filter.
   *
   * @example Add and replace
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * assert.equal(tree.add("a/+", "client-1", 0), true);
   * assert.equal(tree.add("a/+", "client-1", 1), false); // same pair: value replaced
   * assert.equal(tree.get("a/+", "client-1"), 1);
   * assert.throws(() => tree.add("a/#/b", "client-1", 0), TypeError);
   * ```
   */
  add(filter: string, key: string, value: V): boolean {
    validateTopicFilter(filter);
    let node = this.#root;
    let start = 0;
    for (;;) {
      const slash = filter.indexOf("/", start);
      const level = slash === -1 ? filter.slice(start) : filter.slice(start, slash);
      node = this.#child(node, level);
      if (slash === -1) break;
      start = slash + 1;
    }
    let subscribers = node.subscribers;
    if (subscribers === undefined) {
      subscribers = node.subscribers = new Map();
      node.filter = filter;
    }
    const isNew = !subscribers.has(key);
    subscribers.set(key, value);
    if (isNew) this.#size++;
    return isNew;
  }

  /**
   * Removes the subscription of `key` to `filter`. Returns true if it existed. Trie nodes
   * left empty are released.
   *
   * @example Remove one of two overlapping subscriptions
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("a/+", "client-1", 0);
   * tree.add("a/#", "client-1", 1);
   * assert.equal(tree.remove("a/+", "client-1"), true);
   * assert.equal(tree.remove("a/+", "client-1"), false);
   * assert.deepEqual(tree.match("a/b"), [["client-1", 1, "a/#"]]);
   * ```
   */
  remove(filter: string, key: string): boolean {
    const node = this.#find(filter);
    if (node === undefined || node.subscribers === undefined) return false;
    if (!node.subscribers.delete(key)) return false;
    this.#size--;
    if (node.subscribers.size === 0) {
      node.subscribers = undefined;
      node.filter = "";
      this.#prune(node);
    }
    return true;
  }

  /**
   * The value stored for the subscription of `key` to `filter`, or undefined.
   *
   * @example Look up one subscription
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<string>();
   * tree.add("$SYS/#", "monitor", "options");
   * assert.equal(tree.get("$SYS/#", "monitor"), "options");
   * assert.equal(tree.get("$SYS/#", "someone-else"), undefined);
   * ```
   */
  get(filter: string, key: string): V | undefined {
    return this.#find(filter)?.subscribers?.get(key);
  }

  /**
   * Calls `visitor` once for every subscription whose filter matches the topic name
   * `topic`, in no particular order. This is the allocation-free form of
   * {@link SubscriptionTree.match}. `topic` should be a valid topic name; it is not
   * checked here. The visitor must not add or remove subscriptions (collect them and
   * change the tree afterwards, or use {@link SubscriptionTree.match}).
   *
   * @example Take the highest QoS per client
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("home/+/temp", "display", 0);
   * tree.add("home/#", "display", 1);
   * tree.add("home/kitchen/temp", "logger", 2);
   * const qos = new Map<string, number>();
   * tree.forEachMatch("home/kitchen/temp", (key, value) => {
   *   qos.set(key, Math.max(qos.get(key) ?? 0, value));
   * });
   * assert.deepEqual([...qos].sort(), [["display", 1], ["logger", 2]]);
   * ```
   */
  forEachMatch(topic: string, visitor: SubscriptionVisitor<V>): void {
    const topicLength = topic.length;
    if (topicLength === 0) return;
    const root = this.#root;
    // Pending branches: nodes and the index where the rest of the topic starts for each
    // (topicLength + 1 once every level is consumed). A stack, so no recursion.
    const nodes: TrieNode<V>[] = [];
    const starts: number[] = [];
    let node = root;
    let start = 0;
    // Wildcards at the first level do not match topics starting with "$" (MQTT-4.7.2-1).
    const wildcardsAtRoot = topic.charCodeAt(0) !== DOLLAR;
    for (;;) {
      const hash = node.hash;
      if (hash !== undefined && (node !== root || wildcardsAtRoot)) {
        visitAll(hash, visitor);
      }
      if (start > topicLength) {
        if (node.subscribers !== undefined) visitAll(node, visitor);
      } else {
        let end = topic.indexOf("/", start);
        if (end === -1) end = topicLength;
        const plus = node.plus;
        if (plus !== undefined && (node !== root || wildcardsAtRoot)) {
          nodes.push(plus);
          starts.push(end + 1);
        }
        const children = node.children;
        if (children !== undefined) {
          const child = children.get(topic.slice(start, end));
          if (child !== undefined) {
            // Follow the literal branch directly; the "+" branch waits on the stack.
            node = child;
            start = end + 1;
            continue;
          }
        }
      }
      const next = nodes.pop();
      if (next === undefined) return;
      node = next;
      start = starts.pop()!;
    }
  }

  /**
   * Every subscription whose filter matches the topic name `topic`, as
   * `[key, value, filter]` triples in no particular order. A fresh array, so the caller
   * may change the tree while going through it.
   *
   * @example List the subscriptions a $SYS topic reaches
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<null>();
   * tree.add("#", "everything", null);
   * tree.add("$SYS/#", "monitor", null);
   * assert.deepEqual(tree.match("$SYS/broker/uptime"), [["monitor", null, "$SYS/#"]]);
   * ```
   */
  match(topic: string): Array<[key: string, value: V, filter: string]> {
    const found: Array<[string, V, string]> = [];
    this.forEachMatch(topic, (key, value, filter) => {
      found.push([key, value, filter]);
    });
    return found;
  }

  /**
   * Every subscription in the tree as `[key, value, filter]` triples.
   *
   * @example List all subscriptions
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("a/b", "one", 1);
   * tree.add("a/+", "two", 2);
   * assert.deepEqual([...tree.entries()].sort(), [["one", 1, "a/b"], ["two", 2, "a/+"]]);
   * ```
   */
  *entries(): Generator<[key: string, value: V, filter: string], void, undefined> {
    const pending: TrieNode<V>[] = [this.#root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      if (node.subscribers !== undefined) {
        for (const [key, value] of node.subscribers) yield [key, value, node.filter];
      }
      if (node.children !== undefined) {
        for (const child of node.children.values()) pending.push(child);
      }
      if (node.plus !== undefined) pending.push(node.plus);
      if (node.hash !== undefined) pending.push(node.hash);
    }
  }

  /**
   * The number of (filter, key) subscriptions held.
   *
   * @example Count subscriptions
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("a/#", "one", 0);
   * tree.add("a/#", "two", 0);
   * tree.add("b", "one", 0);
   * assert.equal(tree.size, 3);
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * The number of trie nodes allocated, not counting the root: a measure of memory use
   * (for statistics and leak tests). It is 0 whenever the tree is empty.
   *
   * @example Nodes are released with the last subscription through them
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("a/b/c", "one", 0);
   * assert.equal(tree.nodeCount, 3);
   * tree.remove("a/b/c", "one");
   * assert.equal(tree.nodeCount, 0);
   * ```
   */
  get nodeCount(): number {
    return this.#nodes;
  }

  /**
   * Removes every subscription.
   *
   * @example Empty the tree
   * ```ts
   * import assert from "node:assert/strict";
   * import { SubscriptionTree } from "./subscription_tree.ts";
   * const tree = new SubscriptionTree<number>();
   * tree.add("a", "one", 0);
   * tree.clear();
   * assert.equal(tree.size, 0);
   * assert.deepEqual(tree.match("a"), []);
   * ```
   */
  clear(): void {
    this.#root = new TrieNode<V>(undefined, "");
    this.#size = 0;
    this.#nodes = 0;
  }

  /** The child of `node` for `level`, created if missing. */
  #child(node: TrieNode<V>, level: string): TrieNode<V> {
    if (level === "+") return node.plus ??= this.#newNode(node, level);
    if (level === "#") return node.hash ??= this.#newNode(node, level);
    const children = node.children ??= new Map();
    let child = children.get(level);
    if (child === undefined) {
      child = this.#newNode(node, level);
      children.set(level, child);
    }
    return child;
  }

  #newNode(parent: TrieNode<V>, level: string): TrieNode<V> {
    this.#nodes++;
    return new TrieNode(parent, level);
  }

  /** The node that `filter` ends at, if it exists; never creates nodes. */
  #find(filter: string): TrieNode<V> | undefined {
    let node: TrieNode<V> | undefined = this.#root;
    let start = 0;
    if (filter.length === 0) return undefined;
    for (;;) {
      const slash = filter.indexOf("/", start);
      const level = slash === -1 ? filter.slice(start) : filter.slice(start, slash);
      if (level === "+") node = node.plus;
      else if (level === "#") node = node.hash;
      else node = node.children?.get(level);
      if (node === undefined || slash === -1) return node;
      start = slash + 1;
    }
  }

  /** Detaches `node` and then each ancestor left empty, stopping at the root. */
  #prune(node: TrieNode<V>): void {
    let current: TrieNode<V> = node;
    for (;;) {
      const parent = current.parent;
      if (parent === undefined || !current.isEmpty()) return;
      if (current === parent.plus) parent.plus = undefined;
      else if (current === parent.hash) parent.hash = undefined;
      else if (parent.children !== undefined) {
        parent.children.delete(current.level);
        if (parent.children.size === 0) parent.children = undefined;
      }
      this.#nodes--;
      current = parent;
    }
  }
}

/** Reports every subscriber stored at `node`. */
function visitAll<V>(node: TrieNode<V>, visitor: SubscriptionVisitor<V>): void {
  const subscribers = node.subscribers;
  if (subscribers === undefined) return;
  const filter = node.filter;
  for (const [key, value] of subscribers) visitor(key, value, filter);
}
