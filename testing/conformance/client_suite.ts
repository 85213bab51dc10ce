/**
 * The client conformance suite: {@link runClientConformance} runs
 * {@link CLIENT_SCENARIOS} against a client library plugged in through a
 * {@link ClientAdapter}, each scenario with its own scripted server on a free port, and
 * returns the same {@link ConformanceReport} as the broker suite (so `formatTable`,
 * `toJson` and `toJUnitXml` print it).
 *
 * @module
 */

import type { ConformanceReport, ScenarioResult } from "./broker_suite.ts";
import { runSuite } from "./_runner.ts";
import type { ClientAdapter } from "./client_adapter.ts";
import { type ClientScenario, ClientScenarioContext } from "./client_scenario.ts";
import { CLIENT_SCENARIOS } from "./client_scenarios.ts";
import type { Deviation } from "./mosquitto_deviations.ts";
import type { SuiteVersion } from "./scenario.ts";

/**
 * Options of {@link runClientConformance}.
 *
 * @example MQTT 5 publish scenarios only
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientConformanceOptions } from "./client_suite.ts";
 * const options: ClientConformanceOptions = { versions: [5], only: ["publish"] };
 * assert.deepEqual(options.versions, [5]);
 * ```
 */
export interface ClientConformanceOptions {
  /** Protocol levels to run: 4 (MQTT 3.1.1) and/or 5 (MQTT 5.0). Default both. */
  versions?: SuiteVersion[];
  /** Runs only scenarios matching a statement id, an area, a name or a name prefix. */
  only?: string[];
  /** Milliseconds to wait for one packet or reaction of the client (default 2,500). */
  timeoutMs?: number;
  /** Scenarios run at the same time (default 4). Each has its own server. */
  concurrency?: number;
  /** Called after each scenario, for progress output. */
  onResult?: (result: ScenarioResult) => void;
  /** Known departures of the client from the spec: a failure they list is explained. */
  deviations?: readonly Deviation[];
  /** The scenarios to choose from (default {@link CLIENT_SCENARIOS}). */
  scenarios?: readonly ClientScenario[];
}

/**
 * Runs the client conformance suite against the client behind `adapter`. A client that
 * does not react fails the scenario after `timeoutMs`, never hangs the run; every client,
 * connection and listener a scenario opens is closed when it ends.
 *
 * @example Check tern's client on the QoS 2 scenarios
 * ```ts
 * import assert from "node:assert/strict";
 * import { runClientConformance } from "./client_suite.ts";
 * import { ternAdapter } from "./adapters/tern.ts";
 * const report = await runClientConformance(ternAdapter, { versions: [4], only: ["publish.qos2-exactly-once"] });
 * assert.deepEqual(report.summary, { total: 1, passed: 1, failed: 0, skipped: 0 });
 * ```
 */
export async function runClientConformance(
  adapter: ClientAdapter,
  options: ClientConformanceOptions = {},
): Promise<ConformanceReport> {
  const report = await runSuite({
    suite: "client",
    options,
    scenarios: CLIENT_SCENARIOS,
    concurrency: 4,
    context: (scenario, index, { runId, timeoutMs }) =>
      new ClientScenarioContext({ adapter, version: scenario.version, timeoutMs, runId, index }),
  });
  return { url: `client ${adapter.name}`, suite: "client", ...report };
}
