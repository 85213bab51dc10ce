import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ConformanceReport } from "./broker_suite.ts";
import { escapeXml, formatTable, toJson, toJUnitXml } from "./report.ts";
import { main, parseArgs } from "./main.ts";
import { withBroker } from "../with_broker.ts";

const REPORT: ConformanceReport = {
  url: "mqtt://127.0.0.1:1883",
  startedAt: "2026-11-22T02:00:00.000Z",
  durationMs: 1234,
  results: [
    {
      name: "connect.ping",
      id: "MQTT-3.12.4-1",
      title: "PINGREQ is answered with PINGRESP",
      area: "connect",
      version: 4,
      outcome: "pass",
      detail: "",
      durationMs: 12,
    },
    {
      name: "publish.user-properties",
      id: "MQTT-3.3.2-18",
      title: "User Properties are forwarded <unaltered> & in order",
      area: "publish",
      version: 5,
      outcome: "fail",
      detail: `User Properties: [["a","<b>"]] & 'more' \u0000`,
      durationMs: 40,
    },
    {
      name: "shared.one-per-group",
      id: "MQTT-4.8.2-3",
      title: "Each message goes to one member",
      area: "shared",
      version: 5,
      outcome: "skip",
      detail: "not supported: SUBACK 0x9E",
      durationMs: 3,
    },
  ],
  summary: { total: 3, passed: 1, failed: 1, skipped: 1 },
};

/**
 * A strict little XML well-formedness check: one root, balanced and properly nested
 * tags, quoted attributes without "<", unique attribute names, only the five predefined
 * entities or character references, no control characters.
 */
function assertWellFormedXml(xml: string): string[] {
  // deno-lint-ignore no-control-regex
  assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml), "control character in XML");
  const entity = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  let rest = xml.replace(/^<\?xml [^?]*\?>\s*/, "");
  const stack: string[] = [];
  const seen: string[] = [];
  let roots = 0;
  while (rest.length > 0) {
    const lt = rest.indexOf("<");
    const textPart = lt === -1 ? rest : rest.slice(0, lt);
    assert.ok(!entity.test(textPart), `bad entity in text: ${textPart}`);
    assert.ok(!textPart.includes(">"), `stray ">" in text: ${textPart}`);
    if (stack.length === 0) assert.equal(textPart.trim(), "", `text outside the root: ${textPart}`);
    if (lt === -1) break;
    rest = rest.slice(lt);
    const close = /^<\/([A-Za-z_][\w.-]*)\s*>/.exec(rest);
    if (close) {
      assert.equal(stack.pop(), close[1], `mismatched </${close[1]}>`);
      rest = rest.slice(close[0].length);
      continue;
    }
    const open = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>/.exec(rest);
    assert.ok(open, `malformed tag at: ${rest.slice(0, 60)}`);
    const names = [...open[2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)].map((m) => {
      assert.ok(!entity.test(m[2]!), `bad entity in attribute: ${m[2]}`);
      return m[1]!;
    });
    assert.equal(new Set(names).size, names.length, `repeated attribute in ${open[0]}`);
    if (stack.length === 0) roots++;
    seen.push(open[1]!);
    if (open[3] !== "/") stack.push(open[1]!);
    rest = rest.slice(open[0].length);
  }
  assert.deepEqual(stack, [], "unclosed tags");
  assert.equal(roots, 1, "an XML document has one root");
  return seen;
}

describe("conformance reporters", () => {
  test("JUnit XML is well formed, one suite per version, failures and skips marked", () => {
    const xml = toJUnitXml(REPORT);
    const tags = assertWellFormedXml(xml);
    assert.deepEqual(tags.filter((t) => t === "testsuite").length, 2);
    assert.deepEqual(tags.filter((t) => t === "testcase").length, 3);
    assert.deepEqual(tags.filter((t) => t === "failure").length, 1);
    assert.deepEqual(tags.filter((t) => t === "skipped").length, 1);
    assert.match(
      xml,
      /<testsuites name="MQTT broker conformance" tests="3" failures="1" errors="0" skipped="1" time="1\.234">/,
    );
    assert.match(
      xml,
      /<testcase name="\[MQTT-3\.12\.4-1\] PINGREQ is answered with PINGRESP" classname="broker\.mqtt311\.connect" time="0\.012"\/>/,
    );
    assert.match(xml, /&lt;unaltered&gt; &amp; in order/);
    assert.match(xml, /<skipped message="not supported: SUBACK 0x9E"\/>/);
  });

  test("the well-formedness check itself rejects broken XML", () => {
    assert.throws(() => assertWellFormedXml("<a><b></a></b>"));
    assert.throws(() => assertWellFormedXml('<a x="1 & 2"/>'));
    assert.throws(() => assertWellFormedXml("<a/><b/>"));
    assert.throws(() => assertWellFormedXml("<a>x < y</a>"));
  });

  test("JSON has the report's shape and round-trips", () => {
    const parsed = JSON.parse(toJson(REPORT));
    assert.deepEqual(parsed, REPORT);
    assert.deepEqual(Object.keys(parsed).sort(), [
      "durationMs",
      "results",
      "startedAt",
      "summary",
      "url",
    ]);
    assert.deepEqual(Object.keys(parsed.results[0]!).sort(), [
      "area",
      "detail",
      "durationMs",
      "id",
      "name",
      "outcome",
      "title",
      "version",
    ]);
  });

  test("the table lists statement, version, result and detail, then a summary", () => {
    const lines = formatTable(REPORT).split("\n");
    assert.equal(lines[0], "Broker conformance: mqtt://127.0.0.1:1883");
    assert.match(lines[1]!, /^STATEMENT +MQTT +RESULT +CHECK$/);
    assert.match(lines[2]!, /^MQTT-3\.12\.4-1 +3\.1\.1 +PASS +PINGREQ is answered with PINGRESP$/);
    assert.match(lines[3]!, /^MQTT-3\.3\.2-18 +5\.0 +FAIL +User Properties .*: User Properties: /);
    assert.match(lines[4]!, /^MQTT-4\.8\.2-3 +5\.0 +SKIP +.*not supported: SUBACK 0x9E$/);
    assert.equal(lines[5], "3 scenarios: 1 passed, 1 failed, 1 skipped (1.2 s)");
    // Columns line up.
    const column = lines[1]!.indexOf("RESULT");
    for (const line of lines.slice(2, 5)) assert.match(line.slice(column), /^(PASS|FAIL|SKIP) /);
  });

  test("a failure explained by a known deviation says so in the table and in JUnit", () => {
    const results = REPORT.results.map((r) =>
      r.outcome === "fail" ? { ...r, deviation: "sends no DISCONNECT" } : r
    );
    const report = { ...REPORT, results };
    const lines = formatTable(report).split("\n");
    assert.match(lines[3]!, /FAIL .* \[known deviation: sends no DISCONNECT\]$/);
    assert.equal(
      lines[5],
      "3 scenarios: 1 passed, 1 failed (1 known deviations), 1 skipped (1.2 s)",
    );
    const xml = toJUnitXml(report);
    assertWellFormedXml(xml);
    assert.match(xml, /<failure message="[^"]*\[known deviation: sends no DISCONNECT\]"/);
  });

  test("escapeXml escapes markup and drops characters XML cannot hold", () => {
    assert.equal(
      escapeXml(`a<b>&"c"'d'\u0007\ud83d\ude00`),
      "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\ud83d\ude00",
    );
  });
});

describe("conformance command line", () => {
  test("parses flags and refuses mistakes", () => {
    assert.deepEqual(parseArgs(["broker", "mqtt://h:1883"]), {
      suite: "broker",
      url: "mqtt://h:1883",
      versions: [4, 5],
      json: false,
      junit: undefined,
      only: [],
      timeoutMs: undefined,
      deviations: undefined,
    });
    const args = parseArgs([
      "broker",
      "mqtt://h",
      "--v311",
      "--json",
      "--only",
      "will",
      "--only",
      "MQTT-3.1.0-1",
      "--timeout",
      "900",
    ]);
    assert.deepEqual([args.versions, args.json, args.only, args.timeoutMs], [[4], true, [
      "will",
      "MQTT-3.1.0-1",
    ], 900]);
    assert.throws(() => parseArgs(["broker"]), /without a broker URL/);
    assert.throws(() => parseArgs(["broker", "mqtt://h", "--junit"]), /--junit without a value/);
    assert.throws(() => parseArgs(["broker", "mqtt://h", "--timeout", "-1"]), /positive integer/);
    assert.throws(() => parseArgs(["broker", "mqtt://h", "--v6"]), /unknown flag --v6/);
    assert.equal(
      parseArgs(["broker", "mqtt://h", "--deviations", "mosquitto"]).deviations,
      "mosquitto",
    );
    assert.throws(
      () => parseArgs(["broker", "mqtt://h", "--deviations", "emqx"]),
      /known lists are: mosquitto, mqttjs: current value is emqx/,
    );
  });

  test("runs against a broker, writes JUnit XML and exits 0 when everything passes", async () => {
    await using broker = await withBroker();
    const files = new Map<string, string>();
    const out: string[] = [];
    const status = await main(
      [
        "broker",
        broker.url,
        "--v5",
        "--only",
        "connect.ping",
        "--only",
        "retained",
        "--junit",
        "out.xml",
      ],
      {
        out: (line) => out.push(line),
        writeFile: (path, data) => Promise.resolve(void files.set(path, data)),
      },
    );
    assert.equal(status, 0, out.join("\n"));
    assert.match(out.join("\n"), /MQTT-3\.12\.4-1 +5\.0 +PASS/);
    assert.deepEqual([...files.keys()], ["out.xml"]);
    const xml = files.get("out.xml")!;
    assertWellFormedXml(xml);
    assert.match(xml, /tests="10" failures="0"/);
  });

  test("prints JSON with --json and exits 1 when a scenario fails", async () => {
    const broker = await withBroker();
    const url = broker.url;
    await broker.close();
    const out: string[] = [];
    const status = await main([
      "broker",
      url,
      "--json",
      "--only",
      "connect.ping",
      "--timeout",
      "1000",
    ], { out: (line) => out.push(line) });
    assert.equal(status, 1);
    const report = JSON.parse(out.join("\n")) as ConformanceReport;
    assert.deepEqual(report.summary, { total: 2, passed: 0, failed: 2, skipped: 0 });
  });

  test("exits 2 on a usage error", async () => {
    const out: string[] = [];
    assert.equal(await main(["broker"], { out: (line) => out.push(line) }), 2);
    assert.match(out.join("\n"), /^Cannot run the broker conformance suite without a broker URL/);
  });
});
