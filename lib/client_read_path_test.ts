import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type MqttClient } from "./client.ts";
import { encodePacket } from "./packet/encode.ts";
import type { Packet } from "./packet/types.ts";
import type { Transport } from "./transport/types.ts";

/** What a fake transport's script can do: send bytes to the client, or close. */
interface FakeServerSide {
  /** Hands `bytes` to the client as one chunk (on a microtask). */
  feed(bytes: Uint8Array): void;
  /** Closes the client's readable side and the transport. */
  end(): void;
}

/**
 * An in-memory transport: every chunk the client writes is kept in `writes` and handed
 * to `script`, which answers through `server`.
 */
function fakeTransport(
  script: (chunk: Uint8Array, server: FakeServerSide) => void,
): { transport: Transport; writes: Uint8Array[]; server: FakeServerSide } {
  let readable!: ReadableStreamDefaultController<Uint8Array>;
  const closed = Promise.withResolvers<void>();
  const writes: Uint8Array[] = [];
  const server: FakeServerSide = {
    feed: (bytes) => queueMicrotask(() => readable.enqueue(bytes)),
    end() {
      try {
        readable.close();
      } catch {
        // already closed
      }
      closed.resolve();
    },
  };
  const transport: Transport = {
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (readable = c) }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        writes.push(chunk);
        script(chunk, server);
      },
    }),
    closed: closed.promise,
    remoteAddress: undefined,
    close() {
      server.end();
      return closed.promise;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
  return { transport, writes, server };
}

/** `packets` encoded for MQTT 3.1.1, back to back in one chunk. */
function encodeAll(packets: Packet[]): Uint8Array {
  const parts = packets.map((packet) => encodePacket(packet, 4));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** An MQTT 3.1.1 client over `transport`, without keep alive or reconnection. */
function connectOver(transport: Transport, clientId: string): Promise<MqttClient> {
  return connect("mqtt://fake", {
    clientId,
    protocolVersion: 4,
    keepalive: 0,
    reconnect: false,
    transport: () => Promise.resolve(transport),
  });
}

const CONNACK: Packet = { type: "connack", sessionPresent: false, reasonCode: 0 };

/**
 * A broker stand-in that answers CONNECT and SUBSCRIBE, then sends `burst` QoS 0
 * PUBLISH packets in ONE chunk, and counts the chunks the client writes.
 */
function burstBroker(burst: number, payloadSize = 8) {
  return fakeTransport((chunk, server) => {
    const send = (packets: Packet[]) => server.feed(encodeAll(packets));
    const type = chunk[0]! >> 4;
    if (type === 1) send([CONNACK]);
    if (type === 8) {
      const packetId = (chunk[2]! << 8) | chunk[3]!;
      const publishes: Packet[] = Array.from({ length: burst }, (_, i) => ({
        type: "publish",
        topic: "burst/t",
        payload: new Uint8Array(payloadSize).fill(i & 0xff),
        qos: 0,
        retain: false,
        dup: false,
      }));
      send([{ type: "suback", packetId, reasonCodes: [0] }, ...publishes]);
    }
    if (type === 14) server.end();
  });
}

describe("client read path", () => {
  test("a QoS 0 burst larger than the buffer, in one chunk, reaches a reader that keeps up", async () => {
    const { transport } = burstBroker(1000);
    const client = await connectOver(transport, "burst");
    try {
      const subscription = await client.subscribe("burst/#", { qos: 0 });
      let received = 0;
      for await (const message of subscription) {
        assert.equal(message.payload[0], received & 0xff);
        if (++received === 1000) break;
      }
      assert.equal(received, 1000);
    } finally {
      await client.disconnect();
    }
  });

  test("a subscription nobody reads keeps at most its high-water mark; message events see all", async () => {
    const { transport } = burstBroker(1000);
    const client = await connectOver(transport, "unread");
    try {
      const all = Promise.withResolvers<void>();
      let events = 0;
      client.addEventListener("message", () => {
        if (++events === 1000) all.resolve();
      });
      const subscription = await client.subscribe("burst/#", { qos: 0 });
      await all.promise;
      assert.equal(events, 1000);
      assert.equal(subscription.buffered, 100);
    } finally {
      await client.disconnect();
    }
  });

  test("the PUBACKs for a chunk of QoS 1 messages leave in one write", async () => {
    const { transport, writes } = fakeTransport((chunk, server) => {
      if (chunk[0]! >> 4 !== 1) return;
      const publishes: Packet[] = Array.from({ length: 50 }, (_, i) => ({
        type: "publish",
        topic: "x",
        payload: new Uint8Array([i]),
        qos: 1,
        packetId: i + 1,
        retain: false,
        dup: false,
      }));
      server.feed(encodeAll([CONNACK, ...publishes]));
    });
    const client = await connectOver(transport, "acks");
    try {
      let count = 0;
      for await (const _message of client.messages) if (++count === 50) break;
      // The acknowledgements were queued while the chunk was read, and written before the
      // reader got through the messages: CONNECT, then every PUBACK in one write.
      assert.equal(writes.length, 2);
      assert.equal(writes[1]!.length, 50 * 4);
      for (let i = 0; i < 50; i++) {
        assert.deepEqual([...writes[1]!.subarray(i * 4, i * 4 + 4)], [0x40, 2, 0, i + 1]);
      }
    } finally {
      await client.disconnect();
    }
  });
});

/** A transport whose test side sees every chunk the client writes and feeds it bytes. */
function scriptedTransport() {
  let onWrite: (() => void) | undefined;
  const { transport, writes, server } = fakeTransport((chunk, server) => {
    if (chunk[0]! >> 4 === 1) server.feed(encodeAll([CONNACK]));
    onWrite?.();
  });
  const feed = server.feed;
  /** Resolves once the client has written `count` chunks in all. */
  function writesReach(count: number): Promise<void> {
    if (writes.length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      onWrite = () => {
        if (writes.length >= count) {
          onWrite = undefined;
          resolve();
        }
      };
    });
  }
  return { transport, writes, feed, writesReach };
}

function pubacks(from: number, to: number): Uint8Array {
  const bytes = new Uint8Array((to - from + 1) * 4);
  for (let id = from; id <= to; id++) bytes.set([0x40, 2, id >> 8, id & 0xff], (id - from) * 4);
  return bytes;
}

function publishIds(chunk: Uint8Array): number[] {
  const ids: number[] = [];
  let at = 0;
  while (at < chunk.length) {
    assert.equal(chunk[at]! >> 4, 3);
    const length = chunk[at + 1]!; // short packets: one length byte
    const topicLength = (chunk[at + 2]! << 8) | chunk[at + 3]!;
    const idAt = at + 4 + topicLength;
    ids.push((chunk[idAt]! << 8) | chunk[idAt + 1]!);
    at += 2 + length;
  }
  return ids;
}

describe("client write coalescing while answers are awaited", () => {
  test("publishes made while many await their PUBACK wait for the next PUBACK, then leave together", async () => {
    const { transport, writes, feed, writesReach } = scriptedTransport();
    const client = await connectOver(transport, "defer");
    try {
      const payload = new Uint8Array(4);
      const first = Array.from({ length: 40 }, () => client.publish("d/t", payload, { qos: 1 }));
      await writesReach(2);
      // Nothing awaited an answer yet: the 40 left in one write, at once.
      assert.deepEqual(publishIds(writes[1]!), Array.from({ length: 40 }, (_, i) => i + 1));
      const later = Array.from({ length: 5 }, () => client.publish("d/t", payload, { qos: 1 }));
      for (let i = 0; i < 10; i++) await Promise.resolve();
      assert.equal(writes.length, 2, "40 publishes await PUBACK: the 5 new ones wait");
      // One PUBACK: 39 still await an answer, yet the answer releases the 5, in one write
      // (a server with Nagle's algorithm on sends its next answers only once this side
      // acknowledged the segment, which the 5 carry).
      feed(pubacks(1, 1));
      // Within the turn that read the answer, not after the timer that covers silence.
      for (let i = 0; i < 100 && writes.length < 3; i++) await Promise.resolve();
      assert.equal(writes.length, 3, "the answer released the waiting publishes");
      assert.deepEqual(publishIds(writes[2]!), [41, 42, 43, 44, 45]);
      await first[0];
      feed(pubacks(2, 45));
      await Promise.all([...first, ...later]);
    } finally {
      await client.disconnect();
    }
  });

  test("queued publishes still leave when the server stops answering", async () => {
    const { transport, writes, writesReach } = scriptedTransport();
    const client = await connectOver(transport, "stall");
    try {
      const payload = new Uint8Array(4);
      for (let i = 0; i < 40; i++) client.publish("d/t", payload, { qos: 1 }).catch(() => {});
      await writesReach(2);
      client.publish("d/t", payload, { qos: 1 }).catch(() => {});
      // No PUBACK ever comes: the timer lets the queued publish go.
      await writesReach(3);
      assert.deepEqual(publishIds(writes[2]!), [41]);
    } finally {
      await client.disconnect();
    }
  });

  test("disconnect() writes queued packets at once", async () => {
    const { transport, writes, writesReach } = scriptedTransport();
    const client = await connectOver(transport, "bye");
    const payload = new Uint8Array(4);
    for (let i = 0; i < 40; i++) client.publish("d/t", payload, { qos: 1 }).catch(() => {});
    await writesReach(2);
    client.publish("d/t", payload, { qos: 0 }).catch(() => {});
    await client.disconnect();
    const rest = writes.slice(2);
    const bytes = rest.flatMap((chunk) => [...chunk]);
    // The QoS 0 PUBLISH, then DISCONNECT (0xe0 0x00).
    assert.equal(bytes[0]! >> 4, 3);
    assert.deepEqual(bytes.slice(-2), [0xe0, 0x00]);
  });
});
