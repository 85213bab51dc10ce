/**
 * Adversarial inputs for the codec: raw bytes that break the MQTT 3.1.1 / 5.0 wire rules must
 * make `decodePacket` throw a ProtocolError carrying the reason code a receiver answers with
 * (0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol Version, 0x95 Packet
 * Too Large) and, where the spec numbers the rule, its statement id. Incomplete but valid
 * prefixes must return undefined ("need more bytes"), never throw. The encoder must refuse
 * caller mistakes with TypeError / RangeError before a byte is written.
 *
 * Where the spec names no reason code: flag bits that contradict each other (DUP on QoS 0, Will
 * QoS or Will Retain without the Will Flag, a 3.1.1 Password Flag without the User Name Flag) are
 * Malformed like any invalid flags (MQTT 5.0 section 2.1.3), and so is a wildcard in a Topic
 * Name; a value that parses but that the protocol forbids is a Protocol Error (0x82), following
 * the definitions of MQTT 5.0 section 1.2.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodePacket, encodePacket } from "./mod.ts";
import type { Packet } from "./types.ts";
import { ProtocolError } from "../errors.ts";

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const UNSUPPORTED_PROTOCOL_VERSION = 0x84;
const PACKET_TOO_LARGE = 0x95;

// ---------------------------------------------------------------------------------------------
// Byte builders (all hand-written so the inputs do not depend on the encoder under test)

const utf8 = new TextEncoder();

/** Variable Byte Integer. */
function vbi(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

function u16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** UTF-8 Encoded String: two-byte length then the bytes. */
function str(text: string): number[] {
  return rawStr([...utf8.encode(text)]);
}

/** A length-prefixed field holding arbitrary (possibly ill-formed) bytes. */
function rawStr(bytes: number[]): number[] {
  return [...u16(bytes.length), ...bytes];
}

/** A whole packet: first byte, computed Remaining Length, body. */
function pkt(first: number, ...parts: number[][]): Uint8Array {
  const body = parts.flat();
  return Uint8Array.from([first, ...vbi(body.length), ...body]);
}

/** An MQTT 5 property block: Property Length then the properties. */
function props(...entries: number[][]): number[] {
  const body = entries.flat();
  return [...vbi(body.length), ...body];
}

/** A CONNECT body: protocol name, level, flags, keep alive, [properties], payload fields. */
function connectBody(
  name: string,
  level: number,
  flags: number,
  properties: number[] | null,
  ...payload: number[][]
): number[] {
  return [...str(name), level, flags, ...u16(30), ...(properties ?? []), ...payload.flat()];
}

function connect5(flags: number, properties: number[], ...payload: number[][]): Uint8Array {
  return pkt(0x10, connectBody("MQTT", 5, flags, properties, ...payload));
}

function connect4(flags: number, ...payload: number[][]): Uint8Array {
  return pkt(0x10, connectBody("MQTT", 4, flags, null, ...payload));
}

/** PUBLISH v5, QoS 0, topic "t", the given properties, payload "x". */
function publish5(...entries: number[][]): Uint8Array {
  return pkt(0x30, str("t"), props(...entries), [0x78]);
}

/** CONNACK v5, accepted, the given properties. */
function connack5(...entries: number[][]): Uint8Array {
  return pkt(0x20, [0x00, 0x00], props(...entries));
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

// ---------------------------------------------------------------------------------------------
// The assertion

interface Case {
  name: string;
  bytes: Uint8Array;
  version: 3 | 4 | 5;
  reasonCode: number;
  /** The statement id; a list when the two spec versions number one rule differently. */
  statement?: string | string[];
  maxPacketSize?: number;
}

function assertRejects(c: Case): void {
  const options = c.maxPacketSize === undefined
    ? { protocolVersion: c.version }
    : { protocolVersion: c.version, maxPacketSize: c.maxPacketSize };
  let outcome: unknown;
  try {
    outcome = decodePacket(c.bytes, options);
  } catch (error) {
    assert.ok(
      error instanceof ProtocolError,
      `expected a ProtocolError for ${hex(c.bytes)}, got ${String(error)}`,
    );
    assert.equal(
      error.reasonCode,
      c.reasonCode,
      `reason code for ${hex(c.bytes)}: ${error.message}`,
    );
    if (c.statement !== undefined) {
      const allowed = Array.isArray(c.statement) ? c.statement : [c.statement];
      assert.ok(
        error.statement !== undefined && allowed.includes(error.statement),
        `statement for ${hex(c.bytes)}: expected ${allowed.join(" or ")}, got ${
          String(error.statement)
        } (${error.message})`,
      );
    }
    return;
  }
  assert.fail(
    `expected a ProtocolError for ${hex(c.bytes)} (v${c.version}), got ${
      outcome === undefined ? "undefined (need more bytes)" : JSON.stringify(outcome, replacer)
    }`,
  );
}

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? `<bytes ${hex(value)}>` : value;
}

function title(c: Case): string {
  const id = c.statement === undefined
    ? ""
    : `[${Array.isArray(c.statement) ? c.statement[0] : c.statement}] `;
  return `${id}${c.name}`;
}

function suite(name: string, cases: Case[]): void {
  describe(name, () => {
    for (const c of cases) test(title(c), () => assertRejects(c));
  });
}

// ---------------------------------------------------------------------------------------------
// Fixed header

const ack = (first: number) => pkt(first, u16(1));

suite("fixed header reserved flags", [
  {
    name: "CONNECT with flags 0001 is malformed",
    bytes: pkt(0x11, connectBody("MQTT", 4, 0x02, null, str("c"))),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "CONNACK with flags 0001 is malformed",
    bytes: pkt(0x21, [0x00, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "PUBACK with flags 0010 is malformed",
    bytes: ack(0x42),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "PUBREC with flags 1000 is malformed",
    bytes: ack(0x58),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
  {
    name: "PUBREL with flags 0000 (must be 0010) is malformed",
    bytes: ack(0x60),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.6.1-1",
  },
  {
    name: "PUBREL with flags 0011 is malformed",
    bytes: ack(0x63),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
  {
    name: "PUBCOMP with flags 0100 is malformed",
    bytes: ack(0x74),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "SUBSCRIBE with flags 0000 (must be 0010) is malformed",
    bytes: pkt(0x80, u16(1), str("a"), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.8.1-1",
  },
  {
    name: "SUBACK with flags 0010 is malformed",
    bytes: pkt(0x92, u16(1), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "UNSUBSCRIBE with flags 1010 is malformed",
    bytes: pkt(0xaa, u16(1), props(), str("a")),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
  {
    name: "UNSUBACK with flags 0100 is malformed",
    bytes: ack(0xb4),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "PINGREQ with flags 0001 is malformed",
    bytes: pkt(0xc1),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-2.2.2-1",
  },
  {
    name: "PINGRESP with flags 1000 is malformed",
    bytes: pkt(0xd8),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
  {
    name: "DISCONNECT with flags 0010 is malformed",
    bytes: pkt(0xe2),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.14.1-1",
  },
  {
    name: "AUTH with flags 0001 is malformed",
    bytes: pkt(0xf1, [0x18], props()),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
]);

suite("fixed header reserved flags: ids per protocol version", [
  {
    name: "UNSUBSCRIBE with flags 0000 is malformed (v3.1.1 numbers it for UNSUBSCRIBE)",
    bytes: pkt(0xa0, u16(1), str("a")),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.10.1-1",
  },
  {
    name: "SUBSCRIBE with flags 0011 is malformed (v5 uses the general rule)",
    bytes: pkt(0x83, u16(1), props(), str("a"), [0x00]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-2.1.3-1",
  },
  {
    name: "PUBREL with flags 0000 in MQTT 3.1 is malformed (numbered as in 3.1.1)",
    bytes: ack(0x60),
    version: 3,
    reasonCode: MALFORMED,
    statement: "MQTT-3.6.1-1",
  },
]);

suite("packet types", [
  {
    name: "packet type 0 is forbidden (v5)",
    bytes: pkt(0x00),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "packet type 0 is forbidden (v3.1.1)",
    bytes: pkt(0x00, [0x00, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "AUTH does not exist in MQTT 3.1.1 (type 15 is reserved)",
    bytes: pkt(0xf0),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "AUTH does not exist in MQTT 3.1",
    bytes: pkt(0xf0, [0x18], props()),
    version: 3,
    reasonCode: MALFORMED,
  },
]);

suite("PUBLISH fixed header", [
  {
    name: "QoS 3 in PUBLISH is malformed (v5)",
    bytes: pkt(0x36, str("t"), u16(1), props()),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.1-4",
  },
  {
    name: "QoS 3 in PUBLISH is malformed (v3.1.1, with DUP and RETAIN)",
    bytes: pkt(0x3f, str("t"), u16(1)),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.1-4",
  },
  {
    name: "DUP set on a QoS 0 PUBLISH is malformed",
    bytes: pkt(0x38, str("t"), props(), [0x78]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.1-2",
  },
  {
    name: "DUP set on a QoS 0 retained PUBLISH is malformed (v3.1.1)",
    bytes: pkt(0x39, str("t"), [0x78]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.1-2",
  },
]);

suite("Remaining Length and maximum packet size", [
  {
    name: "a Remaining Length of five bytes is malformed",
    bytes: Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a fourth length byte with the continuation bit is malformed before the fifth arrives",
    bytes: Uint8Array.from([0xc0, 0x80, 0x80, 0x80, 0x80]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a Remaining Length not in its fewest bytes (80 00 for 0) is malformed",
    bytes: Uint8Array.from([0xe0, 0x80, 0x00]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.5-1",
  },
  {
    name: "a Remaining Length of 2 written in three bytes is malformed (v3.1.1)",
    bytes: Uint8Array.from([0x40, 0x82, 0x80, 0x00, 0x00, 0x01]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a Remaining Length past maxPacketSize throws on the fixed header alone",
    bytes: Uint8Array.from([0x30, 0xe8, 0x07]), // Remaining Length 1000, packet 1003
    version: 5,
    reasonCode: PACKET_TOO_LARGE,
    maxPacketSize: 1000,
  },
  {
    name: "maxPacketSize counts the fixed header: 2 + 998 bytes exceed 999",
    bytes: Uint8Array.from([0x30, 0xe6, 0x07]), // Remaining Length 998, packet 1001
    version: 5,
    reasonCode: PACKET_TOO_LARGE,
    maxPacketSize: 1000,
  },
  {
    name: "the largest Remaining Length is too large for a 1 MiB limit (v3.1.1)",
    bytes: Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0x7f]),
    version: 4,
    reasonCode: PACKET_TOO_LARGE,
    maxPacketSize: 1 << 20,
  },
  {
    name: "a CONNECT over maxPacketSize is too large too",
    bytes: Uint8Array.from([0x10, 0x80, 0x01]), // Remaining Length 128, packet 131
    version: 5,
    reasonCode: PACKET_TOO_LARGE,
    maxPacketSize: 130,
  },
]);

// ---------------------------------------------------------------------------------------------
// Packet identifiers

suite("packet identifier 0", [
  {
    name: "QoS 1 PUBLISH with packet identifier 0",
    bytes: pkt(0x32, str("t"), u16(0), props(), [0x78]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-2.2.1-3",
  },
  {
    name: "QoS 2 PUBLISH with packet identifier 0 (v3.1.1)",
    bytes: pkt(0x34, str("t"), u16(0), [0x78]),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
    statement: ["MQTT-2.3.1-1", "MQTT-2.2.1-3"],
  },
  {
    name: "SUBSCRIBE with packet identifier 0",
    bytes: pkt(0x82, u16(0), props(), str("a"), [0x00]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-2.2.1-3",
  },
  {
    name: "UNSUBSCRIBE with packet identifier 0",
    bytes: pkt(0xa2, u16(0), props(), str("a")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-2.2.1-3",
  },
  {
    name: "PUBACK with packet identifier 0",
    bytes: pkt(0x40, u16(0)),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBREC with packet identifier 0",
    bytes: pkt(0x50, u16(0)),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBREL with packet identifier 0",
    bytes: pkt(0x62, u16(0), [0x92], props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBCOMP with packet identifier 0",
    bytes: pkt(0x70, u16(0)),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "SUBACK with packet identifier 0",
    bytes: pkt(0x90, u16(0), [0x01]),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "UNSUBACK with packet identifier 0",
    bytes: pkt(0xb0, u16(0), props(), [0x00]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
]);

// ---------------------------------------------------------------------------------------------
// Strings

const ILL_FORMED: [string, number[]][] = [
  ["an overlong two-byte '/' (C0 AF)", [0x61, 0xc0, 0xaf]],
  ["an overlong three-byte '/' (E0 80 AF)", [0xe0, 0x80, 0xaf]],
  ["an overlong NUL (C0 80)", [0x61, 0xc0, 0x80]],
  ["a UTF-16 high surrogate (ED A0 80)", [0x61, 0xed, 0xa0, 0x80]],
  ["a UTF-16 low surrogate (ED BF BF)", [0xed, 0xbf, 0xbf, 0x62]],
  ["a three-byte sequence cut short at the end (E2 82)", [0x61, 0xe2, 0x82]],
  ["a four-byte sequence cut short by ASCII (F0 9F 61)", [0xf0, 0x9f, 0x61]],
  ["a lone continuation byte (80)", [0x80]],
  ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
  ["the byte FF", [0x61, 0xff]],
];

suite(
  "ill-formed UTF-8 in a PUBLISH topic",
  ILL_FORMED.map(([what, bytes]) => ({
    name: `${what} is malformed`,
    bytes: pkt(0x30, rawStr(bytes), [0x78]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-1",
  })),
);

suite("ill-formed UTF-8 elsewhere", [
  {
    name: "a surrogate in the client identifier is malformed",
    bytes: connect5(0x02, props(), rawStr([0x63, 0xed, 0xb0, 0x80])),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "an overlong sequence in a SUBSCRIBE topic filter is malformed",
    bytes: pkt(0x82, u16(1), props(), rawStr([0x61, 0xc1, 0xbf]), [0x00]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "a truncated sequence in an UNSUBSCRIBE topic filter is malformed",
    bytes: pkt(0xa2, u16(1), rawStr([0x61, 0xf0, 0x90, 0x80])),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-1",
  },
  {
    name: "an ill-formed user name is malformed",
    bytes: connect5(0x82, props(), str("c"), rawStr([0xc3])),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "an ill-formed will topic is malformed",
    bytes: connect5(0x06, props(), str("c"), props(), rawStr([0xed, 0xa0, 0x80]), rawStr([])),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "an ill-formed content type property is malformed",
    bytes: publish5([0x03, ...rawStr([0xe0, 0x9f, 0xbf])]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
  {
    name: "an ill-formed user property name is malformed",
    bytes: publish5([0x26, ...rawStr([0xff]), ...str("v")]),
    version: 5,
    reasonCode: MALFORMED,
    statement: ["MQTT-1.5.4-1", "MQTT-1.5.7-1"],
  },
  {
    name: "an ill-formed reason string is malformed",
    bytes: pkt(0x40, u16(1), [0x80], props([0x1f, ...rawStr([0x80, 0x80])])),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
]);

suite("UTF-8 in a CONNECT: ids follow the CONNECT's own protocol level", [
  {
    name: "an ill-formed 3.1.1 client identifier is malformed",
    bytes: connect4(0x02, rawStr([0x63, 0xc3])),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-1",
  },
  {
    name: "U+0000 in a 3.1.1 user name is malformed",
    bytes: connect4(0x82, str("c"), str("u\u0000")),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-2",
  },
  {
    name: "an ill-formed MQTT 5 client identifier read before any CONNECT (level 4) is malformed",
    bytes: connect5(0x02, props(), rawStr([0x63, 0xed, 0xb0, 0x80])),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-1",
  },
]);

suite("U+0000 in strings", [
  {
    name: "U+0000 in a PUBLISH topic is malformed",
    bytes: pkt(0x30, str("a\u0000b"), [0x78]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-2",
  },
  {
    name: "U+0000 in the client identifier is malformed",
    bytes: connect5(0x02, props(), str("\u0000")),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.4-2",
  },
  {
    name: "U+0000 in a user property value is malformed",
    bytes: publish5([0x26, ...str("k"), ...str("v\u0000")]),
    version: 5,
    reasonCode: MALFORMED,
    statement: ["MQTT-1.5.4-2", "MQTT-1.5.7-1"],
  },
  {
    name: "U+0000 in a user property name of a CONNACK is malformed",
    bytes: connack5([0x26, ...str("\u0000k"), ...str("v")]),
    version: 5,
    reasonCode: MALFORMED,
    statement: ["MQTT-1.5.4-2", "MQTT-1.5.7-1"],
  },
  {
    name: "U+0000 in a SUBSCRIBE topic filter is malformed",
    bytes: pkt(0x82, u16(1), str("a/\u0000"), [0x01]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.3-2",
  },
]);

// ---------------------------------------------------------------------------------------------
// PUBLISH variable header

suite("PUBLISH topic", [
  {
    name: "'+' in a PUBLISH topic is malformed",
    bytes: pkt(0x30, str("a/+/c"), props(), [0x78]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.2-2",
  },
  {
    name: "'#' in a PUBLISH topic is malformed (v3.1.1)",
    bytes: pkt(0x32, str("a/#"), u16(7), [0x78]),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.2-2",
  },
  {
    name: "an empty topic without a topic alias is a protocol error (v5)",
    bytes: pkt(0x30, str(""), props(), [0x78]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "an empty topic is a protocol error in v3.1.1 (no topic aliases)",
    bytes: pkt(0x30, str(""), [0x78]),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-4.7.3-1",
  },
]);

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE payloads

suite("SUBSCRIBE and UNSUBSCRIBE payloads", [
  {
    name: "SUBSCRIBE without a topic filter is a protocol error",
    bytes: pkt(0x82, u16(1), props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.8.3-2",
  },
  {
    name: "SUBSCRIBE without a topic filter is a protocol error (v3.1.1)",
    bytes: pkt(0x82, u16(1)),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.8.3-3",
  },
  {
    name: "UNSUBSCRIBE without a topic filter is a protocol error",
    bytes: pkt(0xa2, u16(1), props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.10.3-2",
  },
  {
    name: "UNSUBSCRIBE without a topic filter is a protocol error (v3.1.1)",
    bytes: pkt(0xa2, u16(1)),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.10.3-2",
  },
  {
    name: "subscription options with reserved bit 6 set are malformed",
    bytes: pkt(0x82, u16(1), props(), str("a"), [0x41]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.8.3-5",
  },
  {
    name: "subscription options with reserved bit 7 set on the second filter are malformed",
    bytes: pkt(0x82, u16(1), props(), str("a"), [0x01], str("b"), [0x80]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.8.3-5",
  },
  {
    name: "Maximum QoS 3 in subscription options is a protocol error",
    bytes: pkt(0x82, u16(1), props(), str("a"), [0x03]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Retain Handling 3 in subscription options is a protocol error",
    bytes: pkt(0x82, u16(1), props(), str("a"), [0x30]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "No Local on a shared subscription is a protocol error",
    bytes: pkt(0x82, u16(1), props(), str("$share/g/a"), [0x04]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.8.3-4",
  },
  {
    name: "a v3.1.1 requested QoS byte with bit 2 set is malformed",
    bytes: pkt(0x82, u16(1), str("a"), [0x04]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a v3.1.1 requested QoS of 3 is malformed",
    bytes: pkt(0x82, u16(1), str("a"), [0x03]),
    version: 4,
    reasonCode: MALFORMED,
  },
]);

// ---------------------------------------------------------------------------------------------
// CONNECT

suite("CONNECT", [
  {
    name: "protocol name 'MQTX' is refused",
    bytes: pkt(0x10, connectBody("MQTX", 5, 0x02, props(), str("c"))),
    version: 5,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
    statement: "MQTT-3.1.2-1",
  },
  {
    name: "protocol name 'mqtt' (lower case) is refused",
    bytes: pkt(0x10, connectBody("mqtt", 4, 0x02, null, str("c"))),
    version: 4,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
    statement: "MQTT-3.1.2-1",
  },
  {
    name: "protocol level 6 is unsupported",
    bytes: pkt(0x10, connectBody("MQTT", 6, 0x02, props(), str("c"))),
    version: 5,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
    statement: "MQTT-3.1.2-2",
  },
  {
    name: "'MQTT' with level 3 (MQTT 3.1 is 'MQIsdp') is refused",
    bytes: pkt(0x10, connectBody("MQTT", 3, 0x02, null, str("c"))),
    version: 4,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
  },
  {
    name: "'MQIsdp' with level 4 is refused",
    bytes: pkt(0x10, connectBody("MQIsdp", 4, 0x02, null, str("c"))),
    version: 4,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
  },
  {
    name: "'MQIsdp' with level 5 is refused",
    bytes: pkt(0x10, connectBody("MQIsdp", 5, 0x02, props(), str("c"))),
    version: 5,
    reasonCode: UNSUPPORTED_PROTOCOL_VERSION,
  },
  {
    name: "the reserved connect flag (bit 0) set is malformed",
    bytes: connect5(0x03, props(), str("c")),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-3",
  },
  {
    name: "the reserved connect flag (bit 0) set is malformed (v3.1.1)",
    bytes: connect4(0x01, str("c")),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-3",
  },
  {
    name: "Will QoS 3 is malformed",
    bytes: connect5(0x1e, props(), str("c"), props(), str("w"), rawStr([1])),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-12",
  },
  {
    name: "Will QoS 1 without the Will Flag is malformed",
    bytes: connect5(0x0a, props(), str("c")),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-11",
  },
  {
    name: "Will Retain without the Will Flag is malformed",
    bytes: connect5(0x22, props(), str("c")),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-13",
  },
  {
    name: "a password without a user name is malformed in v3.1.1",
    bytes: connect4(0x42, str("c"), rawStr([1, 2])),
    version: 4,
    reasonCode: MALFORMED,
    statement: "MQTT-3.1.2-22",
  },
  {
    name: "the Will Flag without will topic and payload is malformed",
    bytes: connect5(0x06, props(), str("c")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "the User Name Flag without a user name is malformed",
    bytes: connect4(0x82, str("c")),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "the Password Flag without a password is malformed",
    bytes: connect5(0xc2, props(), str("c"), str("u")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a CONNECT that ends inside the keep alive is malformed",
    bytes: pkt(0x10, str("MQTT"), [0x04, 0x02, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a CONNECT with bytes after its last field is malformed",
    bytes: connect4(0x02, str("c"), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name:
      "a v5 CONNECT is decoded by its own level: its bad properties fail under a v3.1.1 session",
    bytes: connect5(0x02, props([0x21, ...u16(0)]), str("c")),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
]);

// ---------------------------------------------------------------------------------------------
// MQTT 5 properties

suite("properties", [
  {
    name: "an unknown property identifier (0x04) is malformed",
    bytes: publish5([0x04, 0x00]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "property identifier 0 is malformed",
    bytes: pkt(0x40, u16(1), [0x00], props([0x00])),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Session Expiry Interval is not allowed in PUBLISH",
    bytes: publish5([0x11, ...u32(10)]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Topic Alias is not allowed in CONNECT",
    bytes: connect5(0x02, props([0x23, ...u16(1)]), str("c")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Topic Alias is not allowed in will properties",
    bytes: connect5(0x06, props(), str("c"), props([0x23, ...u16(1)]), str("w"), rawStr([])),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Will Delay Interval is not allowed in CONNECT properties",
    bytes: connect5(0x02, props([0x18, ...u32(5)]), str("c")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Reason String is not allowed in PUBLISH",
    bytes: publish5([0x1f, ...str("r")]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Subscription Identifier is not allowed in UNSUBSCRIBE",
    bytes: pkt(0xa2, u16(1), props([0x0b, 0x01]), str("a")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Maximum QoS is not allowed in DISCONNECT",
    bytes: pkt(0xe0, [0x00], props([0x24, 0x01])),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Message Expiry Interval twice is a protocol error",
    bytes: publish5([0x02, ...u32(1)], [0x02, ...u32(2)]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Reason String twice is a protocol error",
    bytes: pkt(0x40, u16(1), [0x10], props([0x1f, ...str("a")], [0x1f, ...str("b")])),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Subscription Identifier twice in SUBSCRIBE is a protocol error",
    bytes: pkt(0x82, u16(1), props([0x0b, 0x01], [0x0b, 0x02]), str("a"), [0x00]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Authentication Method twice is a protocol error",
    bytes: connect5(0x02, props([0x15, ...str("a")], [0x15, ...str("a")]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Authentication Data without Authentication Method is a protocol error",
    bytes: connect5(0x02, props([0x16, ...rawStr([1])]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "AUTH with properties but no Authentication Method is a protocol error",
    bytes: pkt(0xf0, [0x18], props([0x1f, ...str("r")])),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Subscription Identifier 0 in SUBSCRIBE is a protocol error",
    bytes: pkt(0x82, u16(1), props([0x0b, 0x00]), str("a"), [0x00]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Subscription Identifier 0 in PUBLISH is a protocol error",
    bytes: publish5([0x0b, 0x05], [0x0b, 0x00]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "a Subscription Identifier not in its fewest bytes is malformed",
    bytes: publish5([0x0b, 0x81, 0x00]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.5-1",
  },
  {
    name: "a Property Length not in its fewest bytes is malformed",
    bytes: pkt(0x30, str("t"), [0x80, 0x00], [0x78]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-1.5.5-1",
  },
  {
    name: "a wildcard in the Response Topic is malformed",
    bytes: publish5([0x08, ...str("reply/+")]),
    version: 5,
    reasonCode: MALFORMED,
    statement: "MQTT-3.3.2-14",
  },
  {
    name: "a Subscription Identifier of five bytes is malformed",
    bytes: publish5([0x0b, 0x80, 0x80, 0x80, 0x80, 0x01]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "Topic Alias 0 is a protocol error",
    bytes: publish5([0x23, ...u16(0)]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
    statement: "MQTT-3.3.2-8",
  },
  {
    name: "Receive Maximum 0 in CONNECT is a protocol error",
    bytes: connect5(0x02, props([0x21, ...u16(0)]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Receive Maximum 0 in CONNACK is a protocol error",
    bytes: connack5([0x21, ...u16(0)]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Maximum Packet Size 0 in CONNECT is a protocol error",
    bytes: connect5(0x02, props([0x27, ...u32(0)]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Maximum Packet Size 0 in CONNACK is a protocol error",
    bytes: connack5([0x27, ...u32(0)]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Payload Format Indicator 2 is a protocol error",
    bytes: publish5([0x01, 0x02]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Payload Format Indicator 2 in will properties is a protocol error",
    bytes: connect5(0x06, props(), str("c"), props([0x01, 0x02]), str("w"), rawStr([])),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Request Problem Information 2 is a protocol error",
    bytes: connect5(0x02, props([0x17, 0x02]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Request Response Information 2 is a protocol error",
    bytes: connect5(0x02, props([0x19, 0x02]), str("c")),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Maximum QoS 2 is a protocol error",
    bytes: connack5([0x24, 0x02]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Retain Available 2 is a protocol error",
    bytes: connack5([0x25, 0x02]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Wildcard Subscription Available 7 is a protocol error",
    bytes: connack5([0x28, 0x07]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "Shared Subscription Available 0xFF is a protocol error",
    bytes: connack5([0x2a, 0xff]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "a Property Length past the end of the packet is malformed",
    bytes: pkt(0x30, str("t"), [0x05, 0x01, 0x00]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a property value past the Property Length is malformed",
    bytes: pkt(0x30, str("t"), [0x02, 0x02, 0x00, 0x00, 0x00, 0x01], [0x78]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a string property longer than the Property Length is malformed",
    bytes: pkt(0x40, u16(1), [0x00], [0x03, 0x1f, 0x00, 0x05], str("abc")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a user property without its value is malformed",
    bytes: connack5([0x26, ...str("k")]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a packet that ends inside the Property Length is malformed",
    bytes: pkt(0x20, [0x00, 0x00, 0x80]),
    version: 5,
    reasonCode: MALFORMED,
  },
]);

// ---------------------------------------------------------------------------------------------
// Reason codes

suite("reason codes not allowed for the packet type", [
  {
    name: "CONNACK reason code 0x01",
    bytes: pkt(0x20, [0x00, 0x01], props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBACK reason code 0x92 (a PUBREL / PUBCOMP code)",
    bytes: pkt(0x40, u16(1), [0x92]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBREC reason code 0x05",
    bytes: pkt(0x50, u16(1), [0x05], props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBREL reason code 0x10 (a PUBACK code)",
    bytes: pkt(0x62, u16(1), [0x10]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "PUBCOMP reason code 0x80",
    bytes: pkt(0x70, u16(1), [0x80], props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "SUBACK reason code 0x03",
    bytes: pkt(0x90, u16(1), props(), [0x00, 0x03]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "UNSUBACK reason code 0x02",
    bytes: pkt(0xb0, u16(1), props(), [0x02]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "DISCONNECT reason code 0x01",
    bytes: pkt(0xe0, [0x01]),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "AUTH reason code 0x87",
    bytes: pkt(0xf0, [0x87], props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "v3.1.1 CONNACK return code 6 (6 to 255 are reserved)",
    bytes: pkt(0x20, [0x00, 0x06]),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "v3.1.1 SUBACK return code 0x03",
    bytes: pkt(0x90, u16(1), [0x03]),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
]);

// ---------------------------------------------------------------------------------------------
// Lengths that disagree with the content

suite("truncated bodies", [
  {
    name: "a PUBLISH topic length past the Remaining Length is malformed",
    bytes: pkt(0x30, u16(20), [0x61, 0x62]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a QoS 1 PUBLISH without room for its packet identifier is malformed",
    bytes: pkt(0x32, str("t"), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a v5 PUBLISH without its Property Length is malformed",
    bytes: pkt(0x30, str("t")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a SUBSCRIBE topic filter without its options byte is malformed",
    bytes: pkt(0x82, u16(1), props(), str("a")),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a SUBSCRIBE topic filter length past the end is malformed",
    bytes: pkt(0x82, u16(1), [0x00, 0x09, 0x61], [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "an UNSUBSCRIBE with half a length prefix is malformed",
    bytes: pkt(0xa2, u16(1), str("a"), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "a PUBACK of one byte is malformed",
    bytes: pkt(0x40, [0x01]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "a CONNACK of one byte is malformed",
    bytes: pkt(0x20, [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
]);

suite("trailing bytes inside a packet", [
  {
    name: "PINGREQ with Remaining Length 1 is malformed",
    bytes: pkt(0xc0, [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "PINGRESP with Remaining Length 2 is malformed",
    bytes: pkt(0xd0, [0x00, 0x00]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "v3.1.1 DISCONNECT with Remaining Length 1 is malformed",
    bytes: pkt(0xe0, [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "v3.1.1 PUBACK with Remaining Length 3 is malformed",
    bytes: pkt(0x40, u16(1), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "v3.1.1 PUBREL with Remaining Length 4 is malformed",
    bytes: pkt(0x62, u16(1), [0x00, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "v3.1.1 CONNACK with Remaining Length 3 is malformed",
    bytes: pkt(0x20, [0x00, 0x00, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "v3.1.1 UNSUBACK with Remaining Length 3 is malformed",
    bytes: pkt(0xb0, u16(1), [0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "v5 PUBACK with a byte after its properties is malformed",
    bytes: pkt(0x40, u16(1), [0x00], props(), [0xff]),
    version: 5,
    reasonCode: MALFORMED,
  },
  {
    name: "v5 DISCONNECT with a byte after its properties is malformed",
    bytes: pkt(0xe0, [0x00], props(), [0x00]),
    version: 5,
    reasonCode: MALFORMED,
  },
]);

suite("acknowledgements without reason codes", [
  // One reason code answers each Topic Filter of the SUBSCRIBE / UNSUBSCRIBE (sections 3.9.3,
  // 3.11.3), and those carry at least one [MQTT-3.8.3-2] [MQTT-3.10.3-2]: an empty list parses
  // but can acknowledge nothing.
  {
    name: "a SUBACK without reason codes is a protocol error",
    bytes: pkt(0x90, u16(1), props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "a SUBACK without return codes is a protocol error (v3.1.1)",
    bytes: pkt(0x90, u16(1)),
    version: 4,
    reasonCode: PROTOCOL_ERROR,
  },
  {
    name: "a v5 UNSUBACK without reason codes is a protocol error",
    bytes: pkt(0xb0, u16(1), props()),
    version: 5,
    reasonCode: PROTOCOL_ERROR,
  },
]);

suite("CONNACK flags", [
  {
    name: "CONNACK acknowledge flags with reserved bit 1 set are malformed",
    bytes: pkt(0x20, [0x02, 0x00]),
    version: 4,
    reasonCode: MALFORMED,
  },
  {
    name: "CONNACK acknowledge flags with reserved bit 7 set are malformed (v5)",
    bytes: pkt(0x20, [0x80, 0x00], props()),
    version: 5,
    reasonCode: MALFORMED,
  },
]);

// ---------------------------------------------------------------------------------------------
// Valid inputs the decoder must not refuse (guards against over-eager rejection above)

describe("valid edge cases decode", () => {
  test("a v5 CONNECT decodes even when the caller expects 3.1.1", () => {
    const bytes = connect5(0x02, props([0x21, ...u16(10)]), str("c"));
    const result = decodePacket(bytes, { protocolVersion: 4 });
    assert.ok(result);
    assert.equal(result.bytesRead, bytes.length);
    assert.equal(result.packet.type, "connect");
    assert.equal((result.packet as { protocolVersion: number }).protocolVersion, 5);
  });

  test("a v5 CONNECT may carry a password without a user name", () => {
    const bytes = connect5(0x42, props(), str("c"), rawStr([7, 8]));
    const result = decodePacket(bytes, { protocolVersion: 5 });
    assert.ok(result);
    assert.deepEqual(result.packet, {
      type: "connect",
      protocolVersion: 5,
      clientId: "c",
      clean: true,
      keepalive: 30,
      password: Uint8Array.from([7, 8]),
    });
  });

  test("user properties may repeat and keep their order", () => {
    const bytes = publish5(
      [0x26, ...str("a"), ...str("1")],
      [0x26, ...str("b"), ...str("2")],
      [0x26, ...str("a"), ...str("1")],
    );
    const result = decodePacket(bytes, { protocolVersion: 5 });
    assert.ok(result);
    assert.deepEqual(
      (result.packet as { properties?: unknown }).properties,
      { userProperties: [["a", "1"], ["b", "2"], ["a", "1"]] },
    );
  });

  test("a PUBLISH may carry several subscription identifiers", () => {
    const bytes = publish5([0x0b, 0x01], [0x0b, 0xff, 0xff, 0xff, 0x7f]);
    const result = decodePacket(bytes, { protocolVersion: 5 });
    assert.ok(result);
    assert.deepEqual(
      (result.packet as { properties?: unknown }).properties,
      { subscriptionIdentifiers: [1, 268_435_455] },
    );
  });

  test("an empty topic with a topic alias is allowed in v5", () => {
    const bytes = pkt(0x30, str(""), props([0x23, ...u16(3)]), [0x78]);
    const result = decodePacket(bytes, { protocolVersion: 5 });
    assert.ok(result);
    assert.equal((result.packet as { topic: string }).topic, "");
  });

  test("a packet exactly at maxPacketSize decodes", () => {
    const bytes = pkt(0x30, str("t"), new Array(96).fill(0x61)); // 2 + 3 + 96 = 101 bytes
    const size = bytes.length;
    const result = decodePacket(bytes, { protocolVersion: 4, maxPacketSize: size });
    assert.ok(result);
    assert.equal(result.bytesRead, size);
    assert.throws(
      () => decodePacket(bytes, { protocolVersion: 4, maxPacketSize: size - 1 }),
      (error: unknown) => error instanceof ProtocolError && error.reasonCode === PACKET_TOO_LARGE,
    );
  });

  test("an AUTH of Remaining Length 0 is Success without properties", () => {
    const result = decodePacket(pkt(0xf0), { protocolVersion: 5 });
    assert.deepEqual(result, { packet: { type: "auth", reasonCode: 0 }, bytesRead: 2 });
  });

  test("U+FEFF and a four-byte code point are valid in a topic", () => {
    const bytes = pkt(0x30, str("\uFEFF/\u{1F600}"), [0x78]);
    const result = decodePacket(bytes, { protocolVersion: 4 });
    assert.ok(result);
    assert.equal((result.packet as { topic: string }).topic, "\uFEFF/\u{1F600}");
  });
});

// ---------------------------------------------------------------------------------------------
// Incomplete input: undefined, never an error

describe("valid prefixes need more bytes", () => {
  const complete: [string, 3 | 4 | 5, Uint8Array][] = [
    [
      "v5 CONNECT with will, user name, password and properties",
      5,
      connect5(
        0xf6,
        props([0x11, ...u32(60)], [0x26, ...str("k"), ...str("v")]),
        str("client"),
        props([0x18, ...u32(5)]),
        str("will/t"),
        rawStr([1, 2, 3]),
        str("user"),
        rawStr([9]),
      ),
    ],
    ["v3.1 CONNECT", 3, pkt(0x10, connectBody("MQIsdp", 3, 0x02, null, str("abc")))],
    ["v3.1.1 QoS 2 PUBLISH", 4, pkt(0x35, str("a/b"), u16(9), [1, 2, 3])],
    [
      "v5 QoS 1 PUBLISH with properties",
      5,
      pkt(0x32, str("a/b"), u16(9), props([0x02, ...u32(9)], [0x0b, 0x81, 0x01]), [1, 2]),
    ],
    ["v5 SUBSCRIBE", 5, pkt(0x82, u16(3), props([0x0b, 0x07]), str("a/+"), [0x2e])],
    ["v5 PUBREL with reason code", 5, pkt(0x62, u16(3), [0x92], props([0x1f, ...str("r")]))],
    ["v5 DISCONNECT with reason", 5, pkt(0xe0, [0x04], props())],
    ["PINGREQ", 4, pkt(0xc0)],
  ];

  for (const [name, version, bytes] of complete) {
    test(`every proper prefix of a ${name} returns undefined`, () => {
      for (let end = 0; end < bytes.length; end++) {
        const prefix = bytes.subarray(0, end);
        assert.equal(
          decodePacket(prefix, { protocolVersion: version }),
          undefined,
          `prefix of ${end} bytes: ${hex(prefix)}`,
        );
      }
      const whole = decodePacket(bytes, { protocolVersion: version });
      assert.ok(whole, `the complete ${name} decodes`);
      assert.equal(whole.bytesRead, bytes.length);
      const followed = Uint8Array.from([...bytes, 0xc0, 0x00, 0x30]);
      const first = decodePacket(followed, { protocolVersion: version });
      assert.ok(first);
      assert.equal(first.bytesRead, bytes.length, "stops at the end of the first packet");
    });
  }

  test("a fixed header whose length continues needs more bytes", () => {
    for (const bytes of [[0x30, 0x80], [0x30, 0xff, 0xff], [0x30, 0xff, 0xff, 0xff]]) {
      assert.equal(decodePacket(Uint8Array.from(bytes), { protocolVersion: 5 }), undefined);
    }
  });

  test("a header within maxPacketSize needs more bytes instead of throwing", () => {
    // Remaining Length 997: 1 + 2 + 997 = 1000 bytes, exactly the limit.
    const header = Uint8Array.from([0x30, 0xe5, 0x07]);
    assert.equal(decodePacket(header, { protocolVersion: 5, maxPacketSize: 1000 }), undefined);
  });

  test("an empty buffer needs more bytes", () => {
    assert.equal(decodePacket(new Uint8Array(0), { protocolVersion: 4 }), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Encoder: caller mistakes are TypeError / RangeError

describe("encoder refuses caller mistakes", () => {
  const publish = (over: Record<string, unknown>) =>
    ({
      type: "publish",
      topic: "a/b",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
      ...over,
    }) as unknown as Packet;

  type ErrorClass = TypeErrorConstructor | RangeErrorConstructor;
  const cases: [string, Packet, 3 | 4 | 5, ErrorClass, RegExp][] = [
    ["PUBLISH qos 3", publish({ qos: 3, packetId: 1 }), 5, RangeError, /qos/],
    ["PUBLISH qos -1", publish({ qos: -1 }), 4, RangeError, /qos/],
    ["QoS 1 PUBLISH without packetId", publish({ qos: 1 }), 5, TypeError, /packetId/],
    ["QoS 2 PUBLISH without packetId (v3.1.1)", publish({ qos: 2 }), 4, TypeError, /packetId/],
    ["PUBLISH packetId 0", publish({ qos: 1, packetId: 0 }), 5, RangeError, /packetId/],
    ["PUBLISH packetId 65536", publish({ qos: 2, packetId: 65536 }), 4, RangeError, /packetId/],
    ["PUBLISH packetId 1.5", publish({ qos: 1, packetId: 1.5 }), 4, RangeError, /packetId/],
    [
      "PUBLISH topic of 65536 bytes",
      publish({ topic: "a".repeat(65536) }),
      4,
      RangeError,
      /topic/,
    ],
    ["PUBLISH topic with '+'", publish({ topic: "a/+" }), 5, TypeError, /topic/],
    ["PUBLISH topic with '#'", publish({ topic: "#" }), 4, TypeError, /topic/],
    ["PUBLISH topic with U+0000", publish({ topic: "a\u0000" }), 4, TypeError, /topic/],
    ["PUBLISH topic with a lone surrogate", publish({ topic: "a\uD800" }), 5, TypeError, /topic/],
    ["empty PUBLISH topic in v3.1.1", publish({ topic: "" }), 4, TypeError, /topic/],
    ["DUP on a QoS 0 PUBLISH", publish({ dup: true }), 5, TypeError, /dup/],
    [
      "Topic Alias 0",
      publish({ properties: { topicAlias: 0 } }),
      5,
      RangeError,
      /topicAlias/,
    ],
    [
      "Subscription Identifier 268435456",
      publish({ properties: { subscriptionIdentifiers: [268_435_456] } }),
      5,
      RangeError,
      /subscriptionIdentifier/,
    ],
    [
      "Message Expiry Interval 2^32",
      publish({ properties: { messageExpiryInterval: 2 ** 32 } }),
      5,
      RangeError,
      /messageExpiryInterval/,
    ],
    [
      "Session Expiry Interval on a PUBLISH",
      publish({ properties: { sessionExpiryInterval: 5 } }),
      5,
      TypeError,
      /sessionExpiryInterval/,
    ],
    [
      "PUBACK packetId 0",
      { type: "puback", packetId: 0 } as Packet,
      4,
      RangeError,
      /packetId/,
    ],
    [
      "PUBACK reason code 256",
      { type: "puback", packetId: 1, reasonCode: 256 } as Packet,
      5,
      RangeError,
      /reasonCode/,
    ],
    [
      "SUBSCRIBE without subscriptions",
      { type: "subscribe", packetId: 1, subscriptions: [] } as Packet,
      5,
      TypeError,
      /subscriptions/,
    ],
    [
      "SUBSCRIBE qos 3",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "a", qos: 3 }],
      } as unknown as Packet,
      4,
      RangeError,
      /qos/,
    ],
    [
      "SUBSCRIBE retainHandling 3",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "a", qos: 0, retainHandling: 3 }],
      } as unknown as Packet,
      5,
      RangeError,
      /retainHandling/,
    ],
    [
      "UNSUBSCRIBE without topic filters",
      { type: "unsubscribe", packetId: 1, topicFilters: [] } as Packet,
      4,
      TypeError,
      /topicFilters/,
    ],
    [
      "CONNECT keepalive 65536",
      {
        type: "connect",
        protocolVersion: 4,
        clientId: "c",
        clean: true,
        keepalive: 65536,
      } as Packet,
      4,
      RangeError,
      /keepalive/,
    ],
    [
      "CONNECT will qos 3",
      {
        type: "connect",
        protocolVersion: 5,
        clientId: "c",
        clean: true,
        keepalive: 0,
        will: { topic: "w", payload: new Uint8Array(0), qos: 3, retain: false },
      } as unknown as Packet,
      5,
      RangeError,
      /qos/,
    ],
    [
      "v3.1.1 CONNECT with a password but no user name",
      {
        type: "connect",
        protocolVersion: 4,
        clientId: "c",
        clean: true,
        keepalive: 0,
        password: Uint8Array.from([1]),
      } as Packet,
      4,
      TypeError,
      /password/,
    ],
    [
      "CONNECT Receive Maximum 0",
      {
        type: "connect",
        protocolVersion: 5,
        clientId: "c",
        clean: true,
        keepalive: 0,
        properties: { receiveMaximum: 0 },
      } as Packet,
      5,
      RangeError,
      /receiveMaximum/,
    ],
    [
      "CONNECT Authentication Data without Authentication Method",
      {
        type: "connect",
        protocolVersion: 5,
        clientId: "c",
        clean: true,
        keepalive: 0,
        properties: { authenticationData: Uint8Array.of(1) },
      } as Packet,
      5,
      TypeError,
      /authenticationData|authenticationMethod/,
    ],
    [
      "SUBSCRIBE No Local on a shared subscription",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{
          topicFilter: "$share/g/a",
          qos: 0,
          noLocal: true,
          retainAsPublished: false,
          retainHandling: 0,
        }],
      } as Packet,
      5,
      TypeError,
      /noLocal/,
    ],
    [
      "AUTH in MQTT 3.1.1",
      { type: "auth", reasonCode: 0x18 } as Packet,
      4,
      TypeError,
      /auth|AUTH/,
    ],
    [
      "protocol version 6",
      { type: "pingreq" } as Packet,
      6 as 5,
      RangeError,
      /protocolVersion/,
    ],
    [
      "an unknown packet type",
      { type: "ping" } as unknown as Packet,
      4,
      TypeError,
      /type/,
    ],
  ];

  for (const [name, packet, version, ErrorClass, pattern] of cases) {
    test(`${name} throws ${ErrorClass.name}`, () => {
      assert.throws(
        () => encodePacket(packet, version),
        (error: unknown) => {
          assert.ok(
            error instanceof ErrorClass,
            `expected ${ErrorClass.name}, got ${String(error)}`,
          );
          assert.ok(!(error instanceof ProtocolError));
          assert.match((error as Error).message, pattern);
          return true;
        },
      );
    });
  }
});
