/**
 * The encoded size of a PUBLISH packet, computed without encoding it, so the session can
 * honour the server's Maximum Packet Size (MQTT-3.2.2-15) before a message is sent.
 *
 * @module
 */

import type { Properties, ProtocolVersion, PublishPacket } from "../packet/types.ts";

/**
 * Bytes a string takes in UTF-8, without allocating.
 *
 * @example Count UTF-8 bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8Length } from "./packet_size.ts";
 * assert.equal(utf8Length("a/b"), 3);
 * assert.equal(utf8Length("é"), 2);
 * assert.equal(utf8Length("😀"), 4);
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3; // a lone surrogate, encoded as U+FFFD
      }
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Bytes a Variable Byte Integer takes (1 to 4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { variableByteIntegerLength } from "./packet_size.ts";
 * assert.equal(variableByteIntegerLength(127), 1);
 * assert.equal(variableByteIntegerLength(128), 2);
 * assert.equal(variableByteIntegerLength(268_435_455), 4);
 * ```
 */
export function variableByteIntegerLength(value: number): number {
  if (value < 128) return 1;
  if (value < 16_384) return 2;
  if (value < 2_097_152) return 3;
  return 4;
}

/**
 * Bytes the properties of a PUBLISH take, without the Property Length in front of them.
 * Only the properties a PUBLISH may carry are counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishPropertiesLength } from "./packet_size.ts";
 * assert.equal(publishPropertiesLength(undefined), 0);
 * // identifier byte + two-byte alias, identifier byte + four-byte interval
 * assert.equal(publishPropertiesLength({ topicAlias: 1, messageExpiryInterval: 60 }), 8);
 * ```
 */
export function publishPropertiesLength(properties: Properties | undefined): number {
  if (properties === undefined) return 0;
  let length = 0;
  if (properties.payloadFormatIndicator !== undefined) length += 2;
  if (properties.messageExpiryInterval !== undefined) length += 5;
  if (properties.topicAlias !== undefined) length += 3;
  if (properties.responseTopic !== undefined) length += 3 + utf8Length(properties.responseTopic);
  if (properties.correlationData !== undefined) length += 3 + properties.correlationData.length;
  if (properties.contentType !== undefined) length += 3 + utf8Length(properties.contentType);
  for (const id of properties.subscriptionIdentifiers ?? []) {
    length += 1 + variableByteIntegerLength(id);
  }
  for (const [name, value] of properties.userProperties ?? []) {
    length += 5 + utf8Length(name) + utf8Length(value);
  }
  return length;
}

/**
 * Bytes the whole PUBLISH packet takes on the wire at a protocol level: fixed header,
 * topic, Packet Identifier, properties (MQTT 5 only) and payload.
 *
 * @example Size a QoS 1 PUBLISH
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishPacketSize } from "./packet_size.ts";
 * const packet = {
 *   type: "publish", topic: "a/b", payload: new Uint8Array(5), qos: 1, retain: false,
 *   dup: false, packetId: 1,
 * } as const;
 * // 1 type byte + 1 length byte + (2 + 3 topic) + 2 id + 5 payload
 * assert.equal(publishPacketSize(packet, 4), 14);
 * // MQTT 5 adds a zero Property Length byte
 * assert.equal(publishPacketSize(packet, 5), 15);
 * ```
 */
export function publishPacketSize(packet: PublishPacket, protocolVersion: ProtocolVersion): number {
  let remaining = 2 + utf8Length(packet.topic) + packet.payload.length;
  if (packet.qos > 0) remaining += 2;
  if (protocolVersion === 5) {
    const properties = publishPropertiesLength(packet.properties);
    remaining += variableByteIntegerLength(properties) + properties;
  }
  return 1 + variableByteIntegerLength(remaining) + remaining;
}
