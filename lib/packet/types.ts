/**
 * The MQTT control packets as plain data: a discriminated union on `type`.
 *
 * One shape serves MQTT 3.1 (level 3), 3.1.1 (level 4) and 5.0 (level 5); fields that
 * only exist in MQTT 5 (`properties`, most `reasonCode`s) are optional and ignored by the
 * encoder for the older levels.
 *
 * Canonical form (what the decoder produces, so that `decode(encode(p))` deep-equals `p`):
 * - `properties` is omitted when a packet carries none (never `{}`);
 * - in MQTT 5, `reasonCode` is always present on CONNACK, PUBACK, PUBREC, PUBREL,
 *   PUBCOMP, DISCONNECT and AUTH (0 when the wire omits it); in 3.1 / 3.1.1 it is
 *   present on CONNACK only (the return code);
 * - `packetId` is present exactly when the packet has one (PUBLISH only when qos > 0);
 * - in MQTT 5 every subscription carries `noLocal`, `retainAsPublished` and
 *   `retainHandling`; before 5.0 only `topicFilter` and `qos`;
 * - UNSUBACK carries `reasonCodes` in MQTT 5 only;
 * - binary fields (payload, password, correlation data, authentication data) are
 *   `Uint8Array`s, often views into the decoded buffer.
 *
 * @module
 */

/** MQTT protocol level: 3 is MQTT 3.1 ("MQIsdp"), 4 is MQTT 3.1.1, 5 is MQTT 5.0. */
export type ProtocolVersion = 3 | 4 | 5;

/** Quality of service: 0 at most once, 1 at least once, 2 exactly once. */
export type QoS = 0 | 1 | 2;

/** A user property: a name/value pair. Order and repetition are kept. */
export type UserProperty = [name: string, value: string];

/**
 * MQTT 5 properties (spec section 2.2.2.2). Every packet type allows a subset; the
 * decoder rejects a property that its packet type does not allow.
 */
export interface Properties {
  /** 0x01 PUBLISH, will: 0 unspecified bytes, 1 UTF-8 text. */
  payloadFormatIndicator?: number;
  /** 0x02 PUBLISH, will: seconds the message lives. */
  messageExpiryInterval?: number;
  /** 0x03 PUBLISH, will: MIME type of the payload. */
  contentType?: string;
  /** 0x08 PUBLISH, will: topic for a response. */
  responseTopic?: string;
  /** 0x09 PUBLISH, will: correlation data for a response. */
  correlationData?: Uint8Array;
  /**
   * 0x0B PUBLISH (may repeat: one per matching subscription), SUBSCRIBE (at most one):
   * subscription identifiers, 1 to 268,435,455.
   */
  subscriptionIdentifiers?: number[];
  /** 0x11 CONNECT, CONNACK, DISCONNECT: seconds the session outlives the connection. */
  sessionExpiryInterval?: number;
  /** 0x12 CONNACK: the client id the server assigned. */
  assignedClientIdentifier?: string;
  /** 0x13 CONNACK: keep alive the server imposes, in seconds. */
  serverKeepAlive?: number;
  /** 0x15 CONNECT, CONNACK, AUTH: enhanced authentication method. */
  authenticationMethod?: string;
  /** 0x16 CONNECT, CONNACK, AUTH: enhanced authentication data. */
  authenticationData?: Uint8Array;
  /** 0x17 CONNECT: 0 or 1. */
  requestProblemInformation?: number;
  /** 0x18 will: seconds to wait before publishing the will. */
  willDelayInterval?: number;
  /** 0x19 CONNECT: 0 or 1. */
  requestResponseInformation?: number;
  /** 0x1A CONNACK: basis for response topics. */
  responseInformation?: string;
  /** 0x1C CONNACK, DISCONNECT: another server to use. */
  serverReference?: string;
  /** 0x1F CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH: human readable diagnostics. */
  reasonString?: string;
  /** 0x21 CONNECT, CONNACK: how many QoS 1/2 publishes the sender accepts at once. */
  receiveMaximum?: number;
  /** 0x22 CONNECT, CONNACK: highest topic alias the sender accepts. */
  topicAliasMaximum?: number;
  /** 0x23 PUBLISH: topic alias. */
  topicAlias?: number;
  /** 0x24 CONNACK: 0 or 1, the highest QoS the server supports. */
  maximumQoS?: number;
  /** 0x25 CONNACK: 0 or 1. */
  retainAvailable?: number;
  /** 0x26 every packet with properties: name/value pairs, in order, repeats allowed. */
  userProperties?: UserProperty[];
  /** 0x27 CONNECT, CONNACK: largest packet the sender accepts, in bytes. */
  maximumPacketSize?: number;
  /** 0x28 CONNACK: 0 or 1. */
  wildcardSubscriptionAvailable?: number;
  /** 0x29 CONNACK: 0 or 1. */
  subscriptionIdentifiersAvailable?: number;
  /** 0x2A CONNACK: 0 or 1. */
  sharedSubscriptionAvailable?: number;
}

/** The Will carried in CONNECT. */
export interface Will {
  /** Topic name. */
  topic: string;
  /** Application message bytes. */
  payload: Uint8Array;
  /** Quality of service. */
  qos: QoS;
  /** Retain flag. */
  retain: boolean;
  /** MQTT 5 will properties. */
  properties?: Properties;
}

/** CONNECT: the first packet a client sends. */
export interface ConnectPacket {
  /** Packet type. */
  type: "connect";
  /** Level on the wire; the protocol name follows from it ("MQIsdp" for 3, "MQTT" otherwise). */
  protocolVersion: ProtocolVersion;
  /** Client identifier; may be empty when the server is to assign one. */
  clientId: string;
  /** Clean Session (3.1, 3.1.1) or Clean Start (5.0). */
  clean: boolean;
  /** Keep alive in seconds, 0 to 65535. */
  keepalive: number;
  /** User name. */
  username?: string;
  /** Password (binary data). */
  password?: Uint8Array;
  /** Last Will, when the flag is set. */
  will?: Will;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** CONNACK. `reasonCode` is the 3.1.1 return code or the MQTT 5 reason code. */
export interface ConnackPacket {
  /** Packet type. */
  type: "connack";
  /** Whether the server resumed a stored session. */
  sessionPresent: boolean;
  /** Reason code (MQTT 5) or CONNACK return code. */
  reasonCode: number;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** PUBLISH. `packetId` is present exactly when `qos` is 1 or 2. */
export interface PublishPacket {
  /** Packet type. */
  type: "publish";
  /** May be "" in MQTT 5 when `properties.topicAlias` names the topic. */
  topic: string;
  /** Application message bytes. */
  payload: Uint8Array;
  /** Quality of service. */
  qos: QoS;
  /** Retain flag. */
  retain: boolean;
  /** DUP flag: this PUBLISH may have been sent before. */
  dup: boolean;
  /** Packet identifier, 1 to 65535. */
  packetId?: number;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP: the QoS 1 and QoS 2 acknowledgements. */
export interface AckPacket<T extends "puback" | "pubrec" | "pubrel" | "pubcomp"> {
  /** Packet type. */
  type: T;
  /** Packet identifier, 1 to 65535. */
  packetId: number;
  /** MQTT 5 only. */
  reasonCode?: number;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}
/** PUBACK: acknowledges a QoS 1 PUBLISH. */
export type PubackPacket = AckPacket<"puback">;
/** PUBREC: first reply to a QoS 2 PUBLISH. */
export type PubrecPacket = AckPacket<"pubrec">;
/** PUBREL: releases a QoS 2 packet id. */
export type PubrelPacket = AckPacket<"pubrel">;
/** PUBCOMP: completes a QoS 2 flow. */
export type PubcompPacket = AckPacket<"pubcomp">;

/** One topic filter with its subscription options. */
export interface Subscription {
  /** Topic filter. */
  topicFilter: string;
  /** Maximum QoS. */
  qos: QoS;
  /** MQTT 5: do not receive own publications. */
  noLocal?: boolean;
  /** MQTT 5: keep the retain flag as published. */
  retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained on subscribe, 1 only if new, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

/** SUBSCRIBE: at least one subscription. */
export interface SubscribePacket {
  /** Packet type. */
  type: "subscribe";
  /** Packet identifier, 1 to 65535. */
  packetId: number;
  /** Requested subscriptions, at least one. */
  subscriptions: Subscription[];
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** SUBACK: one reason code (granted QoS or failure) per requested filter. */
export interface SubackPacket {
  /** Packet type. */
  type: "suback";
  /** Packet identifier, 1 to 65535. */
  packetId: number;
  /** One reason code per requested topic filter, in order. */
  reasonCodes: number[];
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** UNSUBSCRIBE: at least one topic filter. */
export interface UnsubscribePacket {
  /** Packet type. */
  type: "unsubscribe";
  /** Packet identifier, 1 to 65535. */
  packetId: number;
  /** Topic filters to remove, at least one. */
  topicFilters: string[];
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** UNSUBACK. `reasonCodes` exist in MQTT 5 only. */
export interface UnsubackPacket {
  /** Packet type. */
  type: "unsuback";
  /** Packet identifier, 1 to 65535. */
  packetId: number;
  /** One reason code per requested topic filter, in order. */
  reasonCodes?: number[];
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** PINGREQ. */
export interface PingreqPacket {
  /** Packet type. */
  type: "pingreq";
}

/** PINGRESP. */
export interface PingrespPacket {
  /** Packet type. */
  type: "pingresp";
}

/** DISCONNECT. `reasonCode` and `properties` exist in MQTT 5 only. */
export interface DisconnectPacket {
  /** Packet type. */
  type: "disconnect";
  /** Reason code (MQTT 5) or CONNACK return code. */
  reasonCode?: number;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** AUTH (MQTT 5 only): enhanced authentication exchange. */
export interface AuthPacket {
  /** Packet type. */
  type: "auth";
  /** Reason code (MQTT 5) or CONNACK return code. */
  reasonCode?: number;
  /** MQTT 5 properties; omitted when there are none. */
  properties?: Properties;
}

/** Any MQTT control packet. */
export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | PubackPacket
  | PubrecPacket
  | PubrelPacket
  | PubcompPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

/** The `type` names of all packets. */
export type PacketType = Packet["type"];

/** Control packet type numbers, as in the fixed header's upper four bits. */
export const PACKET_TYPE_NUMBERS = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const satisfies Record<PacketType, number>;
