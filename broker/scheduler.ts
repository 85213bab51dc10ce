/**
 * The broker's timers: one min-heap of deadlines (CONNECT timeouts, keep-alive checks,
 * delayed wills, session expiry) driven by a single runtime timer, and the {@link Clock}
 * it reads, which tests replace with a {@link ManualClock} to move time by hand.
 *
 * @module
 */

/**
 * Where the broker gets the time and its one timer from. `now()` is milliseconds since
 * the epoch (violations are stamped with it).
 *
 * @example The real clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./scheduler.ts";
 * assert.ok(Math.abs(systemClock.now() - Date.now()) < 1000);
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer from `setTimeout`. */
  clearTimeout(handle: unknown): void;
}

/**
 * The wall clock and the runtime's `setTimeout`.
 *
 * @example Read the time
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./scheduler.ts";
 * assert.equal(typeof systemClock.now(), "number");
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A clock that only moves when told to: timers fire, in order, during {@link advance}.
 * Give it to the broker in tests to check keep-alive, will delay and expiry without
 * waiting.
 *
 * @example Fire a timer by advancing time
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./scheduler.ts";
 * const clock = new ManualClock(1_000);
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.now()), 500);
 * clock.advance(499);
 * assert.deepEqual(fired, []);
 * clock.advance(1);
 * assert.deepEqual(fired, [1_500]);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  /** Starts at `start` milliseconds (default: 1,700,000,000,000, a fixed date). */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  /** The clock's time: it only changes in {@link advance}. */
  now(): number {
    return this.#now;
  }

  /** Registers a timer that fires during {@link advance}. */
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `Cannot advance the clock as 'ms' must be a non-negative number: current value is ${ms}`,
      );
    }
    const target = this.#now + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= target && timer.at < nextAt) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const timer = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, timer.at);
      timer.callback();
    }
    this.#now = target;
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }
}

/** A scheduled task; `cancel()` keeps it from running. */
export interface ScheduledTask {
  /** When it is due, in the clock's milliseconds. */
  readonly at: number;
  /** Keeps the task from running; harmless after it ran. */
  cancel(): void;
}

const NOTHING = (_now: number): void => {};

class Task implements ScheduledTask {
  cancelled = false;
  constructor(readonly at: number, readonly seq: number, public run: (now: number) => void) {}
  cancel(): void {
    this.cancelled = true;
    // A cancelled task waits in the heap until its time; let go of the callback (and
    // whatever its closure holds, such as a closed connection) at once.
    this.run = NOTHING;
  }
}

/**
 * Runs tasks at given times with one runtime timer set for the earliest. Tasks due at the
 * same time run in the order they were scheduled. Cancelled tasks are dropped lazily.
 *
 * @example Run tasks in time order
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, Scheduler } from "./scheduler.ts";
 * const clock = new ManualClock(0);
 * const scheduler = new Scheduler(clock);
 * const ran: string[] = [];
 * scheduler.schedule(200, () => ran.push("b"));
 * scheduler.schedule(100, () => ran.push("a"));
 * scheduler.schedule(150, () => ran.push("never")).cancel();
 * clock.advance(250);
 * assert.deepEqual(ran, ["a", "b"]);
 * scheduler.close();
 * ```
 */
export class Scheduler {
  #clock: Clock;
  #heap: Task[] = [];
  #seq = 0;
  #timer: unknown = undefined;
  #timerAt = Infinity;
  #closed = false;

  /** A scheduler on `clock`. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The clock tasks are scheduled by. */
  get clock(): Clock {
    return this.#clock;
  }

  /** How many tasks are pending (cancelled ones included until they are dropped). */
  get size(): number {
    return this.#heap.length;
  }

  /** Runs `run(now)` once the clock reaches `at`. */
  schedule(at: number, run: (now: number) => void): ScheduledTask {
    const task = new Task(at, this.#seq++, run);
    if (this.#closed) {
      task.cancelled = true;
      return task;
    }
    this.#push(task);
    if (at < this.#timerAt) this.#arm();
    return task;
  }

  /** Runs every task due at `now`, then re-arms the timer for the next one. */
  runDue(now: number = this.#clock.now()): void {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > now) break;
      this.#pop();
      if (!top.cancelled) top.run(now);
      if (this.#closed) return;
    }
    this.#arm();
  }

  /** Cancels every task and the timer; later `schedule` calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#heap = [];
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #arm(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    const next = this.#heap[0];
    if (this.#timer !== undefined) {
      if (next !== undefined && next.at === this.#timerAt) return;
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
    }
    if (next === undefined) return;
    this.#timerAt = next.at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.runDue();
    }, Math.max(0, next.at - this.#clock.now()));
  }

  #less(a: Task, b: Task): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(task: Task): void {
    const heap = this.#heap;
    heap.push(task);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.#less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.#less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
