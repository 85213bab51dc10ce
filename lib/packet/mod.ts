/**
 * The MQTT codec: every control packet of MQTT 3.1 (protocol level 3, name
 * "MQIsdp"), 3.1.1 (level 4) and 5.0 (level 5) as plain data, to and from bytes. Pure
 * functions, no I/O, no clock, no dependencies; it runs wherever web streams do.
 *
 * - {@link encodePacket} writes a packet into one exactly sized Uint8Array.
 * - {@link decodePacket} reads one packet from the start of a byte array, or returns
 *   `undefined` when more bytes are needed.
 * - {@link PacketDecoderStream} and {@link PacketEncoderStream} do the same over web
 *   streams, for sockets and WebSockets.
 *
 * Decoded packets have one canonical form, so `decodePacket(encodePacket(p))` deep-equals
 * `p` for a packet in that form: `properties` is omitted when there are none; in MQTT 5
 * `reasonCode` is always present on CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT
 * and AUTH, and UNSUBACK always has `reasonCodes`; `packetId` is present exactly when
 * the packet has one; in MQTT 5 every subscription carries `noLocal`,
 * `retainAsPublished` and `retainHandling`, before MQTT 5 only `topicFilter` and `qos`.
 * Binary fields are views into the decoded bytes. An empty `userProperties` or
 * `subscriptionIdentifiers` array encodes to nothing, so it decodes as absent.
 *
 * What a peer gets wrong raises {@link ProtocolError} with the reason code an MQTT 5
 * receiver answers with and the spec statement id; what a caller gets wrong when
 * encoding raises TypeError or RangeError. Both directions enforce the same rules, so
 * whatever decodes also encodes. Beyond types and ranges these include: a PUBLISH topic
 * is never empty (in MQTT 5, unless a Topic Alias names it) and has no wildcards; SUBACK,
 * and UNSUBACK in MQTT 5, carry at least one reason code; an AUTH other than the bare
 * Success form carries an Authentication Method, and Authentication Data never comes
 * without one; No Local is never set on a `$share/` subscription; Byte properties are 0
 * or 1; Receive Maximum, Maximum Packet Size, Topic Alias and Subscription Identifiers
 * are never 0. Topic filters are not validated here (an MQTT 5 server answers a bad
 * one in SUBACK): see lib/topic.ts.
 *
 * @example Round trip an MQTT 5 PUBLISH
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePacket, encodePacket, type PublishPacket } from "./mod.ts";
 * const packet: PublishPacket = {
 *   type: "publish",
 *   topic: "sensors/kitchen/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: false,
 *   dup: false,
 *   packetId: 1,
 *   properties: { contentType: "text/plain", userProperties: [["unit", "C"]] },
 * };
 * const bytes = encodePacket(packet, 5);
 * assert.deepEqual(decodePacket(bytes, { protocolVersion: 5 }), { packet, bytesRead: bytes.length });
 * ```
 *
 * @example Decode a socket's bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketDecoderStream, ReasonCode } from "./mod.ts";
 * const socket = ReadableStream.from([new Uint8Array([0x20, 3, 0, 0x87, 0])]);
 * for await (const packet of socket.pipeThrough(new PacketDecoderStream({ protocolVersion: 5 }))) {
 *   assert.deepEqual(packet, { type: "connack", sessionPresent: false, reasonCode: ReasonCode.NotAuthorized });
 * }
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export { PACKET_TYPE_NUMBERS } from "./types.ts";
export { encodePacket } from "./encode.ts";
export { decodePacket } from "./decode.ts";
export type { DecodeOptions, DecodeResult } from "./decode.ts";
export { PacketDecoderStream, PacketEncoderStream } from "./streams.ts";
export type { PacketDecoderStreamOptions, PacketEncoderStreamOptions } from "./streams.ts";
export { ConnackReturnCode, ReasonCode, reasonCodeName } from "./reason_codes.ts";
export type { ReasonCodeName } from "./reason_codes.ts";
export { PropertyId } from "./properties.ts";
export { MqttError, ProtocolError } from "../errors.ts";
export type { MqttErrorOptions, ProtocolErrorOptions } from "../errors.ts";
