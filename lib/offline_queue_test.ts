import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OfflineQueue } from "./offline_queue.ts";

describe("OfflineQueue", () => {
  test("keeps order and counts bytes", () => {
    const queue = new OfflineQueue<number>();
    for (let i = 0; i < 5; i++) assert.equal(queue.push(i, 10).accepted, true);
    assert.equal(queue.length, 5);
    assert.equal(queue.bytes, 50);
    assert.equal(queue.shift(), 0);
    assert.equal(queue.bytes, 40);
    assert.deepEqual(queue.drain(), [1, 2, 3, 4]);
    assert.equal(queue.length, 0);
    assert.equal(queue.bytes, 0);
    assert.equal(queue.shift(), undefined);
  });

  test("reject-new refuses what exceeds the count or the bytes, and keeps the rest", () => {
    const queue = new OfflineQueue<string>({ maxMessages: 2, maxBytes: 100 });
    queue.push("a", 10);
    queue.push("b", 10);
    assert.deepEqual(queue.push("c", 1), { accepted: false, dropped: [] });
    queue.shift();
    assert.deepEqual(queue.push("d", 91), { accepted: false, dropped: [] });
    assert.deepEqual(queue.push("e", 90), { accepted: true, dropped: [] });
    assert.deepEqual(queue.drain(), ["b", "e"]);
  });

  test("drop-oldest makes room by count and by bytes, oldest first", () => {
    const queue = new OfflineQueue<string>({ maxMessages: 3, maxBytes: 30, policy: "drop-oldest" });
    queue.push("a", 10);
    queue.push("b", 10);
    queue.push("c", 10);
    assert.deepEqual(queue.push("d", 5), { accepted: true, dropped: ["a"] });
    assert.deepEqual(queue.push("e", 25), { accepted: true, dropped: ["b", "c"] });
    assert.equal(queue.bytes, 30);
    assert.deepEqual(queue.drain(), ["d", "e"]);
  });

  test("an entry larger than maxBytes is refused whatever the policy", () => {
    const queue = new OfflineQueue<string>({ maxBytes: 10, policy: "drop-oldest" });
    queue.push("a", 5);
    assert.deepEqual(queue.push("big", 11), { accepted: false, dropped: [] });
    assert.deepEqual(queue.drain(), ["a"]);
  });

  test("maxMessages 0 turns buffering off", () => {
    const queue = new OfflineQueue<string>({ maxMessages: 0 });
    assert.equal(queue.push("a", 1).accepted, false);
  });

  test("remove takes one entry out from anywhere", () => {
    const queue = new OfflineQueue<string>();
    for (const item of ["a", "b", "c"]) queue.push(item, 2);
    assert.equal(queue.remove("b"), true);
    assert.equal(queue.remove("b"), false);
    assert.equal(queue.bytes, 4);
    assert.deepEqual(queue.drain(), ["a", "c"]);
  });

  test("stays in order across many shifts (internal compaction)", () => {
    const queue = new OfflineQueue<number>({ maxMessages: 10_000 });
    for (let i = 0; i < 5000; i++) queue.push(i, 1);
    for (let i = 0; i < 3000; i++) assert.equal(queue.shift(), i);
    for (let i = 5000; i < 6000; i++) queue.push(i, 1);
    const rest = queue.drain();
    assert.equal(rest.length, 3000);
    assert.ok(rest.every((value, i) => value === 3000 + i));
  });

  test("bad options are caller mistakes", () => {
    assert.throws(() => new OfflineQueue({ maxMessages: -1 }), RangeError);
    assert.throws(() => new OfflineQueue({ maxBytes: Number.NaN }), RangeError);
    assert.throws(() => new OfflineQueue({ policy: "drop-newest" as "reject-new" }), {
      name: "TypeError",
      message:
        `Cannot create an offline queue as 'policy' must be "reject-new" or "drop-oldest": current value is "drop-newest"`,
    });
  });
});
