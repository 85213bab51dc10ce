import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SubscriptionTree } from "./subscription_tree.ts";
import { topicMatches } from "../lib/topic.ts";

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Matches as sorted "key filter value" lines, for order-free comparison. */
function matchLines<V>(tree: SubscriptionTree<V>, topic: string): string[] {
  return tree.match(topic).map(([key, value, filter]) => `${key} ${filter} ${String(value)}`)
    .sort();
}

describe("SubscriptionTree", () => {
  test("exact, '+' and '#' filters", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("sport/tennis/player1", "a", 1);
    tree.add("sport/tennis/+", "b", 2);
    tree.add("sport/#", "c", 3);
    tree.add("sport/golf/+", "d", 4);
    tree.add("+/tennis/#", "e", 5);
    assert.deepEqual(matchLines(tree, "sport/tennis/player1"), [
      "a sport/tennis/player1 1",
      "b sport/tennis/+ 2",
      "c sport/# 3",
      "e +/tennis/# 5",
    ]);
    assert.deepEqual(matchLines(tree, "sport/tennis/player1/ranking"), [
      "c sport/# 3",
      "e +/tennis/# 5",
    ]);
    assert.deepEqual(matchLines(tree, "sport/golf/player2"), ["c sport/# 3", "d sport/golf/+ 4"]);
    assert.deepEqual(matchLines(tree, "news"), []);
  });

  test("'#' also matches the parent level: sport/# matches sport", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("sport/#", "a", null);
    tree.add("sport/tennis/player1/#", "b", null);
    assert.deepEqual(matchLines(tree, "sport"), ["a sport/# null"]);
    assert.deepEqual(matchLines(tree, "sport/tennis/player1"), [
      "a sport/# null",
      "b sport/tennis/player1/# null",
    ]);
    assert.deepEqual(matchLines(tree, "sport/tennis"), ["a sport/# null"]);
  });

  test("'+' matches one level only, which may be empty", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("sport/+", "a", null);
    assert.deepEqual(matchLines(tree, "sport"), []);
    assert.deepEqual(matchLines(tree, "sport/"), ["a sport/+ null"]);
    assert.deepEqual(matchLines(tree, "sport/tennis"), ["a sport/+ null"]);
    assert.deepEqual(matchLines(tree, "sport/tennis/player1"), []);
  });

  test("empty levels: 'a//b', leading and trailing '/'", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("a//b", "empty-middle", null);
    tree.add("/finance", "leading", null);
    tree.add("a/", "trailing", null);
    tree.add("+/+", "two-levels", null);
    tree.add("/+", "slash-plus", null);
    tree.add("+", "one-level", null);
    tree.add("/", "slash", null);
    assert.deepEqual(matchLines(tree, "a//b"), ["empty-middle a//b null"]);
    assert.deepEqual(matchLines(tree, "a/b"), ["two-levels +/+ null"]);
    assert.deepEqual(matchLines(tree, "/finance"), [
      "leading /finance null",
      "slash-plus /+ null",
      "two-levels +/+ null",
    ]);
    assert.deepEqual(matchLines(tree, "finance"), ["one-level + null"]);
    assert.deepEqual(matchLines(tree, "a/"), ["trailing a/ null", "two-levels +/+ null"]);
    assert.deepEqual(matchLines(tree, "/"), [
      "slash / null",
      "slash-plus /+ null",
      "two-levels +/+ null",
    ]);
  });

  test("[MQTT-4.7.2-1] wildcards in the first level do not match '$' topics", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("#", "all", null);
    tree.add("+/monitor/Clients", "plus", null);
    tree.add("+/#", "plus-hash", null);
    tree.add("$SYS/#", "sys", null);
    tree.add("$SYS/monitor/+", "sys-monitor", null);
    assert.deepEqual(matchLines(tree, "$SYS/monitor/Clients"), [
      "sys $SYS/# null",
      "sys-monitor $SYS/monitor/+ null",
    ]);
    assert.deepEqual(matchLines(tree, "$SYS"), ["sys $SYS/# null"]);
    assert.deepEqual(matchLines(tree, "other/monitor/Clients"), [
      "all # null",
      "plus +/monitor/Clients null",
      "plus-hash +/# null",
    ]);
    // '$' below the first level is an ordinary character.
    tree.add("a/+", "a", null);
    assert.deepEqual(matchLines(tree, "a/$b"), ["a a/+ null", "all # null", "plus-hash +/# null"]);
  });

  test("one key may hold several overlapping filters; each pair is reported", () => {
    const tree = new SubscriptionTree<{ qos: number; id?: number }>();
    tree.add("home/+/temp", "display", { qos: 0, id: 1 });
    tree.add("home/#", "display", { qos: 1, id: 2 });
    tree.add("home/kitchen/temp", "display", { qos: 2 });
    tree.add("home/#", "logger", { qos: 1, id: 7 });
    const found = tree.match("home/kitchen/temp");
    assert.equal(found.length, 4);
    const display = found.filter(([key]) => key === "display");
    assert.deepEqual(display.map(([, , filter]) => filter).sort(), [
      "home/#",
      "home/+/temp",
      "home/kitchen/temp",
    ]);
    assert.equal(Math.max(...display.map(([, value]) => value.qos)), 2);
    assert.deepEqual(display.flatMap(([, value]) => value.id ?? []).sort(), [1, 2]);
  });

  test("add reports new pairs and replaces values; size counts pairs", () => {
    const tree = new SubscriptionTree<string>();
    assert.equal(tree.size, 0);
    assert.equal(tree.add("a/b", "one", "x"), true);
    assert.equal(tree.add("a/b", "two", "y"), true);
    assert.equal(tree.add("a/b", "one", "z"), false);
    assert.equal(tree.add("a/+", "one", "w"), true);
    assert.equal(tree.size, 3);
    assert.equal(tree.get("a/b", "one"), "z");
    assert.equal(tree.get("a/b", "two"), "y");
    assert.equal(tree.get("a/+", "one"), "w");
    assert.equal(tree.get("a/#", "one"), undefined);
    assert.equal(tree.get("a", "one"), undefined);
    assert.deepEqual(matchLines(tree, "a/b"), ["one a/+ w", "one a/b z", "two a/b y"]);
  });

  test("add rejects invalid filters and leaves the tree unchanged", () => {
    const tree = new SubscriptionTree<number>();
    for (const filter of ["", "a/#/b", "a+", "sport/tennis#", "a\u0000"]) {
      assert.throws(() => tree.add(filter, "k", 0), TypeError, JSON.stringify(filter));
    }
    assert.equal(tree.size, 0);
    assert.equal(tree.nodeCount, 0);
  });

  test("remove deletes one pair and reports whether it existed", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a/+", "one", 1);
    tree.add("a/+", "two", 2);
    tree.add("a/#", "one", 3);
    assert.equal(tree.remove("a/+", "one"), true);
    assert.equal(tree.remove("a/+", "one"), false);
    assert.equal(tree.remove("a/+", "nobody"), false);
    assert.equal(tree.remove("a/b", "two"), false); // '+' is not a pattern here
    assert.equal(tree.remove("b/#", "one"), false);
    assert.equal(tree.remove("", "one"), false);
    assert.equal(tree.remove("a/#/b", "one"), false);
    assert.equal(tree.size, 2);
    assert.deepEqual(matchLines(tree, "a/b"), ["one a/# 3", "two a/+ 2"]);
  });

  test("remove prunes nodes left empty and never creates nodes", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a/b/c/d", "one", 0);
    tree.add("a/b/+", "two", 0);
    tree.add("a/#", "three", 0);
    // a, b, c, d, '+' under b, '#' under a
    assert.equal(tree.nodeCount, 6);
    tree.remove("x/y/z", "one");
    tree.remove("a/b/c/d/e", "one");
    assert.equal(tree.nodeCount, 6);
    assert.equal(tree.remove("a/b/c/d", "one"), true);
    assert.equal(tree.nodeCount, 4);
    assert.equal(tree.remove("a/b/+", "two"), true);
    assert.equal(tree.nodeCount, 2);
    assert.equal(tree.remove("a/#", "three"), true);
    assert.equal(tree.nodeCount, 0);
    assert.equal(tree.size, 0);
    assert.deepEqual(tree.match("a/b/c/d"), []);
  });

  test("a node holding subscribers is not pruned with its children", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a", "parent", 1);
    tree.add("a/b", "child", 2);
    tree.remove("a/b", "child");
    assert.equal(tree.nodeCount, 1);
    assert.deepEqual(matchLines(tree, "a"), ["parent a 1"]);
  });

  test("memory does not grow with subscribe/unsubscribe churn", () => {
    const tree = new SubscriptionTree<number>();
    const next = random(99);
    const levels = ["a", "b", "c", "", "+", "$SYS", "d"];
    const live: Array<[string, string]> = [];
    tree.add("keep/this", "anchor", 0);
    const base = tree.nodeCount;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 200; i++) {
        const parts: string[] = [];
        const depth = 1 + Math.floor(next() * 5);
        for (let level = 0; level < depth; level++) {
          parts.push(levels[Math.floor(next() * levels.length)]!);
        }
        if (next() < 0.3) parts.push("#");
        const filter = parts.join("/");
        if (filter === "") continue;
        const key = `client-${Math.floor(next() * 20)}`;
        if (tree.add(filter, key, i)) live.push([filter, key]);
      }
      for (const [filter, key] of live.splice(0)) assert.equal(tree.remove(filter, key), true);
      assert.equal(tree.size, 1);
      assert.equal(tree.nodeCount, base);
    }
  });

  test("an empty topic matches nothing, not even '#'", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("#", "all", null);
    tree.add("+", "plus", null);
    assert.deepEqual(tree.match(""), []);
  });

  test("clear removes everything", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a/#", "one", 1);
    tree.add("#", "two", 2);
    tree.clear();
    assert.equal(tree.size, 0);
    assert.equal(tree.nodeCount, 0);
    assert.deepEqual(tree.match("a/b"), []);
    assert.equal(tree.add("a/#", "one", 3), true);
    assert.deepEqual(matchLines(tree, "a"), ["one a/# 3"]);
  });

  test("entries lists every pair", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a/b", "one", 1);
    tree.add("a/+", "one", 2);
    tree.add("a/#", "two", 3);
    tree.add("#", "three", 4);
    tree.add("/", "four", 5);
    assert.deepEqual([...tree.entries()].map((entry) => entry.join(" ")).sort(), [
      "four 5 /",
      "one 1 a/b",
      "one 2 a/+",
      "three 4 #",
      "two 3 a/#",
    ]);
  });

  test("shared subscriptions are plain filters here: $share/g/x matches only itself", () => {
    const tree = new SubscriptionTree<null>();
    tree.add("$share/group/sport/#", "a", null);
    assert.deepEqual(matchLines(tree, "sport/tennis"), []);
    assert.deepEqual(matchLines(tree, "$share/group/sport/tennis"), [
      "a $share/group/sport/# null",
    ]);
  });

  test("match returns a snapshot the caller may change the tree under", () => {
    const tree = new SubscriptionTree<number>();
    for (let i = 0; i < 10; i++) tree.add(`a/${i}`, `k${i}`, i);
    tree.add("a/+", "wild", -1);
    for (const [key, , filter] of tree.match("a/3")) tree.remove(filter, key);
    assert.equal(tree.size, 9);
    assert.deepEqual(matchLines(tree, "a/3"), []);
  });

  test("forEachMatch may be called again from inside its visitor", () => {
    const tree = new SubscriptionTree<number>();
    tree.add("a/+", "one", 1);
    tree.add("a/#", "two", 2);
    tree.add("b", "three", 3);
    const seen: string[] = [];
    tree.forEachMatch("a/x", (key) => {
      seen.push(key);
      tree.forEachMatch("b", (inner) => seen.push(`${key}>${inner}`));
    });
    assert.deepEqual(seen.sort(), ["one", "one>three", "two", "two>three"]);
  });

  test("very deep filters and topics do not overflow the stack", () => {
    const depth = 30_000;
    const tree = new SubscriptionTree<number>();
    const filter = Array.from({ length: depth }, (_, i) => (i % 2 === 0 ? "+" : "a")).join("/");
    tree.add(filter, "deep", 1);
    tree.add("+/#", "shallow", 2);
    const topic = "a/".repeat(depth - 1) + "a";
    assert.deepEqual(
      tree.match(topic).map(([key]) => key).sort(),
      ["deep", "shallow"],
    );
    assert.equal(tree.remove(filter, "deep"), true);
    assert.equal(tree.nodeCount, 2);
  });

  test("agrees with scanning topicMatches over random filters and topics", () => {
    const filterLevels = ["a", "b", "", "$SYS", "+", "+", "#"];
    const topicLevels = ["a", "b", "", "$SYS", "c"];
    const keys = ["k1", "k2", "k3", "k4"];
    let nonEmptyMatches = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      const pick = (items: readonly string[]): string => items[Math.floor(next() * items.length)]!;
      const tree = new SubscriptionTree<number>();
      // The oracle: a flat list of live subscriptions, scanned with topicMatches.
      const oracle = new Map<string, { filter: string; key: string; value: number }>();
      const randomFilter = (): string => {
        const parts: string[] = [];
        const depth = 1 + Math.floor(next() * 4);
        for (let level = 0; level < depth; level++) {
          const part = pick(filterLevels);
          parts.push(part);
          if (part === "#") break;
        }
        const filter = parts.join("/");
        return filter === "" ? "/" : filter;
      };
      const randomTopic = (): string => {
        const parts: string[] = [];
        const depth = 1 + Math.floor(next() * 5);
        for (let level = 0; level < depth; level++) parts.push(pick(topicLevels));
        const topic = parts.join("/");
        return topic === "" ? "$SYS" : topic;
      };
      for (let step = 0; step < 400; step++) {
        const filter = randomFilter();
        const key = pick(keys);
        const id = `${key}\u0000${filter}`;
        if (next() < 0.7) {
          const isNew = !oracle.has(id);
          assert.equal(tree.add(filter, key, step), isNew, `add ${filter} ${key}`);
          oracle.set(id, { filter, key, value: step });
        } else {
          assert.equal(tree.remove(filter, key), oracle.delete(id), `remove ${filter} ${key}`);
        }
        assert.equal(tree.size, oracle.size);
        for (let probe = 0; probe < 3; probe++) {
          const topic = randomTopic();
          const expected = [...oracle.values()]
            .filter((entry) => topicMatches(entry.filter, topic))
            .map((entry) => `${entry.key} ${entry.filter} ${entry.value}`)
            .sort();
          assert.deepEqual(matchLines(tree, topic), expected, `seed ${seed} topic ${topic}`);
          if (expected.length > 0) nonEmptyMatches++;
        }
      }
      for (const { filter, key } of oracle.values()) assert.equal(tree.remove(filter, key), true);
      assert.equal(tree.size, 0);
      assert.equal(tree.nodeCount, 0);
    }
    assert.ok(nonEmptyMatches > 5000, `only ${nonEmptyMatches} probes matched anything`);
  });
});
