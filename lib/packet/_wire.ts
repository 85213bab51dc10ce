/**
 * Wire-level helpers the encoder and decoder share: Variable Byte Integers, UTF-8
 * strings and the errors a peer's bytes raise. Internal to `lib/packet`.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ReasonCode } from "./reason_codes.ts";

/** Largest value a Variable Byte Integer holds (four bytes): 268,435,455. */
export const MAX_VARIABLE_BYTE_INTEGER = 268_435_455;

/** Largest UTF-8 string or binary field: a two-byte length prefix allows 65,535 bytes. */
export const MAX_TWO_BYTE_LENGTH = 65_535;

/**
 * A read position shared by the decoding helpers: functions that read a field of
 * unknown size return the value and leave the position after it here, so no tuple is
 * allocated per field.
 *
 * @example Read where the last field ended
 * ```ts
 * import assert from "node:assert/strict";
 * import { cursor, readUtf8String } from "./_wire.ts";
 * const text = readUtf8String(new Uint8Array([0, 2, 0x68, 0x69, 9]), 0, 5, undefined);
 * assert.equal(text, "hi");
 * assert.equal(cursor.pos, 4);
 * ```
 */
export const cursor: { pos: number } = { pos: 0 };

/**
 * Throws RangeError unless `version` is a protocol level tern speaks: 3, 4 or 5.
 * `action` names what was attempted, for the message.
 *
 * @example Check a protocol level
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkProtocolVersion } from "./_wire.ts";
 * checkProtocolVersion(5, "decode");
 * assert.throws(() => checkProtocolVersion(6, "decode"), {
 *   name: "RangeError",
 *   message: "Cannot decode as 'protocolVersion' must be 3, 4 or 5: current value is 6",
 * });
 * ```
 */
export function checkProtocolVersion(
  version: unknown,
  action: string,
): asserts version is 3 | 4 | 5 {
  if (version !== 4 && version !== 5 && version !== 3) {
    throw new RangeError(
      `Cannot ${action} as 'protocolVersion' must be 3, 4 or 5: current value is ${
        describeValue(version)
      }`,
    );
  }
}

/**
 * Throws a ProtocolError with reason code 0x81 Malformed Packet.
 *
 * @example Report a malformed packet
 * ```ts
 * import assert from "node:assert/strict";
 * import { malformed } from "./_wire.ts";
 * assert.throws(() => malformed("truncated", "MQTT-1.5.4-1"), { reasonCode: 0x81 });
 * ```
 */
export function malformed(message: string, statement?: string): never {
  throw new ProtocolError(message, { reasonCode: ReasonCode.MalformedPacket, statement });
}

/**
 * Throws a ProtocolError with reason code 0x82 Protocol Error.
 *
 * @example Report a protocol error
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolError } from "./_wire.ts";
 * assert.throws(() => protocolError("packet id 0", "MQTT-2.2.1-3"), { reasonCode: 0x82 });
 * ```
 */
export function protocolError(message: string, statement?: string): never {
  throw new ProtocolError(message, { reasonCode: ReasonCode.ProtocolError, statement });
}

/**
 * Number of bytes the Variable Byte Integer encoding of `value` takes (1 to 4).
 * The caller checks `value` is at most {@link MAX_VARIABLE_BYTE_INTEGER}.
 *
 * @example Sizes at the boundaries
 * ```ts
 * import assert from "node:assert/strict";
 * import { variableByteIntegerLength } from "./_wire.ts";
 * assert.equal(variableByteIntegerLength(127), 1);
 * assert.equal(variableByteIntegerLength(128), 2);
 * assert.equal(variableByteIntegerLength(268_435_455), 4);
 * ```
 */
export function variableByteIntegerLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/**
 * Writes `value` as a Variable Byte Integer at `pos` and returns the position after it.
 *
 * @example Encode 321
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeVariableByteInteger } from "./_wire.ts";
 * const bytes = new Uint8Array(2);
 * assert.equal(writeVariableByteInteger(bytes, 0, 321), 2);
 * assert.deepEqual([...bytes], [0xc1, 0x02]);
 * ```
 */
export function writeVariableByteInteger(buf: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}

/**
 * Reads a Variable Byte Integer inside a packet body ending at `end`; leaves the
 * position after it in {@link cursor}. Throws 0x81 Malformed Packet when it runs past
 * `end`, has more than four bytes, or does not use the fewest bytes [MQTT-1.5.5-1].
 *
 * @example Decode 321
 * ```ts
 * import assert from "node:assert/strict";
 * import { cursor, readVariableByteInteger } from "./_wire.ts";
 * assert.equal(readVariableByteInteger(new Uint8Array([0xc1, 0x02]), 0, 2), 321);
 * assert.equal(cursor.pos, 2);
 * ```
 */
export function readVariableByteInteger(b: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let count = 0; count < 4; count++) {
    if (pos >= end) malformed("Variable Byte Integer runs past the end of the packet");
    const byte = b[pos++]!;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      if (byte === 0 && count > 0) {
        malformed("Variable Byte Integer does not use the fewest bytes", "MQTT-1.5.5-1");
      }
      cursor.pos = pos;
      return value;
    }
    multiplier *= 128;
  }
  return malformed("Variable Byte Integer is longer than four bytes");
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Result of {@link utf8Length} when the string contains U+0000. */
export const HAS_NULL = -1;
/** Result of {@link utf8Length} when the string contains an unpaired surrogate. */
export const HAS_LONE_SURROGATE = -2;
/** Result of {@link utf8Length} for a topic name that contains '+' or '#'. */
export const HAS_WILDCARD = -3;

/**
 * The UTF-8 length in bytes of `s`, or a negative code when MQTT forbids the string:
 * {@link HAS_NULL}, {@link HAS_LONE_SURROGATE}, or (when `topicName` is true)
 * {@link HAS_WILDCARD}.
 *
 * @example Measure strings
 * ```ts
 * import assert from "node:assert/strict";
 * import { HAS_NULL, HAS_WILDCARD, utf8Length } from "./_wire.ts";
 * assert.equal(utf8Length("a/é/😀", false), 9);
 * assert.equal(utf8Length("a\0", false), HAS_NULL);
 * assert.equal(utf8Length("a/+", true), HAS_WILDCARD);
 * ```
 */
export function utf8Length(s: string, topicName: boolean): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) return HAS_NULL;
      if (topicName && (c === 0x2b || c === 0x23)) return HAS_WILDCARD;
    } else if (c < 0x800) {
      bytes += 1;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 2;
    } else {
      // A high surrogate followed by a low one is one code point of four bytes.
      if (c > 0xdbff || i + 1 === n) return HAS_LONE_SURROGATE;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return HAS_LONE_SURROGATE;
      i++;
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * Writes `s` with its two-byte length prefix at `pos`; `byteLength` comes from
 * {@link utf8Length}. Returns the position after the string.
 *
 * @example Write a UTF-8 string
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeUtf8String } from "./_wire.ts";
 * const bytes = new Uint8Array(4);
 * assert.equal(writeUtf8String(bytes, 0, "é", 2), 4);
 * assert.deepEqual([...bytes], [0, 2, 0xc3, 0xa9]);
 * ```
 */
export function writeUtf8String(
  buf: Uint8Array,
  pos: number,
  s: string,
  byteLength: number,
): number {
  buf[pos] = byteLength >>> 8;
  buf[pos + 1] = byteLength & 0xff;
  pos += 2;
  if (byteLength === s.length && byteLength <= 64) {
    // Short ASCII: a plain loop beats a call into the runtime's encoder.
    for (let i = 0; i < byteLength; i++) buf[pos + i] = s.charCodeAt(i);
  } else {
    textEncoder.encodeInto(s, buf.subarray(pos, pos + byteLength));
  }
  return pos + byteLength;
}

/**
 * Writes a binary field (two-byte length prefix, then the bytes) at `pos` and returns
 * the position after it. The caller checks the length.
 *
 * @example Write binary data
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeBinary } from "./_wire.ts";
 * const bytes = new Uint8Array(4);
 * writeBinary(bytes, 0, new Uint8Array([7, 8]));
 * assert.deepEqual([...bytes], [0, 2, 7, 8]);
 * ```
 */
export function writeBinary(buf: Uint8Array, pos: number, data: Uint8Array): number {
  const n = data.length;
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  buf.set(data, pos + 2);
  return pos + 2 + n;
}

const fromCharCode = String.fromCharCode;

function shortAscii(b: Uint8Array, i: number, end: number): string {
  // Eight code units per call keeps the number of intermediate strings low.
  let s = "";
  for (; i + 8 <= end; i += 8) {
    s += fromCharCode(
      b[i]!,
      b[i + 1]!,
      b[i + 2]!,
      b[i + 3]!,
      b[i + 4]!,
      b[i + 5]!,
      b[i + 6]!,
      b[i + 7]!,
    );
  }
  for (; i < end; i++) s += fromCharCode(b[i]!);
  return s;
}

/**
 * Recently decoded short strings, so that a string seen before costs one comparison of
 * its bytes instead of validation plus building a new string: topic names, property
 * names and client ids repeat from packet to packet. A slot is picked from the length
 * and a few sampled bytes; it keeps the string's UTF-8 bytes (in one shared pool, so a
 * miss allocates nothing but the string), the string, and whether it holds a wildcard.
 * Only strings that passed validation enter, so bytes equal to a slot's are valid too.
 * Strings are immutable: handing out the same one twice is invisible to callers.
 */
const STRING_CACHE_SLOTS = 256;
const STRING_CACHE_MAX_LENGTH = 64;
const cachePool = new Uint8Array(STRING_CACHE_SLOTS * STRING_CACHE_MAX_LENGTH);
/** Byte length of each slot's string; 0 marks an empty slot ("" is never cached). */
const cacheLengths = new Uint8Array(STRING_CACHE_SLOTS);
/** 1 when the slot's string contains '+' or '#'. */
const cacheWildcards = new Uint8Array(STRING_CACHE_SLOTS);
const cacheStrings: string[] = Array.from({ length: STRING_CACHE_SLOTS }, () => "");

function cacheSlot(b: Uint8Array, start: number, length: number): number {
  const last = start + length - 1;
  return (length * 7 + b[start]! * 3 + b[last]! * 5 + b[start + (length >> 1)]! * 11 +
    b[start + (length >> 2)]! + b[last - (length >> 2)]! * 13) & (STRING_CACHE_SLOTS - 1);
}

function remember(
  b: Uint8Array,
  start: number,
  length: number,
  text: string,
  wildcard: number,
): void {
  const slot = cacheSlot(b, start, length);
  const base = slot * STRING_CACHE_MAX_LENGTH;
  for (let i = 0; i < length; i++) cachePool[base + i] = b[start + i]!;
  cacheLengths[slot] = length;
  cacheWildcards[slot] = wildcard;
  cacheStrings[slot] = text;
}

/**
 * Reads a UTF-8 string (two-byte length prefix) at `pos` inside a packet body ending
 * at `end`, leaving the position after it in {@link cursor}. Throws ProtocolError
 * 0x81 Malformed Packet when it is truncated, is not well-formed UTF-8
 * [MQTT-1.5.4-1] or contains U+0000 [MQTT-1.5.4-2]. For a topic name, `wildcards`
 * is the statement that forbids wildcards in it: a '+' or '#' then raises that too.
 * A byte order mark is kept, never stripped.
 *
 * @example Read a topic name
 * ```ts
 * import assert from "node:assert/strict";
 * import { readUtf8String } from "./_wire.ts";
 * const bytes = new Uint8Array([0, 3, 0x61, 0x2f, 0x62]);
 * assert.equal(readUtf8String(bytes, 0, bytes.length, "MQTT-3.3.2-2"), "a/b");
 * ```
 */
export function readUtf8String(
  b: Uint8Array,
  pos: number,
  end: number,
  wildcards: string | undefined,
): string {
  if (pos + 2 > end) malformed("UTF-8 string length runs past the end of the packet");
  const start = pos + 2;
  const length = (b[pos]! << 8) | b[pos + 1]!;
  const stop = start + length;
  if (stop > end) malformed("UTF-8 string runs past the end of the packet");
  cursor.pos = stop;
  if (length === 0) return "";
  if (length <= STRING_CACHE_MAX_LENGTH) {
    const slot = cacheSlot(b, start, length);
    if (cacheLengths[slot] === length && (wildcards === undefined || cacheWildcards[slot] === 0)) {
      const base = slot * STRING_CACHE_MAX_LENGTH - start;
      let i = start;
      while (i < stop && cachePool[base + i] === b[i]) i++;
      if (i === stop) return cacheStrings[slot]!;
    }
  }
  let wildcard = 0;
  let i = start;
  for (; i < stop; i++) {
    const c = b[i]!;
    if (c >= 0x80) break;
    if (c === 0) malformed("UTF-8 string contains U+0000", "MQTT-1.5.4-2");
    if (c === 0x2b || c === 0x23) {
      if (wildcards !== undefined) malformed("Topic name contains a wildcard character", wildcards);
      wildcard = 1;
    }
  }
  let text: string;
  if (i === stop) {
    // Pure ASCII, always valid UTF-8.
    text = length <= 32 ? shortAscii(b, start, stop) : textDecoder.decode(b.subarray(start, stop));
  } else {
    // Bytes below 0x80 never occur inside a multi-byte sequence, so the checks for
    // U+0000 and wildcards stay byte-wise.
    for (; i < stop; i++) {
      const c = b[i]!;
      if (c === 0) malformed("UTF-8 string contains U+0000", "MQTT-1.5.4-2");
      if (c === 0x2b || c === 0x23) {
        if (wildcards !== undefined) {
          malformed("Topic name contains a wildcard character", wildcards);
        }
        wildcard = 1;
      }
    }
    try {
      text = textDecoder.decode(b.subarray(start, stop));
    } catch {
      return malformed("UTF-8 string is not well-formed", "MQTT-1.5.4-1");
    }
  }
  if (length <= STRING_CACHE_MAX_LENGTH) remember(b, start, length, text, wildcard);
  return text;
}

/**
 * Reads a binary field (two-byte length prefix) at `pos` inside a packet body ending
 * at `end`, as a view into `b`, leaving the position after it in {@link cursor}.
 *
 * @example Read binary data without copying
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBinary } from "./_wire.ts";
 * const bytes = new Uint8Array([0, 2, 7, 8]);
 * const data = readBinary(bytes, 0, 4);
 * assert.deepEqual([...data], [7, 8]);
 * assert.equal(data.buffer, bytes.buffer);
 * ```
 */
export function readBinary(b: Uint8Array, pos: number, end: number): Uint8Array {
  if (pos + 2 > end) malformed("Binary data length runs past the end of the packet");
  const start = pos + 2;
  const stop = start + ((b[pos]! << 8) | b[pos + 1]!);
  if (stop > end) malformed("Binary data runs past the end of the packet");
  cursor.pos = stop;
  return b.subarray(start, stop);
}

/**
 * Describes a value for an error message: numbers and short strings as themselves,
 * other values by their type.
 *
 * @example Describe values
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeValue } from "./_wire.ts";
 * assert.equal(describeValue(3), "3");
 * assert.equal(describeValue("a"), '"a"');
 * assert.equal(describeValue(new Uint8Array(2)), "a Uint8Array of 2 bytes");
 * ```
 */
export function describeValue(value: unknown): string {
  if (
    typeof value === "number" || typeof value === "boolean" || value === undefined || value === null
  ) {
    return String(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  return `a value of type ${typeof value}`;
}
