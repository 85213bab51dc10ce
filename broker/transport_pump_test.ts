/**
 * The I/O pump over an in-memory transport that records every write: packets produced
 * while handling one read leave in one write, deliveries from other connections in the
 * same tick are coalesced, and a reader that stops reading cannot grow the broker's
 * buffers (QoS 0 is dropped and counted).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import { encodePacket } from "../lib/packet/encode.ts";
import { decodePacket } from "../lib/packet/decode.ts";
import type { Packet } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";
import { bytes, eventually } from "./_test_client.ts";

/** A transport whose peer side is driven by the test; writes are recorded. */
class MemoryTransport implements Transport {
  readonly remoteAddress = "memory:1";
  readonly writes: Uint8Array[] = [];
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  #input: ReadableStreamDefaultController<Uint8Array> | undefined;
  #closed = Promise.withResolvers<void>();
  #isClosed = false;
  /** While set, writes do not complete: a peer that does not read. */
  stall: Promise<void> | undefined = undefined;

  constructor() {
    this.closed = this.#closed.promise;
    this.readable = new ReadableStream({ start: (controller) => void (this.#input = controller) });
    this.writable = new WritableStream({
      write: async (chunk) => {
        this.writes.push(chunk.slice());
        if (this.stall !== undefined) await this.stall;
      },
    });
  }

  /** The peer sends `packets` as one chunk. */
  send(version: 4 | 5, ...packets: Packet[]): void {
    const parts = packets.map((p) => encodePacket(p, version));
    const chunk = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      chunk.set(part, at);
      at += part.length;
    }
    this.#input!.enqueue(chunk);
  }

  /** Every packet in one recorded write. */
  static decodeAll(chunk: Uint8Array, version: 4 | 5): Packet[] {
    const packets: Packet[] = [];
    for (let offset = 0; offset < chunk.length;) {
      const result = decodePacket(chunk.subarray(offset), { protocolVersion: version })!;
      packets.push(result.packet);
      offset += result.bytesRead;
    }
    return packets;
  }

  close(): Promise<void> {
    if (!this.#isClosed) {
      this.#isClosed = true;
      try {
        this.#input!.close();
      } catch {
        // already closed
      }
      this.#closed.resolve();
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const connect = (clientId: string) =>
  ({ type: "connect", protocolVersion: 4, clientId, clean: true, keepalive: 0 }) as const;

test("everything answered while handling one read goes out in one write", async () => {
  await using broker = new Broker();
  const transport = new MemoryTransport();
  const done = broker.accept(transport);
  transport.send(
    4,
    connect("a"),
    { type: "subscribe", packetId: 1, subscriptions: [{ topicFilter: "t", qos: 1 }] },
    {
      type: "publish",
      topic: "t",
      payload: bytes("self"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 2,
    },
    { type: "pingreq" },
  );
  await eventually(() => transport.writes.length > 0, 10_000, "a write");
  assert.equal(transport.writes.length, 1);
  const types = MemoryTransport.decodeAll(transport.writes[0]!, 4).map((p) => p.type);
  assert.deepEqual(types, ["connack", "suback", "publish", "puback", "pingresp"]);
  await transport.close();
  await done;
});

test("deliveries from another connection in the same tick are coalesced into one write", async () => {
  await using broker = new Broker();
  const subscriber = new MemoryTransport();
  const publisher = new MemoryTransport();
  const done = [broker.accept(subscriber), broker.accept(publisher)];
  subscriber.send(4, connect("s"), {
    type: "subscribe",
    packetId: 1,
    subscriptions: [{ topicFilter: "t", qos: 0 }],
  });
  await eventually(() => subscriber.writes.length === 1, 10_000, "the SUBACK");
  publisher.send(
    4,
    connect("p"),
    ...Array.from(
      { length: 20 },
      (_, i) =>
        ({
          type: "publish",
          topic: "t",
          payload: bytes(`${i}`),
          qos: 0,
          retain: false,
          dup: false,
        }) as const,
    ),
  );
  await eventually(() => subscriber.writes.length === 2, 10_000, "the messages");
  const messages = MemoryTransport.decodeAll(subscriber.writes[1]!, 4);
  assert.equal(messages.length, 20);
  await subscriber.close();
  await publisher.close();
  await Promise.all(done);
});

test("a subscriber that stops reading cannot grow the broker's memory: QoS 0 beyond the buffer limit is dropped", async () => {
  await using broker = new Broker({ maxBufferedBytes: 4_096 });
  const slow = new MemoryTransport();
  const publisher = new MemoryTransport();
  const done = [broker.accept(slow), broker.accept(publisher)];
  slow.send(4, connect("slow"), {
    type: "subscribe",
    packetId: 1,
    subscriptions: [{ topicFilter: "t", qos: 0 }],
  });
  await eventually(() => slow.writes.length === 1, 10_000, "the SUBACK");
  const release = Promise.withResolvers<void>();
  slow.stall = release.promise;
  publisher.send(4, connect("p"));
  const payload = "x".repeat(1_000);
  for (let round = 0; round < 50; round++) {
    publisher.send(4, {
      type: "publish",
      topic: "t",
      payload: bytes(payload),
      qos: 0,
      retain: false,
      dup: false,
    });
  }
  publisher.send(4, { type: "pingreq" });
  await eventually(() => publisher.writes.length >= 2, 10_000, "the PINGRESP");
  assert.ok(broker.stats.messagesDropped > 40, `dropped ${broker.stats.messagesDropped}`);
  assert.ok(broker.stats.messagesSent + broker.stats.messagesDropped === 50);
  release.resolve();
  await slow.close();
  await publisher.close();
  await Promise.all(done);
});
