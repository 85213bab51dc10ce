/**
 * {@link Message}: an application message the server delivered.
 *
 * @module
 */

import type { Properties, QoS, UserProperty } from "./packet/types.ts";

const decoder = new TextDecoder();

/** The fields a {@link Message} is made of. */
export interface MessageInit {
  /** The topic name. */
  topic: string;
  /** The payload bytes. */
  payload: Uint8Array;
  /** The QoS it was delivered with. */
  qos: QoS;
  /** The RETAIN flag. */
  retain: boolean;
  /** Default false. */
  dup?: boolean;
  /** MQTT 5 PUBLISH properties. */
  properties?: Properties;
  /**
   * What {@link Message.ack} does: the client sets it for QoS 1/2 messages of
   * subscriptions made with `ack: "manual"`. Called at most once.
   */
  acknowledge?: () => Promise<void>;
}

/** The properties of every message without any (MQTT 3.1.1, and most MQTT 5 ones). */
const NO_PROPERTIES: Readonly<Properties> = Object.freeze({});

/**
 * A message the server delivered: topic, payload bytes, QoS and flags, and the MQTT 5
 * properties with shortcuts for the common ones.
 *
 * The payload may be a view into the bytes the connection received: copy it
 * (`payload.slice()`) to keep it after changing it elsewhere is possible.
 *
 * @example Read a JSON payload
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message } from "./message.ts";
 * const message = new Message({
 *   topic: "sensors/kitchen/temp",
 *   payload: new TextEncoder().encode('{"celsius":21.5}'),
 *   qos: 1,
 *   retain: true,
 *   properties: { contentType: "application/json", subscriptionIdentifiers: [4] },
 * });
 * assert.equal(message.text(), '{"celsius":21.5}');
 * assert.deepEqual(message.json(), { celsius: 21.5 });
 * assert.deepEqual(message.subscriptionIdentifiers, [4]);
 * assert.equal(message.contentType, "application/json");
 * ```
 */
export class Message {
  /** The topic name (topic aliases already resolved). */
  readonly topic: string;
  /** The payload bytes. */
  readonly payload: Uint8Array;
  /** The QoS it was delivered with. */
  readonly qos: QoS;
  /** Whether it is a retained message (sent because of a new subscription). */
  readonly retain: boolean;
  /** Whether the server marked it as a possible re-delivery. */
  readonly dup: boolean;
  /** MQTT 5 properties (empty for MQTT 3.1 and 3.1.1). */
  readonly properties: Readonly<Properties>;
  #acknowledge: (() => Promise<void>) | undefined;
  #acked: Promise<void> | undefined;

  /** A message made of `init` (the client makes them; tests may too). */
  constructor(init: MessageInit) {
    this.topic = init.topic;
    this.payload = init.payload;
    this.qos = init.qos;
    this.retain = init.retain;
    this.dup = init.dup ?? false;
    this.properties = init.properties ?? NO_PROPERTIES;
    this.#acknowledge = init.acknowledge;
  }

  /**
   * Tells the client the application is done with the message, for subscriptions made
   * with `ack: "manual"`: only now does its PUBACK (QoS 1) or PUBREC (QoS 2) go, and
   * the promise resolves once that is recorded in the client's session store (at once
   * without one). Calling it again returns the same promise; for other messages it does
   * nothing. See `SubscribeOptions.ack` for the guarantee.
   *
   * @example Acknowledge once processed
   * ```ts
   * import assert from "node:assert/strict";
   * import { Message } from "./message.ts";
   * let acks = 0;
   * const message = new Message({
   *   topic: "jobs/1", payload: new Uint8Array(), qos: 2, retain: false,
   *   acknowledge: async () => void acks++,
   * });
   * await message.ack();
   * await message.ack();
   * assert.equal(acks, 1);
   * ```
   */
  ack(): Promise<void> {
    this.#acked ??= this.#acknowledge?.() ?? Promise.resolve();
    return this.#acked;
  }

  /** The payload decoded as UTF-8 (invalid sequences become U+FFFD). */
  text(): string {
    return decoder.decode(this.payload);
  }

  /** The payload parsed as JSON; throws a SyntaxError when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text()) as T;
  }

  /** MQTT 5: the identifiers of the subscriptions that matched, empty when none were given. */
  get subscriptionIdentifiers(): readonly number[] {
    return this.properties.subscriptionIdentifiers ?? [];
  }

  /** MQTT 5: the topic a requester expects the response on. */
  get responseTopic(): string | undefined {
    return this.properties.responseTopic;
  }

  /** MQTT 5: the bytes a requester uses to match the response to its request. */
  get correlationData(): Uint8Array | undefined {
    return this.properties.correlationData;
  }

  /** MQTT 5: the MIME type of the payload. */
  get contentType(): string | undefined {
    return this.properties.contentType;
  }

  /** MQTT 5: the user properties, in order. */
  get userProperties(): readonly UserProperty[] {
    return this.properties.userProperties ?? [];
  }
}
