/**
 * The broker conformance suite: {@link BROKER_SCENARIOS}, every scenario by area, and
 * {@link runBrokerConformance}, which runs them against any broker URL and returns a
 * {@link ConformanceReport}.
 *
 * @module
 */

import type { TlsOptions } from "../../lib/transport/types.ts";
import type { Deviation } from "./mosquitto_deviations.ts";
import { CONNECT_SCENARIOS } from "./connect.ts";
import { EXPIRY_SCENARIOS } from "./expiry.ts";
import { FLOW_CONTROL_SCENARIOS } from "./flow_control.ts";
import { MALFORMED_SCENARIOS } from "./malformed.ts";
import { PUBLISH_SCENARIOS } from "./publish.ts";
import { RETAINED_SCENARIOS } from "./retained.ts";
import { runSuite } from "./_runner.ts";
import { type Area, type Scenario, ScenarioContext, type SuiteVersion } from "./scenario.ts";
import { SESSION_SCENARIOS } from "./sessions.ts";
import { SHARED_SCENARIOS } from "./shared.ts";
import { TOPIC_ALIAS_SCENARIOS } from "./topic_alias.ts";
import { WILDCARD_SCENARIOS } from "./wildcards.ts";
import { WILL_SCENARIOS } from "./will.ts";

/**
 * Every broker scenario, grouped by area.
 *
 * @example Count the scenarios per version
 * ```ts
 * import assert from "node:assert/strict";
 * import { BROKER_SCENARIOS } from "./broker_suite.ts";
 * assert.ok(BROKER_SCENARIOS.filter((s) => s.version === 5).length > 40);
 * ```
 */
export const BROKER_SCENARIOS: readonly Scenario[] = [
  ...CONNECT_SCENARIOS,
  ...PUBLISH_SCENARIOS,
  ...RETAINED_SCENARIOS,
  ...WILL_SCENARIOS,
  ...SESSION_SCENARIOS,
  ...WILDCARD_SCENARIOS,
  ...SHARED_SCENARIOS,
  ...TOPIC_ALIAS_SCENARIOS,
  ...FLOW_CONTROL_SCENARIOS,
  ...EXPIRY_SCENARIOS,
  ...MALFORMED_SCENARIOS,
];

/**
 * The outcome of one scenario.
 *
 * @example Outcomes
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Outcome } from "./broker_suite.ts";
 * const outcomes: Outcome[] = ["pass", "fail", "skip"];
 * assert.equal(outcomes.length, 3);
 * ```
 */
export type Outcome = "pass" | "fail" | "skip";

/**
 * One row of the report.
 *
 * @example A failed scenario
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScenarioResult } from "./broker_suite.ts";
 * const result: ScenarioResult = {
 *   name: "connect.takeover", id: "MQTT-3.1.4-3", title: "Session taken over", area: "connect",
 *   version: 5, outcome: "fail", detail: "no DISCONNECT", durationMs: 12,
 * };
 * assert.equal(result.outcome, "fail");
 * ```
 */
export interface ScenarioResult {
  /** The scenario's unique key, like "connect.ping". */
  name: string;
  /** Spec statement id(s). */
  id: string;
  /** What the broker must do. */
  title: string;
  /** Area of the scenario. */
  area: Area;
  /** 4 (MQTT 3.1.1) or 5 (MQTT 5.0). */
  version: SuiteVersion;
  /** Pass, fail or skip. */
  outcome: Outcome;
  /** Why it failed or was skipped; empty on a pass. */
  detail: string;
  /** Milliseconds the scenario took. */
  durationMs: number;
  /** On a failure that a known deviation explains (see `deviations`): why the broker departs. */
  deviation?: string;
}

/**
 * Counts of a report.
 *
 * @example An all-green summary
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConformanceSummary } from "./broker_suite.ts";
 * const summary: ConformanceSummary = { total: 2, passed: 2, failed: 0, skipped: 0 };
 * assert.equal(summary.failed, 0);
 * ```
 */
export interface ConformanceSummary {
  /** Scenarios run. */
  total: number;
  /** Scenarios passed. */
  passed: number;
  /** Scenarios failed. */
  failed: number;
  /** Scenarios skipped. */
  skipped: number;
}

/**
 * What {@link runBrokerConformance} returns.
 *
 * @example An empty report
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConformanceReport } from "./broker_suite.ts";
 * const report: ConformanceReport = {
 *   url: "mqtt://127.0.0.1:1883", startedAt: new Date(0).toISOString(), durationMs: 0, results: [],
 *   summary: { total: 0, passed: 0, failed: 0, skipped: 0 },
 * };
 * assert.equal(report.results.length, 0);
 * ```
 */
export interface ConformanceReport {
  /** The broker URL (for the client suite: the client under test, like "client tern"). */
  url: string;
  /** Which suite made the report; absent means the broker suite. */
  suite?: "broker" | "client";
  /** ISO time the run started. */
  startedAt: string;
  /** Milliseconds the run took. */
  durationMs: number;
  /** One result per scenario run, in suite order. */
  results: ScenarioResult[];
  /** Counts. */
  summary: ConformanceSummary;
}

/**
 * Options of {@link runBrokerConformance}.
 *
 * @example MQTT 5 retained scenarios only
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BrokerConformanceOptions } from "./broker_suite.ts";
 * const options: BrokerConformanceOptions = { versions: [5], only: ["retained"], timeoutMs: 5_000 };
 * assert.deepEqual(options.versions, [5]);
 * ```
 */
export interface BrokerConformanceOptions {
  /** Protocol levels to run: 4 (MQTT 3.1.1) and/or 5 (MQTT 5.0). Default both. */
  versions?: SuiteVersion[];
  /**
   * Runs only the scenarios matching one entry: a statement id ("MQTT-3.1.4-3"), an
   * area ("retained"), a scenario name ("connect.ping") or a prefix of a name ("will.").
   */
  only?: string[];
  /** Milliseconds to wait for one answer of the broker (default 2,500). */
  timeoutMs?: number;
  /** TLS settings for an `mqtts:` URL. */
  tls?: TlsOptions;
  /** Scenarios run at the same time (default 8). Each uses its own ids and topics. */
  concurrency?: number;
  /** Called after each scenario, for progress output. */
  onResult?: (result: ScenarioResult) => void;
  /**
   * Known departures of the broker under test from the spec (such as
   * `MOSQUITTO_DEVIATIONS`): a failure they list carries its explanation in `deviation`.
   */
  deviations?: readonly Deviation[];
  /** The scenarios to choose from (default {@link BROKER_SCENARIOS}). */
  scenarios?: readonly Scenario[];
}

/**
 * Counts the outcomes of `results`.
 *
 * @example Count outcomes
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./broker_suite.ts";
 * assert.deepEqual(summarize([]), { total: 0, passed: 0, failed: 0, skipped: 0 });
 * ```
 */
export function summarize(results: readonly ScenarioResult[]): ConformanceSummary {
  const count = (outcome: Outcome) => results.filter((r) => r.outcome === outcome).length;
  return {
    total: results.length,
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
  };
}

/**
 * Whether `scenario` is selected by an `only` list (see {@link BrokerConformanceOptions}).
 *
 * @example Select by area
 * ```ts
 * import assert from "node:assert/strict";
 * import { BROKER_SCENARIOS, selects } from "./broker_suite.ts";
 * const ping = BROKER_SCENARIOS.find((s) => s.name === "connect.ping")!;
 * assert.ok(selects(["connect"], ping));
 * assert.ok(!selects(["will"], ping));
 * ```
 */
export function selects(
  only: readonly string[] | undefined,
  scenario: Pick<Scenario, "area" | "name" | "id">,
): boolean {
  if (only === undefined || only.length === 0) return true;
  return only.some((entry) =>
    entry === scenario.area || entry === scenario.name || scenario.name.startsWith(entry) ||
    scenario.id.split(/,\s*/).includes(entry)
  );
}

/**
 * Runs the broker conformance suite against the broker at `url` (mqtt://, mqtts://,
 * ws://, wss://). Scenarios run a few at a time, each with its own client ids and topics;
 * a broker that does not answer fails the scenario after `timeoutMs`, never hangs the run.
 * Every connection a scenario opens is closed when it ends.
 *
 * @example Run the connect scenarios against an in-process broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { runBrokerConformance } from "./broker_suite.ts";
 * import { withBroker } from "../with_broker.ts";
 * await using broker = await withBroker();
 * const report = await runBrokerConformance(broker.url, { versions: [5], only: ["connect.ping"] });
 * assert.deepEqual(report.summary, { total: 1, passed: 1, failed: 0, skipped: 0 });
 * ```
 */
export async function runBrokerConformance(
  url: string,
  options: BrokerConformanceOptions = {},
): Promise<ConformanceReport> {
  const report = await runSuite({
    suite: "broker",
    options,
    scenarios: BROKER_SCENARIOS,
    concurrency: 8,
    context: (scenario, index, { runId, timeoutMs }) =>
      new ScenarioContext({
        url,
        version: scenario.version,
        timeoutMs,
        runId,
        index,
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      }),
  });
  return { url, ...report };
}
