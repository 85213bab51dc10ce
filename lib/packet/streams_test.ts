import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PacketDecoderStream,
  type PacketDecoderStreamOptions,
  PacketEncoderStream,
} from "./streams.ts";
import { encodePacket } from "./encode.ts";
import { ProtocolError } from "../errors.ts";
import type { Packet, ProtocolVersion, PublishPacket } from "./types.ts";
import { type Fixture, FIXTURES } from "./testdata/fixtures.ts";

function decode(chunks: Uint8Array[], options: PacketDecoderStreamOptions): Promise<Packet[]> {
  return Array.fromAsync(ReadableStream.from(chunks).pipeThrough(new PacketDecoderStream(options)));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A small seeded PRNG (mulberry32): the same chunks on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `bytes` into chunks of 1 to `max` bytes. */
function split(bytes: Uint8Array, next: () => number, max: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = 1 + Math.floor(next() * max);
    // Copies, so every chunk has its own buffer as a socket's chunks do.
    chunks.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return chunks;
}

const LEVELS: ProtocolVersion[] = [3, 4, 5];
const byLevel = (version: ProtocolVersion): Fixture[] =>
  FIXTURES.filter((f) => f.version === version);

function publishFixture(name: string): Fixture & { packet: PublishPacket } {
  const fixture = FIXTURES.find((f) => f.name === name);
  assert.ok(fixture && fixture.packet.type === "publish", name);
  return fixture as Fixture & { packet: PublishPacket };
}

describe("PacketDecoderStream", () => {
  describe("decodes every fixture fed one byte at a time", () => {
    for (const { name, version, bytes, packet } of FIXTURES) {
      test(name, async () => {
        const chunks = Array.from(bytes, (byte) => new Uint8Array([byte]));
        assert.deepEqual(await decode(chunks, { protocolVersion: version }), [packet]);
      });
    }
  });

  for (const version of LEVELS) {
    const fixtures = byLevel(version);
    const all = concat(fixtures.map((f) => f.bytes));
    const packets = fixtures.map((f) => f.packet);

    test(`decodes all v${version} fixtures from one chunk`, async () => {
      assert.deepEqual(await decode([all.slice()], { protocolVersion: version }), packets);
    });

    test(`decodes all v${version} fixtures from random chunk sizes`, async () => {
      for (let seed = 1; seed <= 20; seed++) {
        const next = random(seed * 7919 + version);
        const max = [3, 17, 300, 5000][seed % 4]!;
        const chunks = split(all, next, max);
        assert.deepEqual(
          await decode(chunks, { protocolVersion: version }),
          packets,
          `seed ${seed}`,
        );
      }
    });

    test(`decodes all v${version} fixtures with every chunk boundary position`, async () => {
      const small = concat(fixtures.filter((f) => f.bytes.length < 300).map((f) => f.bytes));
      const expected = fixtures.filter((f) => f.bytes.length < 300).map((f) => f.packet);
      for (let cut = 1; cut < small.length; cut++) {
        const chunks = [small.slice(0, cut), small.slice(cut)];
        assert.deepEqual(
          await decode(chunks, { protocolVersion: version }),
          expected,
          `cut at ${cut}`,
        );
      }
    });
  }

  test("hands out payloads as views into the chunk that holds the whole packet", async () => {
    const fixture = publishFixture("v4 PUBLISH retained with a two-byte Remaining Length (203)");
    const chunk = concat([
      new Uint8Array([0xc0, 0]),
      fixture.bytes,
      new Uint8Array([0x40, 2, 0, 1]),
    ]);
    const packets = await decode([chunk], { protocolVersion: 4 });
    assert.equal(packets.length, 3);
    const publish = packets[1] as PublishPacket;
    assert.deepEqual(publish, fixture.packet);
    assert.equal(publish.payload.buffer, chunk.buffer);
    assert.equal(publish.payload.byteOffset, 2 + 3 + 3);
  });

  test("copies a packet that spans chunks out of the chunks", async () => {
    const fixture = publishFixture("v4 PUBLISH retained with a two-byte Remaining Length (203)");
    const next = publishFixture("v4 PUBLISH QoS 0");
    const first = fixture.bytes.slice(0, 100);
    const second = concat([fixture.bytes.subarray(100), next.bytes]);
    const packets = await decode([first, second], { protocolVersion: 4 });
    const [spanning, inside] = packets as PublishPacket[];
    assert.deepEqual(spanning, fixture.packet);
    assert.notEqual(spanning!.payload.buffer, first.buffer);
    assert.notEqual(spanning!.payload.buffer, second.buffer);
    assert.equal(inside!.payload.buffer, second.buffer);
    // Later changes to either chunk do not reach the spanning packet.
    first.fill(0);
    second.fill(0);
    assert.deepEqual(spanning, fixture.packet);
  });

  test("never changes a payload it handed out, however many chunks follow", async () => {
    // Payloads below, around and above any buffer size the decoder might pool, each
    // with its own byte pattern, cut into chunks of every size from 1 byte up.
    const sizes = [0, 1, 7, 100, 1000, 4093, 5000, 16_000, 17_000, 70_000];
    const expected: PublishPacket[] = [];
    for (let i = 0; i < 150; i++) {
      const size = sizes[i % sizes.length]!;
      const payload = new Uint8Array(size);
      for (let j = 0; j < size; j++) payload[j] = (i * 31 + j * 7) & 0xff;
      expected.push({
        type: "publish",
        topic: `t/${i}`,
        payload,
        qos: 0,
        retain: false,
        dup: false,
      });
    }
    const bytes = concat(expected.map((p) => encodePacket(p, 4)));
    const next = random(99);
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < bytes.length;) {
      const size = 1 + Math.floor(next() * [5, 300, 3000, 20_000, 100_000][chunks.length % 5]!);
      chunks.push(bytes.slice(offset, offset + size));
      offset += size;
    }
    const decoded = ReadableStream.from(chunks).pipeThrough(
      new PacketDecoderStream({ protocolVersion: 4 }),
    );
    const received: PublishPacket[] = [];
    const snapshots: Uint8Array[] = [];
    for await (const packet of decoded) {
      assert.equal(packet.type, "publish");
      received.push(packet);
      snapshots.push(packet.payload.slice());
    }
    assert.equal(received.length, expected.length);
    const chunkBuffers = new Set<ArrayBufferLike>(chunks.map((chunk) => chunk.buffer));
    const spanning: Uint8Array[] = [];
    for (let i = 0; i < received.length; i++) {
      const payload = received[i]!.payload;
      // Every payload still holds the bytes it had when it was handed out.
      assert.deepEqual(payload, snapshots[i], `packet ${i} changed after it was handed out`);
      assert.deepEqual(received[i], expected[i], `packet ${i}`);
      if (payload.length > 0 && !chunkBuffers.has(payload.buffer)) spanning.push(payload);
    }
    assert.ok(spanning.length >= 30, `only ${spanning.length} packets spanned chunks`);
    // No two packets assembled by the decoder share a byte of memory.
    const regions = spanning
      .map((p) => ({ buffer: p.buffer, start: p.byteOffset, end: p.byteOffset + p.length }))
      .sort((a, b) => a.start - b.start);
    for (let i = 0; i < regions.length; i++) {
      for (let j = i + 1; j < regions.length && regions[j]!.start < regions[i]!.end; j++) {
        assert.notEqual(regions[j]!.buffer, regions[i]!.buffer, "two payloads overlap");
      }
    }
    // Changing the input afterwards does not reach the assembled packets either.
    for (const chunk of chunks) chunk.fill(0xee);
    for (let i = 0; i < received.length; i++) {
      const payload = received[i]!.payload;
      if (!chunkBuffers.has(payload.buffer)) assert.deepEqual(payload, expected[i]!.payload);
    }
  });

  test("errors with Packet Too Large from the fixed header, before the body arrives", async () => {
    const decoder = new PacketDecoderStream({ protocolVersion: 5, maxPacketSize: 1000 });
    const writer = decoder.writable.getWriter();
    const reader = decoder.readable.getReader();
    // PUBLISH with Remaining Length 1000: three header bytes make it 1003 bytes long.
    writer.write(new Uint8Array([0x30, 0xe8, 0x07])).catch(() => {});
    await assert.rejects(
      reader.read(),
      (error) => error instanceof ProtocolError && error.reasonCode === 0x95,
    );
  });

  test("accepts a packet of exactly maxPacketSize", async () => {
    const fixture = publishFixture("v4 PUBLISH retained with a two-byte Remaining Length (203)");
    const chunks = split(fixture.bytes, random(7), 40);
    const packets = await decode(chunks, {
      protocolVersion: 4,
      maxPacketSize: fixture.bytes.length,
    });
    assert.deepEqual(packets, [fixture.packet]);
    await assert.rejects(
      decode(chunks, { protocolVersion: 4, maxPacketSize: fixture.bytes.length - 1 }),
      { reasonCode: 0x95 },
    );
  });

  test("switches to the protocol level of a CONNECT for the packets after it", async () => {
    const connect = FIXTURES.find((f) => f.name === "v5 CONNECT minimal")!;
    const publish = publishFixture(
      "v5 PUBLISH QoS 1 with every PUBLISH property, repeated user properties and subscription identifiers",
    );
    const decoder = new PacketDecoderStream({ protocolVersion: 4 });
    const packets = await Array.fromAsync(
      ReadableStream.from([concat([connect.bytes, publish.bytes])]).pipeThrough(decoder),
    );
    assert.deepEqual(packets, [connect.packet, publish.packet]);
    assert.equal(decoder.protocolVersion, 5);
  });

  test("uses a protocolVersion set between chunks", async () => {
    const decoder = new PacketDecoderStream({ protocolVersion: 4 });
    const writer = decoder.writable.getWriter();
    const reader = decoder.readable.getReader();
    // A pending read lets the first chunk through; it holds only part of a packet.
    const first = reader.read();
    await writer.write(new Uint8Array([0x40, 3, 0, 1]));
    assert.equal(decoder.protocolVersion, 4);
    decoder.protocolVersion = 5;
    const rest = writer.write(new Uint8Array([0x10, 0x40, 3, 0, 2, 0x10]));
    assert.deepEqual((await first).value, { type: "puback", packetId: 1, reasonCode: 0x10 });
    assert.deepEqual((await reader.read()).value, {
      type: "puback",
      packetId: 2,
      reasonCode: 0x10,
    });
    await rest;
    await writer.close();
    assert.equal((await reader.read()).done, true);
  });

  test("errors when the input ends inside a packet", async () => {
    await assert.rejects(
      decode([new Uint8Array([0x40, 2, 0])], { protocolVersion: 4 }),
      (error) => error instanceof ProtocolError && error.reasonCode === 0x81,
    );
    await assert.rejects(
      decode([new Uint8Array([0x30, 0x80])], { protocolVersion: 4 }),
      ProtocolError,
    );
  });

  test("errors on a malformed packet after delivering the ones before it", async () => {
    const decoder = new PacketDecoderStream({ protocolVersion: 5 });
    const reader = ReadableStream.from([new Uint8Array([0xc0, 0, 0x36, 0])]).pipeThrough(decoder)
      .getReader();
    assert.deepEqual((await reader.read()).value, { type: "pingreq" });
    await assert.rejects(
      reader.read(),
      (error) => error instanceof ProtocolError && error.statement === "MQTT-3.3.1-4",
    );
  });

  test("rejects options it cannot use", () => {
    assert.throws(
      () => new PacketDecoderStream({ protocolVersion: 2 as ProtocolVersion }),
      RangeError,
    );
    assert.throws(
      () => new PacketDecoderStream({ protocolVersion: 4, maxPacketSize: 1 }),
      RangeError,
    );
    const decoder = new PacketDecoderStream({ protocolVersion: 4 });
    assert.throws(() => {
      decoder.protocolVersion = 6 as ProtocolVersion;
    }, RangeError);
    assert.equal(decoder.protocolVersion, 4);
  });
});

describe("PacketEncoderStream", () => {
  for (const version of LEVELS) {
    test(`encodes every v${version} fixture`, async () => {
      const fixtures = byLevel(version);
      const chunks = await Array.fromAsync(
        ReadableStream.from(fixtures.map((f) => f.packet)).pipeThrough(
          new PacketEncoderStream({ protocolVersion: version }),
        ),
      );
      assert.deepEqual(chunks.map((chunk) => [...chunk]), fixtures.map((f) => [...f.bytes]));
    });
  }

  test("switches to the protocol level of a CONNECT for the packets after it", async () => {
    const connect = FIXTURES.find((f) => f.name === "v5 CONNECT minimal")!;
    const encoder = new PacketEncoderStream({ protocolVersion: 4 });
    const packets: Packet[] = [connect.packet, { type: "puback", packetId: 1, reasonCode: 0x10 }];
    const chunks = await Array.fromAsync(ReadableStream.from(packets).pipeThrough(encoder));
    assert.deepEqual(chunks.map((chunk) => [...chunk]), [[...connect.bytes], [
      0x40,
      3,
      0,
      1,
      0x10,
    ]]);
    assert.equal(encoder.protocolVersion, 5);
  });

  test("errors on a packet it cannot encode", async () => {
    const packets: Packet[] = [{ type: "puback", packetId: 0 }];
    await assert.rejects(
      Array.fromAsync(
        ReadableStream.from(packets).pipeThrough(new PacketEncoderStream({ protocolVersion: 4 })),
      ),
      RangeError,
    );
  });

  test("round trips through the decoder", async () => {
    const fixtures = byLevel(5);
    const packets = await Array.fromAsync(
      ReadableStream.from(fixtures.map((f) => f.packet))
        .pipeThrough(new PacketEncoderStream({ protocolVersion: 5 }))
        .pipeThrough(new PacketDecoderStream({ protocolVersion: 5 })),
    );
    assert.deepEqual(packets, fixtures.map((f) => f.packet));
  });
});
