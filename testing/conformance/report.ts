/**
 * Reporters for a {@link ConformanceReport}: a readable terminal table, JSON, and JUnit
 * XML for CI systems.
 *
 * @module
 */

import type { ConformanceReport, ScenarioResult } from "./broker_suite.ts";

const MARKS = { pass: "PASS", fail: "FAIL", skip: "SKIP" } as const;

function versionName(version: number): string {
  return version === 5 ? "5.0" : "3.1.1";
}

/**
 * The report as a table: statement id, version, result, title or detail; then a summary
 * line. Failures and skips show their detail instead of the title.
 *
 * @example Print a report
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTable } from "./report.ts";
 * const table = formatTable({
 *   url: "mqtt://127.0.0.1:1883", startedAt: "2026-01-01T00:00:00.000Z", durationMs: 5,
 *   results: [{ name: "connect.ping", id: "MQTT-3.12.4-1", title: "PINGREQ is answered", area: "connect",
 *     version: 4, outcome: "pass", detail: "", durationMs: 5 }],
 *   summary: { total: 1, passed: 1, failed: 0, skipped: 0 },
 * });
 * assert.match(table, /MQTT-3\.12\.4-1 +3\.1\.1 +PASS +PINGREQ is answered/);
 * ```
 */
export function formatTable(report: ConformanceReport): string {
  const rows = report.results.map((r) => [
    r.id,
    versionName(r.version),
    MARKS[r.outcome],
    r.outcome === "pass"
      ? r.title
      : `${r.title}: ${r.detail}${
        r.deviation === undefined ? "" : ` [known deviation: ${r.deviation}]`
      }`,
  ]);
  const header = ["STATEMENT", "MQTT", "RESULT", "CHECK"];
  const widths = [0, 1, 2].map((i) =>
    Math.max(header[i]!.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (row: string[]) =>
    row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd();
  const { total, passed, failed, skipped } = report.summary;
  const known = report.results.filter((r) => r.outcome === "fail" && r.deviation !== undefined);
  const explained = known.length === 0 ? "" : ` (${known.length} known deviations)`;
  return [
    `${report.suite === "client" ? "Client" : "Broker"} conformance: ${report.url}`,
    line(header),
    ...rows.map(line),
    `${total} scenarios: ${passed} passed, ${failed} failed${explained}, ${skipped} skipped (${
      (report.durationMs / 1000).toFixed(1)
    } s)`,
  ].join("\n");
}

/**
 * The report as JSON text (two-space indent).
 *
 * @example Serialize a report
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJson } from "./report.ts";
 * const report = { url: "mqtt://h", startedAt: "2026-01-01T00:00:00.000Z", durationMs: 0, results: [],
 *   summary: { total: 0, passed: 0, failed: 0, skipped: 0 } };
 * assert.deepEqual(JSON.parse(toJson(report)), report);
 * ```
 */
export function toJson(report: ConformanceReport): string {
  return JSON.stringify(report, null, 2);
}

/**
 * Escapes text for XML attribute values and text nodes, dropping characters XML 1.0
 * cannot hold.
 *
 * @example Escape markup
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeXml } from "./report.ts";
 * assert.equal(escapeXml(`<a href="x">&'\u0001`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
 * ```
 */
export function escapeXml(value: string): string {
  return value
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function testcase(result: ScenarioResult, suite: "broker" | "client" = "broker"): string {
  const name = escapeXml(`[${result.id}] ${result.title}`);
  const classname = `${suite}.mqtt${result.version === 5 ? "5" : "311"}.${result.area}`;
  const time = (result.durationMs / 1000).toFixed(3);
  const open = `    <testcase name="${name}" classname="${classname}" time="${time}"`;
  if (result.outcome === "pass") return `${open}/>`;
  const detail = escapeXml(
    result.deviation === undefined
      ? result.detail
      : `${result.detail} [known deviation: ${result.deviation}]`,
  );
  const inner = result.outcome === "fail"
    ? `<failure message="${detail}" type="ConformanceFailure">${detail}</failure>`
    : `<skipped message="${detail}"/>`;
  return `${open}>\n      ${inner}\n    </testcase>`;
}

/**
 * The report as JUnit XML: one `<testsuite>` per protocol version, one `<testcase>` per
 * scenario named "[statement id] title", with `<failure>` or `<skipped>` and its detail.
 *
 * @example Write JUnit XML
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJUnitXml } from "./report.ts";
 * const xml = toJUnitXml({
 *   url: "mqtt://h", startedAt: "2026-01-01T00:00:00.000Z", durationMs: 5,
 *   results: [{ name: "connect.ping", id: "MQTT-3.12.4-1", title: "PINGREQ <answered>", area: "connect",
 *     version: 5, outcome: "fail", detail: "no PINGRESP", durationMs: 5 }],
 *   summary: { total: 1, passed: 0, failed: 1, skipped: 0 },
 * });
 * assert.match(xml, /<testsuites name="MQTT broker conformance" tests="1" failures="1"/);
 * assert.match(xml, /name="\[MQTT-3\.12\.4-1\] PINGREQ &lt;answered&gt;"/);
 * ```
 */
export function toJUnitXml(report: ConformanceReport): string {
  const { total, failed, skipped } = report.summary;
  const suites: string[] = [];
  for (const version of [4, 5]) {
    const results = report.results.filter((r) => r.version === version);
    if (results.length === 0) continue;
    const fails = results.filter((r) => r.outcome === "fail").length;
    const skips = results.filter((r) => r.outcome === "skip").length;
    const time = (results.reduce((sum, r) => sum + r.durationMs, 0) / 1000).toFixed(3);
    suites.push(
      `  <testsuite name="${
        escapeXml(`MQTT ${versionName(version)} ${report.suite ?? "broker"}: ${report.url}`)
      }" tests="${results.length}" failures="${fails}" errors="0" skipped="${skips}" time="${time}" timestamp="${report.startedAt}">`,
      ...results.map((result) => testcase(result, report.suite)),
      "  </testsuite>",
    );
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="MQTT ${
      report.suite ?? "broker"
    } conformance" tests="${total}" failures="${failed}" errors="0" skipped="${skipped}" time="${
      (report.durationMs / 1000).toFixed(3)
    }">`,
    ...suites,
    "</testsuites>",
    "",
  ].join("\n");
}
