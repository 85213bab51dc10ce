/**
 * Runs every example as a child process under the runtime running the tests
 * (`process.execPath`: deno under `deno test`, bun under `bun test`) and checks that it
 * exits 0 and prints its key lines. The TLS example is skipped without `openssl`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const HAVE_OPENSSL = spawnSync("openssl", ["version"]).status === 0;
const IS_BUN = process.versions.bun !== undefined;

/** Runs `examples/NAME` and resolves with its exit code and output. */
function run(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`./${name}`, import.meta.url));
  const args = IS_BUN ? [file] : ["run", "-A", "--no-check", file];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { timeout: 45_000, maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

const EXAMPLES: [name: string, expected: RegExp[], skip?: boolean][] = [
  ["pub_sub.ts", [
    /dashboard got home\/kitchen\/temp = 21\.5 \(QoS 1\)/,
    /dashboard got home\/hall\/temp = 19\.0 \(QoS 1\)/,
    /pub\/sub done: 2 of 3 readings matched home\/\+\/temp/,
  ]],
  ["qos2.ts", [
    /\[connection 1\] cut by the fault proxy/,
    /\[connection 2\] publisher -> broker: PUBREL id 1/,
    /exactly once: 3 payments received for 3 published/,
  ]],
  ["retained.ts", [
    /late-dashboard got home\/door\/state = open \(retain: true\)/,
    /later-still got closed \(retain: false\)/,
  ]],
  ["will.ts", [
    /device process killed \(no DISCONNECT sent\)/,
    /monitor: devices\/pump-3\/status = offline \(connection lost\)/,
  ]],
  ["persistent_session.ts", [
    /worker run 1: connected, session present: false/,
    /worker run 2: connected, session present: true/,
    /worker run 2: backlog orders\/1003 = order 1003/,
  ]],
  ["tls_client_cert.ts", [
    /connected over TLS with a client certificate/,
    /without a client certificate: refused/,
  ], !HAVE_OPENSSL],
  ["websocket.ts", [
    /over WebSocket, web-dashboard got plant\/line-1\/speed = 120 rpm/,
    /over TCP, tcp-device got plant\/commands\/line-1 = slow down/,
  ]],
  ["request_response.ts", [
    /request apple -> response "0\.5 EUR" \(status: ok\)/,
    /request kiwi -> response "unknown item" \(status: not-found\)/,
  ]],
  ["testing_with_broker.ts", [/^ok - the alarm goes off above 30 degrees/m]],
  ["demo.ts", [
    /QoS 2: publish resolved .* dashboard got home\/attic\/temp = 22\.5/,
    /late-phone subscribed afterwards and got home\/door\/state = open \(retain: true\)/,
    /dashboard got the will: devices\/pump\/status = offline \(lost\)/,
    /response "apples cost 0\.50 EUR"/,
    /broker\.violations: MQTT-2\.2\.1-5/,
    /decodes back to PUBLISH home\/attic\/temp id 3/,
    /no violations by tern's own clients: true/,
  ]],
];

if (!HAVE_OPENSSL) console.warn("examples_test: openssl is missing, skipping tls_client_cert.ts");

describe(`examples under ${IS_BUN ? "bun" : "deno"}`, () => {
  for (const [name, expected, skip = false] of EXAMPLES) {
    test(`examples/${name} runs and exits 0`, { skip, timeout: 60_000 }, async () => {
      const { code, stdout, stderr } = await run(name);
      assert.equal(
        code,
        0,
        `examples/${name} exited with ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
      );
      for (const line of expected) {
        assert.match(stdout, line, `examples/${name} did not print ${line}\n--- stdout\n${stdout}`);
      }
    });
  }

  test("the demo finishes in under 15 seconds", { timeout: 60_000 }, async () => {
    const { code, stdout } = await run("demo.ts");
    assert.equal(code, 0);
    const seconds = Number(stdout.match(/demo done in ([\d.]+) s/)?.[1]);
    assert.ok(seconds < 15, `the demo took ${seconds} s`);
  });
});
