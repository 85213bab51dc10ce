/**
 * {@link ClientPublishes}: the publications of an `MqttClient` from the call to the end
 * of their exchange: the checks that turn a call into an outgoing message, the
 * publications handed to the session (by packet id), the offline queue that holds them
 * while the connection is down, and how each promise settles.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { checkEncodable, checkQoS, describe, now, toBytes } from "./client_checks.ts";
import type { ClientHost } from "./client_host.ts";
import type { PublishOptions, PublishResult } from "./client_options.ts";
import { ConnectionClosedError, OfflineQueueFullError } from "./errors.ts";
import { PublishEvent } from "./events.ts";
import { OfflineQueue, type OfflineQueueOptions } from "./offline_queue.ts";
import type { QoS } from "./packet/types.ts";
import type { OutgoingMessage, SettleAction } from "./session/actions.ts";
import { validateTopicName } from "./topic.ts";

/** A pending publication: its message, its promise, and where it is. */
interface PendingPublish {
  message: OutgoingMessage;
  qos: QoS;
  resolve: (result: PublishResult) => void;
  reject: (error: unknown) => void;
  /** The session's id once handed to the session. */
  id: number | undefined;
  done: boolean;
  cleanup: (() => void) | undefined;
}

/**
 * The publications of one client: checked, handed to the session or queued offline, settled.
 *
 * @example A publication made offline leaves once the connection is up
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientPublishes } from "./client_publishes.ts";
 * import type { SessionAction } from "./session/actions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const session = new ClientSession();
 * const actions: SessionAction[] = [];
 * const host = {
 *   session, dirty() {}, run: (more) => void actions.push(...more),
 * } as Partial<ClientHost> as ClientHost;
 * const publishes = new ClientPublishes(host, { maxMessages: 10 });
 * const message = publishes.outgoing("a/b", "hello", { qos: 1 });
 * void publishes.publish(message, undefined, false); // offline: queued
 * assert.equal(publishes.offlineLength, 1);
 * session.connectPacket();
 * session.handleConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * publishes.flushOffline();
 * assert.equal(publishes.offlineLength, 0);
 * const sent = actions.find((action) => action.type === "send");
 * assert.ok(sent?.type === "send" && sent.packet.type === "publish");
 * assert.deepEqual([sent.packet.topic, sent.packet.qos], ["a/b", 1]);
 * ```
 */
export class ClientPublishes {
  #host: ClientHost;
  /** Publications handed to the session, by the session's id. */
  #pending = new Map<number, PendingPublish>();
  #offline: OfflineQueue<PendingPublish>;
  /** The last topic name that passed validation. */
  #validTopic: string | undefined;

  /** Publications of the client `host`, with the offline queue bounded by `offlineQueue`. */
  constructor(host: ClientHost, offlineQueue: OfflineQueueOptions | undefined) {
    this.#host = host;
    this.#offline = new OfflineQueue(offlineQueue);
  }

  /** How many publications wait in the offline queue. */
  get offlineLength(): number {
    return this.#offline.length;
  }

  /** Checks a publish call and makes its message; throws TypeError / RangeError if malformed. */
  outgoing(topic: string, payload: unknown, options: PublishOptions): OutgoingMessage {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot publish as 'options' must be an object: current value is ${describe(options)}`,
      );
    }
    if (topic !== this.#validTopic) {
      try {
        validateTopicName(topic);
      } catch (error) {
        throw new TypeError(`Cannot publish as 'topic' is invalid: ${(error as Error).message}`);
      }
      // Publishers tend to repeat a topic: check the next one only if it differs.
      this.#validTopic = topic;
    }
    const qos = checkQoS("publish", options.qos ?? 0);
    const retain = options.retain ?? false;
    if (typeof retain !== "boolean") {
      throw new TypeError(
        `Cannot publish as 'retain' must be a boolean: current value is ${describe(retain)}`,
      );
    }
    const properties = options.properties;
    if (properties?.topicAlias !== undefined) {
      throw new TypeError(
        "Cannot publish with 'properties.topicAlias' as the client assigns topic aliases itself",
      );
    }
    if (properties?.subscriptionIdentifiers !== undefined) {
      throw new TypeError(
        "Cannot publish with 'properties.subscriptionIdentifiers' as only servers send them [MQTT-3.3.4-6]",
      );
    }
    const message: OutgoingMessage = { topic, payload: toBytes("publish", payload), qos, retain };
    if (properties !== undefined && this.#host.session.protocolVersion === 5) {
      // Malformed properties are the caller's mistake: find them now, not when writing.
      checkEncodable({
        type: "publish",
        topic,
        payload: new Uint8Array(),
        qos: 0,
        retain: false,
        dup: false,
        properties,
      });
      message.properties = properties;
    }
    return message;
  }

  /**
   * Publishes a checked message: at once when `connected`, else through the offline
   * queue. The promise settles when the message is done for its QoS.
   */
  publish(
    message: OutgoingMessage,
    signal: AbortSignal | undefined,
    connected: boolean,
  ): Promise<PublishResult> {
    const { promise, resolve, reject } = Promise.withResolvers<PublishResult>();
    const pending: PendingPublish = {
      message,
      qos: message.qos ?? 0,
      resolve,
      reject,
      id: undefined,
      done: false,
      cleanup: undefined,
    };
    if (signal) {
      const onAbort = () => this.#abort(pending, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      pending.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    if (connected) {
      this.#publishNow(pending);
    } else {
      this.#queueOffline(pending);
    }
    return promise;
  }

  /** Hands every publication of the offline queue to the session, oldest first. */
  flushOffline(): void {
    for (const pending of this.#offline.drain()) this.#publishNow(pending);
  }

  /** The session settled a publication: settle its promise, report a `"publish"` event. */
  settle(action: SettleAction): void {
    const pending = this.#pending.get(action.id);
    this.#pending.delete(action.id);
    let reasonCode = 0;
    for (const code of action.reasonCodes) {
      if (code !== 0) {
        reasonCode = code;
        break;
      }
    }
    const qos = pending?.qos ?? 1;
    const topic = pending?.message.topic ?? "";
    const host = this.#host;
    if (action.error) {
      host.dispatch(new PublishEvent({ topic, qos, reasonCode, error: action.error }));
      if (pending) this.#finish(pending, action.error, undefined);
      return;
    }
    const result: PublishResult = { reasonCode };
    if (action.properties) result.properties = action.properties;
    if (qos === 0) {
      // Done once written: wait for the chunk that carries it.
      const conn = host.connection();
      const written = conn ? conn.written() : Promise.reject(
        new ConnectionClosedError("The connection closed before the message was written"),
      );
      written.then(
        () => {
          if (host.hasListened("publish")) {
            host.dispatch(new PublishEvent({ topic, qos, reasonCode }));
          }
          if (pending) this.#finish(pending, undefined, result);
        },
        (error) => {
          host.dispatch(new PublishEvent({ topic, qos, reasonCode, error }));
          if (pending) this.#finish(pending, error, undefined);
        },
      );
      return;
    }
    if (host.hasListened("publish")) host.dispatch(new PublishEvent({ topic, qos, reasonCode }));
    if (pending) this.#finish(pending, undefined, result);
  }

  /** The client closed: every pending and queued publication rejects with `closedError(what)`. */
  shutdown(closedError: (what: string) => unknown): void {
    for (const pending of this.#pending.values()) {
      this.#finish(pending, closedError("publication"), undefined);
    }
    this.#pending.clear();
    for (const pending of this.#offline.drain()) {
      this.#finish(pending, closedError("publication"), undefined);
    }
  }

  #publishNow(pending: PendingPublish): void {
    let result;
    try {
      result = this.#host.session.publish(pending.message, now());
    } catch (error) {
      this.#finish(pending, error, undefined);
      return;
    }
    pending.id = result.id;
    this.#pending.set(result.id, pending);
    if (pending.qos > 0) this.#host.dirty();
    this.#host.run(result.actions);
  }

  #queueOffline(pending: PendingPublish): void {
    const size = pending.message.payload.length + pending.message.topic.length + 16;
    const { accepted, dropped } = this.#offline.push(pending, size);
    for (const old of dropped) {
      this.#finish(
        old,
        new OfflineQueueFullError(
          "The offline queue dropped the message to make room for newer ones",
        ),
        undefined,
      );
    }
    if (!accepted) {
      this.#finish(
        pending,
        new OfflineQueueFullError(
          `Cannot queue the message to '${pending.message.topic}' as the offline queue is full`,
        ),
        undefined,
      );
    }
  }

  #abort(pending: PendingPublish, reason: unknown): void {
    if (pending.done) return;
    if (pending.id === undefined) {
      this.#offline.remove(pending);
    } else if (this.#host.session.cancel(pending.id)) {
      this.#pending.delete(pending.id);
      this.#host.dirty();
    }
    this.#finish(pending, reason, undefined);
  }

  #finish(pending: PendingPublish, error: unknown, result: PublishResult | undefined): void {
    if (pending.done) return;
    pending.done = true;
    pending.cleanup?.();
    if (result !== undefined) pending.resolve(result);
    else pending.reject(error);
  }
}
