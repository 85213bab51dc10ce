/**
 * tern: an MQTT 3.1, 3.1.1 and 5.0 client for Deno and Bun, with no dependencies.
 *
 * ```ts ignore
 * import { connect } from "jsr:@tern/mqtt";
 * await using client = await connect("mqtt://127.0.0.1:1883", { clientId: "dev-1" });
 * await using sub = await client.subscribe("sensors/+/temp", { qos: 1 });
 * await client.publish("sensors/kitchen/temp", "21.5", { qos: 2, retain: true });
 * for await (const message of sub) {
 *   console.log(message.topic, message.text());
 *   break;
 * }
 * ```
 *
 * - {@link connect} resolves once the server accepted the connection, and rejects with a
 *   `ConnectionRefusedError` carrying the CONNACK reason code, or the transport's error.
 * - `client.publish()` resolves when the message is done for its QoS; `client.subscribe()`
 *   resolves on SUBACK with a {@link Subscription}: an async iterable (and a
 *   ReadableStream) whose slow reader holds back acknowledgements instead of dropping
 *   messages.
 * - Lost connections come back by themselves (exponential backoff, full jitter), with
 *   subscriptions restored and unfinished QoS 1/2 messages re-sent.
 * - Every awaitable takes `{ signal }`; clients and subscriptions work with `await using`.
 *
 * @module
 */

import { connect as connectWith, type ConnectOptions, type MqttClient } from "./lib/client.ts";
import { openTransport } from "./lib/transport/open.ts";

export {
  type ClientState,
  type ConnectOptions,
  type Credentials,
  type DisconnectOptions,
  MqttClient,
  type PublishOptions,
  type PublishResult,
  type ReconnectOptions,
  type RequestOptions,
  type SubscribeOptions,
  type TransportOpener,
  type TransportOpenOptions,
  type WillOptions,
} from "./lib/client.ts";
export { Message, type MessageInit } from "./lib/message.ts";
export type { AuthExchange, AuthMethod } from "./lib/auth_method.ts";
export {
  MessageBuffer,
  type MessageBufferOptions,
  Subscription,
  type UnsubscribeOptions,
} from "./lib/subscription.ts";
export * from "./lib/events.ts";
export { Backoff, type BackoffOptions } from "./lib/backoff.ts";
export { type OfflineQueueOptions, type OfflineQueuePolicy } from "./lib/offline_queue.ts";
export {
  AcknowledgementError,
  ConnectionClosedError,
  ConnectionRefusedError,
  FilterRequestError,
  KeepAliveTimeoutError,
  MqttError,
  type MqttErrorOptions,
  OfflineQueueFullError,
  ProtocolError,
  ServerDisconnectError,
  ServerLimitError,
  SubscribeError,
  UnsubscribeError,
} from "./lib/errors.ts";
export type { ServerLimits } from "./lib/session/server_limits.ts";
export {
  FileStore,
  type FileStoreOptions,
  MemoryStore,
  type SessionStore,
} from "./lib/store/mod.ts";
export type {
  IncomingSnapshot,
  JsonProperties,
  OutgoingSnapshot,
  SessionSnapshot,
  SubscriptionSnapshot,
} from "./lib/session/snapshot.ts";
export {
  isValidTopicFilter,
  isValidTopicName,
  parseSharedSubscription,
  type SharedSubscription,
  topicMatches,
  validateTopicFilter,
  validateTopicName,
} from "./lib/topic.ts";
export { ConnackReturnCode, ReasonCode, reasonCodeName } from "./lib/packet/reason_codes.ts";
export type {
  ConnackPacket,
  Properties,
  ProtocolVersion,
  QoS,
  Subscription as TopicSubscription,
  UserProperty,
  Will,
} from "./lib/packet/types.ts";
export type { TlsOptions, Transport, TransportOptions, WsOptions } from "./lib/transport/types.ts";
export { type DirectTransport, isDirectTransport } from "./lib/transport/direct.ts";
export {
  type OutgoingMessageInit,
  publishMultiple,
  publishSingle,
  type PublishSingleOptions,
  subscribeCallback,
  subscribeSimple,
  type SubscribeSimpleOptions,
} from "./lib/helpers.ts";

/**
 * Connects to an MQTT broker and resolves with the client once the server accepted the
 * connection (CONNACK).
 *
 * - `url`: `mqtt://` or `tcp://` (TCP, port 1883), `mqtts://` or `ssl://` (TLS, 8883),
 *   `ws://` or `wss://` (WebSocket, subprotocol "mqtt"), or a list of URLs to try in
 *   turn (and to rotate through when reconnecting).
 * - Rejects with a `ConnectionRefusedError` carrying the CONNACK reason code when the
 *   server refuses, with the transport's error when the broker cannot be reached, with
 *   `options.signal.reason` when the signal aborts, and with a TypeError / RangeError for
 *   malformed options.
 *
 * @example Connection refused by an unreachable port
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./mod.ts";
 * await assert.rejects(connect("mqtt://127.0.0.1:1", { connectTimeout: 5000 }), /Cannot connect/);
 * ```
 */
export function connect(
  url: string | URL | readonly (string | URL)[],
  options: ConnectOptions = {},
): Promise<MqttClient> {
  return connectWith(url, { ...options, transport: options.transport ?? openTransport });
}
