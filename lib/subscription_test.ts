import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Message } from "./message.ts";
import { MessageBuffer, Subscription } from "./subscription.ts";

const encoder = new TextEncoder();
function message(text: string, qos: 0 | 1 | 2 = 1): Message {
  return new Message({ topic: "t", payload: encoder.encode(text), qos, retain: false });
}

describe("MessageBuffer", () => {
  test("releases acknowledgements at once below the high-water mark, then one per read", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 3 });
    const released: string[] = [];
    for (let i = 0; i < 10; i++) buffer.push(message(`m${i}`), () => released.push(`m${i}`));
    assert.deepEqual(released, ["m0", "m1", "m2"]);
    assert.equal(buffer.length, 10);
    for (let i = 0; i < 7; i++) {
      const result = await buffer.read();
      assert.equal(result.value?.text(), `m${i}`);
      assert.equal(released.length, 4 + i);
      assert.equal(released.at(-1), `m${i + 3}`);
    }
    for (let i = 7; i < 10; i++) assert.equal((await buffer.read()).value?.text(), `m${i}`);
    assert.equal(released.length, 10);
  });

  test("QoS 0 messages are dropped when full, never QoS 1 or 2", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 2 });
    assert.equal(buffer.push(message("a", 0)), true);
    assert.equal(buffer.push(message("b", 0)), true);
    assert.equal(buffer.push(message("c", 0)), false);
    assert.equal(buffer.push(message("d", 1), () => {}), true);
    assert.equal(buffer.push(message("e", 2), () => {}), true);
    assert.equal(buffer.dropped, 1);
    const texts: string[] = [];
    buffer.close();
    for (let r = await buffer.read(); !r.done; r = await buffer.read()) texts.push(r.value.text());
    assert.deepEqual(texts, ["a", "b", "d", "e"]);
  });

  test("a waiting reader gets the message directly and its acknowledgement goes at once", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 1 });
    const pending = buffer.read();
    let released = false;
    buffer.push(message("x"), () => released = true);
    assert.equal(released, true);
    assert.equal((await pending).value?.text(), "x");
    assert.equal(buffer.length, 0);
  });

  test("close lets waiting messages be read, releases held acknowledgements, then reports done", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 1 });
    let released = 0;
    buffer.push(message("a"), () => released++);
    buffer.push(message("b"), () => released++);
    assert.equal(released, 1);
    buffer.close();
    assert.equal(released, 2);
    assert.equal(buffer.closed, true);
    let late = false;
    assert.equal(buffer.push(message("late"), () => late = true), false);
    assert.equal(late, true, "a message refused after close is released");
    assert.equal((await buffer.read()).value?.text(), "a");
    assert.equal((await buffer.read()).value?.text(), "b");
    assert.deepEqual(await buffer.read(), { done: true, value: undefined });
  });

  test("close wakes waiting readers", async () => {
    const buffer = new MessageBuffer();
    const readers = [buffer.read(), buffer.read()];
    buffer.close();
    assert.deepEqual(await Promise.all(readers), [
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
  });

  test("error rejects reads after the waiting messages", async () => {
    const buffer = new MessageBuffer();
    buffer.push(message("a"));
    const boom = new Error("lost");
    buffer.error(boom);
    assert.equal((await buffer.read()).value?.text(), "a");
    await assert.rejects(buffer.read(), boom);
    const waiting = new MessageBuffer();
    const pending = waiting.read();
    waiting.error(boom);
    await assert.rejects(pending, boom);
  });

  test("takeAll empties the buffer and releases everything", () => {
    const buffer = new MessageBuffer({ highWaterMark: 1 });
    let released = 0;
    for (let i = 0; i < 4; i++) buffer.push(message(`${i}`), () => released++);
    assert.equal(released, 1);
    assert.deepEqual(buffer.takeAll().map((m) => m.text()), ["0", "1", "2", "3"]);
    assert.equal(released, 4);
    assert.equal(buffer.length, 0);
  });

  test("the readable pulls one message per request, so acknowledgements follow the consumer", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 2 });
    const released: number[] = [];
    for (let i = 0; i < 6; i++) buffer.push(message(`${i}`), () => released.push(i));
    assert.equal(buffer.readable, buffer.readable, "the same stream every time");
    const reader = buffer.readable.getReader();
    assert.equal((await reader.read()).value?.text(), "0");
    // The stream does not read ahead (high-water mark 0): only one slot was freed.
    assert.deepEqual(released, [0, 1, 2]);
    assert.equal((await reader.read()).value?.text(), "1");
    assert.deepEqual(released, [0, 1, 2, 3]);
    reader.releaseLock();
    buffer.close();
    const rest: string[] = [];
    for await (const m of buffer.readable) rest.push(m.text());
    assert.deepEqual(rest, ["2", "3", "4", "5"]);
  });

  test("high-water mark must be a positive integer", () => {
    assert.throws(() => new MessageBuffer({ highWaterMark: 0 }), {
      name: "RangeError",
      message:
        "Cannot create a message buffer as 'highWaterMark' must be a positive integer: current value is 0",
    });
  });

  test("memory stays bounded under a long stream of QoS 0 messages with no reader", () => {
    const buffer = new MessageBuffer({ highWaterMark: 50 });
    for (let i = 0; i < 100_000; i++) buffer.push(message("x", 0));
    assert.equal(buffer.length, 50);
    assert.equal(buffer.dropped, 100_000 - 50);
  });
});

describe("Subscription", () => {
  function make() {
    const buffer = new MessageBuffer();
    const calls: number[] = [];
    let resolveUnsubscribe!: () => void;
    const subscription = new Subscription({
      topicFilters: ["a/+", "b"],
      reasonCodes: [1, 0x87],
      buffer,
      owner: {
        unsubscribe: () => {
          calls.push(1);
          return new Promise<void>((resolve) => {
            resolveUnsubscribe = () => {
              buffer.close();
              resolve();
            };
          });
        },
      },
    });
    return { buffer, subscription, calls, finish: () => resolveUnsubscribe() };
  }

  test("exposes its filters and SUBACK codes, frozen", () => {
    const { subscription } = make();
    assert.deepEqual(subscription.topicFilters, ["a/+", "b"]);
    assert.deepEqual(subscription.reasonCodes, [1, 0x87]);
    assert.ok(Object.isFrozen(subscription.topicFilters));
    assert.equal(subscription.active, true);
  });

  test("leaving a for-await loop keeps it; iterating again goes on where it stopped", async () => {
    const { buffer, subscription, calls } = make();
    for (const text of ["1", "2", "3"]) buffer.push(message(text));
    for await (const m of subscription) {
      assert.equal(m.text(), "1");
      break;
    }
    assert.equal(subscription.active, true);
    assert.equal(calls.length, 0);
    const seen: string[] = [];
    for await (const m of subscription) {
      seen.push(m.text());
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["2", "3"]);
  });

  test("unsubscribe asks the owner once, even when called again meanwhile, then the iteration ends", async () => {
    const { buffer, subscription, calls, finish } = make();
    buffer.push(message("last"));
    const first = subscription.unsubscribe();
    const second = subscription.unsubscribe();
    assert.equal(calls.length, 1);
    finish();
    await Promise.all([first, second]);
    assert.equal(subscription.active, false);
    const rest: string[] = [];
    for await (const m of subscription) rest.push(m.text());
    assert.deepEqual(rest, ["last"]);
  });

  test("an aborted unsubscribe rejects with the signal's reason and the unsubscription goes on", async () => {
    const { subscription, calls, finish } = make();
    const controller = new AbortController();
    const waiting = subscription.unsubscribe({ signal: controller.signal });
    const reason = new Error("stop waiting");
    controller.abort(reason);
    await assert.rejects(waiting, reason);
    finish();
    await subscription.unsubscribe();
    assert.equal(calls.length, 1);
    assert.equal(subscription.active, false);
    await assert.rejects(
      subscription.unsubscribe({ signal: AbortSignal.abort("early") }),
      (e) => e === "early",
    );
  });

  test("a failed unsubscribe may be tried again", async () => {
    const buffer = new MessageBuffer();
    let attempts = 0;
    const subscription = new Subscription({
      topicFilters: ["x"],
      reasonCodes: [0],
      buffer,
      owner: {
        unsubscribe: () =>
          ++attempts === 1 ? Promise.reject(new Error("offline")) : Promise.resolve(buffer.close()),
      },
    });
    await assert.rejects(subscription.unsubscribe(), /offline/);
    await subscription.unsubscribe();
    assert.equal(attempts, 2);
  });

  test("await using unsubscribes", async () => {
    const buffer = new MessageBuffer();
    let unsubscribed = false;
    {
      await using _subscription = new Subscription({
        topicFilters: ["x"],
        reasonCodes: [0],
        buffer,
        owner: { unsubscribe: () => Promise.resolve(void (unsubscribed = true)) },
      });
    }
    assert.equal(unsubscribed, true);
  });
});

describe("Message", () => {
  test("decodes text and JSON, exposes MQTT 5 properties", () => {
    const m = new Message({
      topic: "t",
      payload: encoder.encode('{"a":[1,2]}'),
      qos: 2,
      retain: true,
      dup: true,
      properties: {
        responseTopic: "reply/here",
        correlationData: new Uint8Array([9]),
        userProperties: [["k", "v"], ["k", "w"]],
      },
    });
    assert.deepEqual(m.json(), { a: [1, 2] });
    assert.equal(m.dup, true);
    assert.equal(m.responseTopic, "reply/here");
    assert.deepEqual(m.correlationData, new Uint8Array([9]));
    assert.deepEqual(m.userProperties, [["k", "v"], ["k", "w"]]);
    assert.deepEqual(m.subscriptionIdentifiers, []);
    assert.equal(m.contentType, undefined);
  });

  test("defaults: no dup, no properties; invalid UTF-8 becomes U+FFFD; bad JSON throws", () => {
    const m = new Message({
      topic: "t",
      payload: new Uint8Array([0x61, 0xff]),
      qos: 0,
      retain: false,
    });
    assert.equal(m.dup, false);
    assert.deepEqual(m.properties, {});
    assert.equal(m.text(), "a\ufffd");
    assert.throws(() => m.json(), SyntaxError);
  });
});

describe("MessageBuffer.full and drained()", () => {
  test("full is true at the high-water mark", () => {
    const buffer = new MessageBuffer({ highWaterMark: 2 });
    assert.equal(buffer.full, false);
    buffer.push(message("a", 0));
    assert.equal(buffer.full, false);
    buffer.push(message("b", 0));
    assert.equal(buffer.full, true);
  });

  test("drained() resolves at once when empty, else when the last message is read", async () => {
    const buffer = new MessageBuffer({ highWaterMark: 5 });
    await buffer.drained();
    buffer.push(message("a", 0));
    buffer.push(message("b", 0));
    let drained = false;
    const waiting = buffer.drained().then(() => drained = true);
    await buffer.read();
    await Promise.resolve();
    assert.equal(drained, false);
    await buffer.read();
    await waiting;
    assert.equal(drained, true);
  });

  test("drained() resolves when the buffer is closed or emptied by takeAll()", async () => {
    const closing = new MessageBuffer();
    closing.push(message("a", 0));
    const whenClosed = closing.drained();
    closing.close();
    await whenClosed;
    const taken = new MessageBuffer();
    taken.push(message("a", 0));
    const whenTaken = taken.drained();
    assert.equal(taken.takeAll().length, 1);
    await whenTaken;
  });
});
