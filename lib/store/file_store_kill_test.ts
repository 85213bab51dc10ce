/**
 * A real process holding a FileStore is killed (SIGKILL) in the middle of publishing
 * QoS 2 messages, then started again with the same store: every message reaches the
 * subscriber exactly once. Needs Mosquitto; skipped with a note without it.
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
import { connect, type Message } from "../../mod.ts";
import { startMosquitto } from "../../testing/mosquitto.ts";

const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
if (!HAVE_MOSQUITTO) {
  console.warn(
    "file_store_kill_test: mosquitto is not installed, skipping (apt-get install mosquitto)",
  );
}

const CHILD = fileURLToPath(new URL("./testdata/durable_publisher.ts", import.meta.url));
const WAIT = 20_000;

/** Runs the child script with the runtime running this test. */
function child(
  args: string[],
): { process: ChildProcess; lines: string[]; waitFor: (line: RegExp) => Promise<void> } {
  const runtime = process.execPath;
  const argv = "Bun" in globalThis
    ? ["run", CHILD, ...args]
    : ["run", "-A", "--no-check", CHILD, ...args];
  const proc = spawn(runtime, argv, { stdio: ["ignore", "pipe", "pipe"] });
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
        () => reject(new Error(`child printed no ${line} within ${WAIT} ms; stderr: ${errors}`)),
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
  "a process killed mid-stream, twice, and restarted with its FileStore delivers every QoS 2 message exactly once",
  {
    skip: !HAVE_MOSQUITTO,
  },
  async () => {
    await using broker = await startMosquitto();
    const directory = await mkdtemp(join(tmpdir(), "tern-kill-"));
    const clientId = `tern-kill-${Math.random().toString(36).slice(2, 10)}`;
    const topic = `kill/${clientId}`;
    const count = 500;
    const children: ChildProcess[] = [];
    try {
      await using subscriber = await connect(broker.url, { clientId: `${clientId}-sub` });
      await using subscription = await subscriber.subscribe(topic, { qos: 2 });
      const received: number[] = [];
      const gotAll = (async () => {
        for await (const message of subscription as AsyncIterable<Message>) {
          received.push(Number(message.text()));
          if (new Set(received).size === count) return;
        }
      })();

      const first = child([broker.url, directory, clientId, topic, String(count), "publish"]);
      children.push(first.process);
      await first.waitFor(/^done 20$/);
      await killed(first.process);
      assert.ok(!first.lines.includes("all done"), "killed before the end");

      // Killed again while finishing what the first one left.
      const second = child([broker.url, directory, clientId, topic, String(count), "resume"]);
      children.push(second.process);
      await second.waitFor(/^settled/);
      await killed(second.process);

      const third = child([broker.url, directory, clientId, topic, String(count), "resume"]);
      children.push(third.process);
      await third.waitFor(/^resumed$/);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        gotAll,
        new Promise((_, reject) => {
          timer = setTimeout(() => {
            const missing = Array.from({ length: count }, (_, i) => i).filter((i) =>
              !received.includes(i)
            );
            reject(
              new Error(
                `only ${new Set(received).size} of ${count} messages arrived; missing ${missing}`,
              ),
            );
          }, WAIT);
        }),
      ]);
      clearTimeout(timer);
      // Give a duplicate, if there were one, time to arrive.
      await new Promise((r) => setTimeout(r, 300));
      const twice = received.filter((value, i) => received.indexOf(value) !== i);
      assert.deepEqual(twice, [], "no message delivered twice");
      assert.equal(received.length, count);
      assert.deepEqual(
        [...received].sort((a, b) => a - b),
        Array.from({ length: count }, (_, i) => i),
      );
    } finally {
      for (const proc of children) await killed(proc);
      await rm(directory, { recursive: true, force: true });
    }
  },
);
