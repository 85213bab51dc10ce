/**
 * What the benchmark client workers (bench/_client_worker.ts, bench/_floor_worker.ts)
 * share: their command line, clocks, the JSON result line, and the subscriber's count of
 * messages with its idle timeout. The measurement points live here once, so every
 * library is measured the same way.
 *
 * @module
 */

import process from "node:process";

/** No message for this long after the first: the subscriber reports what arrived. */
export const IDLE_MS = 3000;

/** A worker's command line: `LIBRARY ROLE PORT TOPIC QOS COUNT [WINDOW PAYLOAD_BYTES]`. */
export interface WorkerArgs {
  library: string;
  role: string;
  port: number;
  topic: string;
  qos: 0 | 1 | 2;
  count: number;
  /** Publishes kept unsettled at most (1 when not given). */
  windowSize: number;
  /** The payload of every publish (64 bytes of "a" when no size is given). */
  payload: Uint8Array;
}

/**
 * Parses a worker's arguments (`process.argv.slice(2)`).
 *
 * @example Parse a publisher's command line
 * ```ts
 * import assert from "node:assert/strict";
 * import { workerArgs } from "./_worker_common.ts";
 * const args = workerArgs(["tern", "pub", "1883", "t/x", "1", "500", "100", "8"]);
 * assert.equal(args.qos, 1);
 * assert.equal(args.windowSize, 100);
 * assert.equal(args.payload.length, 8);
 * ```
 */
export function workerArgs(argv: readonly string[]): WorkerArgs {
  const [library = "", role = "", port, topic = "", qos, count, windowText, sizeText] = argv;
  return {
    library,
    role,
    port: Number(port),
    topic,
    qos: Number(qos) as 0 | 1 | 2,
    count: Number(count),
    windowSize: Number(windowText ?? 1),
    payload: new Uint8Array(Number(sizeText ?? 64)).fill(0x61),
  };
}

/**
 * Wall-clock milliseconds with sub-millisecond precision, comparable across processes.
 *
 * @example Two readings in order
 * ```ts
 * import assert from "node:assert/strict";
 * import { now } from "./_worker_common.ts";
 * const a = now();
 * assert.ok(now() >= a && a > Date.UTC(2020, 0, 1));
 * ```
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The process's user + system CPU time so far, in microseconds.
 *
 * @example It only grows
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuNow } from "./_worker_common.ts";
 * const before = cpuNow();
 * for (let i = 0; i < 1e5; i++) Math.sqrt(i);
 * assert.ok(cpuNow() >= before);
 * ```
 */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Writes a worker's result as one JSON line on stdout.
 *
 * @example Report a result
 * ```ts ignore
 * import { report } from "./_worker_common.ts";
 * report({ published: 10, first: 0, last: 1, cpu: 5 });
 * ```
 */
export function report(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** The subscriber role's bookkeeping; see {@link subscriberCount}. */
export interface SubscriberCount {
  /** Call for every message received. */
  onMessage(): void;
  /** Call once subscribed: starts the CPU clock, prints "ready", arms the idle timeout. */
  start(): void;
}

/**
 * Counts a subscriber's messages and calls `done` once with `{received, first, last,
 * cpu}` when `count` arrived, or when none came for {@link IDLE_MS} after the first (QoS 0
 * may lose some). `cpu` covers the time since `start()`.
 *
 * @example Count three messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { subscriberCount } from "./_worker_common.ts";
 * let result: { received: number; first: number; last: number } | undefined;
 * const counter = subscriberCount(3, (r) => result = r);
 * for (let i = 0; i < 3; i++) counter.onMessage();
 * assert.equal(result?.received, 3);
 * assert.ok(result!.last >= result!.first);
 * ```
 */
export function subscriberCount(
  count: number,
  done: (result: { received: number; first: number; last: number; cpu: number }) => void,
): SubscriberCount {
  let received = 0;
  let first = 0;
  let last = 0;
  let cpuStart = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done({ received, first, last, cpu: cpuNow() - cpuStart });
  };
  return {
    onMessage() {
      last = now();
      if (received++ === 0) first = last;
      if (received === count) finish();
    },
    start() {
      cpuStart = cpuNow();
      process.stdout.write("ready\n");
      let seen = -1;
      const idle = setInterval(() => {
        if (finished) clearInterval(idle);
        else if (received > 0 && received === seen && now() - last >= IDLE_MS) finish();
        seen = received;
      }, IDLE_MS);
    },
  };
}
