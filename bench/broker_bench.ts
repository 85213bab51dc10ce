/**
 * Broker benchmark: tern's broker on Bun and on Deno side by side with aedes (Node) and
 * Mosquitto, driven by the same clients, in one run.
 *
 * ```sh
 * deno run -A bench/broker_bench.ts [--quick] [--only=throughput,fanout,idle]
 *   [--brokers=tern-bun,tern-deno,aedes,mosquitto] [--qos=0,1,2] [--runs=N] [--json]
 * bun run bench/broker_bench.ts [same flags]
 * ```
 *
 * Whichever runtime runs this script, both tern brokers are started (as child processes
 * of `broker/main.ts --port 0 --max-queued 10000000`), so the figures do not depend on it.
 * Peers as configured: Mosquitto with `max_inflight_messages 100` and
 * `max_queued_messages 0` (no queue limit), aedes with its defaults; tern keeps its
 * default of 100 in flight and gets a queue limit it never reaches, like the others (its
 * default of 1000 would drop QoS 1 messages whenever the publisher outruns the subscriber).
 *
 * - throughput: an MQTT.js subscriber and an MQTT.js publisher, each its own Node process
 *   (bench/_mqttjs_client.mjs), MQTT 3.1.1, 64-byte payloads; QoS 0: 100k messages, QoS 1
 *   and 2: 50k; the publisher keeps at most 100 publishes in flight. Rate = messages
 *   delivered / (last receive - first publish). Broker CPU per delivered message is read
 *   from /proc (user + system time of the broker process); the clients report their own
 *   CPU time, which tells whether the clients or the broker bound the rate.
 * - fanout: 1000 subscribers (light raw-socket clients in one Node process,
 *   bench/_raw_clients.mjs) on one topic at QoS 0, an MQTT.js publisher sends 200
 *   messages (window 100); deliveries/s = deliveries / (last receive - first publish).
 * - idle: 10k connections (raw CONNECT, keep alive 0) from Node processes; memory per
 *   connection = (broker RSS after - RSS before) / connections, in KiB, where "before"
 *   is taken with a warm-up tenth of the connections already open (one-time costs such
 *   as code compiled on the first connections are not per connection; the log line also
 *   gives the figure from a fresh broker).
 *
 * Before the measured throughput runs, each broker gets an unmeasured warm-up run of a
 * tenth of each count (a broker runs for long; its JIT is warm).
 *
 * Throughput and fan-out: every broker runs at once and the measurements alternate
 * between them, `--runs` times (default 3; 1 with `--quick`), and the median is
 * reported: on a shared machine the load changes, and this way it hits every broker alike.
 *
 * `--quick` divides every count by 10 (and fan-out to 200 subscribers x 50 messages).
 * Every run starts fresh broker processes on 127.0.0.1 and kills every process it
 * started before it exits. Targets (from the broker issue): tern / aedes >= 2,
 * tern / Mosquitto >= 0.8, idle connection <= 4 KiB.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { canConnect, freePort, median, writeMosquittoConfig } from "./_common.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DENO = join(ROOT, "node_modules/.bin/deno");
const BUN = join(ROOT, "node_modules/.bin/bun");
const NODE = "node";
const MQTTJS_CLIENT = join(ROOT, "bench/_mqttjs_client.mjs");
const RAW_CLIENTS = join(ROOT, "bench/_raw_clients.mjs");
const AEDES = join(ROOT, "bench/_aedes_broker.mjs");
const CLOCK_TICKS_PER_SECOND = 100;

// ---------------------------------------------------------------------------------------
// options

const BROKERS = ["tern-bun", "tern-deno", "aedes", "mosquitto"] as const;
type BrokerName = typeof BROKERS[number];
const SECTIONS = ["throughput", "fanout", "idle"] as const;
type Section = typeof SECTIONS[number];

interface Options {
  quick: boolean;
  json: boolean;
  runs: number;
  sections: Section[];
  brokers: BrokerName[];
  qos: (0 | 1 | 2)[];
  counts: { 0: number; 1: number; 2: number };
  window: number;
  payloadBytes: number;
  idleConnections: number;
  fanoutSubscribers: number;
  fanoutMessages: number;
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = {
    quick: false,
    json: false,
    runs: 3,
    sections: [...SECTIONS],
    brokers: [...BROKERS],
    qos: [0, 1, 2],
    counts: { 0: 100_000, 1: 50_000, 2: 50_000 },
    window: 100,
    payloadBytes: 64,
    idleConnections: 10_000,
    fanoutSubscribers: 1000,
    fanoutMessages: 200,
  };
  const list = <T extends string>(arg: string, allowed: readonly T[]): T[] => {
    const [flag, value = ""] = arg.split("=", 2) as [string, string];
    const items = value.split(",").filter((item) => item !== "");
    for (const item of items) {
      if (!allowed.includes(item as T)) {
        throw new TypeError(
          `Cannot run the broker bench as '${flag}' must list ${
            allowed.join(", ")
          }: current value is ${value}`,
        );
      }
    }
    if (items.length === 0) {
      throw new TypeError(`Cannot run the broker bench as '${flag}' is empty`);
    }
    return items as T[];
  };
  for (const arg of args) {
    if (arg === "--quick") options.quick = true;
    else if (arg === "--json") options.json = true;
    else if (arg.startsWith("--runs=")) {
      const runs = Number(arg.slice("--runs=".length));
      if (!Number.isInteger(runs) || runs < 1) {
        throw new RangeError(
          `Cannot run the broker bench as '--runs' must be a positive integer: current value is ${
            arg.slice("--runs=".length)
          }`,
        );
      }
      options.runs = runs;
    } else if (arg.startsWith("--only=")) options.sections = list(arg, SECTIONS);
    else if (arg.startsWith("--brokers=")) options.brokers = list(arg, BROKERS);
    else if (arg.startsWith("--qos=")) {
      options.qos = list(arg, ["0", "1", "2"] as const).map(Number) as (0 | 1 | 2)[];
    } else {
      throw new TypeError(
        `Cannot run the broker bench as argument '${arg}' is unknown: expected --quick, --json, ` +
          "--runs=N, --only=throughput,fanout,idle, --brokers=tern-bun,tern-deno,aedes,mosquitto or --qos=0,1,2",
      );
    }
  }
  if (options.quick) {
    if (!args.some((arg) => arg.startsWith("--runs="))) options.runs = 1;
    options.counts = { 0: 10_000, 1: 5_000, 2: 5_000 };
    options.idleConnections = 1000;
    options.fanoutSubscribers = 200;
    options.fanoutMessages = 50;
  }
  return options;
}

// ---------------------------------------------------------------------------------------
// processes

const children = new Set<ChildProcess>();

/** A child process whose stdout is read line by line. */
class Proc {
  readonly child: ChildProcess;
  readonly name: string;
  #lines: string[] = [];
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #stderr = "";
  #exited: Promise<number | null>;

  constructor(name: string, command: string, args: string[], options: { stdin?: boolean } = {}) {
    this.name = name;
    this.child = spawn(command, args, {
      cwd: ROOT,
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    children.add(this.child);
    let partial = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (text: string) => {
      partial += text;
      let newline;
      while ((newline = partial.indexOf("\n")) !== -1) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        const waiter = this.#waiters.findIndex((w) => w.test(line));
        if (waiter === -1) this.#lines.push(line);
        else this.#waiters.splice(waiter, 1)[0]!.resolve(line);
      }
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-2000);
    });
    this.#exited = new Promise((resolve) => {
      this.child.on("exit", (code) => {
        children.delete(this.child);
        resolve(code);
      });
      this.child.on("error", (error) => {
        this.#stderr += String(error);
        children.delete(this.child);
        resolve(-1);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first line (already read or to come) that passes `test`. */
  line(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const index = this.#lines.findIndex(test);
    if (index !== -1) return Promise.resolve(this.#lines.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(`${this.name}: no expected output in ${timeoutMs} ms; stderr: ${this.#stderr}`),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
      void this.#exited.then((code) => {
        if (this.#waiters.includes(waiter)) {
          clearTimeout(timer);
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(new Error(`${this.name} exited (${code}) early; stderr: ${this.#stderr}`));
        }
      });
    });
  }

  /** The next JSON line. */
  async json<T>(timeoutMs: number): Promise<T> {
    return JSON.parse(await this.line((line) => line.startsWith("{"), timeoutMs)) as T;
  }

  /** SIGTERM, then SIGKILL after a second; resolves once the process is gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin?.end();
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 1000);
    await this.#exited;
    clearTimeout(timer);
  }
}

function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** RSS of a process in KiB. */
function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** User + system CPU time of a process, in milliseconds. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of /proc/PID/stat (utime, stime) are at 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND;
}

// ---------------------------------------------------------------------------------------
// brokers

interface RunningBroker {
  name: BrokerName;
  proc: Proc;
  port: number;
  url: string;
  cleanup?: () => void;
}

async function startBroker(name: BrokerName): Promise<RunningBroker> {
  if (name === "tern-bun" || name === "tern-deno") {
    // Like Mosquitto's `max_queued_messages 0` and aedes: no queue limit to drop at when
    // the publisher outpaces the subscriber (in flight: 100 for tern and Mosquitto).
    const flags = ["broker/main.ts", "--port", "0", "--max-queued", "10000000"];
    const proc = name === "tern-bun"
      ? new Proc(name, BUN, flags)
      : new Proc(name, DENO, ["run", "-A", ...flags]);
    const line = await proc.line((l) => l.includes("listening on"), 30_000);
    const port = Number(/mqtt:\/\/[^ ]+:(\d+)/.exec(line)![1]);
    return { name, proc, port, url: `mqtt://127.0.0.1:${port}` };
  }
  if (name === "aedes") {
    const proc = new Proc(name, NODE, [AEDES]);
    const line = await proc.line((l) => l.startsWith("listening "), 30_000);
    const port = Number(line.split(" ")[1]);
    return { name, proc, port, url: `mqtt://127.0.0.1:${port}` };
  }
  const dir = mkdtempSync(join(tmpdir(), "tern-bench-mosquitto-"));
  const port = await freePort();
  const config = join(dir, "mosquitto.conf");
  writeMosquittoConfig(config, port, ["log_type none"]);
  const proc = new Proc(name, "mosquitto", ["-c", config]);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline || proc.child.exitCode !== null) {
      await proc.stop();
      throw new Error(`mosquitto did not start listening on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    name,
    proc,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function stopBroker(broker: RunningBroker): Promise<void> {
  await broker.proc.stop();
  broker.cleanup?.();
}

// ---------------------------------------------------------------------------------------
// measurements

interface Throughput {
  delivered: number;
  sent: number;
  rate: number;
  /** Broker CPU time per delivered message, µs. */
  cpuUs: number;
  /** Publisher + subscriber CPU time per delivered message, µs (throughput only). */
  clientCpuUs?: number;
}

interface ClientReport {
  received: number;
  first: number;
  last: number;
  cpuMs?: number;
}

async function throughput(
  broker: RunningBroker,
  qos: 0 | 1 | 2,
  count: number,
  options: Options,
  topic: string,
): Promise<Throughput> {
  const sub = new Proc("subscriber", NODE, [
    MQTTJS_CLIENT,
    "sub",
    broker.url,
    topic,
    String(qos),
    String(count),
  ]);
  try {
    await sub.line((l) => l === "ready", 30_000);
    const cpuBefore = cpuMs(broker.proc.pid);
    const pub = new Proc("publisher", NODE, [
      MQTTJS_CLIENT,
      "pub",
      broker.url,
      topic,
      String(qos),
      String(count),
      String(options.window),
      String(options.payloadBytes),
    ]);
    try {
      const [published, received] = await Promise.all([
        pub.json<{ published: number; first: number; last: number; cpuMs?: number }>(300_000),
        sub.json<ClientReport>(300_000),
      ]);
      const cpu = cpuMs(broker.proc.pid) - cpuBefore;
      const seconds = (received.last - published.first) / 1000;
      return {
        delivered: received.received,
        sent: published.published,
        rate: received.received / seconds,
        cpuUs: received.received === 0 ? NaN : cpu * 1000 / received.received,
        clientCpuUs: received.received === 0
          ? NaN
          : ((published.cpuMs ?? NaN) + (received.cpuMs ?? NaN)) * 1000 / received.received,
      };
    } finally {
      await pub.stop();
    }
  } finally {
    await sub.stop();
  }
}

async function fanout(broker: RunningBroker, options: Options): Promise<Throughput> {
  const topic = "bench/fanout";
  const subs = new Proc("fan-out subscribers", NODE, [
    RAW_CLIENTS,
    "fanout",
    String(broker.port),
    String(options.fanoutSubscribers),
    topic,
    String(options.fanoutMessages),
  ], { stdin: true });
  try {
    await subs.line((l) => l.startsWith("ready"), 120_000);
    const cpuBefore = cpuMs(broker.proc.pid);
    const pub = new Proc("publisher", NODE, [
      MQTTJS_CLIENT,
      "pub",
      broker.url,
      topic,
      "0",
      String(options.fanoutMessages),
      String(options.window),
      String(options.payloadBytes),
    ]);
    try {
      const [published, received] = await Promise.all([
        pub.json<{ published: number; first: number; last: number; cpuMs?: number }>(300_000),
        subs.json<ClientReport>(300_000),
      ]);
      const cpu = cpuMs(broker.proc.pid) - cpuBefore;
      return {
        delivered: received.received,
        sent: published.published * options.fanoutSubscribers,
        rate: received.received / ((received.last - published.first) / 1000),
        cpuUs: cpu * 1000 / received.received,
      };
    } finally {
      await pub.stop();
    }
  } finally {
    await subs.stop();
  }
}

interface Idle {
  /** Connections measured (beyond the warm-up batch). */
  connections: number;
  /** RSS of the fresh broker, before any connection. */
  rssStartKiB: number;
  /** RSS with the warm-up batch open: the baseline. */
  rssBeforeKiB: number;
  /** RSS with every connection open. */
  rssAfterKiB: number;
  /** (after - before) / connections. */
  kibPerConnection: number;
  /** (after - start) / all connections, one-time costs included. */
  kibPerConnectionFromStart: number;
}

/**
 * Memory per idle connection: a warm-up batch (a tenth) is opened first, so one-time
 * costs (code compiled on the first connections, heap set-up) are not charged to
 * connections; the figure is the RSS growth from there to all connections open, per
 * added connection. Each batch is its own client process.
 */
async function idle(broker: RunningBroker, options: Options): Promise<Idle> {
  const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const total = options.idleConnections;
  const warm = Math.max(1, Math.floor(total / 10));
  const batch = (count: number) =>
    new Proc("idle clients", NODE, [RAW_CLIENTS, "idle", String(broker.port), String(count)], {
      stdin: true,
    });
  await settle(500);
  const rssStartKiB = rssKiB(broker.proc.pid);
  const first = batch(warm);
  try {
    await first.line((l) => l.startsWith("ready"), 300_000);
    await settle(1000);
    const rssBeforeKiB = rssKiB(broker.proc.pid);
    const rest = batch(total - warm);
    try {
      await rest.line((l) => l.startsWith("ready"), 300_000);
      // Let the broker settle (garbage of the connection storm collected) before reading.
      await settle(2000);
      const rssAfterKiB = rssKiB(broker.proc.pid);
      return {
        connections: total - warm,
        rssStartKiB,
        rssBeforeKiB,
        rssAfterKiB,
        kibPerConnection: (rssAfterKiB - rssBeforeKiB) / (total - warm),
        kibPerConnectionFromStart: (rssAfterKiB - rssStartKiB) / total,
      };
    } finally {
      await rest.stop();
    }
  } finally {
    await first.stop();
  }
}

// ---------------------------------------------------------------------------------------
// main

interface Results {
  throughput: Partial<Record<BrokerName, Partial<Record<0 | 1 | 2, Throughput>>>>;
  fanout: Partial<Record<BrokerName, Throughput>>;
  idle: Partial<Record<BrokerName, Idle>>;
}

async function run(options: Options): Promise<Results> {
  const results: Results = { throughput: {}, fanout: {}, idle: {} };
  const log = (text: string) => {
    if (!options.json) console.error(text);
  };
  const pick = (runs: Throughput[]): Throughput => {
    const rate = median(runs.map((t) => t.rate));
    return runs.find((t) => t.rate === rate) ??
      { ...runs[0]!, rate, cpuUs: median(runs.map((t) => t.cpuUs)) };
  };
  if (options.sections.includes("throughput") || options.sections.includes("fanout")) {
    // Every broker runs at once (an idle broker costs no CPU) and the measurements
    // alternate between them, so that a load change on the machine hits them alike.
    const brokers: RunningBroker[] = [];
    try {
      for (const name of options.brokers) brokers.push(await startBroker(name));
      if (options.sections.includes("throughput")) {
        // Warm-up, not measured: a broker runs for long, so its JIT (and the page cache
        // of every process) is warm; a tenth of each count.
        for (const broker of brokers) {
          for (const qos of options.qos) {
            await throughput(
              broker,
              qos,
              Math.ceil(options.counts[qos] / 10),
              options,
              `bench/warm/${qos}`,
            );
          }
        }
        for (const qos of options.qos) {
          const runs = new Map<BrokerName, Throughput[]>(brokers.map((b) => [b.name, []]));
          for (let r = 0; r < options.runs; r++) {
            for (const broker of brokers) {
              const t = await throughput(
                broker,
                qos,
                options.counts[qos],
                options,
                `bench/qos${qos}/${r}`,
              );
              runs.get(broker.name)!.push(t);
              log(
                `${broker.name} QoS ${qos}: ${
                  fmtRate(t.rate)
                } msg/s, ${t.delivered}/${t.sent} delivered, ${t.cpuUs.toFixed(1)} µs CPU/msg`,
              );
            }
          }
          for (const [name, list] of runs) (results.throughput[name] ??= {})[qos] = pick(list);
        }
      }
      if (options.sections.includes("fanout")) {
        const runs = new Map<BrokerName, Throughput[]>(brokers.map((b) => [b.name, []]));
        for (let r = 0; r < options.runs; r++) {
          for (const broker of brokers) {
            const t = await fanout(broker, options);
            runs.get(broker.name)!.push(t);
            log(
              `${broker.name} fan-out: ${
                fmtRate(t.rate)
              } deliveries/s, ${t.delivered}/${t.sent} delivered, ${
                t.cpuUs.toFixed(2)
              } µs CPU/delivery`,
            );
          }
        }
        for (const [name, list] of runs) results.fanout[name] = pick(list);
      }
    } finally {
      for (const broker of brokers) await stopBroker(broker);
    }
  }
  if (options.sections.includes("idle")) {
    // A fresh broker each, alone, so that its RSS before is a clean baseline.
    for (const name of options.brokers) {
      const broker = await startBroker(name);
      try {
        const result = results.idle[name] = await idle(broker, options);
        log(
          `${name} idle: ${result.kibPerConnection.toFixed(2)} KiB per connection (from start, ` +
            `one-time costs included: ${result.kibPerConnectionFromStart.toFixed(2)})`,
        );
      } finally {
        await stopBroker(broker);
      }
    }
  }
  return results;
}

function fmtRate(rate: number | undefined): string {
  if (rate === undefined || !Number.isFinite(rate)) return "-";
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : `${(rate / 1e3).toFixed(1)}k`;
}

function fmtRatio(a: number | undefined, b: number | undefined, target: number): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return "-";
  }
  const ratio = a / b;
  return `${ratio.toFixed(2)}${ratio >= target ? "" : " (!)"}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)]
    .join("\n");
}

function report(results: Results, options: Options): string {
  const brokers = options.brokers;
  const out: string[] = [];
  const rows: string[][] = [];
  if (options.sections.includes("throughput")) {
    for (const qos of options.qos) {
      rows.push([
        `QoS ${qos} msg/s (${options.counts[qos] / 1000}k)`,
        ...brokers.map((b) => fmtRate(results.throughput[b]?.[qos]?.rate)),
      ]);
    }
    for (const qos of options.qos) {
      rows.push([
        `QoS ${qos} broker CPU µs/msg`,
        ...brokers.map((b) => results.throughput[b]?.[qos]?.cpuUs.toFixed(1) ?? "-"),
      ]);
    }
    for (const qos of options.qos) {
      rows.push([
        `QoS ${qos} MQTT.js clients CPU µs/msg`,
        ...brokers.map((b) => results.throughput[b]?.[qos]?.clientCpuUs?.toFixed(1) ?? "-"),
      ]);
    }
  }
  if (options.sections.includes("fanout")) {
    rows.push([
      `fan-out ${options.fanoutSubscribers}x${options.fanoutMessages} deliveries/s`,
      ...brokers.map((b) => fmtRate(results.fanout[b]?.rate)),
    ]);
    rows.push([
      "fan-out broker CPU µs/delivery",
      ...brokers.map((b) => results.fanout[b]?.cpuUs.toFixed(2) ?? "-"),
    ]);
  }
  if (options.sections.includes("idle")) {
    rows.push([
      `idle ${options.idleConnections / 1000}k: KiB/connection`,
      ...brokers.map((b) => results.idle[b]?.kibPerConnection.toFixed(2) ?? "-"),
    ]);
  }
  out.push(table(["", ...brokers], rows));
  const terns = brokers.filter((b) => b.startsWith("tern"));
  if (terns.length > 0) {
    const ratioRows: string[][] = [];
    for (const tern of terns) {
      const cells = (other: BrokerName, target: number) => [
        ...(options.sections.includes("throughput")
          ? options.qos.map((qos) =>
            fmtRatio(
              results.throughput[tern]?.[qos]?.rate,
              results.throughput[other]?.[qos]?.rate,
              target,
            )
          )
          : []),
        ...(options.sections.includes("fanout")
          ? [fmtRatio(results.fanout[tern]?.rate, results.fanout[other]?.rate, target)]
          : []),
      ];
      const rates = options.sections.includes("throughput") || options.sections.includes("fanout");
      if (rates) {
        if (brokers.includes("aedes")) {
          ratioRows.push([`${tern} / aedes (>= 2)`, ...cells("aedes", 2)]);
        }
        if (brokers.includes("mosquitto")) {
          ratioRows.push([`${tern} / mosquitto (>= 0.8)`, ...cells("mosquitto", 0.8)]);
        }
        // The broker's own cost, free of the clients' speed: how many times less CPU per
        // message tern spends than each peer.
        for (const other of brokers.filter((b) => !b.startsWith("tern"))) {
          ratioRows.push([
            `${other} CPU / ${tern} CPU per message`,
            ...(options.sections.includes("throughput")
              ? options.qos.map((qos) =>
                fmtRatio(
                  results.throughput[other]?.[qos]?.cpuUs,
                  results.throughput[tern]?.[qos]?.cpuUs,
                  0,
                )
              )
              : []),
            ...(options.sections.includes("fanout")
              ? [fmtRatio(results.fanout[other]?.cpuUs, results.fanout[tern]?.cpuUs, 0)]
              : []),
          ]);
        }
      }
      if (options.sections.includes("idle")) {
        const kib = results.idle[tern]?.kibPerConnection;
        ratioRows.push([
          `${tern} KiB per idle connection (<= 4)`,
          kib === undefined ? "-" : `${kib.toFixed(2)}${kib <= 4 ? "" : " (!)"}`,
        ]);
      }
    }
    const header = [
      "ratio",
      ...(options.sections.includes("throughput") ? options.qos.map((q) => `QoS ${q}`) : []),
      ...(options.sections.includes("fanout") ? ["fan-out"] : []),
    ];
    const width = Math.max(header.length, ...ratioRows.map((r) => r.length));
    const padded = ratioRows.map((r) => [...r, ...Array(width - r.length).fill("")]);
    out.push("", table([...header, ...Array(width - header.length).fill("")], padded));
    out.push("", "(!) marks a ratio that misses its target.");
  }
  return out.join("\n");
}

if (import.meta.main) {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  try {
    const results = await run(options);
    if (options.json) console.log(JSON.stringify(results, null, 2));
    else {
      console.log(report(results, options));
      console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  } finally {
    killAll();
  }
  process.exit(0);
}
