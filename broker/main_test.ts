/**
 * The command line: flag parsing, users and ACL file, and the program itself started as a
 * child process of the current runtime, stopped with SIGINT.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { formatViolation, parseBrokerArgs, runBroker } from "./main.ts";
import { bytes, RawClient } from "./_test_client.ts";

test("flags: defaults, values, and mistakes named", () => {
  const defaults = parseBrokerArgs([]);
  assert.equal(defaults.port, 1883);
  assert.equal(defaults.host, "127.0.0.1");
  assert.equal(defaults.wsPath, "/mqtt");
  const args = parseBrokerArgs([
    "--host=0.0.0.0",
    "--ws-port",
    "0",
    "--ws-path",
    "/broker",
    "--max-keep-alive",
    "60",
  ]);
  assert.deepEqual([args.host, args.wsPort, args.wsPath, args.maxKeepAlive], [
    "0.0.0.0",
    0,
    "/broker",
    60,
  ]);
  assert.throws(() => parseBrokerArgs(["--port", "70000"]), {
    name: "RangeError",
    message:
      "Cannot start the broker as '--port' must be a port from 0 to 65535: current value is 70000",
  });
  assert.throws(() => parseBrokerArgs(["--port"]), {
    message: "Cannot start the broker as '--port' needs a value",
  });
  assert.throws(() => parseBrokerArgs(["--tls-port", "8883"]), {
    message: "Cannot start the broker as '--tls-port' needs '--cert' and '--key'",
  });
});

test("a violation prints as one line with the statement and reason code", () => {
  assert.equal(
    formatViolation({
      clientId: "c1",
      statement: "MQTT-3.3.1-4",
      reasonCode: 0x81,
      message: "PUBLISH has QoS 3",
      at: 0,
    }),
    "violation by c1 [MQTT-3.3.1-4] (0x81): PUBLISH has QoS 3",
  );
});

test("--user and --acl: unknown users are refused, ACL denials get 0x80 / 0x87", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tern-broker-acl-"));
  const lines: string[] = [];
  try {
    const acl = join(dir, "acl.txt");
    await writeFile(acl, "# test ACL\nuser alice\n  both sensors/#\nany\n  subscribe public/#\n");
    const broker = await runBroker([
      "--port",
      "0",
      "--strict",
      "--user",
      "alice:secret",
      "--acl",
      acl,
    ], (line) => lines.push(line));
    assert.ok(broker);
    await using _ = broker;
    assert.match(lines[0] ?? "", /^tern broker listening on mqtt:\/\/127\.0\.0\.1:\d+ \(strict\)$/);
    const [anonymous, refused] = await RawClient.connect(broker.url, { clientId: "anon" });
    assert.equal(refused.reasonCode, 4);
    await anonymous.close();
    const [alice, accepted] = await RawClient.connect(broker.url, {
      clientId: "a",
      protocolVersion: 5,
      username: "alice",
      password: bytes("secret"),
    });
    assert.equal(accepted.reasonCode, 0);
    const options = { noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
    await alice.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        { topicFilter: "sensors/+/temp", qos: 1, ...options },
        { topicFilter: "public/news", qos: 1, ...options },
        { topicFilter: "#", qos: 1, ...options },
      ],
    });
    assert.deepEqual((await alice.expect("suback")).reasonCodes, [1, 1, 0x87]);
    await alice.send({
      type: "publish",
      topic: "public/news",
      payload: bytes("x"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 2,
    });
    assert.deepEqual(await alice.expect("puback"), {
      type: "puback",
      packetId: 2,
      reasonCode: 0x87,
    });
    await alice.sendRaw([0x36, 0]); // QoS 3: printed in strict mode
    await alice.untilEnded();
    await alice.close();
    assert.match(lines.at(-1) ?? "", /^violation by a \[MQTT-3\.3\.1-4\] \(0x81\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the program starts, serves, and shuts down cleanly on SIGINT", async () => {
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const args = "Deno" in globalThis ? ["run", "-A", main, "--port", "0"] : [main, "--port", "0"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let errors = "";
  child.stderr!.on("data", (chunk) => (errors += chunk));
  const exited = new Promise<[number | null, string | null]>((resolve) =>
    child.on("close", (code, signal) => resolve([code, signal]))
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no address printed: ${output} ${errors}`)),
        30_000,
      );
      child.stdout!.on("data", (chunk) => {
        output += chunk;
        const match = output.match(/listening on (mqtt:\/\/\S+)/);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const [client, connack] = await RawClient.connect(url, { clientId: "cli", protocolVersion: 5 });
    assert.equal(connack.reasonCode, 0);
    child.kill("SIGINT");
    assert.deepEqual(await client.untilEnded(30_000), [{ type: "disconnect", reasonCode: 0x8b }]);
    await client.close();
    const [code, signal] = await exited;
    // Deno's node:child_process reports the signal it sent even when the child handled it
    // and exited by itself; the DISCONNECT 0x8B above shows the shutdown ran.
    assert.ok(
      code === 0 || ("Deno" in globalThis && signal === "SIGINT"),
      `exit ${code} ${signal}: ${errors}`,
    );
    assert.match(output, /shutting down/);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
});

test("--max-queued sets the per-session queue limit; a bad value is named", async () => {
  assert.equal(parseBrokerArgs([]).maxQueued, undefined);
  const lines: string[] = [];
  const running = await runBroker(["--port", "0", "--max-queued", "5"], (line) => lines.push(line));
  assert.ok(running !== undefined);
  try {
    assert.equal(running.broker.options.maxQueuedMessages, 5);
    assert.match(lines[0]!, /listening on mqtt:\/\/127\.0\.0\.1:\d+/);
  } finally {
    await running.close();
  }
  assert.throws(() => parseBrokerArgs(["--max-queued", "-1"]), {
    name: "RangeError",
    message:
      "Cannot start the broker as '--max-queued' must be an integer from 0 to 2147483647: current value is -1",
  });
});
