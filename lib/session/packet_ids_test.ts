import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MAX_PACKET_ID, PacketIdAllocator } from "./packet_ids.ts";

describe("PacketIdAllocator", () => {
  test("[MQTT-2.2.1-3] hands out non-zero identifiers counting up from 1", () => {
    const ids = new PacketIdAllocator();
    assert.deepEqual([ids.allocate(), ids.allocate(), ids.allocate()], [1, 2, 3]);
    assert.equal(ids.size, 3);
    assert.equal(ids.next, 4);
  });

  test("wraps from 65535 to 1", () => {
    const ids = new PacketIdAllocator(MAX_PACKET_ID);
    assert.equal(ids.allocate(), 65535);
    assert.equal(ids.next, 1);
    assert.equal(ids.allocate(), 1);
  });

  test("[MQTT-2.2.1-3] skips identifiers in use, across the wrap", () => {
    const ids = new PacketIdAllocator(65534);
    ids.claim(65535);
    ids.claim(1);
    assert.equal(ids.allocate(), 65534);
    assert.equal(ids.allocate(), 2);
  });

  test("reuses a released identifier only once the counter comes round", () => {
    const ids = new PacketIdAllocator();
    const first = ids.allocate()!;
    ids.release(first);
    assert.equal(ids.allocate(), 2);
    assert.equal(ids.inUse(first), false);
  });

  test("returns undefined when all 65535 are in use, and recovers on release", () => {
    const ids = new PacketIdAllocator();
    for (let i = 1; i <= MAX_PACKET_ID; i++) assert.equal(ids.allocate(), i);
    assert.equal(ids.allocate(), undefined);
    ids.release(40_000);
    assert.equal(ids.allocate(), 40_000);
    assert.equal(ids.allocate(), undefined);
  });

  test("claim refuses identifiers out of range or in use", () => {
    const ids = new PacketIdAllocator();
    ids.claim(9);
    assert.throws(() => ids.claim(9), { name: "RangeError", message: /9 as it is already in use/ });
    assert.throws(() => ids.claim(0), RangeError);
    assert.throws(() => ids.claim(65536), RangeError);
    assert.throws(() => ids.claim(1.5), RangeError);
  });

  test("the first identifier must be from 1 to 65535", () => {
    assert.throws(() => new PacketIdAllocator(0), {
      name: "RangeError",
      message:
        "Cannot create a packet id allocator as 'next' must be an integer from 1 to 65535: current value is 0",
    });
  });
});
