/**
 * Client benchmark: tern's client side by side with MQTT.js (npm `mqtt`), each on Deno and
 * on Bun, against the same Mosquitto, in one run.
 *
 * ```sh
 * deno run -A bench/client_bench.ts [--quick | --scale=N] [--runtimes=deno,bun]
 *   [--libraries=tern,mqttjs,floor] [--floor] [--qos=0,1,2] [--runs=N] [--no-rtt] [--json]
 * bun run bench/client_bench.ts [same flags]
 * ```
 *
 * Libraries: `tern`, `mqttjs` (MQTT.js) and `floor`, a minimal hand-written MQTT 3.1.1
 * client on the runtime's own socket API (bench/_floor_worker.ts) that shows what the
 * runtime's sockets cost by themselves. By default only tern and MQTT.js run; `floor` runs
 * when `--libraries` names it, and `--floor` adds it to whatever `--libraries` chose. With
 * floor figures the tables gain "floor msg/s", "floor CPU µs/msg (pub+sub)" and
 * "tern/floor CPU" columns (and a floor round-trip column); the targets stay tern vs
 * MQTT.js. Read floor figures with their traffic pattern in mind: a subscriber's cost per
 * message is mostly its cost per wake-up divided by the messages each read brings, and
 * that depends on how the publisher writes. The floor publisher writes once per read
 * batch, so at QoS 1 and 2 it makes more system calls than tern's (which holds packets
 * for the next answer while many are awaited) and costs more; at QoS 0 it writes a whole
 * window at once, so Mosquitto forwards in big chunks and the floor subscriber reads
 * about a hundred messages per wake-up. Fed by the same publisher (a tern one), a floor
 * and a tern subscriber on Deno both read about 2.5 QoS 0 messages per wake-up and both
 * cost 5-6 µs per message.
 *
 * Whichever runtime runs this script, the clients run as child processes of the runtimes
 * `--runtimes` names (both by default), so the figures do not depend on it.
 *
 * - throughput: one subscriber process and one publisher process of the same runtime and
 *   library (bench/_client_worker.ts), MQTT 3.1.1, 64-byte payloads; QoS 0: 100k messages,
 *   QoS 1 and 2: 50k; the publisher keeps at most 100 publishes unsettled. Rate = messages
 *   delivered / (last receive - first publish). Client CPU per message = (publisher CPU +
 *   subscriber CPU over their measured intervals, from `process.cpuUsage()`) / delivered.
 * - round trip: one process publishes 2000 QoS 1 messages one at a time and times each
 *   publish call to its PUBACK (after 200 unmeasured ones); p50 / p99 in microseconds.
 *
 * Mosquitto runs from a generated config: `listener PORT 127.0.0.1`, `allow_anonymous
 * true`, `persistence false`, `max_inflight_messages 100`, `max_queued_messages 0` (and
 * nothing else: a client must be fast against a default-configured broker, Nagle and
 * all). With `--runs=N` each figure is the median of N runs. `--quick` divides the counts
 * by 10; `--scale=N` multiplies them by N: each client is a fresh process, so at the
 * issue's counts (about a second per run) JIT compilation is a good part of the CPU
 * measured (a third of a Bun subscriber's), while at `--scale=5` the figures approach a
 * long-running client's. Targets (from the client issue): tern / MQTT.js >= 1.5x delivered msg/s at QoS 1
 * and 2 and <= 0.5x CPU per message, on both runtimes.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { canConnect, freePort, median, writeMosquittoConfig } from "./_common.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNTIME_COMMANDS = {
  deno: [join(ROOT, "node_modules/.bin/deno"), "run", "-A"],
  bun: [join(ROOT, "node_modules/.bin/bun"), "run"],
} as const;
const WORKERS = {
  tern: join(ROOT, "bench/_client_worker.ts"),
  mqttjs: join(ROOT, "bench/_client_worker.ts"),
  floor: join(ROOT, "bench/_floor_worker.ts"),
} as const;
const MOSQUITTO_CANDIDATES = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "mosquitto"];
const RUN_TIMEOUT_MS = 180_000;

// ---------------------------------------------------------------------------------------
// options

const RUNTIMES = ["deno", "bun"] as const;
type Runtime = typeof RUNTIMES[number];
const LIBRARIES = ["tern", "mqttjs", "floor"] as const;
type Library = typeof LIBRARIES[number];
/** The libraries that run when `--libraries` is not given. */
const DEFAULT_LIBRARIES: readonly Library[] = ["tern", "mqttjs"];

/** The command that runs `library`'s worker on `runtime`, up to its LIBRARY argument. */
const workerCommand = (runtime: Runtime, library: Library): string[] => [
  ...RUNTIME_COMMANDS[runtime],
  WORKERS[library],
  library,
];
type QoS = 0 | 1 | 2;

interface Options {
  json: boolean;
  rtt: boolean;
  runs: number;
  runtimes: Runtime[];
  libraries: Library[];
  qos: QoS[];
  counts: Record<QoS, number>;
  rttCount: number;
  window: number;
  payloadBytes: number;
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = {
    json: false,
    rtt: true,
    runs: 1,
    runtimes: [...RUNTIMES],
    libraries: [...DEFAULT_LIBRARIES],
    qos: [0, 1, 2],
    counts: { 0: 100_000, 1: 50_000, 2: 50_000 },
    rttCount: 2000,
    window: 100,
    payloadBytes: 64,
  };
  let quick = false;
  let floor = false;
  const list = <T extends string | number>(arg: string, allowed: readonly T[]): T[] => {
    const [flag, value = ""] = arg.split("=", 2) as [string, string];
    const items = value.split(",").filter((item) => item !== "");
    const found = items.map((item) => allowed.find((each) => String(each) === item));
    if (items.length === 0 || found.includes(undefined)) {
      throw new TypeError(
        `Cannot run the client bench as '${flag}' must list ${
          allowed.join(", ")
        }: current value is ${value}`,
      );
    }
    return found as T[];
  };
  for (const arg of args) {
    if (arg === "--quick") quick = true;
    else if (arg.startsWith("--scale=")) {
      const scale = Number(arg.slice("--scale=".length));
      if (!Number.isInteger(scale) || scale < 1) {
        throw new RangeError(
          `Cannot run the client bench as '--scale' must be a positive integer: current value is ${
            arg.slice("--scale=".length)
          }`,
        );
      }
      options.counts = { 0: 100_000 * scale, 1: 50_000 * scale, 2: 50_000 * scale };
    } else if (arg === "--json") options.json = true;
    else if (arg === "--no-rtt") options.rtt = false;
    else if (arg === "--floor") floor = true;
    else if (arg.startsWith("--runs=")) {
      const runs = Number(arg.slice("--runs=".length));
      if (!Number.isInteger(runs) || runs < 1) {
        throw new RangeError(
          `Cannot run the client bench as '--runs' must be a positive integer: current value is ${
            arg.slice("--runs=".length)
          }`,
        );
      }
      options.runs = runs;
    } else if (arg.startsWith("--runtimes=")) options.runtimes = list(arg, RUNTIMES);
    else if (arg.startsWith("--libraries=")) options.libraries = list(arg, LIBRARIES);
    else if (arg.startsWith("--qos=")) options.qos = list(arg, [0, 1, 2] as const);
    else {
      throw new TypeError(`Cannot run the client bench as '${arg}' is not a known flag`);
    }
  }
  if (floor && !options.libraries.includes("floor")) options.libraries.push("floor");
  if (quick) {
    options.counts = { 0: 10_000, 1: 5_000, 2: 5_000 };
    options.rttCount = 300;
  }
  return options;
}

// ---------------------------------------------------------------------------------------
// processes

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

/** A child process whose stdout is read line by line. */
class Child {
  readonly process: ChildProcess;
  readonly name: string;
  #lines: string[] = [];
  #waiters: ((line: string | undefined) => void)[] = [];
  #partial = "";
  #stderr = "";
  #exited = false;

  constructor(name: string, command: readonly string[]) {
    this.name = name;
    const [file, ...args] = command;
    this.process = spawn(file!, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.add(this.process);
    this.process.stdout!.setEncoding("utf8");
    this.process.stdout!.on("data", (text: string) => {
      const parts = (this.#partial + text).split("\n");
      this.#partial = parts.pop()!;
      for (const line of parts) this.#push(line);
    });
    this.process.stderr!.setEncoding("utf8");
    this.process.stderr!.on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-4000);
    });
    this.process.on("exit", () => {
      this.#exited = true;
      children.delete(this.process);
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
    this.process.on("error", () => {
      this.#exited = true;
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
  }

  #push(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(line);
    else this.#lines.push(line);
  }

  /** The next stdout line; rejects when the process ends first or after `timeout` ms. */
  async line(timeout = RUN_TIMEOUT_MS): Promise<string> {
    const queued = this.#lines.shift();
    if (queued !== undefined) return queued;
    if (this.#exited) throw this.#failure();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const line = await new Promise<string | undefined>((resolve) => {
      this.#waiters.push(resolve);
      timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(resolve), 1);
        resolve(undefined);
      }, timeout);
    });
    clearTimeout(timer);
    if (line === undefined) throw this.#failure();
    return line;
  }

  async json<T>(): Promise<T> {
    for (;;) {
      const line = await this.line();
      if (line.startsWith("{")) return JSON.parse(line) as T;
    }
  }

  #failure(): Error {
    return new Error(`${this.name} ended without the expected output: ${this.#stderr.trim()}`);
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGKILL");
    }
  }
}

async function startMosquitto(dir: string): Promise<{ port: number; child: Child }> {
  const port = await freePort();
  const config = join(dir, "mosquitto.conf");
  writeMosquittoConfig(config, port);
  let lastError: unknown;
  for (const binary of MOSQUITTO_CANDIDATES) {
    const child = new Child("mosquitto", [binary, "-c", config]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.process.exitCode !== null || child.process.signalCode !== null) break;
      if (await canConnect(port)) return { port, child };
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    lastError = new Error(`${binary} did not listen on ${port}`);
    child.kill();
  }
  throw lastError;
}

// ---------------------------------------------------------------------------------------
// measurements

interface SubResult {
  received: number;
  first: number;
  last: number;
  cpu: number;
}
interface PubResult {
  published: number;
  first: number;
  last: number;
  cpu: number;
}

interface Throughput {
  /** Delivered messages per second. */
  rate: number;
  delivered: number;
  /** Client CPU microseconds per delivered message: publisher + subscriber. */
  cpuPerMessage: number;
  pubCpuPerMessage: number;
  subCpuPerMessage: number;
}

let runNumber = 0;

async function throughput(
  port: number,
  runtime: Runtime,
  library: Library,
  qos: QoS,
  options: Options,
): Promise<Throughput> {
  const topic = `bench/${process.pid}/${++runNumber}`;
  const count = options.counts[qos];
  const base = workerCommand(runtime, library);
  const sub = new Child(`${library} sub on ${runtime}`, [
    ...base,
    "sub",
    String(port),
    topic,
    String(qos),
    String(count),
  ]);
  let pub: Child | undefined;
  try {
    const ready = await sub.line();
    if (ready !== "ready") throw new Error(`${sub.name} said ${JSON.stringify(ready)}`);
    pub = new Child(`${library} pub on ${runtime}`, [
      ...base,
      "pub",
      String(port),
      topic,
      String(qos),
      String(count),
      String(options.window),
      String(options.payloadBytes),
    ]);
    const [published, received] = await Promise.all([
      pub.json<PubResult>(),
      sub.json<SubResult>(),
    ]);
    const delivered = received.received;
    if (qos > 0 && delivered !== count) {
      throw new Error(`${library} on ${runtime} QoS ${qos}: ${delivered} of ${count} delivered`);
    }
    return {
      rate: delivered / ((received.last - published.first) / 1000),
      delivered,
      cpuPerMessage: (published.cpu + received.cpu) / delivered,
      pubCpuPerMessage: published.cpu / delivered,
      subCpuPerMessage: received.cpu / delivered,
    };
  } finally {
    sub.kill();
    pub?.kill();
  }
}

interface RoundTrip {
  p50: number;
  p99: number;
}

async function roundTrip(
  port: number,
  runtime: Runtime,
  library: Library,
  options: Options,
): Promise<RoundTrip> {
  const child = new Child(`${library} rtt on ${runtime}`, [
    ...workerCommand(runtime, library),
    "rtt",
    String(port),
    `bench/${process.pid}/rtt/${++runNumber}`,
    "1",
    String(options.rttCount),
    "1",
    String(options.payloadBytes),
  ]);
  try {
    const { samples } = await child.json<{ samples: number[] }>();
    samples.sort((a, b) => a - b);
    const at = (q: number) =>
      samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
    return { p50: at(0.5), p99: at(0.99) };
  } finally {
    child.kill();
  }
}

function medianOf<T extends object>(runs: T[]): T {
  const result = {} as Record<string, number>;
  for (const key of Object.keys(runs[0]!)) {
    result[key] = median(runs.map((run) => (run as Record<string, number>)[key]!));
  }
  return result as T;
}

// ---------------------------------------------------------------------------------------
// report

const fmtRate = (rate: number | undefined) =>
  rate === undefined ? "-" : `${Math.round(rate / 100) / 10}k`;
const fmtMicros = (value: number | undefined) =>
  value === undefined ? "-" : value >= 10 ? value.toFixed(1) : value.toFixed(2);
const fmtRatio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? "-" : `${(a / b).toFixed(2)}x`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------
// main

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "tern-client-bench-"));
  const results: Record<string, Throughput> = {};
  const trips: Record<string, RoundTrip> = {};
  const key = (runtime: Runtime, library: Library, qos?: QoS) =>
    qos === undefined ? `${runtime}/${library}` : `${runtime}/${library}/${qos}`;
  let mosquitto: Child | undefined;
  try {
    const started = await startMosquitto(dir);
    mosquitto = started.child;
    const { port } = started;
    for (const runtime of options.runtimes) {
      for (const qos of options.qos) {
        const runs: Record<string, Throughput[]> = {};
        for (let run = 0; run < options.runs; run++) {
          // Interleaved, so that a noisy moment hurts both libraries alike.
          for (const library of options.libraries) {
            const result = await throughput(port, runtime, library, qos, options);
            (runs[library] ??= []).push(result);
            if (!options.json) {
              console.error(
                `  ${runtime} ${library} QoS ${qos}: ${fmtRate(result.rate)} msg/s, ${
                  fmtMicros(result.cpuPerMessage)
                } µs CPU/msg`,
              );
            }
          }
        }
        for (const library of options.libraries) {
          results[key(runtime, library, qos)] = medianOf(runs[library]!);
        }
      }
      if (options.rtt) {
        for (const library of options.libraries) {
          const runs: RoundTrip[] = [];
          for (let run = 0; run < options.runs; run++) {
            runs.push(await roundTrip(port, runtime, library, options));
          }
          trips[key(runtime, library)] = medianOf(runs);
        }
      }
    }
  } finally {
    mosquitto?.kill();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }

  if (options.json) {
    console.log(JSON.stringify({ throughput: results, roundTrip: trips }, null, 2));
    return 0;
  }
  const withFloor = Object.keys(results).some((each) => each.includes("/floor/"));
  const rows = [[
    "runtime",
    "QoS",
    "tern msg/s",
    "MQTT.js msg/s",
    "ratio",
    "tern CPU µs/msg (pub+sub)",
    "MQTT.js CPU µs/msg (pub+sub)",
    "ratio",
    ...(withFloor ? ["floor msg/s", "floor CPU µs/msg (pub+sub)", "tern/floor CPU"] : []),
  ]];
  const misses: string[] = [];
  for (const runtime of options.runtimes) {
    for (const qos of options.qos) {
      const tern = results[key(runtime, "tern", qos)];
      const peer = results[key(runtime, "mqttjs", qos)];
      const floor = results[key(runtime, "floor", qos)];
      const cpu = (each: Throughput | undefined) =>
        each === undefined
          ? "-"
          : `${fmtMicros(each.cpuPerMessage)} (${fmtMicros(each.pubCpuPerMessage)}+${
            fmtMicros(each.subCpuPerMessage)
          })`;
      rows.push([
        runtime,
        String(qos),
        fmtRate(tern?.rate),
        fmtRate(peer?.rate),
        fmtRatio(tern?.rate, peer?.rate),
        cpu(tern),
        cpu(peer),
        fmtRatio(tern?.cpuPerMessage, peer?.cpuPerMessage),
        ...(withFloor
          ? [fmtRate(floor?.rate), cpu(floor), fmtRatio(tern?.cpuPerMessage, floor?.cpuPerMessage)]
          : []),
      ]);
      if (tern && peer && qos > 0) {
        if (tern.rate < 1.5 * peer.rate) {
          misses.push(`${runtime} QoS ${qos} msg/s ${fmtRatio(tern.rate, peer.rate)} < 1.5x`);
        }
        if (tern.cpuPerMessage > 0.5 * peer.cpuPerMessage) {
          misses.push(
            `${runtime} QoS ${qos} CPU/msg ${
              fmtRatio(tern.cpuPerMessage, peer.cpuPerMessage)
            } > 0.5x`,
          );
        }
      }
    }
  }
  console.log(
    `\nClients -> Mosquitto, MQTT 3.1.1, ${options.payloadBytes}-byte payloads, window ${options.window}, ` +
      `QoS 0/1/2: ${options.counts[0]}/${options.counts[1]}/${options.counts[2]} messages` +
      (options.runs > 1 ? `, median of ${options.runs} runs` : "") + "\n",
  );
  console.log(table(rows));
  if (options.rtt) {
    const tripFloor = options.libraries.includes("floor");
    const tripRows = [[
      "runtime",
      "tern p50 / p99 µs",
      "MQTT.js p50 / p99 µs",
      "p50 ratio",
      ...(tripFloor ? ["floor p50 / p99 µs"] : []),
    ]];
    for (const runtime of options.runtimes) {
      const tern = trips[key(runtime, "tern")];
      const peer = trips[key(runtime, "mqttjs")];
      const cell = (each: RoundTrip | undefined) =>
        each === undefined ? "-" : `${each.p50} / ${each.p99}`;
      tripRows.push([
        runtime,
        cell(tern),
        cell(peer),
        fmtRatio(tern?.p50, peer?.p50),
        ...(tripFloor ? [cell(trips[key(runtime, "floor")])] : []),
      ]);
    }
    console.log(
      `\nQoS 1 round trip, one message at a time, publish call -> PUBACK (${options.rttCount} samples)\n`,
    );
    console.log(table(tripRows));
  }
  if (options.libraries.includes("tern") && options.libraries.includes("mqttjs")) {
    console.log(
      misses.length === 0
        ? "\nTargets met (>= 1.5x msg/s and <= 0.5x CPU/msg at QoS 1 and 2)."
        : `\nTargets missed: ${misses.join("; ")}`,
    );
  }
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`client bench failed: ${(error as Error)?.stack ?? error}`);
} finally {
  killAll();
}
process.exit(code);
