/**
 * What a `ClientSession` asks its owner to do, and the messages that flow through
 * it. Actions come back from every session method as an array; the owner carries them
 * out in order (packets must be written in the order given).
 *
 * @module
 */

import type { AuthPacket, ConnackPacket, Packet, Properties, QoS } from "../packet/types.ts";
import type { ServerLimits } from "./server_limits.ts";
// deno-lint-ignore no-unused-vars -- named by the {@link ServerLimitError} in the JSDoc below
import type { ServerLimitError } from "../errors.ts";

/**
 * A message to publish. `payload` is kept by reference until the message completes:
 * do not change it meanwhile.
 *
 * @example A retained QoS 1 message
 * ```ts
 * import type { OutgoingMessage } from "./actions.ts";
 * const message: OutgoingMessage = {
 *   topic: "sensors/kitchen/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: true,
 * };
 * ```
 */
export interface OutgoingMessage {
  /** Topic name (no wildcards). */
  topic: string;
  /** Application payload. */
  payload: Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /**
   * MQTT 5 PUBLISH properties. Topic Alias is managed by the session and Subscription
   * Identifiers are for servers only, so neither may be given.
   */
  properties?: Properties;
}

/**
 * A message the server delivered. The topic is always the full topic name (Topic Aliases
 * are resolved and removed from `properties`).
 *
 * @example
 * ```ts
 * import type { InboundMessage } from "./actions.ts";
 * const message: InboundMessage = {
 *   topic: "a/b", payload: new Uint8Array([1]), qos: 1, retain: false, dup: false,
 * };
 * ```
 */
export interface InboundMessage {
  /** Full topic name. */
  topic: string;
  /** Application payload (may be a view into the packet buffer). */
  payload: Uint8Array;
  /** QoS of this delivery. */
  qos: QoS;
  /** Retained message (as the server forwards the flag). */
  retain: boolean;
  /** The server marked it as a re-delivery attempt (only meaningful for QoS 1). */
  dup: boolean;
  /** MQTT 5 PUBLISH properties, Topic Alias removed. */
  properties?: Properties;
}

/**
 * Write this packet to the transport, now, in order with the other `send` actions.
 *
 * @example
 * ```ts
 * import type { SendAction } from "./actions.ts";
 * const action: SendAction = { type: "send", packet: { type: "pingreq" } };
 * ```
 */
export interface SendAction {
  /** Discriminant. */
  type: "send";
  /** The packet to encode and write. */
  packet: Packet;
}

/**
 * Hand a message to the application. With `manualAcks`, `token` is set for QoS 1 and 2
 * messages and the acknowledgement waits for `ClientSession.acknowledge()`.
 *
 * @example
 * ```ts
 * import type { DeliverAction } from "./actions.ts";
 * const action: DeliverAction = {
 *   type: "deliver",
 *   message: { topic: "a", payload: new Uint8Array(), qos: 1, retain: false, dup: false },
 *   token: 7,
 * };
 * ```
 */
export interface DeliverAction {
  /** Discriminant. */
  type: "deliver";
  /** The message for the application. */
  message: InboundMessage;
  /** Pass to `acknowledge()` once the application consumed the message (manual acks only). */
  token: number | undefined;
}

/**
 * A request completed: a publish (QoS 0 once written, QoS 1 on PUBACK, QoS 2 on
 * PUBCOMP or a failed PUBREC), a subscribe (SUBACK) or an unsubscribe (UNSUBACK).
 * `error` is set when a publish failed; SUBACK and UNSUBACK failures are reason codes
 * of 0x80 or above in `reasonCodes`, one per topic filter.
 *
 * @example
 * ```ts
 * import type { SettleAction } from "./actions.ts";
 * const action: SettleAction = { type: "settle", id: 3, request: "publish", reasonCodes: [0] };
 * ```
 */
export interface SettleAction {
  /** Discriminant. */
  type: "settle";
  /** The id that `publish()`, `subscribe()` or `unsubscribe()` returned. */
  id: number;
  /** What kind of request completed. */
  request: "publish" | "subscribe" | "unsubscribe";
  /**
   * Publish: `[]` for QoS 0; `[PUBACK code]` for QoS 1; `[PUBREC code, PUBCOMP code]` for
   * QoS 2, or `[PUBREC code]` when the PUBREC failed or the server took the message before
   * it lost the session; `[code]` of a {@link ServerLimitError}. Subscribe / unsubscribe:
   * one per topic filter (all 0 for an MQTT 3.1.1 UNSUBACK).
   */
  reasonCodes: number[];
  /** Subscribe / unsubscribe: the topic filters, in the order of `reasonCodes`. */
  topicFilters?: string[];
  /**
   * Subscribe: true for a SUBSCRIBE the session sent by itself, to restore granted
   * subscriptions on a connection that did not resume the session. A filter it failed
   * for (code 0x80 or above) is no longer subscribed.
   */
  restored?: boolean;
  /** Why a publish failed. */
  error?: Error;
  /** MQTT 5 properties of the acknowledgement (reason string, user properties). */
  properties?: Properties;
}

/**
 * The server accepted the connection. `sessionPresent` says whether the session was
 * resumed; when it was not, the session already queued what must be sent again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConnectedAction } from "./actions.ts";
 * import { serverLimitsFromConnack } from "./server_limits.ts";
 * const connack = { type: "connack", sessionPresent: false, reasonCode: 0 } as const;
 * const action: ConnectedAction = {
 *   type: "connected", sessionPresent: false, clientId: "a", connack,
 *   limits: serverLimitsFromConnack(connack),
 * };
 * assert.equal(action.limits.maximumQoS, 2);
 * ```
 */
export interface ConnectedAction {
  /** Discriminant. */
  type: "connected";
  /** Whether the server resumed the session (for MQTT 3.1: whether CONNECT asked to keep it). */
  sessionPresent: boolean;
  /** The Client Identifier in use (the server may have assigned it). */
  clientId: string;
  /** What the server announced for this connection. */
  limits: ServerLimits;
  /** The CONNACK itself (for Response Information, User Properties...). */
  connack: ConnackPacket;
}

/**
 * The server sent DISCONNECT: close the transport (MQTT-3.14.4-2). The session is
 * offline already.
 *
 * @example
 * ```ts
 * import type { DisconnectedAction } from "./actions.ts";
 * const action: DisconnectedAction = {
 *   type: "disconnected", reasonCode: 0x9c, serverReference: "other.example:1883",
 * };
 * ```
 */
export interface DisconnectedAction {
  /** Discriminant. */
  type: "disconnected";
  /** 0 (Normal disconnection) when the packet had no reason code. */
  reasonCode: number;
  /** MQTT 5 Reason String. */
  reasonString?: string;
  /** Another server to use (with 0x9C Use another server or 0x9D Server moved). */
  serverReference?: string;
  /** All MQTT 5 properties of the DISCONNECT. */
  properties?: Properties;
}

/**
 * The server sent AUTH (MQTT 5 enhanced authentication): answer it with
 * `ClientSession.sendAuth()`.
 *
 * @example
 * ```ts
 * import type { AuthAction } from "./actions.ts";
 * const action: AuthAction = {
 *   type: "auth",
 *   packet: { type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM-SHA-1" } },
 * };
 * ```
 */
export interface AuthAction {
  /** Discriminant. */
  type: "auth";
  /** The AUTH packet the server sent. */
  packet: AuthPacket;
}

/**
 * Close the transport now: the connection failed (refused CONNACK, protocol error by the
 * server, keep-alive timeout). Any `send` before it in the same array is to be written
 * first (an MQTT 5 DISCONNECT naming the problem). The session is offline already.
 *
 * @example
 * ```ts
 * import type { CloseAction } from "./actions.ts";
 * import { KeepAliveTimeoutError } from "../errors.ts";
 * const action: CloseAction = { type: "close", error: new KeepAliveTimeoutError(1000) };
 * ```
 */
export interface CloseAction {
  /** Discriminant. */
  type: "close";
  /** Why the connection ended. */
  error: Error;
}

/**
 * Everything a session may ask for.
 *
 * @example Carry out actions
 * ```ts
 * import type { SessionAction } from "./actions.ts";
 * function run(actions: SessionAction[], write: (bytes: unknown) => void): void {
 *   for (const action of actions) {
 *     if (action.type === "send") write(action.packet);
 *   }
 * }
 * run([{ type: "send", packet: { type: "pingreq" } }], () => {});
 * ```
 */
export type SessionAction =
  | SendAction
  | DeliverAction
  | SettleAction
  | ConnectedAction
  | DisconnectedAction
  | AuthAction
  | CloseAction;
