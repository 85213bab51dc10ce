/**
 * The client conformance suite: {@link runClientConformance} runs
 * {@link CLIENT_SCENARIOS} against a client library plugged in through a
 * {@link ClientAdapter}, each scenario with its own scripted server on a free port, and
 * returns the same {@link ConformanceReport} as the broker suite (so `formatTable`,
 * `toJson` and `toJUnitXml` print it).
 *
 * @module
 */

import {
  type ConformanceReport,
  type Outcome,
  type ScenarioResult,
  selects,
  summarize,
} from "./broker_suite.ts";
import type { ClientAdapter } from "./client_adapter.ts";
import { type ClientScenario, ClientScenarioContext } from "./client_scenario.ts";
import { CLIENT_SCENARIOS } from "./client_scenarios.ts";
import type { Deviation } from "./mosquitto_deviations.ts";
import { ScenarioFailure, ScenarioSkip, type SuiteVersion } from "./scenario.ts";

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
  const versions = options.versions ?? [4, 5];
  for (const version of versions) {
    if (version !== 4 && version !== 5) {
      throw new RangeError(
        `Cannot run the client conformance suite as 'versions' must hold 4 or 5: current value is ${
          JSON.stringify(version)
        }`,
      );
    }
  }
  const timeoutMs = options.timeoutMs ?? 2_500;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const chosen = (options.scenarios ?? CLIENT_SCENARIOS).filter((s) =>
    versions.includes(s.version) && selects(options.only, s)
  );
  const runId = Math.random().toString(36).slice(2, 8);
  const started = Date.now();
  const results: ScenarioResult[] = new Array(chosen.length);
  let next = 0;
  const worker = async () => {
    while (next < chosen.length) {
      const index = next++;
      const scenario = chosen[index]!;
      const result = await runOne(
        scenario,
        new ClientScenarioContext({
          adapter,
          version: scenario.version,
          timeoutMs,
          runId,
          index,
        }),
      );
      const known = options.deviations?.find((d) =>
        d.name === result.name && d.version === result.version
      );
      if (result.outcome === "fail" && known !== undefined) result.deviation = known.why;
      results[index] = result;
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chosen.length) }, worker));
  return {
    url: `client ${adapter.name}`,
    suite: "client",
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
    summary: summarize(results),
  };
}

async function runOne(
  scenario: ClientScenario,
  ctx: ClientScenarioContext,
): Promise<ScenarioResult> {
  const started = Date.now();
  const limit = ctx.timeoutMs * 4 + (scenario.extraMs ?? 0);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ScenarioFailure(`the scenario did not finish within ${limit} ms`)),
      limit,
    );
  });
  let outcome: Outcome = "pass";
  let detail = "";
  try {
    await Promise.race([scenario.run(ctx), deadline]);
  } catch (error) {
    if (error instanceof ScenarioSkip) {
      outcome = "skip";
      detail = error.message;
    } else {
      outcome = "fail";
      detail = error instanceof Error ? error.message : String(error);
    }
  } finally {
    clearTimeout(timer);
    await ctx.cleanup();
  }
  const { name, id, title, area, version } = scenario;
  return { name, id, title, area, version, outcome, detail, durationMs: Date.now() - started };
}
