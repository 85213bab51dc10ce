/**
 * An application message as the broker holds it between receiving and forwarding it:
 * the topic, payload and QoS it was published with, the properties forwarded untouched,
 * and when it expires.
 *
 * @module
 */

import type { Properties, PublishPacket, QoS } from "../lib/packet/types.ts";

/**
 * A message inside the broker. Immutable once created: the same object goes to every
 * subscriber, the retained store and offline queues.
 *
 * @example A retained message that expires in a minute
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BrokerMessage } from "./message.ts";
 * const message: BrokerMessage = {
 *   topic: "home/door",
 *   payload: new TextEncoder().encode("open"),
 *   qos: 1,
 *   retain: true,
 *   expiresAt: Date.now() + 60_000,
 *   sender: "door-sensor",
 * };
 * assert.equal(message.qos, 1);
 * ```
 */
export interface BrokerMessage {
  /** The full topic name (any Topic Alias resolved). */
  readonly topic: string;
  /** The payload, owned by the broker (a copy of what was read). */
  readonly payload: Uint8Array;
  /** The QoS it was published with. */
  readonly qos: QoS;
  /** The RETAIN flag it was published with. */
  readonly retain: boolean;
  /**
   * MQTT 5 properties forwarded to subscribers as they came: payload format, content
   * type, response topic, correlation data, user properties. Never a Topic Alias,
   * Subscription Identifiers or a Message Expiry Interval (see `expiresAt`).
   */
  readonly properties?: Properties;
  /** When it expires (clock milliseconds), from its Message Expiry Interval. */
  readonly expiresAt?: number;
  /** The client id of the publisher, for No Local; undefined for the broker's own. */
  readonly sender?: string;
}

/**
 * Builds the broker's copy of a received PUBLISH (after topic alias resolution, with the
 * full `topic`). The payload is copied so that the message does not keep the read buffer
 * it was decoded from alive; the properties that only concern one hop (Topic Alias,
 * Subscription Identifiers) are dropped and the Message Expiry Interval becomes an
 * absolute `expiresAt`.
 *
 * @example Take a PUBLISH in
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageFromPublish } from "./message.ts";
 * const message = messageFromPublish({
 *   type: "publish", topic: "", payload: new Uint8Array([1]), qos: 1, retain: false, dup: false,
 *   packetId: 3, properties: { topicAlias: 2, messageExpiryInterval: 10, contentType: "x" },
 * }, "a/b", "client-1", 5_000);
 * assert.equal(message.topic, "a/b");
 * assert.equal(message.expiresAt, 15_000);
 * assert.deepEqual(message.properties, { contentType: "x" });
 * ```
 */
export function messageFromPublish(
  packet: PublishPacket,
  topic: string,
  sender: string | undefined,
  now: number,
): BrokerMessage {
  const properties = forwardedProperties(packet.properties);
  const expiry = packet.properties?.messageExpiryInterval;
  const message: {
    -readonly [K in keyof BrokerMessage]: BrokerMessage[K];
  } = {
    topic,
    payload: packet.payload.slice(),
    qos: packet.qos,
    retain: packet.retain,
  };
  if (properties !== undefined) message.properties = properties;
  if (expiry !== undefined) message.expiresAt = now + expiry * 1000;
  if (sender !== undefined) message.sender = sender;
  return message;
}

/**
 * The properties of a received PUBLISH that go on to subscribers, or undefined when none
 * do.
 *
 * @example Drop hop-by-hop properties
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardedProperties } from "./message.ts";
 * assert.equal(forwardedProperties({ topicAlias: 1, messageExpiryInterval: 5 }), undefined);
 * assert.deepEqual(forwardedProperties({ userProperties: [["a", "1"]], topicAlias: 1 }), {
 *   userProperties: [["a", "1"]],
 * });
 * ```
 */
export function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  const {
    topicAlias: _alias,
    subscriptionIdentifiers: _ids,
    messageExpiryInterval: _expiry,
    ...rest
  } = properties;
  for (const value of Object.values(rest)) {
    if (value !== undefined) return rest;
  }
  return undefined;
}

/**
 * Seconds left before `message` expires at `now`, rounded up, or undefined when it never
 * expires; 0 means it has expired and must not be sent (MQTT-3.3.2-5).
 *
 * @example Count down
 * ```ts
 * import assert from "node:assert/strict";
 * import { secondsLeft } from "./message.ts";
 * const message = { topic: "t", payload: new Uint8Array(), qos: 0, retain: false, expiresAt: 10_000 } as const;
 * assert.equal(secondsLeft(message, 7_500), 3);
 * assert.equal(secondsLeft(message, 10_000), 0);
 * ```
 */
export function secondsLeft(message: BrokerMessage, now: number): number | undefined {
  if (message.expiresAt === undefined) return undefined;
  const left = message.expiresAt - now;
  return left <= 0 ? 0 : Math.ceil(left / 1000);
}
