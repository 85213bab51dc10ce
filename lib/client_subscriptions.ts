/**
 * {@link ClientSubscriptions}: the subscriptions of an `MqttClient`: SUBSCRIBE and
 * UNSUBSCRIBE requests under way, the routes that take incoming messages to each
 * subscription's buffer (or to `client.messages` when none claims them), filters a
 * reconnection failed to restore, and the accounting of acknowledgements held back by
 * readers, which decides when the client stops reading the connection.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { checkEncodable, checkPositiveInteger, checkQoS, describe, now } from "./client_checks.ts";
import type { ClientHost } from "./client_host.ts";
import type { SubscribeOptions } from "./client_options.ts";
import { SubscribeError, UnsubscribeError } from "./errors.ts";
import {
  MessageArrivedEvent,
  SubscribeEvent,
  SubscriptionLostEvent,
  UnsubscribeEvent,
} from "./events.ts";
import { Message } from "./message.ts";
import type { Subscription as SubscriptionOptions } from "./packet/types.ts";
import type { DeliverAction, SettleAction } from "./session/actions.ts";
import { MessageBuffer, Subscription, type SubscriptionOwner } from "./subscription.ts";
import { parseSharedSubscription, topicMatches, validateTopicFilter } from "./topic.ts";

/** Where the messages of one subscribe() call go. */
interface Route {
  filters: string[];
  /** Filters as matched against topic names (shared subscriptions by their inner filter). */
  match: string[];
  buffer: MessageBuffer;
  subscription: Subscription | undefined;
  /** Takes in messages: not closed, not failed. */
  live: boolean;
  /** Its UNSUBSCRIBE is under way (it still takes in messages until the UNSUBACK). */
  leaving: boolean;
  /** The MQTT 5 Subscription Identifier it was made with, if any. */
  identifier: number | undefined;
  /** Acknowledgements wait for `message.ack()` (option `ack: "manual"`). */
  manual: boolean;
}

interface PendingSubscribe {
  route: Route;
  resolve: (subscription: Subscription) => void;
  reject: (error: unknown) => void;
  aborted: boolean;
  cleanup: (() => void) | undefined;
}

interface PendingUnsubscribe {
  route: Route;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Settings of {@link ClientSubscriptions}, from the client's options.
 *
 * @example A buffer of one message, and one held acknowledgement at most
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientSubscriptions, type ClientSubscriptionsOptions } from "./client_subscriptions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const options: ClientSubscriptionsOptions = { highWaterMark: 1, holdLimit: 1, ack: undefined };
 * const host = {
 *   session: new ClientSession(), hasListened: () => false,
 * } as Partial<ClientHost> as ClientHost;
 * const subscriptions = new ClientSubscriptions(host, options);
 * const message = { topic: "a", payload: new Uint8Array(), retain: false, dup: false };
 * subscriptions.deliver({ type: "deliver", message: { ...message, qos: 0 }, token: undefined });
 * assert.equal(subscriptions.unclaimed.full, true);
 * assert.equal(subscriptions.takeCongested(), subscriptions.unclaimed);
 * assert.equal(subscriptions.overHoldLimit, false);
 * subscriptions.deliver({ type: "deliver", message: { ...message, qos: 1 }, token: 1 });
 * assert.equal(subscriptions.overHoldLimit, true); // the read loop stops here
 * ```
 */
export interface ClientSubscriptionsOptions {
  /** Messages a subscription holds for its reader by default. */
  highWaterMark: number;
  /** Delivered QoS 1/2 messages held unacknowledged before the client stops reading. */
  holdLimit: number;
  /** The default `ack` of subscriptions, and the mode of `client.messages`. */
  ack: "auto" | "manual" | undefined;
}

/** What a manual route's buffer releases: nothing (the message's `ack()` does). */
const HOLD = (): void => {};

/**
 * The subscriptions of one client, and where incoming messages go.
 *
 * @example Messages go to the subscription whose filter matches, others to `unclaimed`
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientSubscriptions } from "./client_subscriptions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const host = {
 *   session: new ClientSession(), assertOpen() {}, dirty() {}, run() {}, dispatch() {},
 *   hasListened: () => false,
 * } as Partial<ClientHost> as ClientHost;
 * const subscriptions = new ClientSubscriptions(host, {
 *   highWaterMark: 10, holdLimit: 10, ack: undefined,
 * });
 * const subscribing = subscriptions.subscribe("sensors/+", { qos: 1 });
 * // The session's SUBACK settlement (request 1, granted QoS 1):
 * subscriptions.settleSubscribe({
 *   type: "settle", id: 1, request: "subscribe", reasonCodes: [1], topicFilters: ["sensors/+"],
 * });
 * const subscription = await subscribing;
 * const message = { payload: new Uint8Array([1]), qos: 0 as const, retain: false, dup: false };
 * subscriptions.deliver({ type: "deliver", message: { ...message, topic: "sensors/a" }, token: undefined });
 * subscriptions.deliver({ type: "deliver", message: { ...message, topic: "other" }, token: undefined });
 * assert.equal(subscription.buffered, 1);
 * assert.equal(subscriptions.unclaimed.length, 1);
 * ```
 */
export class ClientSubscriptions {
  #host: ClientHost;
  #highWaterMark: number;
  #ack: "auto" | "manual" | undefined;
  #subscribes = new Map<number, PendingSubscribe>();
  #unsubscribes = new Map<number, PendingUnsubscribe>();
  #routes = new Set<Route>();
  #messages: MessageBuffer;
  #owner: SubscriptionOwner;
  /** A buffer a QoS 0 message just filled: the read loop lets its reader catch up. */
  #congested: MessageBuffer | undefined;
  /** Delivered QoS 1/2 messages whose acknowledgement the buffers still hold back. */
  #held = 0;
  #holdLimit: number;
  #drainWaiters: (() => void)[] = [];

  /** Subscriptions of the client `host`. */
  constructor(host: ClientHost, options: ClientSubscriptionsOptions) {
    this.#host = host;
    this.#highWaterMark = options.highWaterMark;
    this.#holdLimit = options.holdLimit;
    this.#ack = options.ack;
    this.#messages = new MessageBuffer({ highWaterMark: this.#highWaterMark });
    this.#owner = { unsubscribe: (subscription) => this.#unsubscribe(subscription) };
  }

  /** The buffer of the messages no subscription claims (`client.messages`). */
  get unclaimed(): MessageBuffer {
    return this.#messages;
  }

  /** Whether so many acknowledgements are held back that the client must stop reading. */
  get overHoldLimit(): boolean {
    return this.#held >= this.#holdLimit;
  }

  /** Resolves once readers released acknowledgements (or a connection was lost). */
  readersCaughtUp(): Promise<void> {
    return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The buffer a QoS 0 message filled since the last call, if any; forgets it. */
  takeCongested(): MessageBuffer | undefined {
    const congested = this.#congested;
    this.#congested = undefined;
    return congested;
  }

  /**
   * Subscribes (see `MqttClient.subscribe`): checks the call, hands the SUBSCRIBE to the
   * session, and resolves with the {@link Subscription} on SUBACK.
   */
  async subscribe(
    topicFilters: string | readonly string[],
    options: SubscribeOptions,
  ): Promise<Subscription> {
    const filters = typeof topicFilters === "string" ? [topicFilters] : [...topicFilters];
    if (filters.length === 0) {
      throw new TypeError("Cannot subscribe as 'topicFilters' must not be empty");
    }
    const match: string[] = [];
    for (const filter of filters) {
      try {
        validateTopicFilter(filter);
        match.push(parseSharedSubscription(filter)?.filter ?? filter);
      } catch (error) {
        throw new TypeError(
          `Cannot subscribe as a topic filter is invalid: ${(error as Error).message}`,
        );
      }
    }
    const qos = checkQoS("subscribe", options.qos ?? 0);
    const highWaterMark = options.highWaterMark ?? this.#highWaterMark;
    checkPositiveInteger("subscribe", "highWaterMark", highWaterMark);
    const ack = options.ack ?? this.#ack ?? "auto";
    if (ack !== "auto" && ack !== "manual") {
      throw new TypeError(
        `Cannot subscribe as 'ack' must be "auto" or "manual": current value is ${describe(ack)}`,
      );
    }
    const { signal } = options;
    signal?.throwIfAborted();
    this.#host.assertOpen("subscribe");
    const v5 = this.#host.session.protocolVersion === 5;
    const subscriptions: SubscriptionOptions[] = filters.map((topicFilter) => {
      const subscription: SubscriptionOptions = { topicFilter, qos };
      if (v5) {
        if (options.noLocal !== undefined) subscription.noLocal = options.noLocal;
        if (options.retainAsPublished !== undefined) {
          subscription.retainAsPublished = options.retainAsPublished;
        }
        if (options.retainHandling !== undefined) {
          subscription.retainHandling = options.retainHandling;
        }
      }
      return subscription;
    });
    const route: Route = {
      filters,
      match,
      buffer: new MessageBuffer({ highWaterMark }),
      subscription: undefined,
      live: true,
      leaving: false,
      identifier: v5 ? options.properties?.subscriptionIdentifiers?.[0] : undefined,
      manual: ack === "manual",
    };
    const request = v5 && options.properties
      ? { subscriptions, properties: options.properties }
      : { subscriptions };
    checkEncodable({ type: "subscribe", packetId: 1, ...request });
    const { id, actions } = this.#host.session.subscribe(request, now());
    this.#routes.add(route);
    this.#host.dirty();
    const { promise, resolve, reject } = Promise.withResolvers<Subscription>();
    const pending: PendingSubscribe = {
      route,
      resolve,
      reject,
      aborted: false,
      cleanup: undefined,
    };
    this.#subscribes.set(id, pending);
    if (signal) {
      const onAbort = () => {
        pending.cleanup = undefined;
        if (this.#host.session.cancel(id)) {
          this.#subscribes.delete(id);
          this.#dropRoute(route);
        } else {
          pending.aborted = true; // the SUBACK will undo it
        }
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      pending.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    this.#host.run(actions);
    return await promise;
  }

  /** The session settled a SUBSCRIBE: resolve or reject its promise, or undo an aborted one. */
  settleSubscribe(action: SettleAction): void {
    const filters = action.topicFilters ?? [];
    this.#host.dispatch(new SubscribeEvent(filters, action.reasonCodes));
    const pending = this.#subscribes.get(action.id);
    if (pending === undefined) { // a subscription the session restored by itself
      if (action.restored) this.#restoreFailed(action);
      return;
    }
    this.#subscribes.delete(action.id);
    pending.cleanup?.();
    const { route } = pending;
    if (pending.aborted) {
      this.#dropRoute(route);
      const orphans = filters.filter((filter, i) =>
        action.reasonCodes[i]! < 0x80 && !this.#heldElsewhere(filter, route)
      );
      if (orphans.length > 0 && this.#host.state() !== "closed") {
        const { actions } = this.#host.session.unsubscribe({ topicFilters: orphans }, now());
        this.#host.dirty();
        this.#host.run(actions);
      }
      return;
    }
    const granted = action.reasonCodes.map((code) => code < 0x80);
    if (!granted.includes(true)) {
      this.#dropRoute(route);
      const error = new SubscribeError({
        topicFilters: filters,
        reasonCodes: action.reasonCodes,
        properties: action.properties,
      });
      pending.reject(error);
      return;
    }
    route.match = route.match.filter((_, i) => granted[i]);
    const subscription = new Subscription({
      topicFilters: route.filters,
      reasonCodes: action.reasonCodes,
      buffer: route.buffer,
      owner: this.#owner,
    });
    route.subscription = subscription;
    pending.resolve(subscription);
  }

  /**
   * The server refused to restore filters after a reconnection: the routes holding them
   * stop matching them, a route left with none ends with a `SubscribeError`, and a
   * `"subscriptionlost"` event tells which.
   */
  #restoreFailed(action: SettleAction): void {
    const filters = action.topicFilters ?? [];
    const codeOf = new Map<string, number>();
    filters.forEach((filter, i) => {
      if (action.reasonCodes[i]! >= 0x80) codeOf.set(filter, action.reasonCodes[i]!);
    });
    if (codeOf.size === 0) return;
    const claimed = new Set<string>();
    for (const route of [...this.#routes]) {
      if (!route.live || route.leaving) continue;
      const lost = route.filters.filter((filter) => codeOf.has(filter));
      if (lost.length === 0) continue;
      for (const filter of lost) claimed.add(filter);
      const gone = new Set(lost.map((filter) => parseSharedSubscription(filter)?.filter ?? filter));
      route.match = route.match.filter((filter) => !gone.has(filter));
      const error = new SubscribeError({
        topicFilters: lost,
        reasonCodes: lost.map((filter) => codeOf.get(filter)!),
        properties: action.properties,
      });
      this.#host.log("error", `A subscription was not restored: ${error.message}`, error);
      if (route.match.length === 0) {
        route.live = false;
        this.#routes.delete(route);
        route.buffer.error(error);
      }
      this.#host.dispatch(
        new SubscriptionLostEvent({
          topicFilters: lost,
          reasonCodes: error.reasonCodes,
          error,
          subscription: route.subscription,
        }),
      );
    }
    const unclaimed = filters.filter((filter) => codeOf.has(filter) && !claimed.has(filter));
    if (unclaimed.length > 0) {
      const error = new SubscribeError({
        topicFilters: unclaimed,
        reasonCodes: unclaimed.map((filter) => codeOf.get(filter)!),
        properties: action.properties,
      });
      this.#host.log("error", `A subscription was not restored: ${error.message}`, error);
      this.#host.dispatch(
        new SubscriptionLostEvent({
          topicFilters: unclaimed,
          reasonCodes: error.reasonCodes,
          error,
        }),
      );
    }
  }

  /** Whether another live route holds `filter`. */
  #heldElsewhere(filter: string, except: Route): boolean {
    for (const route of this.#routes) {
      if (route !== except && route.live && !route.leaving && route.filters.includes(filter)) {
        return true;
      }
    }
    return false;
  }

  /** Removes a route; messages it holds go to `client.messages`. */
  #dropRoute(route: Route): void {
    route.live = false;
    this.#routes.delete(route);
    // A message still awaiting its `ack()` must not be dropped as QoS 0 would be.
    const keep = route.manual ? () => {} : undefined;
    for (const message of route.buffer.takeAll()) {
      this.#messages.push(message, message.qos > 0 ? keep : undefined);
    }
    route.buffer.close();
  }

  async #unsubscribe(subscription: Subscription): Promise<void> {
    let route: Route | undefined;
    for (const candidate of this.#routes) {
      if (candidate.subscription === subscription) route = candidate;
    }
    if (route === undefined || !route.live || route.leaving) return;
    if (this.#host.state() === "closed" || this.#host.state() === "closing") {
      this.#closeRoute(route);
      return;
    }
    const topicFilters = route.filters.filter((filter) => !this.#heldElsewhere(filter, route));
    route.leaving = true;
    if (topicFilters.length === 0) {
      this.#closeRoute(route);
      return;
    }
    const { id, actions } = this.#host.session.unsubscribe({ topicFilters }, now());
    this.#host.dirty();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#unsubscribes.set(id, { route, resolve, reject });
    this.#host.run(actions);
    return await promise;
  }

  #closeRoute(route: Route): void {
    route.live = false;
    this.#routes.delete(route);
    route.buffer.close();
  }

  /** The session settled an UNSUBSCRIBE: close its route and settle its promise. */
  settleUnsubscribe(action: SettleAction): void {
    const filters = action.topicFilters ?? [];
    this.#host.dispatch(new UnsubscribeEvent(filters, action.reasonCodes));
    const pending = this.#unsubscribes.get(action.id);
    if (pending === undefined) return;
    this.#unsubscribes.delete(action.id);
    this.#closeRoute(pending.route);
    if (action.reasonCodes.some((code) => code >= 0x80)) {
      pending.reject(
        new UnsubscribeError({
          topicFilters: filters,
          reasonCodes: action.reasonCodes,
          properties: action.properties,
        }),
      );
    } else {
      pending.resolve();
    }
  }

  /**
   * A message arrived: into the buffer of each live route that matches it, or of
   * `client.messages` when none does; its acknowledgement leaves once every buffer
   * released it (or at its `ack()` for manual routes).
   */
  deliver(action: DeliverAction): void {
    const targets: Route[] = [];
    // A server sends one copy per matching subscription, each with the identifiers of the
    // subscriptions it stands for: a subscription made with an identifier takes only the
    // copies that carry it.
    const identifiers = action.message.properties?.subscriptionIdentifiers;
    const topic = action.message.topic;
    for (const route of this.#routes) {
      if (!route.live) continue;
      if (
        route.identifier !== undefined && identifiers !== undefined && identifiers.length > 0 &&
        !identifiers.includes(route.identifier)
      ) continue;
      for (const filter of route.match) {
        if (topicMatches(filter, topic)) {
          targets.push(route);
          break;
        }
      }
    }
    const token = action.token;
    let release: (() => void) | undefined;
    // Manual routes share one acknowledgement: the first `message.ack()`.
    const manual = token !== undefined &&
      (targets.length === 0 ? this.#ack === "manual" : targets.some((r) => r.manual));
    let message: Message;
    if (manual) {
      message = new Message({
        ...action.message,
        acknowledge: () => {
          release!();
          return this.#host.persist();
        },
      });
    } else {
      message = new Message(action.message);
    }
    if (this.#host.hasListened("message")) this.#host.dispatch(new MessageArrivedEvent(message));
    if (token !== undefined) {
      let automatic = 0;
      for (const route of targets) if (!route.manual) automatic++;
      let remaining = Math.max(1, automatic + (manual ? 1 : 0));
      this.#held++;
      release = () => {
        if (--remaining !== 0) return;
        this.#held--;
        if (this.#held < this.#holdLimit) this.wakeReaders();
        this.#acknowledge(token);
      };
    }
    const hold = release === undefined ? undefined : HOLD;
    // A QoS 0 message that fills a buffer (not one that finds it full: its reader may
    // never read) lets the read loop pause for the reader.
    if (targets.length === 0) {
      const full = this.#messages.full;
      this.#messages.push(message, manual ? hold : release);
      if (token === undefined && !full && this.#messages.full) this.#congested = this.#messages;
    } else {
      for (const route of targets) {
        const full = route.buffer.full;
        route.buffer.push(message, route.manual ? hold : release);
        if (token === undefined && !full && route.buffer.full) this.#congested = route.buffer;
      }
    }
  }

  /** Wakes the read loop waiting for readers to catch up. */
  wakeReaders(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  #acknowledge(token: number): void {
    if (this.#host.state() === "closed") return;
    const actions = this.#host.session.acknowledge(token, now());
    this.#host.dirty();
    this.#host.run(actions);
  }

  /**
   * The client closed: requests under way reject with `closedError(what)`, buffers end
   * (with `error`, when the client closed on one) after the messages they hold.
   */
  shutdown(closedError: (what: string) => unknown, error: unknown): void {
    for (const pending of this.#subscribes.values()) {
      pending.cleanup?.();
      pending.reject(closedError("subscription"));
    }
    this.#subscribes.clear();
    for (const pending of this.#unsubscribes.values()) {
      pending.reject(closedError("unsubscription"));
    }
    this.#unsubscribes.clear();
    for (const route of this.#routes) {
      route.live = false;
      if (error === undefined) route.buffer.close();
      else route.buffer.error(error);
    }
    this.#routes.clear();
    if (error === undefined) this.#messages.close();
    else this.#messages.error(error);
  }
}
