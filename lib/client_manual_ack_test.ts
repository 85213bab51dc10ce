/**
 * Exactly once to the application across a crash: a real subscriber process with
 * `ack: "manual"` and a FileStore is killed (SIGKILL) after a QoS 2 message arrived but
 * before the application acknowledged it; restarted with the same store, it gets the
 * message again, acknowledges it and is killed again; restarted once more, it does not
 * get that message a third time. Needs Mosquitto; skipped with a note without it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../mod.ts";
import { startMosquitto } from "../testing/mosquitto.ts";
import { type ChildScript, haveMosquitto, killed, spawnScript } from "./testdata/child_script.ts";

const HAVE_MOSQUITTO = haveMosquitto("client_manual_ack_test");
const CHILD = fileURLToPath(new URL("./testdata/manual_ack_subscriber.ts", import.meta.url));

/** Runs the subscriber script with the runtime running this test. */
function child(args: string[]): ChildScript {
  return spawnScript(CHILD, args);
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
