/**
 * Command line entry of the conformance suites:
 *
 * ```sh
 * deno run -A testing/conformance/main.ts broker mqtt://host:port [--v5 | --v311] [--json] [--junit FILE]
 *   [--only ID_OR_AREA]... [--timeout MS] [--deviations mosquitto]
 * deno run -A testing/conformance/main.ts client tern|mqttjs [--v5 | --v311] [--json] [--junit FILE]
 *   [--only ID_OR_AREA]... [--timeout MS] [--deviations mqttjs]
 * ```
 *
 * Without `--v5` or `--v311` both MQTT 3.1.1 and 5.0 run. Prints the table (or the JSON
 * report with `--json`), writes JUnit XML to FILE with `--junit`, and exits with status
 * 1 when a scenario fails (unless `--deviations mosquitto` names it as one of Mosquitto's
 * documented deviations), 2 on a usage error.
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import process from "node:process";
import { type ConformanceReport, runBrokerConformance } from "./broker_suite.ts";
import { MOSQUITTO_DEVIATIONS } from "./mosquitto_deviations.ts";
import { MQTTJS_DEVIATIONS } from "./mqttjs_deviations.ts";
import { runClientConformance } from "./client_suite.ts";
import type { ClientAdapter } from "./client_adapter.ts";
import { ternAdapter } from "./adapters/tern.ts";
import { formatTable, toJson, toJUnitXml } from "./report.ts";
import type { SuiteVersion } from "./scenario.ts";

/**
 * Usage text of {@link main}.
 *
 * @example Show the usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { USAGE } from "./main.ts";
 * assert.match(USAGE, /--junit FILE/);
 * ```
 */
export const USAGE =
  `Usage: conformance broker URL [--v5 | --v311] [--json] [--junit FILE] [--only ID]...
       [--timeout MS] [--deviations mosquitto]
       conformance client tern|mqttjs [same flags] [--deviations mqttjs]

Runs the broker conformance suite against the broker at URL (mqtt://, mqtts://, ws://, wss://),
or the client conformance suite against tern's client or MQTT.js (npm mqtt, a dev dependency).
  --v5          MQTT 5.0 scenarios only      --v311       MQTT 3.1.1 scenarios only
  --json        print the report as JSON     --junit FILE write JUnit XML to FILE
  --only ID     only scenarios with this statement id, area or name (repeatable)
  --timeout MS  wait at most MS for each answer of the broker (default 2500)
  --deviations mosquitto  accept Mosquitto's documented deviations (MOSQUITTO_DEVIATIONS.md)
  --deviations mqttjs     accept MQTT.js's documented deviations (MQTTJS_DEVIATIONS.md)
Exit status: 0 all passed or skipped (or failed as a documented deviation), 1 a scenario
failed, 2 usage error.`;

/**
 * What {@link parseArgs} understood.
 *
 * @example What parseArgs returns
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConformanceArgs, parseArgs } from "./main.ts";
 * const args: ConformanceArgs = parseArgs(["broker", "mqtt://127.0.0.1:1883", "--json"]);
 * assert.equal(args.json, true);
 * ```
 */
export interface ConformanceArgs {
  /** The suite: "broker" or "client". */
  suite: "broker" | "client";
  /** Broker URL, or for the client suite the client: "tern" or "mqttjs". */
  url: string;
  /** Versions to run. */
  versions: SuiteVersion[];
  /** Print JSON instead of the table. */
  json: boolean;
  /** File for JUnit XML. */
  junit: string | undefined;
  /** Selection (statement ids, areas, names). */
  only: string[];
  /** Milliseconds per answer. */
  timeoutMs: number | undefined;
  /** Known deviations to accept: "mosquitto" or "mqttjs" (see {@link MQTTJS_DEVIATIONS}). */
  deviations: "mosquitto" | "mqttjs" | undefined;
}

/**
 * Parses the command line; throws TypeError on a usage error.
 *
 * @example Parse a command line
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./main.ts";
 * const args = parseArgs(["broker", "mqtt://127.0.0.1:1883", "--v5", "--junit", "out.xml"]);
 * assert.deepEqual(args.versions, [5]);
 * assert.equal(args.junit, "out.xml");
 * assert.equal(parseArgs(["client", "mqttjs"]).url, "mqttjs");
 * assert.throws(() => parseArgs(["client"]), TypeError);
 * assert.throws(() => parseArgs(["client", "paho"]), TypeError);
 * ```
 */
export function parseArgs(argv: readonly string[]): ConformanceArgs {
  const [suite, url, ...rest] = argv;
  if (suite !== "broker" && suite !== "client") {
    throw new TypeError(
      `Cannot run the conformance suite "${suite ?? ""}": the suites are: broker, client`,
    );
  }
  if (suite === "client" && (url === undefined || url.startsWith("--"))) {
    throw new TypeError(
      'Cannot run the conformance suite "client" without a client: the suites are: broker, client (tern or mqttjs)',
    );
  }
  if (suite === "client" && url !== "tern" && url !== "mqttjs") {
    throw new TypeError(
      `Cannot run the client conformance suite as the clients are: tern, mqttjs: current value is ${
        url ?? "nothing"
      }`,
    );
  }
  if (url === undefined || url.startsWith("--")) {
    throw new TypeError("Cannot run the broker conformance suite without a broker URL");
  }
  const args: ConformanceArgs = {
    suite,
    url,
    versions: [4, 5],
    json: false,
    junit: undefined,
    only: [],
    timeoutMs: undefined,
    deviations: undefined,
  };
  const value = (flag: string, index: number): string => {
    const v = rest[index];
    if (v === undefined) throw new TypeError(`Cannot use ${flag} without a value`);
    return v;
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    if (flag === "--v5") args.versions = [5];
    else if (flag === "--v311" || flag === "--v4") args.versions = [4];
    else if (flag === "--json") args.json = true;
    else if (flag === "--junit") args.junit = value(flag, ++i);
    else if (flag === "--only") args.only.push(value(flag, ++i));
    else if (flag === "--deviations") {
      const name = value(flag, ++i);
      if (name !== "mosquitto" && name !== "mqttjs") {
        throw new TypeError(
          `Cannot use --deviations as the known lists are: mosquitto, mqttjs: current value is ${name}`,
        );
      }
      args.deviations = name;
    } else if (flag === "--timeout") {
      const ms = Number(value(flag, ++i));
      if (!(Number.isInteger(ms) && ms > 0)) {
        throw new TypeError(
          `Cannot use --timeout as it must be a positive integer: current value is ${rest[i]}`,
        );
      }
      args.timeoutMs = ms;
    } else {throw new TypeError(
        `Cannot run the ${suite} conformance suite with the unknown flag ${flag}`,
      );}
  }
  return args;
}

/**
 * Where {@link main} writes: defaults are stdout and the file system.
 *
 * @example Capture the output
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MainIo } from "./main.ts";
 * const printed: string[] = [];
 * const io: MainIo = { out: (text) => printed.push(text) };
 * io.out?.("hello");
 * assert.deepEqual(printed, ["hello"]);
 * ```
 */
export interface MainIo {
  /** Prints one block of text. */
  out?: (text: string) => void;
  /** Writes the JUnit XML file. */
  writeFile?: (path: string, data: string) => Promise<void>;
}

/**
 * Runs the command line `argv` (without the program name), printing through `io.out`
 * (default stdout) and returning the exit status.
 *
 * @example A usage error
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./main.ts";
 * const lines: string[] = [];
 * assert.equal(await main(["nope"], { out: (line) => lines.push(line) }), 2);
 * assert.match(lines.join("\n"), /Usage: conformance broker URL/);
 * ```
 */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<number> {
  const out = io.out ?? ((text: string) => void process.stdout.write(`${text}\n`));
  const write = io.writeFile ?? writeFile;
  let args: ConformanceArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    out(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  let report: ConformanceReport;
  try {
    report = args.suite === "client"
      ? await runClientConformance(await loadAdapter(args.url), {
        versions: args.versions,
        only: args.only,
        ...(args.deviations === "mqttjs" ? { deviations: MQTTJS_DEVIATIONS } : {}),
        ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
      })
      : await runBrokerConformance(args.url, {
        versions: args.versions,
        only: args.only,
        ...(args.deviations === "mosquitto" ? { deviations: MOSQUITTO_DEVIATIONS } : {}),
        ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
      });
  } catch (error) {
    out(
      `Cannot run the ${args.suite} conformance suite: ${
        error instanceof Error ? error.message : error
      }`,
    );
    return 2;
  }
  out(args.json ? toJson(report) : formatTable(report));
  if (args.junit !== undefined) await write(args.junit, toJUnitXml(report));
  const unexplained = report.results.filter((r) =>
    r.outcome === "fail" && (args.deviations === undefined || r.deviation === undefined)
  );
  return unexplained.length > 0 || report.summary.total === 0 ? 1 : 0;
}

/**
 * The adapter of a client named on the command line. MQTT.js is loaded on demand through
 * a computed specifier, so the published module graph never includes the dev dependency.
 */
async function loadAdapter(name: string): Promise<ClientAdapter> {
  if (name === "tern") return ternAdapter;
  const specifier = ["./adapters", `${name}.ts`].join("/");
  const module = await import(specifier) as { mqttjsAdapter: ClientAdapter };
  return module.mqttjsAdapter;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
