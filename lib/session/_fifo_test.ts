import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Fifo } from "./_fifo.ts";

describe("Fifo", () => {
  test("first in, first out, across compactions", () => {
    const fifo = new Fifo<number>([0, 1]);
    let next = 2;
    const out: number[] = [];
    for (let round = 0; round < 5000; round++) {
      fifo.push(next++);
      fifo.push(next++);
      out.push(fifo.shift()!);
    }
    assert.equal(fifo.length, next - out.length);
    assert.deepEqual(out, Array.from({ length: 5000 }, (_, i) => i));
    assert.deepEqual([...fifo], Array.from({ length: fifo.length }, (_, i) => 5000 + i));
    assert.equal(fifo.peek(), 5000);
  });

  test("remove takes the first match only, from the live part", () => {
    const fifo = new Fifo(["a", "b", "a", "c"]);
    fifo.shift();
    assert.equal(fifo.remove((x) => x === "a"), "a");
    assert.deepEqual([...fifo], ["b", "c"]);
    assert.equal(fifo.remove((x) => x === "z"), undefined);
  });

  test("an empty queue shifts and peeks undefined; clear empties it", () => {
    const fifo = new Fifo<number>();
    assert.equal(fifo.shift(), undefined);
    assert.equal(fifo.peek(), undefined);
    fifo.push(1);
    fifo.clear();
    assert.equal(fifo.length, 0);
    assert.deepEqual([...fifo], []);
  });
});
