import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

describe("Backoff", () => {
  test("the lowest draw is always the floor, the highest the doubling ceiling up to the cap", () => {
    const low = new Backoff({ minDelay: 100, maxDelay: 5000, random: () => 0 });
    assert.deepEqual(Array.from({ length: 8 }, () => low.next()), [
      100,
      100,
      100,
      100,
      100,
      100,
      100,
      100,
    ]);
    const high = new Backoff({ minDelay: 100, maxDelay: 5000, random: () => 0.999999 });
    assert.deepEqual(
      Array.from({ length: 8 }, () => high.next()),
      [200, 400, 800, 1600, 3200, 5000, 5000, 5000],
    );
  });

  test("full jitter: delays of one attempt spread over the whole range", () => {
    const samples: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const backoff = new Backoff({ minDelay: 1000, maxDelay: 60_000 });
      backoff.next();
      backoff.next();
      samples.push(backoff.next()); // third attempt: 1000 to 8000
    }
    assert.ok(samples.every((delay) => delay >= 1000 && delay <= 8000));
    // Uniform over [1000, 8000]: each quarter of the range gets a fair share.
    for (let quarter = 0; quarter < 4; quarter++) {
      const from = 1000 + quarter * 1750;
      const count = samples.filter((d) => d >= from && d < from + 1750).length;
      assert.ok(count > 350 && count < 650, `quarter ${quarter} got ${count} of 2000`);
    }
  });

  test("factor changes the growth and reset starts over", () => {
    const backoff = new Backoff({
      minDelay: 10,
      maxDelay: 10_000,
      factor: 3,
      random: () => 0.999999,
    });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [30, 90, 270]);
    assert.equal(backoff.attempt, 3);
    backoff.reset();
    assert.equal(backoff.attempt, 0);
    assert.equal(backoff.next(), 30);
  });

  test("bad options are caller mistakes", () => {
    assert.throws(() => new Backoff({ minDelay: -1 }), {
      name: "RangeError",
      message:
        "Cannot create a backoff as 'minDelay' must be a non-negative number: current value is -1",
    });
    assert.throws(() => new Backoff({ minDelay: 10, maxDelay: 5 }), RangeError);
    assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
    assert.throws(() => new Backoff({ random: 4 as unknown as () => number }), TypeError);
  });
});
