/**
 * `tern bench`: throughput and latency against any broker. One client subscribes, another
 * publishes N messages at QoS q with at most W unfinished (or sent and not yet received)
 * at a time; each payload starts
 * with its send time, so the subscriber measures the end-to-end latency of every message.
 * A progress bar goes to standard error when it is a terminal; the summary table (or
 * JSON) to standard output.
 *
 * @module
 */

import type { QoS } from "../lib/packet/types.ts";
import { validateTopicName } from "../lib/topic.ts";
import type { MqttClient } from "../mod.ts";
import { type FlagSpec, parseArgs, type ParsedArgs } from "./args.ts";
import { CONNECTION_FLAGS, CONNECTION_USAGE, openClient, planConnection } from "./connection.ts";
import type { CliIo } from "./io.ts";

const BENCH_FLAGS: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  { key: "topic", short: "t", long: "topic" },
  { key: "qos", short: "q", long: "qos" },
  { key: "count", short: "n", long: "count" },
  { key: "size", short: "s", long: "size" },
  { key: "window", short: "w", long: "inflight" },
  { key: "timeout", short: "W", long: "timeout" },
  { key: "json", long: "json", values: 0 },
  { key: "noProgress", long: "no-progress", values: 0 },
];

/**
 * The help text of `tern bench`.
 *
 * @example Show the synopsis
 * ```ts
 * import assert from "node:assert/strict";
 * import { BENCH_USAGE } from "./bench.ts";
 * assert.match(BENCH_USAGE, /^Usage: tern bench/);
 * ```
 */
export const BENCH_USAGE = `Usage: tern bench [-n COUNT] [-q QOS] [-s SIZE] [-w INFLIGHT] [flags]

Measures throughput and end-to-end latency: one client subscribes, another publishes.
  -n, --count N          messages to publish (default 10000)
  -q, --qos 0|1|2        quality of service (default 0)
  -s, --size BYTES       payload size, at least 8 (default 64)
  -w, --inflight N       most messages unfinished, or sent and not yet received (default 100)
  -t, --topic TOPIC      topic to use (default tern/bench/<random>)
  -W, --timeout S        give up when nothing moves for S seconds (default 10)
  --json                 print the results as JSON
  --no-progress          no progress bar, even on a terminal
Exit status 1 when QoS 1 or 2 messages were lost, or the run stalled before the end.

${CONNECTION_USAGE}`;

/** What `tern bench` measured. */
export interface BenchResult {
  /** The broker URL. */
  url: string;
  /** Protocol level (3, 4 or 5). */
  protocolVersion: number;
  /** QoS of the messages. */
  qos: number;
  /** Payload size in bytes. */
  size: number;
  /** Messages published (fewer than asked for when the run stalled). */
  published: number;
  /** Seconds from the first publication until every one was done for its QoS. */
  publishSeconds: number;
  /** Messages the subscriber received. */
  received: number;
  /** Seconds from the first publication until the last message arrived. */
  receiveSeconds: number;
  /** Messages that never arrived. */
  lost: number;
  /** End-to-end latency in milliseconds: min, p50, p90, p99, max, mean. */
  latency: { min: number; p50: number; p90: number; p99: number; max: number; mean: number };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index]!;
}

/**
 * Summarizes latencies (milliseconds) as min, p50, p90, p99, max and mean.
 *
 * @example Percentiles of ten samples
 * ```ts
 * import assert from "node:assert/strict";
 * import { latencySummary } from "./bench.ts";
 * const summary = latencySummary(Float64Array.from([10, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
 * assert.deepEqual(summary, { min: 1, p50: 5, p90: 9, p99: 10, max: 10, mean: 5.5 });
 * ```
 */
export function latencySummary(samples: Float64Array): BenchResult["latency"] {
  const sorted = samples.slice().sort();
  let sum = 0;
  for (const sample of sorted) sum += sample;
  return {
    min: sorted[0] ?? 0,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length === 0 ? 0 : sum / sorted.length,
  };
}

/**
 * The summary table of a run.
 *
 * @example A table of a lossless run
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBench } from "./bench.ts";
 * const table = formatBench({
 *   url: "mqtt://127.0.0.1:1883", protocolVersion: 5, qos: 1, size: 64,
 *   published: 1000, publishSeconds: 0.5, received: 1000, receiveSeconds: 0.5, lost: 0,
 *   latency: { min: 0.1, p50: 1, p90: 2, p99: 3, max: 4, mean: 1.2 },
 * });
 * assert.match(table, /published\s+1000\s+0\.500\s+2000/);
 * assert.match(table, /lost 0/);
 * ```
 */
export function formatBench(result: BenchResult): string {
  const version = result.protocolVersion === 5
    ? "MQTT 5"
    : result.protocolVersion === 4
    ? "MQTT 3.1.1"
    : "MQTT 3.1";
  const row = (name: string, count: number, seconds: number) => {
    const rate = seconds > 0 ? count / seconds : 0;
    const megabytes = rate * result.size / 1e6;
    return `  ${name.padEnd(10)}${String(count).padStart(10)}${seconds.toFixed(3).padStart(10)}${
      rate.toFixed(0).padStart(11)
    }${megabytes.toFixed(2).padStart(9)}`;
  };
  const l = result.latency;
  const ms = (n: number) => n.toFixed(2).padStart(9);
  return [
    `tern bench: ${result.published} messages of ${result.size} B at QoS ${result.qos}, ${result.url} (${version})`,
    "",
    `  ${"".padEnd(10)}${"messages".padStart(10)}${"seconds".padStart(10)}${"msg/s".padStart(11)}${
      "MB/s".padStart(9)
    }`,
    row("published", result.published, result.publishSeconds),
    row("received", result.received, result.receiveSeconds),
    "",
    `  ${"latency ms".padEnd(10)}${
      ["min", "p50", "p90", "p99", "max", "mean"].map((h) => h.padStart(9)).join("")
    }`,
    `  ${"".padEnd(10)}${ms(l.min)}${ms(l.p50)}${ms(l.p90)}${ms(l.p99)}${ms(l.max)}${ms(l.mean)}`,
    "",
    `  lost ${result.lost}`,
  ].join("\n");
}

function progressBar(done: number, total: number, started: number): string {
  const width = 30;
  const fraction = total === 0 ? 1 : done / total;
  const filled = Math.round(fraction * width);
  const seconds = (performance.now() - started) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  return `\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${
    (fraction * 100).toFixed(0).padStart(3)
  }% ${done}/${total} ${rate.toFixed(0)} msg/s`;
}

/**
 * Runs `tern bench` with `argv` (the words after "bench"); resolves with the exit status.
 *
 * @example Sizes below 8 bytes leave no room for the send time
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * import { runBench } from "./bench.ts";
 * await assert.rejects(runBench(["-s", "4"], memoryIo()), /'-s' must be an integer from 8/);
 * ```
 */
export async function runBench(argv: readonly string[], io: CliIo): Promise<number> {
  const args: ParsedArgs = parseArgs(argv, BENCH_FLAGS, "benchmark");
  if (args.has("help")) {
    await io.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) {
    args.fail(`'${args.positionals[0]}' is not a flag (see --help)`);
  }
  const count = args.integer("count", 1, 100_000_000) ?? 10_000;
  const size = args.integer("size", 8, 16 * 1024 * 1024) ?? 64;
  const window = args.integer("window", 1, 65535) ?? 100;
  const qos = (args.integer("qos", 0, 2) ?? 0) as QoS;
  const idle = (args.integer("timeout", 1, 2_147_483) ?? 10) * 1000;
  const plan = await planConnection(args, "bench");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const topic = args.string("topic") ?? plan.topic ?? `tern/bench/${random}`;
  try {
    validateTopicName(topic);
  } catch (error) {
    args.fail(`'-t' is not a valid topic name: ${(error as Error).message}`);
  }
  const id = plan.options.clientId ?? "tern-bench";
  const clients: MqttClient[] = [];
  const progress = io.stderrIsTTY && !args.has("noProgress");
  let ticker: ReturnType<typeof setInterval> | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  try {
    const subscriber = await openClient(plan, io, {
      clientId: `${id}-s`,
      highWaterMark: Math.max(100, window * 2),
    });
    clients.push(subscriber);
    const publisher = await openClient(plan, io, { clientId: `${id}-p` });
    clients.push(publisher);
    const subscription = await subscriber.subscribe(topic, { qos, signal: io.signal });
    if ((subscription.reasonCodes[0] ?? 0) >= 0x80) {
      throw new Error(
        `The server refused the subscription to '${topic}' (0x${
          subscription.reasonCodes[0]!.toString(16)
        })`,
      );
    }

    const latencies = new Float64Array(count);
    let sent = 0;
    let received = 0;
    let inflight = 0;
    let failure: { error: unknown } | undefined;
    let stalled = false;
    const started = performance.now();
    let lastArrival = started;
    let lastProgress = started;
    // The publishing loop is the only waiter: it sleeps until something changes.
    let notify: (() => void) | undefined;
    const poke = () => {
      const wake = notify;
      notify = undefined;
      wake?.();
    };
    const changed = () => new Promise<void>((resolve) => notify = resolve);

    const receiving = (async () => {
      for await (const message of subscription) {
        const payload = message.payload;
        if (payload.length < 8) continue;
        const sentAt = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
        lastArrival = lastProgress = performance.now();
        if (received < count) latencies[received] = lastArrival - sentAt;
        received++;
        poke();
        if (received >= count) return;
      }
    })();
    receiving.catch(() => {});
    watchdog = setInterval(() => {
      if (performance.now() - lastProgress > idle) {
        stalled = true;
        poke();
      }
    }, Math.min(idle, 200));
    if (progress) {
      ticker = setInterval(() => io.error(progressBar(received, count, started)), 100);
    }

    // At most `window` publications unfinished, and at most `window` messages published
    // but not yet received: the publisher and the subscriber share this process, so an
    // unbounded publisher would starve the subscriber and only measure the broker's queue.
    const settle = () => {
      inflight--;
      lastProgress = performance.now();
      poke();
    };
    while (sent < count && failure === undefined && !stalled) {
      if (inflight >= window || sent - received >= window) {
        await changed();
        continue;
      }
      const payload = new Uint8Array(size);
      new DataView(payload.buffer).setFloat64(0, performance.now());
      inflight++;
      sent++;
      publisher.publish(topic, payload, { qos, signal: io.signal }).then(settle, (error) => {
        failure ??= { error };
        settle();
      });
    }
    while (inflight > 0 && !stalled) await changed();
    if (failure !== undefined) throw failure.error;
    const published = performance.now();
    while (received < sent && !stalled) await changed();
    if (ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
      io.error(`${progressBar(received, count, started)}\n`);
    }
    const got = Math.min(received, sent);
    const result: BenchResult = {
      url: plan.url,
      protocolVersion: plan.options.protocolVersion ?? 5,
      qos,
      size,
      published: sent,
      publishSeconds: (published - started) / 1000,
      received: got,
      receiveSeconds: got === 0 ? 0 : (lastArrival - started) / 1000,
      lost: sent - got,
      latency: latencySummary(latencies.subarray(0, got)),
    };
    await io.write(`${args.has("json") ? JSON.stringify(result) : formatBench(result)}\n`);
    return (result.lost > 0 && qos > 0) || sent < count ? 1 : 0;
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    clearInterval(watchdog);
    await Promise.all(clients.map((client) => client.disconnect().catch(() => {})));
  }
}
