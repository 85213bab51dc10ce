/**
 * The scheduler and the manual clock: order, cancellation, re-arming the one runtime
 * timer, and running on the real clock.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, Scheduler, systemClock } from "./scheduler.ts";

test("tasks run in time order, ties in scheduling order, each at its time", () => {
  const clock = new ManualClock(0);
  const scheduler = new Scheduler(clock);
  const ran: Array<[string, number]> = [];
  for (const [name, at] of [["c", 30], ["a", 10], ["b1", 20], ["b2", 20]] as const) {
    scheduler.schedule(at, (now) => ran.push([name, now]));
  }
  clock.advance(25);
  assert.deepEqual(ran, [["a", 10], ["b1", 20], ["b2", 20]]);
  clock.advance(5);
  assert.deepEqual(ran.at(-1), ["c", 30]);
  assert.equal(clock.pending, 0, "no timer left once nothing is scheduled");
  scheduler.close();
});

test("a cancelled task never runs and an earlier task re-arms the timer", () => {
  const clock = new ManualClock(0);
  const scheduler = new Scheduler(clock);
  const ran: string[] = [];
  const late = scheduler.schedule(100, () => ran.push("late"));
  scheduler.schedule(50, () => ran.push("early"));
  late.cancel();
  clock.advance(60);
  assert.deepEqual(ran, ["early"]);
  clock.advance(100);
  assert.deepEqual(ran, ["early"]);
  assert.equal(clock.pending, 0);
});

test("a task may schedule another; close cancels everything", () => {
  const clock = new ManualClock(0);
  const scheduler = new Scheduler(clock);
  const ran: number[] = [];
  scheduler.schedule(10, (now) => {
    ran.push(now);
    scheduler.schedule(now + 10, (later) => ran.push(later));
  });
  clock.advance(30);
  assert.deepEqual(ran, [10, 20]);
  scheduler.schedule(40, () => ran.push(40));
  scheduler.close();
  clock.advance(100);
  assert.deepEqual(ran, [10, 20]);
  scheduler.schedule(200, () => ran.push(200));
  assert.equal(clock.pending, 0);
});

test("many tasks come out sorted (heap order)", () => {
  const clock = new ManualClock(0);
  const scheduler = new Scheduler(clock);
  const times = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
  const ran: number[] = [];
  for (const at of times) scheduler.schedule(at, (now) => ran.push(now));
  clock.advance(1000);
  assert.deepEqual(ran, [...times].sort((a, b) => a - b));
});

test("on the system clock a task runs after its time", async () => {
  const scheduler = new Scheduler(systemClock);
  const started = Date.now();
  const done = Promise.withResolvers<number>();
  scheduler.schedule(started + 20, (now) => done.resolve(now));
  const at = await done.promise;
  assert.ok(at >= started + 20);
  scheduler.close();
});

test("ManualClock.advance refuses negative time", () => {
  assert.throws(() => new ManualClock().advance(-1), {
    name: "RangeError",
    message: "Cannot advance the clock as 'ms' must be a non-negative number: current value is -1",
  });
});
