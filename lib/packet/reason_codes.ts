/**
 * MQTT 5 reason codes (spec section 2.4) and the MQTT 3.1.1 CONNACK return codes.
 * Names follow the spec's wording in PascalCase; the reverse map is derived.
 *
 * @module
 */

/**
 * MQTT 5 reason codes. Several numbers carry more than one name in the spec (0x00 is
 * Success, Normal disconnection and Granted QoS 0); each name is listed.
 *
 * @example Look up a reason code
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReasonCode } from "./reason_codes.ts";
 * assert.equal(ReasonCode.QuotaExceeded, 0x97);
 * ```
 */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

/** A reason code name. */
export type ReasonCodeName = keyof typeof ReasonCode;

/**
 * MQTT 3.1 / 3.1.1 CONNACK return codes (spec 3.1.1 section 3.2.2.3).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnackReturnCode } from "./reason_codes.ts";
 * assert.equal(ConnackReturnCode.NotAuthorized, 5);
 * ```
 */
export const ConnackReturnCode = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

const NAMES: Map<number, string> = new Map();
for (const [name, code] of Object.entries(ReasonCode)) {
  if (!NAMES.has(code)) NAMES.set(code, name);
}
const V3_NAMES: Map<number, string> = new Map(
  Object.entries(ConnackReturnCode).map(([name, code]) => [code, name]),
);

/**
 * A readable name for a reason code, for messages and logs: the first spec name for
 * the number, or its hex form when the number is not a reason code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reasonCodeName } from "./reason_codes.ts";
 * assert.equal(reasonCodeName(0x87), "NotAuthorized");
 * assert.equal(reasonCodeName(5, 4), "NotAuthorized");
 * assert.equal(reasonCodeName(0x07), "0x07");
 * ```
 */
export function reasonCodeName(code: number, protocolVersion: 3 | 4 | 5 = 5): string {
  const name = protocolVersion === 5 ? NAMES.get(code) : V3_NAMES.get(code);
  return name ?? `0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * Which reason codes each MQTT 5 packet type may carry (spec section 2.4 table).
 * The decoder rejects any other code with a ProtocolError (0x82 Protocol Error).
 */
export const VALID_REASON_CODES: Readonly<Record<string, ReadonlySet<number>>> = {
  connack: new Set([
    0x00,
    0x80,
    0x81,
    0x82,
    0x83,
    0x84,
    0x85,
    0x86,
    0x87,
    0x88,
    0x89,
    0x8a,
    0x8c,
    0x90,
    0x95,
    0x97,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9f,
  ]),
  puback: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  pubrec: new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
  pubrel: new Set([0x00, 0x92]),
  pubcomp: new Set([0x00, 0x92]),
  suback: new Set([0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2]),
  unsuback: new Set([0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]),
  disconnect: new Set([
    0x00,
    0x04,
    0x80,
    0x81,
    0x82,
    0x83,
    0x87,
    0x89,
    0x8b,
    0x8d,
    0x8e,
    0x8f,
    0x90,
    0x93,
    0x94,
    0x95,
    0x96,
    0x97,
    0x98,
    0x99,
    0x9a,
    0x9b,
    0x9c,
    0x9d,
    0x9e,
    0x9f,
    0xa0,
    0xa1,
    0xa2,
  ]),
  auth: new Set([0x00, 0x18, 0x19]),
};
