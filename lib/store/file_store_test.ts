import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileStore } from "./file_store.ts";
import { MemoryStore } from "./memory_store.ts";
import type { SessionSnapshot } from "../session/snapshot.ts";

function snapshot(nextPacketId: number, clientId = "c/1"): SessionSnapshot {
  return {
    format: 1,
    protocolVersion: 5,
    clientId,
    nextPacketId,
    nextId: 10,
    outgoing: [{
      id: 3,
      topic: "t",
      payload: "AQI=",
      qos: 2,
      retain: false,
      phase: "pubrel",
      packetId: 7,
      pubrecReasonCode: 0,
    }],
    incoming: [{ packetId: 4, reasonCode: 0, pubrecSent: true }],
    subscriptions: [{ subscription: { topicFilter: "a/#", qos: 1 } }],
  };
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "tern-file-store-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("FileStore", () => {
  test("saves and loads a snapshot through a new store object, in a directory it creates", () =>
    withDir(async (dir) => {
      const store = new FileStore(join(dir, "nested", "sessions"));
      assert.equal(await store.load("c/1"), undefined);
      await store.save("c/1", snapshot(42));
      assert.deepEqual(
        await new FileStore(join(dir, "nested", "sessions")).load("c/1"),
        snapshot(42),
      );
    }));

  test("the last of many concurrent saves wins, and no temporary file is left", () =>
    withDir(async (dir) => {
      const store = new FileStore(dir);
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.save("c/1", snapshot(i + 1))));
      assert.equal((await store.load("c/1"))?.nextPacketId, 50);
      assert.deepEqual(await readdir(dir), [`${encodeURIComponent("c/1")}.session.json`]);
    }));

  test("a load waits for the saves made before it", () =>
    withDir(async (dir) => {
      const store = new FileStore(dir);
      store.save("c/1", snapshot(1));
      store.save("c/1", snapshot(2));
      assert.equal((await store.load("c/1"))?.nextPacketId, 2);
    }));

  test("client ids are kept apart and any text is a safe file name", () =>
    withDir(async (dir) => {
      const store = new FileStore(dir, { fsync: true });
      const ids = ["../escape", "a/b", "ü ∞", ""];
      for (const [i, id] of ids.entries()) await store.save(id, snapshot(i + 1, id));
      for (const [i, id] of ids.entries()) {
        assert.equal((await store.load(id))?.nextPacketId, i + 1);
      }
      assert.equal((await readdir(dir)).length, ids.length);
    }));

  test("delete forgets a snapshot and tolerates a missing one", () =>
    withDir(async (dir) => {
      const store = new FileStore(dir);
      await store.save("c/1", snapshot(1));
      await store.delete("c/1");
      await store.delete("c/1");
      assert.equal(await store.load("c/1"), undefined);
    }));

  test("a damaged file is reported, not taken for an empty session", () =>
    withDir(async (dir) => {
      const store = new FileStore(dir);
      await writeFile(store.pathOf("bad"), "{not json");
      await assert.rejects(store.load("bad"), /is not JSON/);
      await writeFile(store.pathOf("worse"), JSON.stringify({ format: 1 }));
      await assert.rejects(store.load("worse"), TypeError);
    }));

  test("needs a directory", () => {
    assert.throws(() => new FileStore(""), TypeError);
  });
});

describe("MemoryStore", () => {
  test("copies snapshots both ways", async () => {
    const store = new MemoryStore();
    const original = snapshot(5);
    await store.save("c/1", original);
    original.nextPacketId = 6;
    const loaded = await store.load("c/1");
    assert.equal(loaded?.nextPacketId, 5);
    loaded!.nextPacketId = 7;
    assert.equal((await store.load("c/1"))?.nextPacketId, 5);
  });
});
