import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PacketReader } from "./packet_reader.ts";
import { encodePacket } from "../packet/encode.ts";
import type { Packet } from "../packet/types.ts";
import { ProtocolError } from "../errors.ts";

const PACKETS: Packet[] = [
  { type: "puback", packetId: 1 },
  {
    type: "publish",
    topic: "a/b",
    payload: new Uint8Array(300).fill(7),
    qos: 1,
    packetId: 2,
    retain: false,
    dup: false,
  },
  { type: "pingresp" },
  {
    type: "publish",
    topic: "t",
    payload: new Uint8Array([1, 2, 3]),
    qos: 0,
    retain: true,
    dup: false,
  },
  { type: "pubrel", packetId: 9 },
];

function stream(): Uint8Array {
  const parts = PACKETS.map((packet) => encodePacket(packet, 4));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

function drain(reader: PacketReader, out: Packet[]): void {
  for (let packet = reader.next(); packet !== undefined; packet = reader.next()) out.push(packet);
}

function normalise(packets: Packet[]): unknown[] {
  return packets.map((packet) =>
    "payload" in packet ? { ...packet, payload: [...packet.payload] } : packet
  );
}

describe("PacketReader", () => {
  test("decodes a whole stream given in one chunk", () => {
    const reader = new PacketReader(4);
    const out: Packet[] = [];
    reader.push(stream());
    drain(reader, out);
    assert.deepEqual(normalise(out), normalise(PACKETS));
    assert.equal(reader.pending, false);
    reader.end();
  });

  test("decodes the same packets at every split into two chunks", () => {
    const bytes = stream();
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new PacketReader(4);
      const out: Packet[] = [];
      reader.push(bytes.slice(0, cut));
      drain(reader, out);
      reader.push(bytes.slice(cut));
      drain(reader, out);
      assert.deepEqual(normalise(out), normalise(PACKETS), `cut at ${cut}`);
      reader.end();
    }
  });

  test("decodes the same packets fed one byte at a time", () => {
    const bytes = stream();
    const reader = new PacketReader(4);
    const out: Packet[] = [];
    for (const byte of bytes) {
      reader.push(new Uint8Array([byte]));
      drain(reader, out);
    }
    assert.deepEqual(normalise(out), normalise(PACKETS));
  });

  test("decodes random splits into many chunks", () => {
    const bytes = stream();
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < 200; round++) {
      const reader = new PacketReader(4);
      const out: Packet[] = [];
      let at = 0;
      while (at < bytes.length) {
        const size = 1 + Math.floor(random() * 40);
        reader.push(bytes.slice(at, at + size));
        // Sometimes push again before draining: unread bytes must come first.
        if (random() < 0.3) {
          const packet = reader.next();
          if (packet !== undefined) out.push(packet);
        } else {
          drain(reader, out);
        }
        at += size;
      }
      drain(reader, out);
      assert.deepEqual(normalise(out), normalise(PACKETS), `round ${round}`);
    }
  });

  test("a payload of a packet whole in its chunk is a view of the chunk", () => {
    const bytes = encodePacket(PACKETS[1]!, 4);
    const reader = new PacketReader(4);
    reader.push(bytes);
    const packet = reader.next();
    assert.equal(packet?.type, "publish");
    assert.equal((packet as { payload: Uint8Array }).payload.buffer, bytes.buffer);
  });

  test("end() inside a packet raises ProtocolError 0x81", () => {
    const reader = new PacketReader(4);
    reader.push(new Uint8Array([0x40, 0x02, 0x00]));
    assert.equal(reader.next(), undefined);
    assert.equal(reader.pending, true);
    assert.throws(() => reader.end(), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.reasonCode, 0x81);
      assert.match(error.message, /after 3 of its bytes/);
      return true;
    });
  });

  test("a malformed packet raises the codec's ProtocolError", () => {
    const reader = new PacketReader(4);
    // Packet type 0 is reserved.
    reader.push(new Uint8Array([0x00, 0x00]));
    assert.throws(() => reader.next(), ProtocolError);
  });

  test("a packet over maxPacketSize raises 0x95 before its bytes arrive", () => {
    const reader = new PacketReader(5, 100);
    reader.push(new Uint8Array([0x30, 0xc8, 0x01]));
    assert.throws(() => reader.next(), { reasonCode: 0x95 });
  });
});
