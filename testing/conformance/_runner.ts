/**
 * What the broker and client conformance suites share: choosing scenarios, running them a
 * few at a time with a deadline each, and collecting the results.
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
import type { Deviation } from "./mosquitto_deviations.ts";
import { type Scenario, ScenarioFailure, ScenarioSkip, type SuiteVersion } from "./scenario.ts";

/**
 * A scenario of either suite (a broker {@link Scenario} or a client scenario), run with a
 * context of type `C`.
 *
 * @example A scenario that always passes
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunnableScenario } from "./_runner.ts";
 * const scenario: RunnableScenario<unknown> = {
 *   name: "x.pass", id: "MQTT-1.0.0-1", title: "passes", area: "connect", version: 5,
 *   run: () => Promise.resolve(),
 * };
 * assert.equal(scenario.version, 5);
 * ```
 */
export type RunnableScenario<C> = Omit<Scenario, "run"> & {
  /** Throws to fail, throws a ScenarioSkip to skip, returns to pass. */
  run(ctx: C): Promise<void>;
};

/**
 * A context a scenario runs with: closed with `cleanup()` when the scenario ends.
 *
 * @example The smallest context
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunnableContext } from "./_runner.ts";
 * const ctx: RunnableContext = { cleanup: () => Promise.resolve() };
 * assert.equal(typeof ctx.cleanup, "function");
 * ```
 */
export interface RunnableContext {
  /** Closes what the scenario opened. */
  cleanup(): Promise<void>;
}

/**
 * The options both suites take (see `BrokerConformanceOptions`), before their defaults.
 *
 * @example MQTT 5 only, two at a time
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SuiteOptions } from "./_runner.ts";
 * const options: SuiteOptions<never> = { versions: [5], concurrency: 2 };
 * assert.deepEqual(options.versions, [5]);
 * ```
 */
export interface SuiteOptions<S> {
  /** Protocol levels to run: 4 and/or 5. Default both. */
  versions?: readonly SuiteVersion[];
  /** Selection by statement id, area, name or name prefix (see `selects`). */
  only?: readonly string[];
  /** Milliseconds one wait may take (default 2,500); a scenario gets four plus its `extraMs`. */
  timeoutMs?: number;
  /** Scenarios run at the same time (default: the suite's). */
  concurrency?: number;
  /** Known departures from the spec: a failure they list is explained. */
  deviations?: readonly Deviation[];
  /** Called after each scenario. */
  onResult?: (result: ScenarioResult) => void;
  /** The scenarios to choose from (default: the suite's). */
  scenarios?: readonly S[];
}

/**
 * How {@link runSuite} runs: the caller's options, the suite's defaults, and how to make
 * each scenario's context.
 *
 * @example Settings of a run
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SuiteRun } from "./_runner.ts";
 * const run: Omit<SuiteRun<never, never>, "context"> = {
 *   suite: "broker", options: { versions: [4] }, scenarios: [], concurrency: 8,
 * };
 * assert.equal(run.suite, "broker");
 * ```
 */
export interface SuiteRun<S extends RunnableScenario<C>, C extends RunnableContext> {
  /** Which suite runs, for messages. */
  suite: "broker" | "client";
  /** What the caller asked for. */
  options: SuiteOptions<S>;
  /** The suite's scenarios, used unless `options.scenarios` is given. */
  scenarios: readonly S[];
  /** The suite's concurrency, used unless `options.concurrency` is given. */
  concurrency: number;
  /**
   * The context of the `index`th chosen scenario; `runId` is the same for the whole run,
   * `timeoutMs` is the wait for one packet or reaction.
   */
  context(scenario: S, index: number, run: { runId: string; timeoutMs: number }): C;
}

/**
 * Validates the versions, runs the chosen scenarios a few at a time and returns the
 * report without its `url` (and `suite`), results in suite order.
 *
 * @example Run two scenarios, one failing
 * ```ts
 * import assert from "node:assert/strict";
 * import { runSuite } from "./_runner.ts";
 * const base = { id: "MQTT-1.0.0-1", title: "t", area: "connect", version: 4 } as const;
 * const report = await runSuite({
 *   suite: "client",
 *   options: { versions: [4], timeoutMs: 1_000 },
 *   scenarios: [
 *     { ...base, name: "a.pass", run: () => Promise.resolve() },
 *     { ...base, name: "a.fail", run: () => Promise.reject(new Error("no")) },
 *   ],
 *   concurrency: 2,
 *   context: () => ({ cleanup: () => Promise.resolve() }),
 * });
 * assert.deepEqual(report.results.map((r) => r.outcome), ["pass", "fail"]);
 * assert.deepEqual(report.summary, { total: 2, passed: 1, failed: 1, skipped: 0 });
 * ```
 */
export async function runSuite<S extends RunnableScenario<C>, C extends RunnableContext>(
  run: SuiteRun<S, C>,
): Promise<Omit<ConformanceReport, "url" | "suite">> {
  const { options } = run;
  const versions = options.versions ?? [4, 5];
  for (const version of versions) {
    if (version !== 4 && version !== 5) {
      throw new RangeError(
        `Cannot run the ${run.suite} conformance suite as 'versions' must hold 4 or 5: current value is ${
          JSON.stringify(version)
        }`,
      );
    }
  }
  const timeoutMs = options.timeoutMs ?? 2_500;
  const concurrency = Math.max(1, options.concurrency ?? run.concurrency);
  const chosen = (options.scenarios ?? run.scenarios).filter((s) =>
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
      const context = run.context(scenario, index, { runId, timeoutMs });
      const result = await runOne(scenario, context, timeoutMs);
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
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
    summary: summarize(results),
  };
}

/** Runs one scenario within its deadline and closes its context. */
async function runOne<C extends RunnableContext>(
  scenario: RunnableScenario<C>,
  ctx: C,
  timeoutMs: number,
): Promise<ScenarioResult> {
  const started = Date.now();
  const limit = timeoutMs * 4 + (scenario.extraMs ?? 0);
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
