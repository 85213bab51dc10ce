/**
 * Exactly once to the application across a crash: a real subscriber process with
 * `ack: "manual"` and a FileStore is killed (SIGKILL) after a QoS 2 message arrived but
 * before the application acknowledged it; restarted with the same store, it gets the
 * message again, acknowledges it and is killed again; restarted once more, it does not
 * get that message a third time. Needs Mosquitto; skipped with a note without it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../mod.ts";
import { startMosquitto } from "../testing/mosquitto.ts";

const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) {
  console.warn(
    "client_manual_ack_test: mosquitto is not installed, skipping (apt-get install mosquitto)",
  );
}

const CHILD = fileURLToPath(new URL("./testdata/manual_ack_subscriber.ts", import.meta.url));
const WAIT = 20_000;

interface Child {
  process: ChildProcess;
  lines: string[];
  waitFor(line: RegExp): Promise<void>;
}

/** Runs the child script with the runtime running this test. */
function child(args: string[]): Child {
  const argv = "Bun" in globalThis
    ? ["run", CHILD, ...args]
    : ["run", "-A", "--no-check", CHILD, ...args];
  const proc = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  let errors = "";
  const watchers: { line: RegExp; resolve: () => void }[] = [];
  proc.stdout!.on("data", (chunk: Uint8Array) => {
    partial += new TextDecoder().decode(chunk);
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const watcher of [...watchers]) {
        if (watcher.line.test(line)) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve();
        }
      }
    }
  });
  proc.stderr!.on("data", (chunk: Uint8Array) => void (errors += new TextDecoder().decode(chunk)));
  const waitFor = (line: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (lines.some((l) => line.test(l))) return resolve();
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `child printed no ${line} within ${WAIT} ms; stdout: ${lines}; stderr: ${errors}`,
            ),
          ),
        WAIT,
      );
      watchers.push({ line, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { process: proc, lines, waitFor };
}

function killed(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGKILL");
  });
}

test(
  'ack: "manual" + FileStore: a QoS 2 message is redelivered after a crash before ack(), never after one',
  { skip: !HAVE_MOSQUITTO },
  async () => {
    await using broker = await startMosquitto();
    const directory = await mkdtemp(join(tmpdir(), "tern-manual-ack-"));
    const clientId = `tern-ack-${Math.random().toString(36).slice(2, 10)}`;
    const topic = `ack/${clientId}`;
    const args = [broker.url, directory, clientId, topic];
    const children: ChildProcess[] = [];
    try {
      await using publisher = await connect(broker.url, { clientId: `${clientId}-pub` });

      // 1. It receives "one" and dies before acknowledging it.
      const first = child([...args, "hold"]);
      children.push(first.process);
      await first.waitFor(/^ready$/);
      await publisher.publish(topic, "one", { qos: 2 });
      await first.waitFor(/^got one$/);
      await killed(first.process);

      // 2. Restarted: "one" comes again; this time it is acknowledged, then the process dies.
      const second = child([...args, "ack"]);
      children.push(second.process);
      await second.waitFor(/^acked one$/);
      await killed(second.process);
      assert.equal(second.lines.filter((line) => line === "got one").length, 1);

      // 3. Restarted again: "two" arrives, and "one" never does.
      const third = child([...args, "ack"]);
      children.push(third.process);
      await third.waitFor(/^ready$/);
      await publisher.publish(topic, "two", { qos: 2 });
      await third.waitFor(/^acked two$/);
      // "one", had it been re-sent as new, would have come before "two" (in order).
      assert.deepEqual(third.lines.filter((line) => line.startsWith("got ")), ["got two"]);
    } finally {
      for (const proc of children) await killed(proc);
      await rm(directory, { recursive: true, force: true });
    }
  },
);
