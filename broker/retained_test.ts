/**
 * The retained store: replace and clear by topic, matching by filter (wildcards, empty
 * levels, "$" topics), expiry.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { RetainedStore } from "./retained.ts";
import type { BrokerMessage } from "./message.ts";

function message(topic: string, body = topic, extra: Partial<BrokerMessage> = {}): BrokerMessage {
  return { topic, payload: new TextEncoder().encode(body), qos: 0, retain: true, ...extra };
}

function topics(store: RetainedStore, filter: string, now = 0): string[] {
  return store.match(filter, now).map((m) => m.topic).sort();
}

test("[MQTT-3.3.1-5] a retained message replaces the previous one for its topic", () => {
  const store = new RetainedStore();
  store.set(message("a/b", "1"));
  store.set(message("a/b", "2"));
  assert.equal(store.size, 1);
  assert.equal(new TextDecoder().decode(store.get("a/b")!.payload), "2");
});

test("[MQTT-3.3.1-6] [MQTT-3.3.1-7] an empty payload removes the retained message and is not stored", () => {
  const store = new RetainedStore();
  store.set(message("a/b"));
  store.set(message("a/b", ""));
  assert.equal(store.size, 0);
  assert.equal(store.get("a/b"), undefined);
  store.set(message("never", ""));
  assert.equal(store.size, 0);
  assert.deepEqual([...store.values()], []);
});

test("filters select by level: exact, +, # (including the parent level), empty levels", () => {
  const store = new RetainedStore();
  for (
    const topic of [
      "sport",
      "sport/tennis",
      "sport/tennis/player1",
      "sport/golf",
      "/lead",
      "a//b",
      "other",
    ]
  ) {
    store.set(message(topic));
  }
  assert.deepEqual(topics(store, "sport/tennis"), ["sport/tennis"]);
  assert.deepEqual(topics(store, "sport/+"), ["sport/golf", "sport/tennis"]);
  assert.deepEqual(topics(store, "sport/#"), [
    "sport",
    "sport/golf",
    "sport/tennis",
    "sport/tennis/player1",
  ]);
  assert.deepEqual(topics(store, "+/+"), ["/lead", "sport/golf", "sport/tennis"]);
  assert.deepEqual(topics(store, "a/+/b"), ["a//b"]);
  assert.deepEqual(topics(store, "#").length, 7);
  assert.deepEqual(topics(store, "+"), ["other", "sport"]);
  assert.deepEqual(topics(store, "nothing/#"), []);
});

test("[MQTT-4.7.2-1] filters starting with a wildcard skip $ topics; $SYS/# finds them", () => {
  const store = new RetainedStore();
  store.set(message("$SYS/broker/version"));
  store.set(message("plain"));
  assert.deepEqual(topics(store, "#"), ["plain"]);
  assert.deepEqual(topics(store, "+/broker/version"), []);
  assert.deepEqual(topics(store, "$SYS/#"), ["$SYS/broker/version"]);
  assert.deepEqual(topics(store, "$SYS/+/version"), ["$SYS/broker/version"]);
});

test("expired messages are not matched and are removed", () => {
  const store = new RetainedStore();
  store.set(message("a", "a", { expiresAt: 1_000 }));
  store.set(message("b", "b", { expiresAt: 5_000 }));
  store.set(message("c"));
  assert.deepEqual(topics(store, "#", 999), ["a", "b", "c"]);
  assert.deepEqual(topics(store, "#", 1_000), ["b", "c"]);
  assert.equal(store.size, 2);
});

test("deleting prunes empty branches; clear empties the store", () => {
  const store = new RetainedStore();
  store.set(message("a/b/c"));
  store.set(message("a"));
  assert.equal(store.delete("a/b/c"), true);
  assert.equal(store.delete("a/b/c"), false);
  assert.deepEqual(topics(store, "a/#"), ["a"]);
  store.clear();
  assert.equal(store.size, 0);
  assert.deepEqual(topics(store, "#"), []);
});
