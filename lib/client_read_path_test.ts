import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "./client.ts";
import { encodePacket } from "./packet/encode.ts";
import type { Packet } from "./packet/types.ts";
import type { Transport } from "./transport/types.ts";

/**
 * A broker stand-in that answers CONNECT and SUBSCRIBE, then sends `burst` QoS 0
 * PUBLISH packets in ONE chunk, and counts the chunks the client writes.
 */
function burstBroker(burst: number, payloadSize = 8) {
  let readable!: ReadableStreamDefaultController<Uint8Array>;
  const closed = Promise.withResolvers<void>();
  const writes: Uint8Array[] = [];
  const send = (packets: Packet[]) => {
    const parts = packets.map((packet) => encodePacket(packet, 4));
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    queueMicrotask(() => readable.enqueue(bytes));
  };
  const transport: Transport = {
    readable: new ReadableStream<Uint8Array>({ start: (c) => void (readable = c) }),
    writable: new WritableStream<Uint8Array>({
      write(chunk) {
        writes.push(chunk);
        const type = chunk[0]! >> 4;
        if (type === 1) send([{ type: "connack", sessionPresent: false, reasonCode: 0 }]);
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
        if (type === 14) {
          readable.close();
          closed.resolve();
        }
      },
    }),
    closed: closed.promise,
    remoteAddress: undefined,
    close() {
      try {
        readable.close();
      } catch {
        // already closed
      }
      closed.resolve();
      return closed.promise;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
  return { transport, writes };
}

describe("client read path", () => {
  test("a QoS 0 burst larger than the buffer, in one chunk, reaches a reader that keeps up", async () => {
    const { transport } = burstBroker(1000);
    const client = await connect("mqtt://fake", {
      clientId: "burst",
      protocolVersion: 4,
      keepalive: 0,
      reconnect: false,
      transport: () => Promise.resolve(transport),
    });
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

  test("the PUBACKs for a chunk of QoS 1 messages leave in one write", async () => {
    let readable!: ReadableStreamDefaultController<Uint8Array>;
    const writes: Uint8Array[] = [];
    const closed = Promise.withResolvers<void>();
    const transport: Transport = {
      readable: new ReadableStream<Uint8Array>({ start: (c) => void (readable = c) }),
      writable: new WritableStream<Uint8Array>({
        write(chunk) {
          writes.push(chunk);
          if (chunk[0]! >> 4 === 1) {
            const connack = encodePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, 4);
            const publishes = Array.from({ length: 50 }, (_, i) =>
              encodePacket({
                type: "publish",
                topic: "x",
                payload: new Uint8Array([i]),
                qos: 1,
                packetId: i + 1,
                retain: false,
                dup: false,
              }, 4));
            const bytes = new Uint8Array(
              connack.length + publishes.reduce((sum, part) => sum + part.length, 0),
            );
            bytes.set(connack);
            let offset = connack.length;
            for (const part of publishes) {
              bytes.set(part, offset);
              offset += part.length;
            }
            queueMicrotask(() => readable.enqueue(bytes));
          }
        },
      }),
      closed: closed.promise,
      remoteAddress: undefined,
      close() {
        try {
          readable.close();
        } catch {
          // already closed
        }
        closed.resolve();
        return closed.promise;
      },
      [Symbol.asyncDispose]() {
        return this.close();
      },
    };
    const client = await connect("mqtt://fake", {
      clientId: "acks",
      protocolVersion: 4,
      keepalive: 0,
      reconnect: false,
      transport: () => Promise.resolve(transport),
    });
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
