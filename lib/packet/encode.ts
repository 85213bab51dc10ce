/**
 * Packet encoder: {@link encodePacket} turns a {@link Packet} into its bytes for MQTT
 * 3.1, 3.1.1 or 5.0. It sizes the packet first, allocates one buffer and writes into
 * it; nothing is concatenated.
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
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from "./types.ts";
import { VALID_REASON_CODES } from "./reason_codes.ts";
import { propertiesLength, PropertyScope, writeProperties } from "./properties.ts";
import {
  describeValue,
  HAS_WILDCARD,
  MAX_TWO_BYTE_LENGTH,
  MAX_VARIABLE_BYTE_INTEGER,
  utf8Length,
  variableByteIntegerLength,
  writeBinary,
  writeUtf8String,
  writeVariableByteInteger,
} from "./_wire.ts";

type AnyAck = AckPacket<"puback" | "pubrec" | "pubrel" | "pubcomp">;

/**
 * Encodes `packet` for the given protocol level (3 for MQTT 3.1, 4 for 3.1.1, 5 for
 * 5.0) and returns its bytes. They are fresh and never written again, but a small
 * packet's bytes may be a slice of a larger shared buffer (use `bytes.slice()` to keep
 * just them for a long time, not `bytes.buffer`). A CONNECT is always encoded
 * at its own `protocolVersion`, since the level is part of the packet. Fields that only
 * exist in MQTT 5 (properties, most reason codes) are ignored for levels 3 and 4.
 *
 * Caller mistakes throw: TypeError for a value of the wrong type or a forbidden
 * combination, RangeError for a number or length out of range, e.g.
 * "Cannot encode PUBLISH as 'qos' must be 0, 1 or 2: current value is 3".
 *
 * @example Encode a QoS 1 PUBLISH for MQTT 3.1.1
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket } from "./encode.ts";
 * const bytes = encodePacket({
 *   type: "publish",
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 10,
 * }, 4);
 * assert.deepEqual([...bytes], [0x32, 9, 0, 3, 0x61, 0x2f, 0x62, 0, 10, 0x68, 0x69]);
 * ```
 *
 * @example A caller mistake
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePacket } from "./encode.ts";
 * assert.throws(
 *   () => encodePacket({ type: "puback", packetId: 0 }, 4),
 *   { name: "RangeError", message: "Cannot encode PUBACK as 'packetId' must be an integer from 1 to 65535: current value is 0" },
 * );
 * ```
 */
export function encodePacket(packet: Packet, protocolVersion: ProtocolVersion): Uint8Array {
  if (protocolVersion !== 4 && protocolVersion !== 5 && protocolVersion !== 3) {
    throw new RangeError(
      `Cannot encode packet as 'protocolVersion' must be 3, 4 or 5: current value is ${
        describeValue(protocolVersion)
      }`,
    );
  }
  if (typeof packet !== "object" || packet === null) {
    throw new TypeError(
      `Cannot encode packet as it must be an object: current value is ${describeValue(packet)}`,
    );
  }
  switch (packet.type) {
    case "publish":
      return encodePublish(packet, protocolVersion);
    case "puback":
      return encodeAck(packet, protocolVersion, 0x40, "PUBACK");
    case "pubrec":
      return encodeAck(packet, protocolVersion, 0x50, "PUBREC");
    case "pubrel":
      return encodeAck(packet, protocolVersion, 0x62, "PUBREL");
    case "pubcomp":
      return encodeAck(packet, protocolVersion, 0x70, "PUBCOMP");
    case "connect":
      return encodeConnect(packet);
    case "connack":
      return encodeConnack(packet, protocolVersion);
    case "subscribe":
      return encodeSubscribe(packet, protocolVersion);
    case "suback":
      return encodeSuback(packet, protocolVersion);
    case "unsubscribe":
      return encodeUnsubscribe(packet, protocolVersion);
    case "unsuback":
      return encodeUnsuback(packet, protocolVersion);
    case "pingreq":
      return twoBytes(0xc0, 0);
    case "pingresp":
      return twoBytes(0xd0, 0);
    case "disconnect":
      return encodeDisconnectOrAuth(packet, protocolVersion, 0xe0, "DISCONNECT");
    case "auth":
      if (protocolVersion !== 5) {
        throw new TypeError(
          `Cannot encode AUTH as it needs MQTT 5: current protocol version is ${protocolVersion}`,
        );
      }
      return encodeDisconnectOrAuth(packet, protocolVersion, 0xf0, "AUTH");
    default:
      throw new TypeError(
        `Cannot encode packet as 'type' must name an MQTT control packet: current value is ${
          describeValue((packet as { type: unknown }).type)
        }`,
      );
  }
}

function twoBytes(first: number, second: number): Uint8Array {
  const buf = allocateBytes(2);
  buf[0] = first;
  buf[1] = second;
  return buf;
}

function fail(
  error: typeof TypeError | typeof RangeError,
  packet: string,
  field: string,
  must: string,
  value: unknown,
): never {
  throw new error(
    `Cannot encode ${packet} as '${field}' ${must}: current value is ${describeValue(value)}`,
  );
}

/**
 * Where packets get their bytes. Every packet gets fresh, zero-filled bytes that no other
 * packet ever shares, but they may be a slice of a common 64 KiB slab: V8 as Deno embeds
 * it gives every typed array its own backing store outside the heap, about 300 ns each,
 * while a view into a slab costs about 50 ns. JavaScriptCore (Bun, Safari) allocates a
 * small typed array inside its heap in about 10 ns, faster than a view (about 30 ns), so
 * there packets of up to {@link SMALL_PACKET} bytes get their own buffer.
 * JavaScriptCore is recognized by the `line` property its Error objects carry; a wrong
 * guess costs speed, never correctness. (Timing both ways at run time proved unreliable
 * before the JIT settles.)
 */
const SLAB_SIZE = 64 * 1024;
/** Larger packets get their own buffer: the allocation costs little next to the copy. */
const SLAB_MAX_PACKET = 8 * 1024;
/** Packets up to this size get their own buffer where small allocations are cheap. */
const SMALL_PACKET = 512;
const SMALL_OWN_BUFFER = "line" in new Error();

let slab = new Uint8Array(SLAB_SIZE);
let slabOffset = 0;

/** Zero-filled bytes for one packet; see {@link SLAB_SIZE}. */
function allocateBytes(size: number): Uint8Array {
  if (size > SLAB_MAX_PACKET || (size <= SMALL_PACKET && SMALL_OWN_BUFFER)) {
    return new Uint8Array(size);
  }
  // A slab whose buffer was transferred elsewhere has length 0 and is replaced too.
  if (slabOffset + size > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabOffset = 0;
  }
  const bytes = slab.subarray(slabOffset, slabOffset + size);
  slabOffset += size;
  return bytes;
}

/** Allocates the whole packet and writes its fixed header. */
function allocate(firstByte: number, remainingLength: number, packet: string): Uint8Array {
  if (remainingLength > MAX_VARIABLE_BYTE_INTEGER) {
    fail(
      RangeError,
      packet,
      "remaining length",
      "must be at most 268435455 bytes",
      `${remainingLength} bytes`,
    );
  }
  const headerLength = 1 + variableByteIntegerLength(remainingLength);
  const buf = allocateBytes(headerLength + remainingLength);
  buf[0] = firstByte;
  writeVariableByteInteger(buf, 1, remainingLength);
  return buf;
}

function checkPacketId(value: unknown, packet: string): number {
  if (typeof value !== "number" || !(value >= 1 && value <= 0xffff) || !Number.isInteger(value)) {
    fail(
      typeof value === "number" ? RangeError : TypeError,
      packet,
      "packetId",
      "must be an integer from 1 to 65535",
      value,
    );
  }
  return value;
}

function checkQos(value: unknown, packet: string, field: string): 0 | 1 | 2 {
  if (value !== 0 && value !== 1 && value !== 2) {
    fail(
      typeof value === "number" ? RangeError : TypeError,
      packet,
      field,
      "must be 0, 1 or 2",
      value,
    );
  }
  return value;
}

function checkString(value: unknown, packet: string, field: string): number {
  if (typeof value !== "string") fail(TypeError, packet, field, "must be a string", value);
  const length = utf8Length(value, false);
  if (length < 0) {
    fail(TypeError, packet, field, "must be well-formed UTF-16 without U+0000", value);
  }
  if (length > MAX_TWO_BYTE_LENGTH) {
    fail(RangeError, packet, field, "must encode to at most 65535 UTF-8 bytes", `${length} bytes`);
  }
  return length;
}

function checkBinary(value: unknown, packet: string, field: string): number {
  if (!(value instanceof Uint8Array)) fail(TypeError, packet, field, "must be a Uint8Array", value);
  if (value.length > MAX_TWO_BYTE_LENGTH) {
    fail(RangeError, packet, field, "must be at most 65535 bytes", value);
  }
  return value.length;
}

function checkReasonCode(
  value: unknown,
  valid: ReadonlySet<number>,
  packet: string,
  field = "reasonCode",
): number {
  if (typeof value !== "number" || !valid.has(value)) {
    fail(
      typeof value === "number" ? RangeError : TypeError,
      packet,
      field,
      `must be a ${packet} reason code`,
      value,
    );
  }
  return value;
}

/** Property Length plus properties, or the single 0 byte when there are none. */
function sizeProperties(
  props: Properties | undefined,
  scope: number,
  packet: string,
  path?: string,
): number {
  return props === undefined ? 0 : propertiesLength(props, scope, packet, path);
}

function putProperties(
  buf: Uint8Array,
  pos: number,
  props: Properties | undefined,
  length: number,
): number {
  if (props === undefined) {
    buf[pos] = 0;
    return pos + 1;
  }
  return writeProperties(buf, pos, props, length);
}

/** The last valid topic name measured: publishers tend to repeat topics. */
let lastTopic = "";
let lastTopicLength = 0;

function encodePublish(p: PublishPacket, version: ProtocolVersion): Uint8Array {
  const topic = p.topic;
  const payload = p.payload;
  const qos = p.qos;
  if (typeof topic !== "string") fail(TypeError, "PUBLISH", "topic", "must be a string", topic);
  let topicLength = lastTopicLength;
  if (topic !== lastTopic) {
    topicLength = utf8Length(topic, true);
    if (topicLength >= 0) {
      lastTopic = topic;
      lastTopicLength = topicLength;
    }
  }
  if (topicLength < 0) {
    const must = topicLength === HAS_WILDCARD
      ? "must not contain the wildcards '+' or '#'"
      : "must be well-formed UTF-16 without U+0000";
    fail(TypeError, "PUBLISH", "topic", must, topic);
  }
  if (topicLength > MAX_TWO_BYTE_LENGTH) {
    fail(
      RangeError,
      "PUBLISH",
      "topic",
      "must encode to at most 65535 UTF-8 bytes",
      `${topicLength} bytes`,
    );
  }
  if (qos !== 0 && qos !== 1 && qos !== 2) checkQos(qos, "PUBLISH", "qos");
  if (!(payload instanceof Uint8Array)) {
    fail(TypeError, "PUBLISH", "payload", "must be a Uint8Array", payload);
  }
  const dup = p.dup;
  if (dup && qos === 0) fail(TypeError, "PUBLISH", "dup", "must be false when 'qos' is 0", dup);
  let remaining = 2 + topicLength + payload.length;
  let packetId = 0;
  if (qos !== 0) {
    packetId = p.packetId as number;
    if (!(packetId >= 1 && packetId <= 0xffff && (packetId | 0) === packetId)) {
      checkPacketId(packetId, "PUBLISH");
    }
    remaining += 2;
  }
  let props: Properties | undefined;
  let propsLength = 0;
  if (version === 5) {
    props = p.properties;
    if (props !== undefined) {
      propsLength = propertiesLength(props, PropertyScope.publish, "PUBLISH");
    }
    remaining += variableByteIntegerLength(propsLength) + propsLength;
    if (topicLength === 0 && props?.topicAlias === undefined) {
      fail(
        TypeError,
        "PUBLISH",
        "topic",
        "must not be empty without 'properties.topicAlias'",
        topic,
      );
    }
  } else if (topicLength === 0) {
    fail(TypeError, "PUBLISH", "topic", "must not be empty", topic);
  }
  const buf = allocate(
    0x30 | (dup ? 8 : 0) | (qos << 1) | (p.retain ? 1 : 0),
    remaining,
    "PUBLISH",
  );
  let pos = buf.length - remaining;
  pos = writeUtf8String(buf, pos, topic, topicLength);
  if (qos !== 0) {
    buf[pos] = packetId >>> 8;
    buf[pos + 1] = packetId & 0xff;
    pos += 2;
  }
  if (version === 5) pos = putProperties(buf, pos, props, propsLength);
  const n = payload.length;
  if (n <= 32) {
    for (let i = 0; i < n; i++) buf[pos + i] = payload[i]!;
  } else {
    buf.set(payload, pos);
  }
  return buf;
}

function encodeAck(
  p: AnyAck,
  version: ProtocolVersion,
  firstByte: number,
  name: string,
): Uint8Array {
  const packetId = checkPacketId(p.packetId, name);
  let reasonCode = 0;
  let propsLength = 0;
  if (version === 5) {
    if (p.reasonCode !== undefined) {
      reasonCode = checkReasonCode(p.reasonCode, VALID_REASON_CODES[p.type]!, name);
    }
    propsLength = sizeProperties(p.properties, PropertyScope[p.type], name);
  }
  if (propsLength === 0) {
    // MQTT 5 short forms: no Property Length, and no Reason Code when it is Success.
    const buf = allocate(firstByte, reasonCode === 0 ? 2 : 3, name);
    buf[2] = packetId >>> 8;
    buf[3] = packetId & 0xff;
    if (reasonCode !== 0) buf[4] = reasonCode;
    return buf;
  }
  const remaining = 3 + variableByteIntegerLength(propsLength) + propsLength;
  const buf = allocate(firstByte, remaining, name);
  const pos = buf.length - remaining;
  buf[pos] = packetId >>> 8;
  buf[pos + 1] = packetId & 0xff;
  buf[pos + 2] = reasonCode;
  writeProperties(buf, pos + 3, p.properties!, propsLength);
  return buf;
}

function encodeConnect(p: ConnectPacket): Uint8Array {
  const version = p.protocolVersion;
  if (version !== 3 && version !== 4 && version !== 5) {
    fail(
      typeof version === "number" ? RangeError : TypeError,
      "CONNECT",
      "protocolVersion",
      "must be 3, 4 or 5",
      version,
    );
  }
  const keepalive = p.keepalive;
  if (
    typeof keepalive !== "number" || !Number.isInteger(keepalive) || keepalive < 0 ||
    keepalive > 0xffff
  ) {
    fail(
      typeof keepalive === "number" ? RangeError : TypeError,
      "CONNECT",
      "keepalive",
      "must be an integer from 0 to 65535",
      keepalive,
    );
  }
  const clientIdLength = checkString(p.clientId, "CONNECT", "clientId");
  // Protocol Name, Protocol Level, Connect Flags, Keep Alive, Client Identifier.
  let remaining = (version === 3 ? 8 : 6) + 1 + 1 + 2 + 2 + clientIdLength;
  let flags = p.clean ? 0x02 : 0;
  const props = version === 5 ? p.properties : undefined;
  let propsLength = 0;
  if (version === 5) {
    propsLength = sizeProperties(props, PropertyScope.connect, "CONNECT");
    remaining += variableByteIntegerLength(propsLength) + propsLength;
  }
  const will = p.will;
  let willTopicLength = 0;
  let willPropsLength = 0;
  if (will !== undefined) {
    if (typeof will !== "object" || will === null) {
      fail(TypeError, "CONNECT", "will", "must be an object", will);
    }
    willTopicLength = checkString(will.topic, "CONNECT", "will.topic");
    const willPayloadLength = checkBinary(will.payload, "CONNECT", "will.payload");
    const willQos = checkQos(will.qos, "CONNECT", "will.qos");
    flags |= 0x04 | (willQos << 3) | (will.retain ? 0x20 : 0);
    remaining += 4 + willTopicLength + willPayloadLength;
    if (version === 5) {
      willPropsLength = sizeProperties(
        will.properties,
        PropertyScope.will,
        "CONNECT",
        "will.properties",
      );
      remaining += variableByteIntegerLength(willPropsLength) + willPropsLength;
    }
  }
  let usernameLength = 0;
  if (p.username !== undefined) {
    usernameLength = checkString(p.username, "CONNECT", "username");
    flags |= 0x80;
    remaining += 2 + usernameLength;
  }
  if (p.password !== undefined) {
    const passwordLength = checkBinary(p.password, "CONNECT", "password");
    if (version !== 5 && p.username === undefined) {
      fail(
        TypeError,
        "CONNECT",
        "password",
        "needs a 'username' before MQTT 5 [MQTT-3.1.2-22]",
        p.password,
      );
    }
    flags |= 0x40;
    remaining += 2 + passwordLength;
  }
  const buf = allocate(0x10, remaining, "CONNECT");
  let pos = buf.length - remaining;
  if (version === 3) {
    pos = writeUtf8String(buf, pos, "MQIsdp", 6);
  } else {
    pos = writeUtf8String(buf, pos, "MQTT", 4);
  }
  buf[pos] = version;
  buf[pos + 1] = flags;
  buf[pos + 2] = keepalive >>> 8;
  buf[pos + 3] = keepalive & 0xff;
  pos += 4;
  if (version === 5) pos = putProperties(buf, pos, props, propsLength);
  pos = writeUtf8String(buf, pos, p.clientId, clientIdLength);
  if (will !== undefined) {
    if (version === 5) pos = putProperties(buf, pos, will.properties, willPropsLength);
    pos = writeUtf8String(buf, pos, will.topic, willTopicLength);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (p.username !== undefined) pos = writeUtf8String(buf, pos, p.username, usernameLength);
  if (p.password !== undefined) writeBinary(buf, pos, p.password);
  return buf;
}

const V3_CONNACK_CODES: ReadonlySet<number> = new Set([0, 1, 2, 3, 4, 5]);

function encodeConnack(p: ConnackPacket, version: ProtocolVersion): Uint8Array {
  const flags = p.sessionPresent ? 1 : 0;
  if (version !== 5) {
    const code = checkReasonCode(p.reasonCode, V3_CONNACK_CODES, "CONNACK");
    const buf = allocate(0x20, 2, "CONNACK");
    buf[2] = flags;
    buf[3] = code;
    return buf;
  }
  const code = checkReasonCode(p.reasonCode, VALID_REASON_CODES.connack!, "CONNACK");
  const propsLength = sizeProperties(p.properties, PropertyScope.connack, "CONNACK");
  const remaining = 2 + variableByteIntegerLength(propsLength) + propsLength;
  const buf = allocate(0x20, remaining, "CONNACK");
  let pos = buf.length - remaining;
  buf[pos] = flags;
  buf[pos + 1] = code;
  pos = putProperties(buf, pos + 2, p.properties, propsLength);
  return buf;
}

function checkList(value: unknown, packet: string, field: string, statement: string): unknown[] {
  if (!Array.isArray(value)) fail(TypeError, packet, field, "must be an array", value);
  if (value.length === 0) fail(TypeError, packet, field, `must not be empty [${statement}]`, value);
  return value;
}

function encodeSubscribe(p: SubscribePacket, version: ProtocolVersion): Uint8Array {
  const packetId = checkPacketId(p.packetId, "SUBSCRIBE");
  const subscriptions = checkList(
    p.subscriptions,
    "SUBSCRIBE",
    "subscriptions",
    "MQTT-3.8.3-3",
  ) as SubscribePacket["subscriptions"];
  let remaining = 2;
  const props = version === 5 ? p.properties : undefined;
  let propsLength = 0;
  if (version === 5) {
    propsLength = sizeProperties(props, PropertyScope.subscribe, "SUBSCRIBE");
    remaining += variableByteIntegerLength(propsLength) + propsLength;
  }
  for (let i = 0; i < subscriptions.length; i++) {
    const sub = subscriptions[i]!;
    const field = `subscriptions[${i}]`;
    if (typeof sub !== "object" || sub === null) {
      fail(TypeError, "SUBSCRIBE", field, "must be an object", sub);
    }
    remaining += 3 + checkString(sub.topicFilter, "SUBSCRIBE", `${field}.topicFilter`);
    checkQos(sub.qos, "SUBSCRIBE", `${field}.qos`);
    const handling = sub.retainHandling;
    if (
      version === 5 && handling !== undefined && handling !== 0 && handling !== 1 && handling !== 2
    ) {
      fail(RangeError, "SUBSCRIBE", `${field}.retainHandling`, "must be 0, 1 or 2", handling);
    }
    if (version === 5 && sub.noLocal && sub.topicFilter.startsWith("$share/")) {
      fail(
        TypeError,
        "SUBSCRIBE",
        `${field}.noLocal`,
        "must be false on a shared subscription [MQTT-3.8.3-4]",
        sub.noLocal,
      );
    }
  }
  const buf = allocate(0x82, remaining, "SUBSCRIBE");
  let pos = buf.length - remaining;
  buf[pos] = packetId >>> 8;
  buf[pos + 1] = packetId & 0xff;
  pos += 2;
  if (version === 5) pos = putProperties(buf, pos, props, propsLength);
  for (const sub of subscriptions) {
    pos = writeUtf8String(buf, pos, sub.topicFilter, utf8Length(sub.topicFilter, false));
    let options: number = sub.qos;
    if (version === 5) {
      options |= (sub.noLocal ? 0x04 : 0) | (sub.retainAsPublished ? 0x08 : 0) |
        ((sub.retainHandling ?? 0) << 4);
    }
    buf[pos++] = options;
  }
  return buf;
}

const V4_SUBACK_CODES: ReadonlySet<number> = new Set([0, 1, 2, 0x80]);

function encodeSuback(p: SubackPacket, version: ProtocolVersion): Uint8Array {
  const packetId = checkPacketId(p.packetId, "SUBACK");
  const codes = p.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0) {
    fail(TypeError, "SUBACK", "reasonCodes", "must be a non-empty array", codes);
  }
  const valid = version === 5 ? VALID_REASON_CODES.suback! : V4_SUBACK_CODES;
  for (let i = 0; i < codes.length; i++) {
    checkReasonCode(codes[i], valid, "SUBACK", `reasonCodes[${i}]`);
  }
  return encodeAckWithCodes(
    0x90,
    packetId,
    p.properties,
    PropertyScope.suback,
    codes,
    version,
    "SUBACK",
  );
}

function encodeUnsuback(p: UnsubackPacket, version: ProtocolVersion): Uint8Array {
  const packetId = checkPacketId(p.packetId, "UNSUBACK");
  if (version !== 5) {
    const buf = allocate(0xb0, 2, "UNSUBACK");
    buf[2] = packetId >>> 8;
    buf[3] = packetId & 0xff;
    return buf;
  }
  const codes = p.reasonCodes;
  if (!Array.isArray(codes) || codes.length === 0) {
    fail(TypeError, "UNSUBACK", "reasonCodes", "must be a non-empty array in MQTT 5", codes);
  }
  const valid = VALID_REASON_CODES.unsuback!;
  for (let i = 0; i < codes.length; i++) {
    checkReasonCode(codes[i], valid, "UNSUBACK", `reasonCodes[${i}]`);
  }
  return encodeAckWithCodes(
    0xb0,
    packetId,
    p.properties,
    PropertyScope.unsuback,
    codes,
    5,
    "UNSUBACK",
  );
}

function encodeAckWithCodes(
  firstByte: number,
  packetId: number,
  props: Properties | undefined,
  scope: number,
  codes: readonly number[],
  version: ProtocolVersion,
  name: string,
): Uint8Array {
  let remaining = 2 + codes.length;
  let propsLength = 0;
  if (version === 5) {
    propsLength = sizeProperties(props, scope, name);
    remaining += variableByteIntegerLength(propsLength) + propsLength;
  }
  const buf = allocate(firstByte, remaining, name);
  let pos = buf.length - remaining;
  buf[pos] = packetId >>> 8;
  buf[pos + 1] = packetId & 0xff;
  pos += 2;
  if (version === 5) pos = putProperties(buf, pos, props, propsLength);
  for (const code of codes) buf[pos++] = code;
  return buf;
}

function encodeUnsubscribe(p: UnsubscribePacket, version: ProtocolVersion): Uint8Array {
  const packetId = checkPacketId(p.packetId, "UNSUBSCRIBE");
  const filters = checkList(
    p.topicFilters,
    "UNSUBSCRIBE",
    "topicFilters",
    "MQTT-3.10.3-2",
  ) as string[];
  let remaining = 2;
  const props = version === 5 ? p.properties : undefined;
  let propsLength = 0;
  if (version === 5) {
    propsLength = sizeProperties(props, PropertyScope.unsubscribe, "UNSUBSCRIBE");
    remaining += variableByteIntegerLength(propsLength) + propsLength;
  }
  for (let i = 0; i < filters.length; i++) {
    remaining += 2 + checkString(filters[i], "UNSUBSCRIBE", `topicFilters[${i}]`);
  }
  const buf = allocate(0xa2, remaining, "UNSUBSCRIBE");
  let pos = buf.length - remaining;
  buf[pos] = packetId >>> 8;
  buf[pos + 1] = packetId & 0xff;
  pos += 2;
  if (version === 5) pos = putProperties(buf, pos, props, propsLength);
  for (const filter of filters) pos = writeUtf8String(buf, pos, filter, utf8Length(filter, false));
  return buf;
}

function encodeDisconnectOrAuth(
  p: DisconnectPacket | AuthPacket,
  version: ProtocolVersion,
  firstByte: number,
  name: string,
): Uint8Array {
  if (version !== 5) return twoBytes(firstByte, 0);
  const reasonCode = p.reasonCode === undefined
    ? 0
    : checkReasonCode(p.reasonCode, VALID_REASON_CODES[p.type]!, name);
  const props = p.properties;
  const propsLength = sizeProperties(props, PropertyScope[p.type], name);
  // Remaining Length 0: Success (Normal disconnection) without properties.
  if (reasonCode === 0 && propsLength === 0) return twoBytes(firstByte, 0);
  if (p.type === "auth" && props?.authenticationMethod === undefined) {
    fail(
      TypeError,
      name,
      "properties.authenticationMethod",
      "must be set unless the AUTH is a bare Success",
      undefined,
    );
  }
  if (propsLength === 0) {
    // A DISCONNECT may carry just its Reason Code.
    const buf = allocate(firstByte, 1, name);
    buf[2] = reasonCode;
    return buf;
  }
  const remaining = 1 + variableByteIntegerLength(propsLength) + propsLength;
  const buf = allocate(firstByte, remaining, name);
  const pos = buf.length - remaining;
  buf[pos] = reasonCode;
  writeProperties(buf, pos + 1, props!, propsLength);
  return buf;
}
