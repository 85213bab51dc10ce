/**
 * MQTT 5 properties (spec section 2.2.2): the identifier table, which packets allow
 * each property, and their encoding and decoding.
 *
 * @module
 */

import type { Properties, UserProperty } from "./types.ts";
import { PACKET_TYPE_NUMBERS } from "./types.ts";
import {
  cursor,
  describeValue,
  HAS_WILDCARD,
  malformed,
  MAX_TWO_BYTE_LENGTH,
  MAX_VARIABLE_BYTE_INTEGER,
  protocolError,
  readBinary,
  readUtf8String,
  readVariableByteInteger,
  utf8Length,
  variableByteIntegerLength,
  writeBinary,
  writeUtf8String,
  writeVariableByteInteger,
} from "./_wire.ts";

/**
 * Property identifiers, keyed by the field name they have in {@link Properties}.
 * User Property (0x26) and Subscription Identifier (0x0B) may repeat, so their fields
 * are arrays (`userProperties`, `subscriptionIdentifiers`).
 *
 * @example Look up an identifier
 * ```ts
 * import assert from "node:assert/strict";
 * import { PropertyId } from "./properties.ts";
 * assert.equal(PropertyId.topicAlias, 0x23);
 * ```
 */
export const PropertyId = {
  payloadFormatIndicator: 0x01,
  messageExpiryInterval: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionIdentifiers: 0x0b,
  sessionExpiryInterval: 0x11,
  assignedClientIdentifier: 0x12,
  serverKeepAlive: 0x13,
  authenticationMethod: 0x15,
  authenticationData: 0x16,
  requestProblemInformation: 0x17,
  willDelayInterval: 0x18,
  requestResponseInformation: 0x19,
  responseInformation: 0x1a,
  serverReference: 0x1c,
  reasonString: 0x1f,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumQoS: 0x24,
  retainAvailable: 0x25,
  userProperties: 0x26,
  maximumPacketSize: 0x27,
  wildcardSubscriptionAvailable: 0x28,
  subscriptionIdentifiersAvailable: 0x29,
  sharedSubscriptionAvailable: 0x2a,
} as const satisfies Record<keyof Properties, number>;

/**
 * The data types of property values (spec section 1.5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PropertyType } from "./properties.ts";
 * assert.equal(PropertyType.VariableByteInteger, 4);
 * ```
 */
export const PropertyType = {
  Byte: 1,
  TwoByteInteger: 2,
  FourByteInteger: 3,
  VariableByteInteger: 4,
  Utf8String: 5,
  BinaryData: 6,
  Utf8StringPair: 7,
} as const;

/**
 * Where a property may appear: one bit per packet type number, plus bit 0 for the Will
 * properties inside CONNECT. `PropertyScope.publish` is `1 << 3`.
 *
 * @example Test a scope
 * ```ts
 * import assert from "node:assert/strict";
 * import { PropertyScope } from "./properties.ts";
 * assert.equal(PropertyScope.publish, 1 << 3);
 * assert.equal(PropertyScope.will, 1);
 * ```
 */
export const PropertyScope = {
  will: 1,
  connect: 1 << PACKET_TYPE_NUMBERS.connect,
  connack: 1 << PACKET_TYPE_NUMBERS.connack,
  publish: 1 << PACKET_TYPE_NUMBERS.publish,
  puback: 1 << PACKET_TYPE_NUMBERS.puback,
  pubrec: 1 << PACKET_TYPE_NUMBERS.pubrec,
  pubrel: 1 << PACKET_TYPE_NUMBERS.pubrel,
  pubcomp: 1 << PACKET_TYPE_NUMBERS.pubcomp,
  subscribe: 1 << PACKET_TYPE_NUMBERS.subscribe,
  suback: 1 << PACKET_TYPE_NUMBERS.suback,
  unsubscribe: 1 << PACKET_TYPE_NUMBERS.unsubscribe,
  unsuback: 1 << PACKET_TYPE_NUMBERS.unsuback,
  disconnect: 1 << PACKET_TYPE_NUMBERS.disconnect,
  auth: 1 << PACKET_TYPE_NUMBERS.auth,
} as const;

type Scope = keyof typeof PropertyScope;
type PropertyTypeNumber = (typeof PropertyType)[keyof typeof PropertyType];

/** How a numeric property's value is constrained beyond its type. */
const Rule = {
  None: 0,
  /** 0 or 1 (every Byte property). */
  Flag: 1,
  /** Zero is a Protocol Error. */
  NonZero: 2,
} as const;
type RuleNumber = (typeof Rule)[keyof typeof Rule];

interface Descriptor {
  readonly key: keyof Properties;
  readonly id: number;
  readonly type: PropertyTypeNumber;
  /** Bits of PropertyScope where the property may appear. */
  readonly scope: number;
  /** Bits of PropertyScope where the property may appear more than once. */
  readonly repeat: number;
  readonly rule: RuleNumber;
  /** A topic name: wildcards are not allowed. */
  readonly topicName: boolean;
}

function bits(scopes: readonly Scope[]): number {
  let mask = 0;
  for (const s of scopes) mask |= PropertyScope[s];
  return mask;
}

const ACKS: readonly Scope[] = ["puback", "pubrec", "pubrel", "pubcomp"];
const MESSAGE: readonly Scope[] = ["publish", "will"];
const ALL = Object.keys(PropertyScope) as Scope[];

/** The property table of spec section 2.2.2.2. */
const TABLE: readonly Descriptor[] = [
  d("payloadFormatIndicator", PropertyType.Byte, MESSAGE, Rule.Flag),
  d("messageExpiryInterval", PropertyType.FourByteInteger, MESSAGE),
  d("contentType", PropertyType.Utf8String, MESSAGE),
  d("responseTopic", PropertyType.Utf8String, MESSAGE, Rule.None, [], true),
  d("correlationData", PropertyType.BinaryData, MESSAGE),
  d(
    "subscriptionIdentifiers",
    PropertyType.VariableByteInteger,
    ["publish", "subscribe"],
    Rule.NonZero,
    [
      "publish",
    ],
  ),
  d("sessionExpiryInterval", PropertyType.FourByteInteger, ["connect", "connack", "disconnect"]),
  d("assignedClientIdentifier", PropertyType.Utf8String, ["connack"]),
  d("serverKeepAlive", PropertyType.TwoByteInteger, ["connack"]),
  d("authenticationMethod", PropertyType.Utf8String, ["connect", "connack", "auth"]),
  d("authenticationData", PropertyType.BinaryData, ["connect", "connack", "auth"]),
  d("requestProblemInformation", PropertyType.Byte, ["connect"], Rule.Flag),
  d("willDelayInterval", PropertyType.FourByteInteger, ["will"]),
  d("requestResponseInformation", PropertyType.Byte, ["connect"], Rule.Flag),
  d("responseInformation", PropertyType.Utf8String, ["connack"]),
  d("serverReference", PropertyType.Utf8String, ["connack", "disconnect"]),
  d("reasonString", PropertyType.Utf8String, [
    "connack",
    ...ACKS,
    "suback",
    "unsuback",
    "disconnect",
    "auth",
  ]),
  d("receiveMaximum", PropertyType.TwoByteInteger, ["connect", "connack"], Rule.NonZero),
  d("topicAliasMaximum", PropertyType.TwoByteInteger, ["connect", "connack"]),
  d("topicAlias", PropertyType.TwoByteInteger, ["publish"], Rule.NonZero),
  d("maximumQoS", PropertyType.Byte, ["connack"], Rule.Flag),
  d("retainAvailable", PropertyType.Byte, ["connack"], Rule.Flag),
  d("userProperties", PropertyType.Utf8StringPair, ALL, Rule.None, ALL),
  d("maximumPacketSize", PropertyType.FourByteInteger, ["connect", "connack"], Rule.NonZero),
  d("wildcardSubscriptionAvailable", PropertyType.Byte, ["connack"], Rule.Flag),
  d("subscriptionIdentifiersAvailable", PropertyType.Byte, ["connack"], Rule.Flag),
  d("sharedSubscriptionAvailable", PropertyType.Byte, ["connack"], Rule.Flag),
];

function d(
  key: keyof Properties,
  type: PropertyTypeNumber,
  scope: readonly Scope[],
  rule: RuleNumber = Rule.None,
  repeat: readonly Scope[] = [],
  topicName = false,
): Descriptor {
  return {
    key,
    id: PropertyId[key],
    type,
    scope: bits(scope),
    repeat: bits(repeat),
    rule,
    topicName,
  };
}

/** Descriptors by identifier byte (0 to 255), undefined for unknown identifiers. */
const BY_ID: (Descriptor | undefined)[] = Array.from({ length: 256 }, () => undefined);
const BY_KEY: Record<string, Descriptor | undefined> = Object.create(null);
for (const entry of TABLE) {
  BY_ID[entry.id] = entry;
  BY_KEY[entry.key] = entry;
}

function scopeName(scope: number): string {
  if (scope === PropertyScope.will) return "Will properties";
  for (const [name, bit] of Object.entries(PropertyScope)) {
    if (bit === scope) return name.toUpperCase();
  }
  return "this packet";
}

function propertyLabel(d: Descriptor): string {
  return `${d.key} (0x${d.id.toString(16).padStart(2, "0")})`;
}

/**
 * Decodes the properties (Property Length, then the properties) that start at `pos` in
 * a packet body ending at `end`, for the packet or Will given by `scope` (a
 * {@link PropertyScope} bit). Returns `undefined` when there are none and leaves the
 * position after them in `cursor`. Binary values are views into `b`.
 *
 * Raises ProtocolError 0x81 Malformed Packet for an unknown identifier, a property
 * the packet does not allow, or a value that runs past the end; 0x82 Protocol Error
 * for a property repeated where the spec forbids it, a value out of its range, or
 * Authentication Data without an Authentication Method.
 *
 * @example Decode a Topic Alias and a User Property
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeProperties, PropertyScope } from "./properties.ts";
 * const bytes = new Uint8Array([9, 0x23, 0, 5, 0x26, 0, 1, 0x6b, 0, 0]);
 * assert.deepEqual(decodeProperties(bytes, 0, bytes.length, PropertyScope.publish), {
 *   topicAlias: 5,
 *   userProperties: [["k", ""]],
 * });
 * ```
 */
export function decodeProperties(
  b: Uint8Array,
  pos: number,
  end: number,
  scope: number,
): Properties | undefined {
  if (pos >= end) malformed(`${scopeName(scope)} lack the Property Length`);
  let length = b[pos]!;
  if (length < 0x80) {
    pos++;
  } else {
    length = readVariableByteInteger(b, pos, end);
    pos = cursor.pos;
  }
  const stop = pos + length;
  if (stop > end) malformed(`${scopeName(scope)} run past the end of the packet`);
  if (length === 0) {
    cursor.pos = stop;
    return undefined;
  }
  const props: Record<string, unknown> = {};
  while (pos < stop) {
    const id = b[pos++]!;
    const desc = BY_ID[id];
    if (desc === undefined) {
      malformed(`Unknown property identifier 0x${id.toString(16).padStart(2, "0")}`);
    }
    if ((desc.scope & scope) === 0) {
      malformed(`Property ${propertyLabel(desc)} is not allowed in ${scopeName(scope)}`);
    }
    const key = desc.key;
    const previous = props[key];
    if (previous !== undefined && (desc.repeat & scope) === 0) {
      protocolError(
        `Property ${propertyLabel(desc)} appears more than once in ${scopeName(scope)}`,
      );
    }
    switch (desc.type) {
      case PropertyType.Byte: {
        if (pos >= stop) break;
        const value = b[pos++]!;
        if (value > 1) {
          protocolError(`Property ${propertyLabel(desc)} must be 0 or 1: received ${value}`);
        }
        props[key] = value;
        continue;
      }
      case PropertyType.TwoByteInteger: {
        if (pos + 2 > stop) break;
        const value = (b[pos]! << 8) | b[pos + 1]!;
        pos += 2;
        if (value === 0 && desc.rule === Rule.NonZero) {
          protocolError(
            `Property ${propertyLabel(desc)} must not be 0`,
            id === PropertyId.topicAlias ? "MQTT-3.3.2-8" : undefined,
          );
        }
        props[key] = value;
        continue;
      }
      case PropertyType.FourByteInteger: {
        if (pos + 4 > stop) break;
        const value = b[pos]! * 0x1000000 +
          ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
        pos += 4;
        if (value === 0 && desc.rule === Rule.NonZero) {
          protocolError(`Property ${propertyLabel(desc)} must not be 0`);
        }
        props[key] = value;
        continue;
      }
      case PropertyType.VariableByteInteger: {
        const value = readVariableByteInteger(b, pos, stop);
        pos = cursor.pos;
        if (value === 0) protocolError(`Property ${propertyLabel(desc)} must not be 0`);
        if (previous === undefined) props[key] = [value];
        else (previous as number[]).push(value);
        continue;
      }
      case PropertyType.Utf8String: {
        props[key] = readUtf8String(b, pos, stop, desc.topicName ? "MQTT-3.3.2-14" : undefined);
        pos = cursor.pos;
        continue;
      }
      case PropertyType.BinaryData: {
        props[key] = readBinary(b, pos, stop);
        pos = cursor.pos;
        continue;
      }
      case PropertyType.Utf8StringPair: {
        const name = readUtf8String(b, pos, stop, undefined);
        const value = readUtf8String(b, cursor.pos, stop, undefined);
        pos = cursor.pos;
        const pair: UserProperty = [name, value];
        if (previous === undefined) props[key] = [pair];
        else (previous as UserProperty[]).push(pair);
        continue;
      }
    }
    malformed(`Property ${propertyLabel(desc)} runs past the end of the properties`);
  }
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    protocolError(`${scopeName(scope)} have Authentication Data without an Authentication Method`);
  }
  cursor.pos = stop;
  return props as Properties;
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

function checkString(value: unknown, packet: string, field: string, topicName: boolean): number {
  if (typeof value !== "string") fail(TypeError, packet, field, "must be a string", value);
  const length = utf8Length(value, topicName);
  if (length < 0) {
    const must = length === HAS_WILDCARD
      ? "must not contain the wildcards '+' or '#'"
      : "must be well-formed UTF-16 without U+0000";
    fail(TypeError, packet, field, must, value);
  }
  if (length > MAX_TWO_BYTE_LENGTH) {
    fail(RangeError, packet, field, "must encode to at most 65535 UTF-8 bytes", `${length} bytes`);
  }
  return length;
}

function checkInteger(
  value: unknown,
  min: number,
  max: number,
  packet: string,
  field: string,
): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const error = typeof value === "number" ? RangeError : TypeError;
    fail(error, packet, field, `must be an integer from ${min} to ${max}`, value);
  }
}

/**
 * Validates `props` for the packet or Will given by `scope` and returns the byte
 * length of their encoding, without the Property Length in front. Throws TypeError
 * for an unknown or disallowed property or a value of the wrong type, RangeError for
 * a value out of range. `packet` and `path` only name the field in messages.
 *
 * @example Size a Message Expiry Interval
 * ```ts
 * import assert from "node:assert/strict";
 * import { propertiesLength, PropertyScope } from "./properties.ts";
 * assert.equal(propertiesLength({ messageExpiryInterval: 60 }, PropertyScope.publish, "PUBLISH"), 5);
 * assert.throws(
 *   () => propertiesLength({ sessionExpiryInterval: 1 }, PropertyScope.publish, "PUBLISH"),
 *   TypeError,
 * );
 * ```
 */
export function propertiesLength(
  props: Properties,
  scope: number,
  packet: string,
  path = "properties",
): number {
  if (typeof props !== "object" || props === null) {
    fail(TypeError, packet, path, "must be an object", props);
  }
  let length = 0;
  for (const key in props) {
    const value = props[key as keyof Properties];
    if (value === undefined) continue;
    const desc = BY_KEY[key];
    const field = `${path}.${key}`;
    if (desc === undefined) fail(TypeError, packet, field, "is not an MQTT 5 property", value);
    if ((desc.scope & scope) === 0) {
      fail(TypeError, packet, field, `is not allowed in ${scopeName(scope)}`, value);
    }
    switch (desc.type) {
      case PropertyType.Byte:
        if (value !== 0 && value !== 1) fail(RangeError, packet, field, "must be 0 or 1", value);
        length += 2;
        break;
      case PropertyType.TwoByteInteger:
        checkInteger(value, desc.rule === Rule.NonZero ? 1 : 0, 0xffff, packet, field);
        length += 3;
        break;
      case PropertyType.FourByteInteger:
        checkInteger(value, desc.rule === Rule.NonZero ? 1 : 0, 0xffffffff, packet, field);
        length += 5;
        break;
      case PropertyType.VariableByteInteger: {
        if (!Array.isArray(value)) fail(TypeError, packet, field, "must be an array", value);
        if (value.length > 1 && (desc.repeat & scope) === 0) {
          fail(
            RangeError,
            packet,
            field,
            `must hold at most one value in ${scopeName(scope)}`,
            value,
          );
        }
        for (const item of value as unknown[]) {
          checkInteger(item, 1, MAX_VARIABLE_BYTE_INTEGER, packet, field);
          length += 1 + variableByteIntegerLength(item as number);
        }
        break;
      }
      case PropertyType.Utf8String:
        length += 3 + checkString(value, packet, field, desc.topicName);
        break;
      case PropertyType.BinaryData:
        if (!(value instanceof Uint8Array)) {
          fail(TypeError, packet, field, "must be a Uint8Array", value);
        }
        if (value.length > MAX_TWO_BYTE_LENGTH) {
          fail(RangeError, packet, field, "must be at most 65535 bytes", value);
        }
        length += 3 + value.length;
        break;
      case PropertyType.Utf8StringPair: {
        if (!Array.isArray(value)) {
          fail(TypeError, packet, field, "must be an array of pairs", value);
        }
        for (const pair of value as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) {
            fail(TypeError, packet, field, "must hold [name, value] pairs", pair);
          }
          length += 5 + checkString(pair[0], packet, field, false) +
            checkString(pair[1], packet, field, false);
        }
        break;
      }
    }
  }
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    fail(
      TypeError,
      packet,
      `${path}.authenticationData`,
      `needs '${path}.authenticationMethod'`,
      props.authenticationData,
    );
  }
  if (length > MAX_VARIABLE_BYTE_INTEGER) {
    fail(RangeError, packet, path, "must encode to at most 268435455 bytes", `${length} bytes`);
  }
  return length;
}

/**
 * Writes the Property Length `length` (from {@link propertiesLength}) and then the
 * properties at `pos`; returns the position after them.
 *
 * @example Write a Message Expiry Interval
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeProperties } from "./properties.ts";
 * const bytes = new Uint8Array(6);
 * assert.equal(writeProperties(bytes, 0, { messageExpiryInterval: 60 }, 5), 6);
 * assert.deepEqual([...bytes], [5, 0x02, 0, 0, 0, 60]);
 * ```
 */
export function writeProperties(
  buf: Uint8Array,
  pos: number,
  props: Properties,
  length: number,
): number {
  pos = writeVariableByteInteger(buf, pos, length);
  for (const key in props) {
    const value = props[key as keyof Properties];
    if (value === undefined) continue;
    const desc = BY_KEY[key]!;
    const id = desc.id;
    switch (desc.type) {
      case PropertyType.Byte:
        buf[pos] = id;
        buf[pos + 1] = value as number;
        pos += 2;
        break;
      case PropertyType.TwoByteInteger: {
        const n = value as number;
        buf[pos] = id;
        buf[pos + 1] = n >>> 8;
        buf[pos + 2] = n & 0xff;
        pos += 3;
        break;
      }
      case PropertyType.FourByteInteger: {
        const n = value as number;
        buf[pos] = id;
        buf[pos + 1] = n >>> 24;
        buf[pos + 2] = (n >>> 16) & 0xff;
        buf[pos + 3] = (n >>> 8) & 0xff;
        buf[pos + 4] = n & 0xff;
        pos += 5;
        break;
      }
      case PropertyType.VariableByteInteger:
        for (const n of value as number[]) {
          buf[pos] = id;
          pos = writeVariableByteInteger(buf, pos + 1, n);
        }
        break;
      case PropertyType.Utf8String: {
        const s = value as string;
        buf[pos] = id;
        pos = writeUtf8String(buf, pos + 1, s, utf8Length(s, false));
        break;
      }
      case PropertyType.BinaryData:
        buf[pos] = id;
        pos = writeBinary(buf, pos + 1, value as Uint8Array);
        break;
      case PropertyType.Utf8StringPair:
        for (const [name, text] of value as UserProperty[]) {
          buf[pos] = id;
          pos = writeUtf8String(buf, pos + 1, name, utf8Length(name, false));
          pos = writeUtf8String(buf, pos, text, utf8Length(text, false));
        }
        break;
    }
  }
  return pos;
}
