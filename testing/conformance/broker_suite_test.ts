import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { BROKER_SCENARIOS, runBrokerConformance, selects } from "./broker_suite.ts";
import type { ConformanceReport, ScenarioResult } from "./broker_suite.ts";
import { AREAS } from "./scenario.ts";
import { MOSQUITTO_DEVIATIONS } from "./mosquitto_deviations.ts";
import { formatTable } from "./report.ts";
import { main } from "./main.ts";
import { withBroker } from "../with_broker.ts";
import { startMosquitto } from "../mosquitto.ts";
import { startFaultProxy } from "../fault_proxy.ts";
import { generateTlsCerts } from "../tls_certs.ts";

const hasMosquitto =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"].some((p) =>
    existsSync(p)
  ) || spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
if (!hasMosquitto) {
  console.log(
    "broker_suite_test: mosquitto is not installed, skipping its run (apt-get install mosquitto)",
  );
}

/**
 * Scenarios tern's broker is known to fail because of a broker bug, as "name@version",
 * each with a comment naming the bug. Empty: tern's broker passes the whole suite.
 */
const KNOWN_TERN_FAILURES: readonly string[] = [];

const key = (r: { name: string; version: number }) => `${r.name}@${r.version}`;

function failures(report: ConformanceReport): ScenarioResult[] {
  return report.results.filter((r) => r.outcome === "fail");
}

describe("broker conformance suite", () => {
  test("covers every area at both versions with unique scenario names", () => {
    const keys = BROKER_SCENARIOS.map(key);
    assert.equal(new Set(keys).size, keys.length);
    for (const area of AREAS) {
      assert.ok(BROKER_SCENARIOS.some((s) => s.area === area), `no scenario in ${area}`);
    }
    assert.ok(BROKER_SCENARIOS.filter((s) => s.version === 4).length >= 40);
    assert.ok(BROKER_SCENARIOS.filter((s) => s.version === 5).length >= 60);
    for (const s of BROKER_SCENARIOS) {
      assert.match(s.id, /^MQTT-\d+\.\d+\.\d+-\d+$/, `${key(s)} has id ${s.id}`);
    }
  });

  test("only selects by statement id, area, name and name prefix", () => {
    const pick = (only: string[]) =>
      BROKER_SCENARIOS.filter((s) => selects(only, s)).map(key).sort();
    assert.deepEqual(pick(["MQTT-3.1.4-3"]), ["connect.takeover@5"]);
    assert.deepEqual(pick(["connect.takeover"]), ["connect.takeover@4", "connect.takeover@5"]);
    assert.ok(pick(["will"]).every((k) => k.startsWith("will.")));
    assert.deepEqual(pick(["retained.handling"]), [
      "retained.handling-1@5",
      "retained.handling-2@5",
    ]);
    assert.equal(pick([]).length, BROKER_SCENARIOS.length);
  });

  test("rejects versions other than 4 and 5", async () => {
    await assert.rejects(
      runBrokerConformance("mqtt://127.0.0.1:1", { versions: [3 as 4] }),
      /'versions' must hold 4 or 5: current value is 3/,
    );
  });

  test("[conformance] tern's broker passes every scenario", { timeout: 60_000 }, async () => {
    await using broker = await withBroker();
    const report = await runBrokerConformance(broker.url);
    assert.equal(report.results.length, BROKER_SCENARIOS.length);
    assert.deepEqual(
      failures(report).map(key).sort(),
      [...KNOWN_TERN_FAILURES].sort(),
      formatTable(report),
    );
    assert.deepEqual(report.results.filter((r) => r.outcome === "skip").map(key), []);
    // Everything the suite opened was closed: the broker holds no connection.
    await broker.until(() => broker.clients().length === 0, { what: "every connection closed" });
  });

  test("[conformance] Mosquitto fails exactly its documented deviations", {
    skip: !hasMosquitto,
    timeout: 60_000,
  }, async () => {
    await using mosquitto = await startMosquitto();
    const report = await runBrokerConformance(mosquitto.url, { deviations: MOSQUITTO_DEVIATIONS });
    assert.deepEqual(
      failures(report).map(key).sort(),
      MOSQUITTO_DEVIATIONS.map(key).sort(),
      formatTable(report),
    );
    for (const deviation of MOSQUITTO_DEVIATIONS) {
      const result = report.results.find((r) => key(r) === key(deviation))!;
      assert.equal(result.id, deviation.id, `${key(deviation)} checks ${result.id}`);
      assert.equal(result.deviation, deviation.why);
    }
    assert.deepEqual(report.results.filter((r) => r.outcome === "skip").map(key), []);
  });

  test("the command line accepts Mosquitto's documented deviations on request", {
    skip: !hasMosquitto,
    timeout: 60_000,
  }, async () => {
    await using mosquitto = await startMosquitto();
    const argv = [
      "broker",
      mosquitto.url,
      "--v5",
      "--only",
      "connect.takeover",
      "--only",
      "connect.ping",
    ];
    const out: string[] = [];
    assert.equal(await main(argv, { out: (text) => out.push(text) }), 1);
    assert.match(out.join("\n"), /MQTT-3\.1\.4-3 +5\.0 +FAIL/);
    out.length = 0;
    assert.equal(
      await main([...argv, "--deviations", "mosquitto"], { out: (text) => out.push(text) }),
      0,
    );
    assert.match(
      out.join("\n"),
      /known deviation: the first connection is closed without DISCONNECT 0x8E/,
    );
  });

  test("runs over TLS with the tls option", { timeout: 60_000 }, async () => {
    const certs = await generateTlsCerts();
    await using broker = await withBroker({
      tls: { cert: certs.serverCert, key: certs.serverKey },
    });
    const only = ["connect.ping", "publish.qos2-flow", "will.published-on-loss"];
    const report = await runBrokerConformance(broker.tlsUrl!, { only, tls: { ca: certs.ca } });
    assert.deepEqual(
      report.summary,
      { total: 6, passed: 6, failed: 0, skipped: 0 },
      formatTable(report),
    );
    // Without trusting the CA every connection fails.
    const refused = await runBrokerConformance(broker.tlsUrl!, {
      only: ["connect.ping"],
      versions: [5],
    });
    assert.equal(refused.summary.failed, 1);
  });

  test("a broker that never answers fails each scenario within its timeout", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    proxy.stall("server-to-client");
    const started = Date.now();
    const report = await runBrokerConformance(proxy.url, {
      only: ["connect.ping", "publish.qos1-puback", "malformed.pubrel-flags"],
      timeoutMs: 300,
    });
    assert.equal(report.summary.total, 6);
    assert.equal(report.summary.failed, 6);
    for (const result of report.results) {
      assert.match(result.detail, /within 300 ms|kept the connection open/);
    }
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  test("a broker that refuses connections fails every scenario at once", async () => {
    const broker = await withBroker();
    const url = broker.url;
    await broker.close();
    const report = await runBrokerConformance(url, { only: ["connect"], timeoutMs: 1_000 });
    assert.ok(report.summary.total > 0);
    assert.equal(report.summary.failed, report.summary.total);
  });
});
