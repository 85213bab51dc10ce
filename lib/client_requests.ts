/**
 * {@link ClientRequests}: MQTT 5 request / response for an `MqttClient`: the response
 * inbox (a subscription made on first use), the Correlation Data of each request, and
 * the wait for the matching response.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { describe } from "./client_checks.ts";
import type { ClientHost } from "./client_host.ts";
import type { RequestOptions } from "./client_options.ts";
import type { ClientPublishes } from "./client_publishes.ts";
import type { ClientSubscriptions } from "./client_subscriptions.ts";
import { MqttError } from "./errors.ts";
import type { Message } from "./message.ts";

/** Where responses to {@link MqttClient.request} arrive. */
interface ResponseInbox {
  topic: string;
  waiting: Map<string, { resolve: (message: Message) => void; reject: (error: unknown) => void }>;
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/**
 * The requests of one client and the inbox their responses come back to.
 *
 * @example Request / response needs MQTT 5
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientPublishes } from "./client_publishes.ts";
 * import { ClientRequests } from "./client_requests.ts";
 * import { ClientSubscriptions } from "./client_subscriptions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const session = new ClientSession({ protocolVersion: 4 });
 * const host = { session } as Partial<ClientHost> as ClientHost;
 * const publishes = new ClientPublishes(host, undefined);
 * const subscriptions = new ClientSubscriptions(host, {
 *   highWaterMark: 10, holdLimit: 10, ack: undefined,
 * });
 * const requests = new ClientRequests(host, publishes, subscriptions);
 * await assert.rejects(requests.request("rpc/add", "[1,2]", {}), {
 *   name: "TypeError",
 *   message:
 *     "Cannot send a request as it needs MQTT 5 (Response Topic, Correlation Data): the client uses protocol level 4",
 * });
 * ```
 */
export class ClientRequests {
  #host: ClientHost;
  #publishes: ClientPublishes;
  #subscriptions: ClientSubscriptions;
  #inbox: Promise<ResponseInbox> | undefined;

  /** Requests of the client `host`, published and subscribed through its collaborators. */
  constructor(host: ClientHost, publishes: ClientPublishes, subscriptions: ClientSubscriptions) {
    this.#host = host;
    this.#publishes = publishes;
    this.#subscriptions = subscriptions;
  }

  /** Sends a request and resolves with its response; see `MqttClient.request`. */
  async request(
    topic: string,
    payload: string | Uint8Array | ArrayBuffer | ArrayBufferView,
    options: RequestOptions,
  ): Promise<Message> {
    if (this.#host.session.protocolVersion !== 5) {
      throw new TypeError(
        `Cannot send a request as it needs MQTT 5 (Response Topic, Correlation Data): the client uses protocol level ${this.#host.session.protocolVersion}`,
      );
    }
    const timeout = options.timeout ?? 30_000;
    if (typeof timeout !== "number" || !(timeout > 0)) {
      throw new RangeError(
        `Cannot send a request as 'timeout' must be a positive number of milliseconds: current value is ${
          describe(timeout)
        }`,
      );
    }
    const message = this.#publishes.outgoing(topic, payload, {
      qos: options.qos ?? 1,
      properties: options.properties,
    });
    const { signal } = options;
    signal?.throwIfAborted();
    this.#host.assertOpen("send a request");
    const inbox = await this.#responseInbox(signal);
    const correlation = crypto.getRandomValues(new Uint8Array(16));
    const key = hex(correlation);
    message.properties = {
      ...message.properties,
      responseTopic: inbox.topic,
      correlationData: correlation,
    };
    const { promise, resolve, reject } = Promise.withResolvers<Message>();
    inbox.waiting.set(key, { resolve, reject });
    const timer = setTimeout(
      () => reject(new MqttError(`No response to the request on '${topic}' within ${timeout} ms`)),
      timeout,
    );
    const onAbort = () => reject(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await Promise.race([
        this.#publishes.publish(message, signal, this.#host.state() === "connected"),
        promise,
      ]);
      return await promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      inbox.waiting.delete(key);
    }
  }

  /** The subscription responses come back to, made on first use. */
  #responseInbox(signal: AbortSignal | undefined): Promise<ResponseInbox> {
    if (this.#inbox === undefined) {
      const topic = `tern/responses/${hex(crypto.getRandomValues(new Uint8Array(8)))}`;
      const waiting: ResponseInbox["waiting"] = new Map();
      const pending = this.#subscriptions.subscribe(topic, { qos: 1 }).then((subscription) => {
        (async () => {
          try {
            for await (const message of subscription) {
              const data = message.correlationData;
              if (data !== undefined) waiting.get(hex(data))?.resolve(message);
            }
          } catch (error) {
            for (const waiter of waiting.values()) waiter.reject(error);
          }
        })();
        return { topic, waiting };
      });
      this.#inbox = pending;
      pending.catch(() => {
        if (this.#inbox === pending) this.#inbox = undefined;
      });
    }
    const inbox = this.#inbox;
    if (signal === undefined) return inbox;
    return Promise.race([
      inbox,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    ]);
  }
}
