/**
 * The events an `MqttClient` dispatches, typed, for `addEventListener`: the counterparts
 * of paho's callbacks (on_connect, on_connect_fail, on_disconnect, on_message,
 * on_publish, on_subscribe, on_unsubscribe, on_log).
 *
 * @module
 */

import type { Message } from "./message.ts";
import type { ConnackPacket, Properties, QoS } from "./packet/types.ts";

/** Data of a {@link ConnectEvent}. */
export interface ConnectEventInit {
  /** The broker URL connected to. */
  url: string;
  /** Whether the server resumed the session. */
  sessionPresent: boolean;
  /** The CONNACK. */
  connack: ConnackPacket;
  /** False for the first connection, true for reconnections. */
  reconnected: boolean;
}

/**
 * `"connect"`: a connection is up (CONNACK accepted), the first one or a reconnection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectEvent } from "./events.ts";
 * const event = new ConnectEvent({
 *   url: "mqtt://127.0.0.1:1883",
 *   sessionPresent: true,
 *   connack: { type: "connack", sessionPresent: true, reasonCode: 0 },
 *   reconnected: true,
 * });
 * assert.equal(event.type, "connect");
 * assert.equal(event.sessionPresent, true);
 * ```
 */
export class ConnectEvent extends Event {
  /** The broker URL connected to. */
  readonly url: string;
  /** Whether the server resumed the session. */
  readonly sessionPresent: boolean;
  /** The CONNACK, with the server's MQTT 5 properties. */
  readonly connack: ConnackPacket;
  /** False for the connection `connect()` made, true for the automatic reconnections. */
  readonly reconnected: boolean;
  /** An event of type `"connect"`. */
  constructor(init: ConnectEventInit) {
    super("connect");
    this.url = init.url;
    this.sessionPresent = init.sessionPresent;
    this.connack = init.connack;
    this.reconnected = init.reconnected;
  }
}

/** Data of a {@link ConnectFailedEvent}. */
export interface ConnectFailedEventInit {
  /** The broker URL tried. */
  url: string;
  /** Why the attempt failed. */
  error: Error;
  /** 1 for the first failed attempt since the last connection. */
  attempt: number;
  /** Milliseconds until the next attempt, or undefined when the client gives up. */
  retryIn: number | undefined;
}

/**
 * `"connectfailed"`: an automatic reconnection attempt failed (transport error or a
 * refused CONNACK). `retryIn` is undefined when the client stops trying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectFailedEvent } from "./events.ts";
 * const event = new ConnectFailedEvent({
 *   url: "mqtt://127.0.0.1:1883", error: new Error("refused"), attempt: 3, retryIn: 4000,
 * });
 * assert.equal(event.type, "connectfailed");
 * assert.equal(event.retryIn, 4000);
 * ```
 */
export class ConnectFailedEvent extends Event {
  /** The broker URL tried. */
  readonly url: string;
  /** Why it failed; a `ConnectionRefusedError` carries the CONNACK reason code. */
  readonly error: Error;
  /** 1 for the first failed attempt since the connection was lost. */
  readonly attempt: number;
  /** Milliseconds until the next attempt, or undefined when the client gives up. */
  readonly retryIn: number | undefined;
  /** An event of type `"connectfailed"`. */
  constructor(init: ConnectFailedEventInit) {
    super("connectfailed");
    this.url = init.url;
    this.error = init.error;
    this.attempt = init.attempt;
    this.retryIn = init.retryIn;
  }
}

/** Data of a {@link DisconnectEvent}. */
export interface DisconnectEventInit {
  /** Why the connection ended; undefined when the application disconnected. */
  error: Error | undefined;
  /** The reason code of the server's DISCONNECT, when it sent one. */
  reasonCode?: number;
  /** The properties of the server's DISCONNECT (Reason String, Server Reference). */
  properties?: Properties;
  /** Whether the client is going to reconnect. */
  willReconnect: boolean;
}

/**
 * `"disconnect"`: a connection ended. `willReconnect` says whether the client tries to
 * connect again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DisconnectEvent } from "./events.ts";
 * const event = new DisconnectEvent({ error: undefined, willReconnect: false });
 * assert.equal(event.type, "disconnect");
 * assert.equal(event.error, undefined);
 * ```
 */
export class DisconnectEvent extends Event {
  /** Why the connection ended; undefined when the application disconnected. */
  readonly error: Error | undefined;
  /** The reason code of the server's DISCONNECT, when it sent one. */
  readonly reasonCode: number | undefined;
  /** The properties of the server's DISCONNECT. */
  readonly properties: Properties | undefined;
  /** Whether the client is going to reconnect. */
  readonly willReconnect: boolean;
  /** An event of type `"disconnect"`. */
  constructor(init: DisconnectEventInit) {
    super("disconnect");
    this.error = init.error;
    this.reasonCode = init.reasonCode;
    this.properties = init.properties;
    this.willReconnect = init.willReconnect;
  }
}

/**
 * `"message"`: a message arrived, whoever it goes to (a subscription, or
 * `client.messages` when no subscription claims it). Listening does not consume it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageArrivedEvent } from "./events.ts";
 * import { Message } from "./message.ts";
 * const message = new Message({ topic: "a", payload: new Uint8Array(), qos: 0, retain: false });
 * assert.equal(new MessageArrivedEvent(message).message.topic, "a");
 * ```
 */
export class MessageArrivedEvent extends Event {
  /** The message. */
  readonly message: Message;
  /** An event of type `"message"`. */
  constructor(message: Message) {
    super("message");
    this.message = message;
  }
}

/** Data of a {@link PublishEvent}. */
export interface PublishEventInit {
  /** The message's topic. */
  topic: string;
  /** The message's QoS. */
  qos: QoS;
  /** The final acknowledgement's reason code (0 for QoS 0). */
  reasonCode: number;
  /** Set when the server refused the message or it could not be sent. */
  error?: Error;
}

/**
 * `"publish"`: a publication is done for its QoS (written for 0, PUBACK for 1, PUBCOMP
 * for 2), or failed (`error` is set).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PublishEvent } from "./events.ts";
 * const event = new PublishEvent({ topic: "a", qos: 1, reasonCode: 0x10 });
 * assert.equal(event.reasonCode, 0x10);
 * ```
 */
export class PublishEvent extends Event {
  /** The message's topic ("" for a message a restored session finished, when unknown). */
  readonly topic: string;
  /** The message's QoS. */
  readonly qos: QoS;
  /** The final acknowledgement's reason code (0 for QoS 0). */
  readonly reasonCode: number;
  /** Why the publication failed, when it did. */
  readonly error: Error | undefined;
  /** An event of type `"publish"`. */
  constructor(init: PublishEventInit) {
    super("publish");
    this.topic = init.topic;
    this.qos = init.qos;
    this.reasonCode = init.reasonCode;
    this.error = init.error;
  }
}

/**
 * `"subscribe"`: a SUBACK arrived. One reason code per topic filter: the granted QoS, or
 * a failure code of 0x80 or above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscribeEvent } from "./events.ts";
 * const event = new SubscribeEvent(["a/#", "b"], [1, 0x87]);
 * assert.deepEqual(event.reasonCodes, [1, 0x87]);
 * ```
 */
export class SubscribeEvent extends Event {
  /** The filters of the SUBSCRIBE. */
  readonly topicFilters: readonly string[];
  /** The SUBACK's reason codes, one per filter. */
  readonly reasonCodes: readonly number[];
  /** An event of type `"subscribe"`. */
  constructor(topicFilters: readonly string[], reasonCodes: readonly number[]) {
    super("subscribe");
    this.topicFilters = topicFilters;
    this.reasonCodes = reasonCodes;
  }
}

/** Data of a {@link SubscriptionLostEvent}. */
export interface SubscriptionLostEventInit {
  /** The filters the server refused to restore. */
  topicFilters: readonly string[];
  /** The SUBACK's reason codes for them, each 0x80 or above. */
  reasonCodes: readonly number[];
  /** The typed error: a `SubscribeError` carrying the first reason code. */
  error: Error;
  /**
   * The subscription that held the filters, when one of this client's did; it ended
   * with `error` when it lost all its filters.
   */
  subscription?: unknown;
}

/**
 * `"subscriptionlost"`: after a reconnection that did not resume the session, the
 * client subscribed again to what was granted before, and the server refused some
 * filters. A subscription that lost all its filters ends: its iteration throws `error`
 * once its buffered messages are read.
 *
 * @example Inspect a lost subscription
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscriptionLostEvent } from "./events.ts";
 * const event = new SubscriptionLostEvent({
 *   topicFilters: ["a/#"], reasonCodes: [0x87], error: new Error("refused"),
 * });
 * assert.equal(event.type, "subscriptionlost");
 * assert.deepEqual(event.reasonCodes, [0x87]);
 * ```
 */
export class SubscriptionLostEvent extends Event {
  /** The filters the server refused to restore. */
  readonly topicFilters: readonly string[];
  /** The SUBACK's reason codes for them. */
  readonly reasonCodes: readonly number[];
  /** The typed error (a `SubscribeError` from the client). */
  readonly error: Error;
  /** The `Subscription` that held the filters, if any. */
  readonly subscription: unknown;
  /** An event of type `"subscriptionlost"`. */
  constructor(init: SubscriptionLostEventInit) {
    super("subscriptionlost");
    this.topicFilters = init.topicFilters;
    this.reasonCodes = init.reasonCodes;
    this.error = init.error;
    this.subscription = init.subscription;
  }
}

/**
 * `"unsubscribe"`: an UNSUBACK arrived (MQTT 3.1.1 servers send no reason codes: 0 is
 * assumed for each filter).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsubscribeEvent } from "./events.ts";
 * assert.deepEqual(new UnsubscribeEvent(["a"], [0]).topicFilters, ["a"]);
 * ```
 */
export class UnsubscribeEvent extends Event {
  /** The filters of the UNSUBSCRIBE. */
  readonly topicFilters: readonly string[];
  /** The UNSUBACK's reason codes, one per filter. */
  readonly reasonCodes: readonly number[];
  /** An event of type `"unsubscribe"`. */
  constructor(topicFilters: readonly string[], reasonCodes: readonly number[]) {
    super("unsubscribe");
    this.topicFilters = topicFilters;
    this.reasonCodes = reasonCodes;
  }
}

/** Severity of a {@link LogEvent}. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * `"log"`: something worth knowing happened inside the client (reconnect attempts,
 * dropped QoS 0 messages, errors nobody awaited).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogEvent } from "./events.ts";
 * const event = new LogEvent("warn", "dropped a QoS 0 message", { topic: "a" });
 * assert.equal(event.level, "warn");
 * ```
 */
export class LogEvent extends Event {
  /** How serious it is. */
  readonly level: LogLevel;
  /** What happened, in words. */
  readonly message: string;
  /** The error or values involved, if any. */
  readonly data: unknown;
  /** An event of type `"log"`. */
  constructor(level: LogLevel, message: string, data?: unknown) {
    super("log");
    this.level = level;
    this.message = message;
    this.data = data;
  }
}

/**
 * Where the client's log lines go besides `"log"` events: anything with `debug`, `info`,
 * `warn` and `error` methods, such as `console`.
 *
 * @example Collect warnings
 * ```ts
 * import type { Logger } from "./events.ts";
 * const warnings: string[] = [];
 * const logger: Logger = { warn: (message) => void warnings.push(message) };
 * logger.warn?.("dropped");
 * ```
 */
export interface Logger {
  /** Details for debugging. */
  debug?(message: string, data?: unknown): void;
  /** Connections made. */
  info?(message: string, data?: unknown): void;
  /** Connections lost, failed attempts, dropped messages. */
  warn?(message: string, data?: unknown): void;
  /** Failures that end the client, or that nobody awaited. */
  error?(message: string, data?: unknown): void;
}

/**
 * The event types an `MqttClient` dispatches and their classes.
 *
 * @example
 * ```ts
 * import type { MqttClientEventMap } from "./events.ts";
 * const type: keyof MqttClientEventMap = "connectfailed";
 * ```
 */
export interface MqttClientEventMap {
  /** A connection is up. */
  connect: ConnectEvent;
  /** A reconnection attempt failed. */
  connectfailed: ConnectFailedEvent;
  /** A connection ended. */
  disconnect: DisconnectEvent;
  /** A message arrived. */
  message: MessageArrivedEvent;
  /** A publication completed or failed. */
  publish: PublishEvent;
  /** A SUBACK arrived. */
  subscribe: SubscribeEvent;
  /** Restoring a subscription after a reconnection failed. */
  subscriptionlost: SubscriptionLostEvent;
  /** An UNSUBACK arrived. */
  unsubscribe: UnsubscribeEvent;
  /** A log line. */
  log: LogEvent;
}

/** A listener for event `K` of {@link MqttClientEventMap}. */
export type MqttClientEventListener<K extends keyof MqttClientEventMap> =
  | ((event: MqttClientEventMap[K]) => void)
  | { handleEvent(event: MqttClientEventMap[K]): void };

/**
 * An EventTarget whose `addEventListener` / `removeEventListener` know the client's
 * event types. As with any EventTarget, an exception a listener throws does not unwind
 * the dispatcher: the runtime reports it as an uncaught error.
 *
 * @example Listen for a typed event
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogEvent, MqttClientEventTarget } from "./events.ts";
 * const target = new MqttClientEventTarget();
 * let level = "";
 * target.addEventListener("log", (event) => { level = event.level; });
 * target.dispatchEvent(new LogEvent("info", "hello"));
 * assert.equal(level, "info");
 * ```
 */
export class MqttClientEventTarget extends EventTarget {
  /** Event types a listener was ever added for. */
  #listened = new Set<string>();

  /**
   * Whether a listener was ever added for `type` (it may have been removed since): a
   * subclass skips building per-message events nobody listens for.
   */
  protected hasListened(type: string): boolean {
    return this.#listened.has(type);
  }

  /** Listens for a client event, typed by its name. */
  override addEventListener<K extends keyof MqttClientEventMap>(
    type: K,
    listener: MqttClientEventListener<K> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Listens for any event. */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener !== null) this.#listened.add(type);
    super.addEventListener(type, listener, options);
  }

  /** Stops listening for a client event. */
  override removeEventListener<K extends keyof MqttClientEventMap>(
    type: K,
    listener: MqttClientEventListener<K> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Stops listening for any event. */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener, options);
  }
}
