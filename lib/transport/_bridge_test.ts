import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StreamBridge, type StreamBridgeHooks } from "./_bridge.ts";
import { READABLE_HIGH_WATER_MARK } from "./_internal.ts";

function bridgeWithLog(overrides: Partial<StreamBridgeHooks> = {}) {
  const log: string[] = [];
  const bridge = new StreamBridge({
    pause: () => void log.push("pause"),
    resume: () => void log.push("resume"),
    write: (chunk) => void log.push(`write ${chunk.byteLength}`),
    finish: () => {
      log.push("finish");
      return Promise.resolve();
    },
    cancel: () => {
      log.push("cancel");
      return Promise.resolve();
    },
    ...overrides,
  });
  return { bridge, log };
}

describe("StreamBridge", () => {
  test("pauses the source once the readable queue is full and resumes when read", async () => {
    const { bridge, log } = bridgeWithLog();
    bridge.push(new Uint8Array(READABLE_HIGH_WATER_MARK - 1));
    assert.deepEqual(log, []);
    bridge.push(new Uint8Array(1));
    assert.deepEqual(log, ["pause"]);
    assert.equal(bridge.paused, true);
    bridge.push(new Uint8Array(1));
    assert.deepEqual(log, ["pause"], "pauses once");
    const reader = bridge.readable.getReader();
    await reader.read();
    await reader.read();
    await reader.read();
    assert.deepEqual(log, ["pause", "resume"]);
    assert.equal(bridge.paused, false);
    reader.releaseLock();
  });

  test("never resumes a source that reported its close", async () => {
    const { bridge, log } = bridgeWithLog();
    bridge.push(new Uint8Array(READABLE_HIGH_WATER_MARK));
    assert.equal(bridge.markEnded(), true);
    assert.equal(bridge.markEnded(), false);
    assert.equal(bridge.ended, true);
    const reader = bridge.readable.getReader();
    await reader.read();
    await Promise.resolve();
    assert.deepEqual(log, ["pause"]);
  });

  test("without a pause hook the queue grows past the high water mark", () => {
    const { bridge } = bridgeWithLog({ pause: undefined, resume: undefined });
    bridge.push(new Uint8Array(READABLE_HIGH_WATER_MARK * 2));
    assert.equal(bridge.paused, false);
  });

  test("endReadable ends the readable once, with the first failure", async () => {
    const { bridge } = bridgeWithLog();
    const failure = new Error("reset");
    bridge.endReadable(failure);
    bridge.endReadable();
    assert.equal(bridge.readDone, true);
    bridge.push(new Uint8Array(1));
    await assert.rejects(bridge.readable.getReader().read(), failure);
  });

  test("beginShutdown closes the readable, errors the writable, and runs once", async () => {
    const { bridge } = bridgeWithLog();
    bridge.push(new Uint8Array([7]));
    assert.equal(bridge.beginShutdown(true), true);
    assert.equal(bridge.closing, true);
    assert.equal(bridge.beginShutdown(true), false);
    const reader = bridge.readable.getReader();
    assert.deepEqual((await reader.read()).value, new Uint8Array([7]));
    assert.equal((await reader.read()).done, true);
    await assert.rejects(
      bridge.writable.getWriter().write(new Uint8Array(1)),
      /Cannot write as the transport is closed/,
    );
  });

  test("routes writes, writer close and reader cancel to the hooks", async () => {
    const { bridge, log } = bridgeWithLog();
    const writer = bridge.writable.getWriter();
    await writer.write(new Uint8Array(3));
    await writer.close();
    await bridge.readable.cancel();
    assert.deepEqual(log, ["write 3", "finish", "cancel"]);
  });
});
