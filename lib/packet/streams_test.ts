import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PacketDecoderStream,
  type PacketDecoderStreamOptions,
  PacketEncoderStream,
} from "./streams.ts";
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

  test("copies a packet that spans chunks into its own buffer", async () => {
    const fixture = publishFixture("v4 PUBLISH retained with a two-byte Remaining Length (203)");
    const next = publishFixture("v4 PUBLISH QoS 0");
    const first = fixture.bytes.slice(0, 100);
    const second = concat([fixture.bytes.subarray(100), next.bytes]);
    const packets = await decode([first, second], { protocolVersion: 4 });
    const [spanning, inside] = packets as PublishPacket[];
    assert.deepEqual(spanning, fixture.packet);
    assert.notEqual(spanning!.payload.buffer, first.buffer);
    assert.notEqual(spanning!.payload.buffer, second.buffer);
    assert.equal(spanning!.payload.buffer.byteLength, fixture.bytes.length);
    assert.equal(inside!.payload.buffer, second.buffer);
    // Later changes to either chunk do not reach the spanning packet.
    first.fill(0);
    second.fill(0);
    assert.deepEqual(spanning, fixture.packet);
  });

  test("never reuses the buffer of a packet it handed out", async () => {
    const fixture = publishFixture("v4 PUBLISH retained with a two-byte Remaining Length (203)");
    const chunks = split(concat([fixture.bytes, fixture.bytes, fixture.bytes]), random(42), 150);
    const packets = (await decode(chunks, { protocolVersion: 4 })) as PublishPacket[];
    assert.equal(packets.length, 3);
    const buffers = new Set(packets.map((p) => p.payload.buffer));
    assert.equal(buffers.size, 3);
    for (const chunk of chunks) chunk.fill(0xee);
    for (const packet of packets) assert.deepEqual(packet, fixture.packet);
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
