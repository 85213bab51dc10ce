/**
 * Packet decoder: {@link decodePacket} reads one packet from the start of a byte
 * array, or says it needs more bytes. Binary fields (payload, password, correlation
 * and authentication data) are views into the input, never copies.
 *
 * Two lower-level steps are exported for stream readers that walk a chunk holding
 * several packets without slicing it: {@link frameLength} reads and checks the fixed
 * header, {@link decodeFrame} decodes one complete packet in place.
 *
 * @module
 */

import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from "./types.ts";
import { ProtocolError } from "../errors.ts";
import { ReasonCode, VALID_REASON_CODES } from "./reason_codes.ts";
import { decodeProperties, PropertyScope } from "./properties.ts";
import {
  checkProtocolVersion,
  cursor,
  describeValue,
  malformed,
  protocolError,
  readBinary,
  readUtf8String,
} from "./_wire.ts";

/** Options for {@link decodePacket}. */
export interface DecodeOptions {
  /**
   * Protocol level the connection speaks: 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0). A
   * CONNECT is decoded at the level it carries, whatever this says.
   */
  protocolVersion: ProtocolVersion;
  /**
   * Largest packet accepted, in bytes, counting the fixed header. A larger packet
   * raises ProtocolError 0x95 Packet Too Large as soon as its fixed header is read.
   */
  maxPacketSize?: number;
}

/** A decoded packet and how many bytes it took. */
export interface DecodeResult {
  /** The packet, in canonical form. */
  packet: Packet;
  /** Bytes the packet took, fixed header included: where the next packet starts. */
  bytesRead: number;
}

const PACKET_NAMES = [
  "reserved",
  "CONNECT",
  "CONNACK",
  "PUBLISH",
  "PUBACK",
  "PUBREC",
  "PUBREL",
  "PUBCOMP",
  "SUBSCRIBE",
  "SUBACK",
  "UNSUBSCRIBE",
  "UNSUBACK",
  "PINGREQ",
  "PINGRESP",
  "DISCONNECT",
  "AUTH",
] as const;

/**
 * Decodes the packet at the start of `bytes`. Returns `undefined` when `bytes` holds
 * only part of a packet (call again with more), otherwise the packet and the number of
 * bytes it took; bytes after it are left alone.
 *
 * Bad input raises a ProtocolError whose `reasonCode` is what an MQTT 5 receiver
 * answers with (0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol
 * Version for an unknown CONNECT level, 0x95 Packet Too Large) and whose `statement`
 * names the spec statement broken, when there is one. Errors in the fixed header are
 * raised before the rest of the packet arrives.
 *
 * @example Decode a PUBACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePacket } from "./decode.ts";
 * const result = decodePacket(new Uint8Array([0x40, 2, 0, 7]), { protocolVersion: 4 });
 * assert.deepEqual(result, { packet: { type: "puback", packetId: 7 }, bytesRead: 4 });
 * ```
 *
 * @example Wait for more bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePacket } from "./decode.ts";
 * assert.equal(decodePacket(new Uint8Array([0x30, 10, 0]), { protocolVersion: 4 }), undefined);
 * ```
 *
 * @example Reject a malformed packet
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePacket } from "./decode.ts";
 * import { ProtocolError } from "../errors.ts";
 * assert.throws(
 *   () => decodePacket(new Uint8Array([0x36, 0]), { protocolVersion: 5 }),
 *   (error) => error instanceof ProtocolError && error.statement === "MQTT-3.3.1-4",
 * );
 * ```
 */
export function decodePacket(bytes: Uint8Array, options: DecodeOptions): DecodeResult | undefined {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot decode as 'bytes' must be a Uint8Array: current value is ${describeValue(bytes)}`,
    );
  }
  const version = options.protocolVersion;
  checkProtocolVersion(version, "decode");
  const max = options.maxPacketSize;
  if (max !== undefined && !(typeof max === "number" && max >= 2)) {
    throw new RangeError(
      `Cannot decode as 'maxPacketSize' must be a number of at least 2: current value is ${
        describeValue(max)
      }`,
    );
  }
  const length = frameLength(bytes, 0, bytes.length, version, max ?? Infinity);
  if (length < 0 || length > bytes.length) return undefined;
  return { packet: decodeFrame(bytes, 0, length, version), bytesRead: length };
}

/**
 * Reads the fixed header of the packet that starts at `offset` (with valid bytes up to
 * `end`) and returns the packet's whole length in bytes, or -1 when the fixed header
 * itself is not complete yet. The length may exceed what is available.
 *
 * Raises ProtocolError for a reserved packet type, AUTH before MQTT 5, wrong flag bits
 * (MQTT-2.1.3-1 in 5.0; in 3.1.1 MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1 or
 * MQTT-3.14.1-1 for PUBREL, SUBSCRIBE, UNSUBSCRIBE or DISCONNECT, else MQTT-2.2.2-1),
 * QoS 3 [MQTT-3.3.1-4], DUP on QoS 0 [MQTT-3.3.1-2], a Remaining Length over four
 * bytes, and 0x95 Packet Too Large when the length exceeds `maxPacketSize`.
 *
 * @example Measure a packet from its first bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { frameLength } from "./decode.ts";
 * const bytes = new Uint8Array([0x30, 0xc8, 0x01]);
 * assert.equal(frameLength(bytes, 0, 1, 4, Infinity), -1);
 * assert.equal(frameLength(bytes, 0, 3, 4, Infinity), 203);
 * assert.throws(() => frameLength(bytes, 0, 3, 4, 100), { reasonCode: 0x95 });
 * ```
 */
export function frameLength(
  b: Uint8Array,
  offset: number,
  end: number,
  protocolVersion: ProtocolVersion,
  maxPacketSize: number,
): number {
  if (offset >= end) return -1;
  const first = b[offset]!;
  const type = first >> 4;
  const flags = first & 0x0f;
  if (type === 3) {
    if ((flags & 0x06) === 0x06) malformed("PUBLISH has QoS 3", "MQTT-3.3.1-4");
    if ((flags & 0x0e) === 0x08) malformed("PUBLISH has DUP set with QoS 0", "MQTT-3.3.1-2");
  } else if (type === 6 || type === 8 || type === 10) {
    // MQTT 3.1 sent these at QoS 1 and could set DUP on a retry.
    if (flags !== 0x02 && !(protocolVersion === 3 && flags === 0x0a)) {
      malformed(
        `${PACKET_NAMES[type]} fixed header flags must be 0010`,
        flagsStatement(type, protocolVersion),
      );
    }
  } else if (type === 0) {
    malformed("Packet type 0 is reserved");
  } else if (flags !== 0) {
    malformed(
      `${PACKET_NAMES[type]} fixed header flags must be 0000`,
      flagsStatement(type, protocolVersion),
    );
  } else if (type === 15 && protocolVersion !== 5) {
    malformed(`AUTH (packet type 15) is reserved before MQTT 5`);
  }
  let pos = offset + 1;
  let remaining = 0;
  let multiplier = 1;
  for (let count = 0;; count++) {
    if (pos >= end) return -1;
    const byte = b[pos++]!;
    remaining += (byte & 0x7f) * multiplier;
    if (byte < 0x80) {
      if (byte === 0 && count > 0) {
        malformed(
          "Remaining Length does not use the fewest bytes",
          protocolVersion === 5 ? "MQTT-1.5.5-1" : undefined,
        );
      }
      break;
    }
    if (count === 3) malformed("Remaining Length is longer than four bytes");
    multiplier *= 128;
  }
  const total = pos - offset + remaining;
  if (total > maxPacketSize) {
    throw new ProtocolError(
      `${PACKET_NAMES[type]} of ${total} bytes exceeds the maximum packet size of ${maxPacketSize}`,
      { reasonCode: ReasonCode.PacketTooLarge },
    );
  }
  return total;
}

/**
 * Decodes the complete packet of `length` bytes at `offset`, whose fixed header
 * {@link frameLength} has already checked. Binary fields are views into `b`.
 *
 * @example Decode a packet inside a larger buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFrame, frameLength } from "./decode.ts";
 * const bytes = new Uint8Array([0xd0, 0, 0xc0, 0]);
 * const length = frameLength(bytes, 2, bytes.length, 4, Infinity);
 * assert.deepEqual(decodeFrame(bytes, 2, length, 4), { type: "pingreq" });
 * ```
 */
export function decodeFrame(
  b: Uint8Array,
  offset: number,
  length: number,
  protocolVersion: ProtocolVersion,
): Packet {
  const first = b[offset]!;
  let pos = offset + 1;
  while (b[pos++]! >= 0x80);
  const end = offset + length;
  try {
    switch (first >> 4) {
      case 3:
        return decodePublish(b, first, pos, end, protocolVersion);
      case 4:
        return decodeAck(b, "puback", pos, end, protocolVersion);
      case 5:
        return decodeAck(b, "pubrec", pos, end, protocolVersion);
      case 6:
        return decodeAck(b, "pubrel", pos, end, protocolVersion);
      case 7:
        return decodeAck(b, "pubcomp", pos, end, protocolVersion);
      case 1:
        return decodeConnect(b, pos, end);
      case 2:
        return decodeConnack(b, pos, end, protocolVersion);
      case 8:
        return decodeSubscribe(b, pos, end, protocolVersion);
      case 9:
        return decodeSuback(b, pos, end, protocolVersion);
      case 10:
        return decodeUnsubscribe(b, pos, end, protocolVersion);
      case 11:
        return decodeUnsuback(b, pos, end, protocolVersion);
      case 12:
        if (pos !== end) malformed("PINGREQ must have a Remaining Length of 0");
        return { type: "pingreq" };
      case 13:
        if (pos !== end) malformed("PINGRESP must have a Remaining Length of 0");
        return { type: "pingresp" };
      case 14:
        return decodeDisconnect(b, pos, end, protocolVersion);
      case 15:
        if (protocolVersion !== 5) malformed("AUTH (packet type 15) is reserved before MQTT 5");
        return decodeAuth(b, pos, end);
      default:
        return malformed("Packet type 0 is reserved");
    }
  } catch (error) {
    // The shared string readers name MQTT 5.0 statements; 3.1.1 numbers them differently.
    if (error instanceof ProtocolError && error.statement !== undefined) {
      const version = (first >> 4) === 1 ? connectLevel(b, pos, end) : protocolVersion;
      if (version !== 5) throw renumbered(error, V311_STATEMENTS[error.statement]);
    }
    throw error;
  }
}

/** MQTT 3.1.1 ids of the rules that MQTT 5.0 numbers differently (UTF-8 strings). */
const V311_STATEMENTS: Readonly<Record<string, string>> = {
  "MQTT-1.5.4-1": "MQTT-1.5.3-1",
  "MQTT-1.5.4-2": "MQTT-1.5.3-2",
};

/** The statement broken by wrong fixed header flags, numbered as `version` numbers it. */
function flagsStatement(type: number, version: ProtocolVersion): string {
  if (version === 5) return "MQTT-2.1.3-1";
  switch (type) {
    case 6:
      return "MQTT-3.6.1-1";
    case 8:
      return "MQTT-3.8.1-1";
    case 10:
      return "MQTT-3.10.1-1";
    case 14:
      return "MQTT-3.14.1-1";
    default:
      return "MQTT-2.2.2-1";
  }
}

/** The protocol level a CONNECT body at `pos` declares, or 4 when it is cut short. */
function connectLevel(b: Uint8Array, pos: number, end: number): number {
  if (pos + 2 > end) return 4;
  const at = pos + 2 + ((b[pos]! << 8) | b[pos + 1]!);
  return at < end ? b[at]! : 4;
}

/** `error` with `statement` in place of its own, or `error` itself when none is given. */
function renumbered(error: ProtocolError, statement: string | undefined): ProtocolError {
  if (statement === undefined) return error;
  const tagged = error.message.slice(0, -` [${error.statement}]`.length);
  return new ProtocolError(tagged.slice(0, tagged.lastIndexOf(" (")), {
    reasonCode: error.reasonCode,
    statement,
  });
}

function trailing(name: string, pos: number, end: number): void {
  if (pos !== end) malformed(`${name} has ${end - pos} unexpected bytes at its end`);
}

function readPacketId(
  b: Uint8Array,
  pos: number,
  end: number,
  name: string,
  version: ProtocolVersion,
): number {
  if (pos + 2 > end) malformed(`${name} is too short for its Packet Identifier`);
  const packetId = (b[pos]! << 8) | b[pos + 1]!;
  if (packetId === 0) {
    protocolError(
      `${name} has Packet Identifier 0`,
      version === 5 ? "MQTT-2.2.1-3" : "MQTT-2.3.1-1",
    );
  }
  return packetId;
}

function decodePublish(
  b: Uint8Array,
  first: number,
  pos: number,
  end: number,
  version: ProtocolVersion,
): PublishPacket {
  const qos = ((first >> 1) & 3) as QoS;
  const topic = readUtf8String(b, pos, end, "MQTT-3.3.2-2");
  pos = cursor.pos;
  let packetId = 0;
  if (qos !== 0) {
    packetId = readPacketId(b, pos, end, "PUBLISH", version);
    pos += 2;
  }
  let properties: Properties | undefined;
  if (version === 5) {
    if (pos < end && b[pos] === 0) {
      pos++;
    } else {
      properties = decodeProperties(b, pos, end, PropertyScope.publish);
      pos = cursor.pos;
    }
    if (topic.length === 0 && properties?.topicAlias === undefined) {
      protocolError("PUBLISH has an empty Topic Name and no Topic Alias");
    }
  } else if (topic.length === 0) {
    protocolError("PUBLISH has an empty Topic Name", "MQTT-4.7.3-1");
  }
  const payload = b.subarray(pos, end);
  const retain = (first & 1) !== 0;
  const dup = (first & 8) !== 0;
  if (qos === 0) {
    return properties === undefined
      ? { type: "publish", topic, payload, qos, retain, dup }
      : { type: "publish", topic, payload, qos, retain, dup, properties };
  }
  return properties === undefined
    ? { type: "publish", topic, payload, qos, retain, dup, packetId }
    : { type: "publish", topic, payload, qos, retain, dup, packetId, properties };
}

const ACK_STATEMENTS = {
  puback: "MQTT-3.4.2-1",
  pubrec: "MQTT-3.5.2-1",
  pubrel: "MQTT-3.6.2-1",
  pubcomp: "MQTT-3.7.2-1",
} as const;

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0")}`;
}

function decodeAck<T extends "puback" | "pubrec" | "pubrel" | "pubcomp">(
  b: Uint8Array,
  type: T,
  pos: number,
  end: number,
  version: ProtocolVersion,
): AckPacket<T> {
  const name = type.toUpperCase();
  const packetId = readPacketId(b, pos, end, name, version);
  pos += 2;
  if (version !== 5) {
    trailing(name, pos, end);
    return { type, packetId };
  }
  // Remaining Length 2: Success without properties; 3: a Reason Code only.
  if (pos === end) return { type, packetId, reasonCode: 0 };
  const reasonCode = b[pos++]!;
  if (!VALID_REASON_CODES[type]!.has(reasonCode)) {
    protocolError(
      `${name} has reason code ${hex(reasonCode)}, not valid for ${name}`,
      ACK_STATEMENTS[type],
    );
  }
  if (pos === end) return { type, packetId, reasonCode };
  const properties = decodeProperties(b, pos, end, PropertyScope[type]);
  trailing(name, cursor.pos, end);
  return properties === undefined
    ? { type, packetId, reasonCode }
    : { type, packetId, reasonCode, properties };
}

const WILL_STATEMENTS = {
  qosWithoutWill: ["MQTT-3.1.2-13", "MQTT-3.1.2-11"],
  qos3: ["MQTT-3.1.2-14", "MQTT-3.1.2-12"],
  retainWithoutWill: ["MQTT-3.1.2-15", "MQTT-3.1.2-13"],
} as const;

function unsupported(message: string, statement: string): never {
  throw new ProtocolError(message, {
    reasonCode: ReasonCode.UnsupportedProtocolVersion,
    statement,
  });
}

function decodeConnect(b: Uint8Array, pos: number, end: number): ConnectPacket {
  const protocolName = readUtf8String(b, pos, end, undefined);
  pos = cursor.pos;
  if (protocolName !== "MQTT" && protocolName !== "MQIsdp") {
    unsupported(`CONNECT has protocol name ${describeValue(protocolName)}`, "MQTT-3.1.2-1");
  }
  if (pos >= end) malformed("CONNECT is too short for its Protocol Level");
  const level = b[pos++]!;
  const levelFits = protocolName === "MQTT" ? level === 4 || level === 5 : level === 3;
  if (!levelFits) {
    unsupported(
      `CONNECT has protocol level ${level} with protocol name "${protocolName}"`,
      "MQTT-3.1.2-2",
    );
  }
  const version = level as ProtocolVersion;
  const v5 = version === 5 ? 1 : 0;
  if (pos + 3 > end) malformed("CONNECT is too short for its Connect Flags and Keep Alive");
  const flags = b[pos]!;
  const keepalive = (b[pos + 1]! << 8) | b[pos + 2]!;
  pos += 3;
  if (flags & 0x01) malformed("CONNECT has its reserved flag set", "MQTT-3.1.2-3");
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  if (!hasWill) {
    if (willQos !== 0) {
      malformed("CONNECT has a Will QoS without a Will", WILL_STATEMENTS.qosWithoutWill[v5]);
    }
    if (willRetain) {
      malformed("CONNECT has Will Retain without a Will", WILL_STATEMENTS.retainWithoutWill[v5]);
    }
  } else if (willQos === 3) {
    malformed("CONNECT has Will QoS 3", WILL_STATEMENTS.qos3[v5]);
  }
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  if (hasPassword && !hasUsername && version !== 5) {
    malformed("CONNECT has a password without a user name", "MQTT-3.1.2-22");
  }
  let properties: Properties | undefined;
  if (version === 5) {
    properties = decodeProperties(b, pos, end, PropertyScope.connect);
    pos = cursor.pos;
  }
  const clientId = readUtf8String(b, pos, end, undefined);
  pos = cursor.pos;
  const packet: ConnectPacket = {
    type: "connect",
    protocolVersion: version,
    clientId,
    clean: (flags & 0x02) !== 0,
    keepalive,
  };
  if (hasWill) {
    let willProperties: Properties | undefined;
    if (version === 5) {
      willProperties = decodeProperties(b, pos, end, PropertyScope.will);
      pos = cursor.pos;
    }
    const topic = readUtf8String(b, pos, end, undefined);
    const payload = readBinary(b, cursor.pos, end);
    pos = cursor.pos;
    const will: Will = { topic, payload, qos: willQos as QoS, retain: willRetain };
    if (willProperties !== undefined) will.properties = willProperties;
    packet.will = will;
  }
  if (hasUsername) {
    packet.username = readUtf8String(b, pos, end, undefined);
    pos = cursor.pos;
  }
  if (hasPassword) {
    packet.password = readBinary(b, pos, end);
    pos = cursor.pos;
  }
  if (properties !== undefined) packet.properties = properties;
  trailing("CONNECT", pos, end);
  return packet;
}

function decodeConnack(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): ConnackPacket {
  if (pos + 2 > end) malformed("CONNACK is too short");
  const flags = b[pos]!;
  const reasonCode = b[pos + 1]!;
  pos += 2;
  if (flags & 0xfe) {
    malformed(
      "CONNACK has reserved Connect Acknowledge Flags set",
      version === 5 ? "MQTT-3.2.2-1" : undefined,
    );
  }
  const sessionPresent = flags === 1;
  let properties: Properties | undefined;
  if (version === 5) {
    if (!VALID_REASON_CODES.connack!.has(reasonCode)) {
      protocolError(
        `CONNACK has reason code ${hex(reasonCode)}, not valid for CONNACK`,
        "MQTT-3.2.2-8",
      );
    }
    properties = decodeProperties(b, pos, end, PropertyScope.connack);
    pos = cursor.pos;
  } else if (reasonCode > 5) {
    protocolError(`CONNACK has reserved return code ${reasonCode}`);
  }
  trailing("CONNACK", pos, end);
  return properties === undefined
    ? { type: "connack", sessionPresent, reasonCode }
    : { type: "connack", sessionPresent, reasonCode, properties };
}

function decodeSubscribe(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): SubscribePacket {
  const packetId = readPacketId(b, pos, end, "SUBSCRIBE", version);
  pos += 2;
  let properties: Properties | undefined;
  if (version === 5) {
    properties = decodeProperties(b, pos, end, PropertyScope.subscribe);
    pos = cursor.pos;
  }
  const subscriptions: Subscription[] = [];
  while (pos < end) {
    const topicFilter = readUtf8String(b, pos, end, undefined);
    pos = cursor.pos;
    if (pos >= end) malformed("SUBSCRIBE lacks the Subscription Options of its last Topic Filter");
    const options = b[pos++]!;
    const qos = options & 3;
    if (version === 5) {
      if (options & 0xc0) {
        malformed("SUBSCRIBE has reserved Subscription Options bits set", "MQTT-3.8.3-5");
      }
      if (qos === 3) protocolError("SUBSCRIBE asks for Maximum QoS 3");
      const retainHandling = (options >> 4) & 3;
      if (retainHandling === 3) protocolError("SUBSCRIBE has Retain Handling 3");
      const noLocal = (options & 0x04) !== 0;
      if (noLocal && topicFilter.startsWith("$share/")) {
        protocolError("SUBSCRIBE sets No Local on a shared subscription", "MQTT-3.8.3-4");
      }
      subscriptions.push({
        topicFilter,
        qos: qos as QoS,
        noLocal,
        retainAsPublished: (options & 0x08) !== 0,
        retainHandling: retainHandling as 0 | 1 | 2,
      });
    } else {
      if (options & 0xfc) {
        malformed("SUBSCRIBE has reserved bits set in a Requested QoS", "MQTT-3.8.3-4");
      }
      if (qos === 3) malformed("SUBSCRIBE asks for QoS 3", "MQTT-3.8.3-4");
      subscriptions.push({ topicFilter, qos: qos as QoS });
    }
  }
  if (subscriptions.length === 0) {
    protocolError("SUBSCRIBE has no Topic Filter", version === 5 ? "MQTT-3.8.3-2" : "MQTT-3.8.3-3");
  }
  return properties === undefined
    ? { type: "subscribe", packetId, subscriptions }
    : { type: "subscribe", packetId, subscriptions, properties };
}

const V4_SUBACK_CODES: ReadonlySet<number> = new Set([0, 1, 2, 0x80]);

function decodeSuback(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): SubackPacket {
  const packetId = readPacketId(b, pos, end, "SUBACK", version);
  pos += 2;
  let properties: Properties | undefined;
  if (version === 5) {
    properties = decodeProperties(b, pos, end, PropertyScope.suback);
    pos = cursor.pos;
  }
  const valid = version === 5 ? VALID_REASON_CODES.suback! : V4_SUBACK_CODES;
  const reasonCodes: number[] = [];
  for (; pos < end; pos++) {
    const code = b[pos]!;
    if (!valid.has(code)) {
      protocolError(`SUBACK has reason code ${hex(code)}, not valid for SUBACK`, "MQTT-3.9.3-2");
    }
    reasonCodes.push(code);
  }
  // A SUBACK answers a SUBSCRIBE, which has at least one Topic Filter.
  if (reasonCodes.length === 0) protocolError("SUBACK has no reason code");
  return properties === undefined
    ? { type: "suback", packetId, reasonCodes }
    : { type: "suback", packetId, reasonCodes, properties };
}

function decodeUnsubscribe(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): UnsubscribePacket {
  const packetId = readPacketId(b, pos, end, "UNSUBSCRIBE", version);
  pos += 2;
  let properties: Properties | undefined;
  if (version === 5) {
    properties = decodeProperties(b, pos, end, PropertyScope.unsubscribe);
    pos = cursor.pos;
  }
  const topicFilters: string[] = [];
  while (pos < end) {
    topicFilters.push(readUtf8String(b, pos, end, undefined));
    pos = cursor.pos;
  }
  if (topicFilters.length === 0) protocolError("UNSUBSCRIBE has no Topic Filter", "MQTT-3.10.3-2");
  return properties === undefined
    ? { type: "unsubscribe", packetId, topicFilters }
    : { type: "unsubscribe", packetId, topicFilters, properties };
}

function decodeUnsuback(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): UnsubackPacket {
  const packetId = readPacketId(b, pos, end, "UNSUBACK", version);
  pos += 2;
  if (version !== 5) {
    trailing("UNSUBACK", pos, end);
    return { type: "unsuback", packetId };
  }
  const properties = decodeProperties(b, pos, end, PropertyScope.unsuback);
  pos = cursor.pos;
  const valid = VALID_REASON_CODES.unsuback!;
  const reasonCodes: number[] = [];
  for (; pos < end; pos++) {
    const code = b[pos]!;
    if (!valid.has(code)) {
      protocolError(
        `UNSUBACK has reason code ${hex(code)}, not valid for UNSUBACK`,
        "MQTT-3.11.3-2",
      );
    }
    reasonCodes.push(code);
  }
  // An UNSUBACK answers an UNSUBSCRIBE, which has at least one Topic Filter.
  if (reasonCodes.length === 0) protocolError("UNSUBACK has no reason code");
  return properties === undefined
    ? { type: "unsuback", packetId, reasonCodes }
    : { type: "unsuback", packetId, reasonCodes, properties };
}

function decodeDisconnect(
  b: Uint8Array,
  pos: number,
  end: number,
  version: ProtocolVersion,
): DisconnectPacket {
  if (version !== 5) {
    trailing("DISCONNECT", pos, end);
    return { type: "disconnect" };
  }
  // Remaining Length 0: Normal disconnection without properties; 1: a Reason Code only.
  if (pos === end) return { type: "disconnect", reasonCode: 0 };
  const reasonCode = b[pos++]!;
  if (!VALID_REASON_CODES.disconnect!.has(reasonCode)) {
    protocolError(
      `DISCONNECT has reason code ${hex(reasonCode)}, not valid for DISCONNECT`,
      "MQTT-3.14.2-1",
    );
  }
  if (pos === end) return { type: "disconnect", reasonCode };
  const properties = decodeProperties(b, pos, end, PropertyScope.disconnect);
  trailing("DISCONNECT", cursor.pos, end);
  return properties === undefined
    ? { type: "disconnect", reasonCode }
    : { type: "disconnect", reasonCode, properties };
}

function decodeAuth(b: Uint8Array, pos: number, end: number): AuthPacket {
  // Remaining Length 0 is Success without properties, the one AUTH without an
  // Authentication Method.
  if (pos === end) return { type: "auth", reasonCode: 0 };
  const reasonCode = b[pos++]!;
  if (!VALID_REASON_CODES.auth!.has(reasonCode)) {
    protocolError(`AUTH has reason code ${hex(reasonCode)}, not valid for AUTH`, "MQTT-3.15.2-1");
  }
  let properties: Properties | undefined;
  if (pos < end) {
    properties = decodeProperties(b, pos, end, PropertyScope.auth);
    trailing("AUTH", cursor.pos, end);
  }
  if (properties?.authenticationMethod === undefined) {
    protocolError("AUTH lacks an Authentication Method");
  }
  return { type: "auth", reasonCode, properties };
}
