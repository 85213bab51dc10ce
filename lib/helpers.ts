/**
 * One-shot helpers in the spirit of paho's `publish.single`, `publish.multiple`,
 * `subscribe.simple` and `subscribe.callback`: each connects, does one job, and
 * disconnects.
 *
 * @module
 */

import {
  connect,
  type ConnectOptions,
  type PublishOptions,
  type SubscribeOptions,
} from "./client.ts";
import type { Message } from "./message.ts";
import type { Properties, QoS } from "./packet/types.ts";
import { openTransport } from "./transport/open.ts";

/** One message for {@link publishMultiple}. */
export interface OutgoingMessageInit {
  /** The topic to publish to. */
  topic: string;
  /** Text (sent as UTF-8) or bytes. Default empty. */
  payload?: string | Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 PUBLISH properties. */
  properties?: Properties;
}

/** Options of {@link publishSingle}: connection options plus the message's. */
export interface PublishSingleOptions extends ConnectOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 PUBLISH properties (`properties` are the CONNECT's). */
  messageProperties?: Properties;
}

function withTransport(
  options: ConnectOptions,
): ConnectOptions & { transport: NonNullable<ConnectOptions["transport"]> } {
  return { reconnect: false, ...options, transport: options.transport ?? openTransport };
}

/**
 * Connects, publishes one message, waits until it is done for its QoS, disconnects.
 * `options.signal` aborts the whole operation.
 *
 * @example Publish a retained status
 * ```ts ignore
 * import { publishSingle } from "./helpers.ts";
 * await publishSingle("mqtt://127.0.0.1:1883", "devices/1/status", "online", { qos: 1, retain: true });
 * ```
 */
export async function publishSingle(
  url: string | URL,
  topic: string,
  payload: string | Uint8Array = new Uint8Array(),
  options: PublishSingleOptions = {},
): Promise<void> {
  await publishMultiple(url, [{
    topic,
    payload,
    qos: options.qos,
    retain: options.retain,
    properties: options.messageProperties,
  }], options);
}

/**
 * Connects, publishes the messages in order (without waiting for one acknowledgement
 * before sending the next), waits until all are done for their QoS, disconnects.
 * Rejects with the first failure.
 *
 * @example Publish a batch
 * ```ts ignore
 * import { publishMultiple } from "./helpers.ts";
 * await publishMultiple("mqtt://127.0.0.1:1883", [
 *   { topic: "a", payload: "1", qos: 1 },
 *   { topic: "b", payload: "2", qos: 2 },
 * ]);
 * ```
 */
export async function publishMultiple(
  url: string | URL,
  messages: readonly OutgoingMessageInit[],
  options: ConnectOptions = {},
): Promise<void> {
  await using client = await connect(url, withTransport(options));
  const results = messages.map((message) => {
    const publishOptions: PublishOptions = {};
    if (message.qos !== undefined) publishOptions.qos = message.qos;
    if (message.retain !== undefined) publishOptions.retain = message.retain;
    if (message.properties !== undefined) publishOptions.properties = message.properties;
    if (options.signal !== undefined) publishOptions.signal = options.signal;
    return client.publish(message.topic, message.payload ?? new Uint8Array(), publishOptions);
  });
  // Every promise is awaited, so a second failure is not left unhandled.
  const settled = await Promise.allSettled(results);
  const failed = settled.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Options of {@link subscribeSimple}. */
export interface SubscribeSimpleOptions
  extends ConnectOptions, Omit<SubscribeOptions, "signal" | "properties"> {
  /** How many messages to wait for (default 1). */
  count?: number;
  /** Whether retained messages count (default true). */
  retained?: boolean;
}

/**
 * Connects, subscribes, waits for `count` messages, disconnects, and returns them.
 * `options.signal` aborts the wait.
 *
 * @example Read the current value of a retained topic
 * ```ts ignore
 * import { subscribeSimple } from "./helpers.ts";
 * const [message] = await subscribeSimple("mqtt://127.0.0.1:1883", "devices/1/status");
 * console.log(message?.text());
 * ```
 */
export async function subscribeSimple(
  url: string | URL,
  topicFilters: string | readonly string[],
  options: SubscribeSimpleOptions = {},
): Promise<Message[]> {
  const count = options.count ?? 1;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `Cannot subscribe as 'count' must be a positive integer: current value is ${count}`,
    );
  }
  const messages: Message[] = [];
  await subscribeCallback(url, topicFilters, (message) => {
    if (options.retained === false && message.retain) return true;
    messages.push(message);
    return messages.length < count;
  }, options);
  return messages;
}

/**
 * Connects, subscribes, and calls `callback` with each message, one at a time (an async
 * callback is awaited before the next message, so a slow one slows the server down),
 * until the callback returns `false` or `options.signal` aborts; then disconnects.
 * Resolves after a `false`, rejects with `signal.reason` on abort and with what the
 * callback throws.
 *
 * @example Print messages for ten seconds
 * ```ts ignore
 * import { subscribeCallback } from "./helpers.ts";
 * await subscribeCallback("mqtt://127.0.0.1:1883", "sensors/#", (message) => {
 *   console.log(message.topic, message.text());
 * }, { signal: AbortSignal.timeout(10_000) }).catch(() => {});
 * ```
 */
export async function subscribeCallback(
  url: string | URL,
  topicFilters: string | readonly string[],
  callback: (message: Message) => unknown,
  options: ConnectOptions & Omit<SubscribeOptions, "signal" | "properties"> = {},
): Promise<void> {
  const signal = options.signal;
  await using client = await connect(url, withTransport(options));
  const subscribeOptions: SubscribeOptions = {};
  for (
    const key of ["qos", "noLocal", "retainAsPublished", "retainHandling", "highWaterMark"] as const
  ) {
    if (options[key] !== undefined) {
      (subscribeOptions as Record<string, unknown>)[key] = options[key];
    }
  }
  if (signal !== undefined) subscribeOptions.signal = signal;
  const subscription = await client.subscribe(topicFilters, subscribeOptions);
  const iterator = subscription[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    if (signal === undefined) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  for (;;) {
    const next = await Promise.race([iterator.next(), aborted]);
    if (next.done) return;
    if (await callback(next.value) === false) return;
  }
}
