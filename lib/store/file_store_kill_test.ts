/**
 * A real process holding a FileStore is killed (SIGKILL) in the middle of publishing
 * QoS 2 messages, then started again with the same store: every message reaches the
 * subscriber exactly once. Needs Mosquitto; skipped with a note without it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type Message } from "../../mod.ts";
import { startMosquitto } from "../../testing/mosquitto.ts";
import { type ChildScript, haveMosquitto, killed, spawnScript } from "../testdata/child_script.ts";

const HAVE_MOSQUITTO = haveMosquitto("file_store_kill_test");
const CHILD = fileURLToPath(new URL("./testdata/durable_publisher.ts", import.meta.url));
const WAIT = 20_000;

/** Runs the publisher script with the runtime running this test. */
function child(args: string[]): ChildScript {
  return spawnScript(CHILD, args, WAIT);
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
