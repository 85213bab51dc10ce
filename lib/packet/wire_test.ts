import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cursor, readUtf8String } from "./_wire.ts";
import { decodePacket } from "./decode.ts";
import { encodePacket } from "./encode.ts";
import { ProtocolError } from "../errors.ts";

const encoder = new TextEncoder();

/** A length-prefixed UTF-8 string field with `before` filler bytes in front of it. */
function field(content: Uint8Array | string, before = 0): Uint8Array {
  const bytes = typeof content === "string" ? encoder.encode(content) : content;
  const out = new Uint8Array(before + 2 + bytes.length);
  out.fill(0x7a, 0, before);
  out[before] = bytes.length >>> 8;
  out[before + 1] = bytes.length & 0xff;
  out.set(bytes, before + 2);
  return out;
}

/** Reads the string field at `before` (as {@link field} built it), checking the cursor. */
function read(b: Uint8Array, wildcards?: string, before = 0): string {
  const text = readUtf8String(b, before, b.length, wildcards);
  assert.equal(cursor.pos, b.length);
  return text;
}

/** A check for `assert.throws`: a ProtocolError with this reason code and statement. */
function protocolError(reasonCode: number, statement: string) {
  return (error: unknown) =>
    error instanceof ProtocolError && error.reasonCode === reasonCode &&
    error.statement === statement;
}

/** A small seeded PRNG (mulberry32): the same strings on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789/_-";

function randomAscii(next: () => number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

describe("readUtf8String and its cache of recent strings", () => {
  test("[MQTT-3.3.2-2] a cached topic filter with '+' or '#' still fails as a topic name", () => {
    for (const filter of ["a/+/b", "sensors/#", "+", "#", "x/+/y/#", "température/+"]) {
      const bytes = field(filter);
      // Read as a filter (no wildcard rule) twice: the second read comes from the cache.
      assert.equal(read(bytes), filter);
      assert.equal(read(bytes), filter);
      assert.throws(() => read(bytes, "MQTT-3.3.2-2"), protocolError(0x81, "MQTT-3.3.2-2"));
      // A filter read again afterwards is unaffected by the failed topic name.
      assert.equal(read(bytes), filter);
    }
  });

  test("[MQTT-3.3.2-2] a PUBLISH after a SUBSCRIBE with the same filter is rejected", () => {
    for (const protocolVersion of [4, 5] as const) {
      const subscribe = encodePacket({
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "home/+/temp", qos: 1 }],
      }, protocolVersion);
      const decoded = decodePacket(subscribe, { protocolVersion });
      assert.equal(decoded?.packet.type, "subscribe");
      // A valid PUBLISH, then its topic bytes changed to the filter: same length.
      const publish = encodePacket({
        type: "publish",
        topic: "home/x/temp",
        payload: new Uint8Array([1]),
        qos: 0,
        retain: false,
        dup: false,
      }, protocolVersion);
      const at = 4 + "home/".length;
      assert.equal(publish[at], 0x78);
      publish[at] = 0x2b;
      assert.throws(
        () => decodePacket(publish, { protocolVersion }),
        protocolError(0x81, "MQTT-3.3.2-2"),
      );
    }
  });

  test("[MQTT-3.3.2-2] a wildcard at any position fails even when the rest matches a cached name", () => {
    const name = "building/floor-3/room-12/temperature";
    for (let at = 0; at < name.length; at++) {
      for (const wildcard of ["+", "#"]) {
        assert.equal(read(field(name), "MQTT-3.3.2-2"), name);
        const bad = name.slice(0, at) + wildcard + name.slice(at + 1);
        assert.throws(
          () => read(field(bad), "MQTT-3.3.2-2"),
          protocolError(0x81, "MQTT-3.3.2-2"),
          `wildcard at ${at}`,
        );
        // Without the topic name rule it is a valid string.
        assert.equal(read(field(bad)), bad);
      }
    }
  });

  test("never mixes up strings of the same length that differ in one byte", () => {
    const base = "sensors/kitchen/temperature/0001";
    for (let at = 0; at < base.length; at++) {
      const other = base.slice(0, at) + (base[at] === "q" ? "r" : "q") + base.slice(at + 1);
      // Alternate, so each read may hit the other string's slot.
      for (let round = 0; round < 3; round++) {
        assert.equal(read(field(base)), base, `base, byte ${at}`);
        assert.equal(read(field(other)), other, `other, byte ${at}`);
      }
    }
  });

  test("never mixes up strings that share a prefix but differ in length", () => {
    const long = "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0123456789ab";
    assert.equal(long.length, 64);
    for (let round = 0; round < 2; round++) {
      for (let length = 1; length <= long.length; length++) {
        const prefix = long.slice(0, length);
        // The longer string sits after the field in the same buffer: only the length
        // prefix tells them apart.
        const bytes = field(long);
        bytes[0] = 0;
        bytes[1] = length;
        assert.equal(readUtf8String(bytes, 0, bytes.length, undefined), prefix);
        assert.equal(cursor.pos, 2 + length);
        assert.equal(read(field(prefix)), prefix);
      }
    }
  });

  test("reads the bytes again when the buffer they came from changes", () => {
    const bytes = field("devices/alpha/state", 3);
    assert.equal(read(bytes, undefined, 3), "devices/alpha/state");
    bytes.set(encoder.encode("gamma"), 3 + 2 + "devices/".length);
    assert.equal(read(bytes, undefined, 3), "devices/gamma/state");
    assert.equal(read(bytes, undefined, 3), "devices/gamma/state");
  });

  test("finds a cached string at any offset in any buffer", () => {
    const text = "clients/abc-123";
    const expected = read(field(text));
    for (let before = 0; before < 20; before++) {
      const bytes = field(text, before);
      assert.equal(read(bytes, undefined, before), expected);
    }
  });

  test("keeps every string right when many share cache slots", () => {
    // Far more strings than slots, of lengths 1 to 70 (past the cached maximum of 64),
    // so many land in the same slot and evict each other.
    const next = random(2024);
    const strings: string[] = [];
    for (let i = 0; i < 3000; i++) strings.push(randomAscii(next, 1 + (i % 70)));
    // Near-duplicates of the first ones: one byte changed at a random position.
    for (let i = 0; i < 500; i++) {
      const s = strings[i]!;
      const at = Math.floor(next() * s.length);
      strings.push(s.slice(0, at) + (s[at] === "z" ? "y" : "z") + s.slice(at + 1));
    }
    const fields = strings.map((s) => field(s));
    for (let round = 0; round < 3; round++) {
      // A different order each round: hits, misses and evictions interleave.
      const order = strings.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const i of order) assert.equal(read(fields[i]!), strings[i], `string ${i}`);
    }
  });

  test("reads non-ASCII strings the same on a hit as on a miss", () => {
    const strings = [
      "température/é",
      "日本語/トピック",
      "emoji/😀/🚀",
      "\uFEFFbom/kept",
      "mixed/ß/Ω/€/𝄞",
      "é".repeat(32), // 64 bytes: the longest cached string
      "é".repeat(33), // 66 bytes: never cached
    ];
    for (let round = 0; round < 3; round++) {
      for (const s of strings) {
        const text = read(field(s));
        assert.equal(text, s);
        assert.equal(text.length, s.length);
      }
    }
  });

  test("[MQTT-1.5.4-1] ill-formed UTF-8 fails every time, even next to a cached valid string", () => {
    const cases: [valid: number[], invalid: number[]][] = [
      // "aé" and the same bytes with a broken continuation byte.
      [[0x61, 0xc3, 0xa9], [0x61, 0xc3, 0x29]],
      // "é/x" and a lone continuation byte.
      [[0xc3, 0xa9, 0x2f, 0x78], [0xa9, 0xc3, 0x2f, 0x78]],
      // "ab€" and a truncated three-byte sequence.
      [[0x61, 0x62, 0xe2, 0x82, 0xac], [0x61, 0x62, 0x62, 0xe2, 0x82]],
      // "é" and the overlong encoding of '/'.
      [[0xc3, 0xa9], [0xc0, 0xaf]],
      // "€" and an encoded surrogate U+D800.
      [[0xe2, 0x82, 0xac], [0xed, 0xa0, 0x80]],
      // "😀" and a code point above U+10FFFF.
      [[0xf0, 0x9f, 0x98, 0x80], [0xf4, 0x90, 0x80, 0x80]],
      // A 64-byte string and the same with its last byte made a lead byte.
      [new Array(64).fill(0x61), [...new Array(63).fill(0x61), 0xc3]],
    ];
    for (const [valid, invalid] of cases) {
      const good = field(new Uint8Array(valid));
      const bad = field(new Uint8Array(invalid));
      for (let round = 0; round < 3; round++) {
        assert.equal(read(good), new TextDecoder().decode(new Uint8Array(valid)));
        for (const wildcards of [undefined, "MQTT-3.3.2-2"]) {
          assert.throws(() => read(bad, wildcards), protocolError(0x81, "MQTT-1.5.4-1"));
        }
      }
    }
  });

  test("[MQTT-1.5.4-1] reports ill-formed UTF-8 with the 3.1.1 statement through decodePacket", () => {
    // PUBLISH topic "é" cached, then the same packet with a broken continuation byte.
    for (
      const [protocolVersion, statement] of [[4, "MQTT-1.5.3-1"], [5, "MQTT-1.5.4-1"]] as const
    ) {
      const publish = encodePacket({
        type: "publish",
        topic: "é",
        payload: new Uint8Array(0),
        qos: 0,
        retain: false,
        dup: false,
      }, protocolVersion);
      assert.equal(decodePacket(publish, { protocolVersion })?.packet.type, "publish");
      publish[5] = 0x29;
      assert.throws(
        () => decodePacket(publish, { protocolVersion }),
        protocolError(0x81, statement),
      );
    }
  });

  test("[MQTT-1.5.4-2] U+0000 at any position fails even when the rest matches a cached string", () => {
    const text = "home/livingroom/lamp/brightness";
    for (let at = 0; at < text.length; at++) {
      assert.equal(read(field(text)), text);
      const bytes = field(text);
      bytes[2 + at] = 0;
      for (const wildcards of [undefined, "MQTT-3.3.2-2"]) {
        assert.throws(
          () => read(bytes, wildcards),
          protocolError(0x81, "MQTT-1.5.4-2"),
          `U+0000 at ${at}`,
        );
      }
    }
    // After a multi-byte character too.
    assert.equal(read(field("é/a")), "é/a");
    assert.throws(
      () => read(field(new Uint8Array([0xc3, 0xa9, 0x2f, 0]))),
      protocolError(0x81, "MQTT-1.5.4-2"),
    );
  });

  test("errors on a string that runs past the end, cached or not", () => {
    const bytes = field("abc");
    assert.equal(read(bytes), "abc");
    assert.throws(
      () => readUtf8String(bytes, 0, bytes.length - 1, undefined),
      (error) => error instanceof ProtocolError && error.reasonCode === 0x81,
    );
    assert.throws(
      () => readUtf8String(bytes, 0, 1, undefined),
      (error) => error instanceof ProtocolError && error.reasonCode === 0x81,
    );
  });

  test("reads the empty string", () => {
    assert.equal(read(new Uint8Array([0, 0])), "");
    assert.equal(read(new Uint8Array([0, 0]), "MQTT-3.3.2-2"), "");
  });
});
