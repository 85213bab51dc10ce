/**
 * Property-based tests for the codec with fast-check: random valid packets of every type, in
 * the canonical form described in types.ts, for MQTT 3.1, 3.1.1 and 5.0.
 *
 * - decode(encode(p)) deep-equals p and consumes exactly the encoded bytes;
 * - the same packets cut at random places and fed to PacketDecoderStream come out whole, and
 *   PacketEncoderStream piped into PacketDecoderStream gives them back;
 * - random and mutated bytes make decodePacket return undefined, return a packet or throw a
 *   ProtocolError, never anything else; a packet it accepts encodes back to itself.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodePacket, encodePacket, PacketDecoderStream, PacketEncoderStream } from "./mod.ts";
import { type Packet, PACKET_TYPE_NUMBERS, type ProtocolVersion } from "./types.ts";
import { ProtocolError } from "../errors.ts";
import { anyPacket, packetArbitraries } from "./testdata/arbitraries.ts";

const RUNS = 300;

const u8 = fc.integer({ min: 0, max: 0xff });
const packetArbs = (version: ProtocolVersion) => packetArbitraries(version);

const VERSIONS: ProtocolVersion[] = [3, 4, 5];

// ---------------------------------------------------------------------------------------------
// Round trips

function roundTrip(packet: Packet, version: ProtocolVersion): void {
  const encoded = encodePacket(packet, version);
  assert.ok(encoded instanceof Uint8Array);
  const decoded = decodePacket(encoded, { protocolVersion: version });
  assert.ok(decoded, "a whole packet decodes");
  assert.equal(decoded.bytesRead, encoded.length);
  assert.deepEqual(decoded.packet, packet);
}

for (const version of VERSIONS) {
  describe(`round trip, protocol level ${version}`, () => {
    for (const [type, arb] of Object.entries(packetArbs(version))) {
      test(`decode(encode(${type})) equals the ${type}`, () => {
        fc.assert(fc.property(arb, (packet) => roundTrip(packet, version)), {
          numRuns: type === "pingreq" || type === "pingresp" ? 1 : RUNS,
        });
      });
    }

    test("encoding is deterministic and the first byte names the type", () => {
      fc.assert(
        fc.property(anyPacket(version), (packet) => {
          const a = encodePacket(packet, version);
          const b = encodePacket(packet, version);
          assert.deepEqual(a, b);
          assert.equal(a[0]! >> 4, PACKET_TYPE_NUMBERS[packet.type]);
        }),
        { numRuns: RUNS },
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// PacketDecoderStream over random chunking

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Cuts `data` at the given (sorted, deduplicated) offsets. */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, data.length]) {
    chunks.push(data.slice(start, point)); // may be empty: the stream must cope
    start = point;
  }
  return chunks;
}

async function decodeStream(chunks: Uint8Array[], version: ProtocolVersion): Promise<Packet[]> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  const packets: Packet[] = [];
  const readable = source.pipeThrough(new PacketDecoderStream({ protocolVersion: version }));
  for await (const packet of readable) packets.push(packet);
  return packets;
}

for (const version of VERSIONS) {
  test(`PacketDecoderStream reassembles randomly split packets (level ${version})`, async () => {
    // Without CONNECT: a CONNECT would switch the stream to the level it names.
    const arbs = packetArbs(version);
    delete arbs.connect;
    const packets = fc.array(fc.oneof(...Object.values(arbs)), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(
        packets,
        fc.array(fc.nat(), { maxLength: 12 }),
        async (list, cuts) => {
          const wire = concat(list.map((p) => encodePacket(p, version)));
          const decoded = await decodeStream(split(wire, cuts), version);
          assert.deepEqual(decoded, list);
        },
      ),
      { numRuns: 150 },
    );
  });
}

for (const version of VERSIONS) {
  test(`PacketEncoderStream into PacketDecoderStream gives back the packets (level ${version})`, async () => {
    const arbs = packetArbs(version);
    delete arbs.connect;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(...Object.values(arbs)), { minLength: 1, maxLength: 6 }),
        async (list) => {
          const source = new ReadableStream<Packet>({
            start(controller) {
              for (const packet of list) controller.enqueue(packet);
              controller.close();
            },
          });
          const decoded: Packet[] = [];
          const readable = source
            .pipeThrough(new PacketEncoderStream({ protocolVersion: version }))
            .pipeThrough(new PacketDecoderStream({ protocolVersion: version }));
          for await (const packet of readable) decoded.push(packet);
          assert.deepEqual(decoded, list);
        },
      ),
      { numRuns: 100 },
    );
  });
}

test("PacketDecoderStream yields one packet per byte-sized chunk sequence", async () => {
  await fc.assert(
    fc.asyncProperty(anyPacket(5).filter((p) => p.type !== "connect"), async (packet) => {
      const wire = encodePacket(packet, 5);
      const chunks = [...wire].map((b) => Uint8Array.of(b));
      assert.deepEqual(await decodeStream(chunks, 5), [packet]);
    }),
    { numRuns: 100 },
  );
});

test("PacketDecoderStream errors with a ProtocolError on malformed input", async () => {
  // A valid PINGRESP, then a PUBLISH with QoS 3.
  const chunks = [Uint8Array.of(0xd0, 0x00, 0x36, 0x05), Uint8Array.of(0, 1, 0x74, 0, 1)];
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  const reader = source.pipeThrough(new PacketDecoderStream({ protocolVersion: 4 })).getReader();
  const first = await reader.read();
  assert.deepEqual(first.value, { type: "pingresp" });
  await assert.rejects(
    reader.read(),
    (error: unknown) => error instanceof ProtocolError && error.reasonCode === 0x81,
  );
});

// ---------------------------------------------------------------------------------------------
// Fuzz: never anything but undefined, a packet or a ProtocolError

function decodeOrProtocolError(
  data: Uint8Array,
  version: ProtocolVersion,
): { packet: Packet; bytesRead: number } | undefined | ProtocolError {
  try {
    return decodePacket(data, { protocolVersion: version });
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw new Error(
      `decodePacket threw a non-ProtocolError on ${
        [...data].map((b) => b.toString(16).padStart(2, "0")).join(" ")
      } (v${version}): ${String(error)}`,
      { cause: error },
    );
  }
}

/** An accepted packet is valid, so it must encode, and decode back to itself. */
function assertStable(
  result: ReturnType<typeof decodeOrProtocolError>,
  data: Uint8Array,
  version: ProtocolVersion,
) {
  if (result === undefined || result instanceof ProtocolError) return;
  assert.ok(result.bytesRead >= 2 && result.bytesRead <= data.length);
  const level = result.packet.type === "connect" ? result.packet.protocolVersion : version;
  const again = encodePacket(result.packet, level);
  const back = decodePacket(again, { protocolVersion: level });
  assert.ok(back);
  assert.deepEqual(back.packet, result.packet);
}

const version = fc.constantFrom<ProtocolVersion>(3, 4, 5);

describe("fuzz", () => {
  test("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), version, (data, v) => {
        assertStable(decodeOrProtocolError(data, v), data, v);
      }),
      { numRuns: 500 },
    );
  });

  test("random bodies behind a valid-looking fixed header", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        fc.uint8Array({ maxLength: 100 }),
        version,
        (type, flags, body, v) => {
          const data = Uint8Array.from([(type << 4) | flags, body.length, ...body]);
          assertStable(decodeOrProtocolError(data, v), data, v);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("valid packets with bytes flipped, inserted or cut", () => {
    const mutation = fc.record({
      at: fc.nat(),
      value: u8,
      kind: fc.constantFrom("flip", "set", "insert", "delete", "truncate"),
    });
    fc.assert(
      fc.property(
        version.chain((v) => fc.tuple(fc.constant(v), anyPacket(v))),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        ([v, packet], mutations) => {
          let data = [...encodePacket(packet, v)];
          for (const { at, value, kind } of mutations) {
            const i = at % data.length;
            if (kind === "flip") data[i] = data[i]! ^ (1 << (value % 8));
            else if (kind === "set") data[i] = value;
            else if (kind === "insert") data.splice(i, 0, value);
            else if (kind === "delete") data.splice(i, 1);
            else data = data.slice(0, i);
            if (data.length === 0) data = [value];
          }
          const bytes = Uint8Array.from(data);
          assertStable(decodeOrProtocolError(bytes, v), bytes, v);
        },
      ),
      { numRuns: 500 },
    );
  });
});
