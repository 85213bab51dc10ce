/**
 * The broker's `$SYS/broker/...` statistics topics: retained messages the broker
 * publishes itself every `sysInterval` seconds on its own clock. Subscribers must name
 * `$SYS` explicitly: a leading wildcard does not match topics starting with "$"
 * (MQTT-4.7.2-1).
 *
 * @module
 */

import type { BrokerStats, PublishOptions } from "./broker.ts";
import type { ScheduledTask, Scheduler } from "./scheduler.ts";

/** The broker's version, as published on `$SYS/broker/version`. */
export const BROKER_VERSION = "tern 0.1.0";

/**
 * The `$SYS` topics and what each carries (a decimal number as UTF-8 text unless said
 * otherwise). The names follow the convention other brokers share, so existing
 * dashboards find them.
 *
 * @example Subscribe to the connected-clients count
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYS_TOPICS } from "./sys_topics.ts";
 * assert.equal(SYS_TOPICS.clientsConnected, "$SYS/broker/clients/connected");
 * ```
 */
export const SYS_TOPICS = {
  /** "tern X.Y.Z". */
  version: "$SYS/broker/version",
  /** "N seconds" since the broker started. */
  uptime: "$SYS/broker/uptime",
  /** Connections open now. */
  clientsConnected: "$SYS/broker/clients/connected",
  /** Sessions held, online or offline. */
  clientsTotal: "$SYS/broker/clients/total",
  /** PUBLISH packets received from clients since start. */
  messagesReceived: "$SYS/broker/messages/received",
  /** PUBLISH packets sent to clients since start. */
  messagesSent: "$SYS/broker/messages/sent",
  /** Messages dropped on their way to clients since start. */
  messagesDropped: "$SYS/broker/messages/dropped",
  /** Bytes read from clients since start. */
  bytesReceived: "$SYS/broker/bytes/received",
  /** Bytes written to clients since start. */
  bytesSent: "$SYS/broker/bytes/sent",
  /** Retained messages held (these `$SYS` messages included). */
  retainedCount: "$SYS/broker/retained messages/count",
  /** Subscriptions held. */
  subscriptionsCount: "$SYS/broker/subscriptions/count",
} as const;

/** What {@link SysTopics} reads and publishes through: the broker. */
export interface SysTopicsSource {
  /** The counters to publish. */
  readonly stats: BrokerStats;
  /** Publishes a message from the broker itself. */
  publish(options: PublishOptions): number;
}

/**
 * Publishes the `$SYS` topics now and then every `intervalSeconds` until
 * {@link stop}. A value is published again only when it changed (the uptime always
 * changes), so an idle broker stays quiet but for the uptime.
 *
 * @example Publish on a manual clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * import { ManualClock, Scheduler } from "./scheduler.ts";
 * import { SYS_TOPICS, SysTopics } from "./sys_topics.ts";
 *
 * const clock = new ManualClock(0);
 * await using broker = new Broker({ clock });
 * const sys = new SysTopics(broker, new Scheduler(clock), 10);
 * sys.start();
 * assert.equal(sys.lastPublished.get(SYS_TOPICS.uptime), "0 seconds");
 * clock.advance(10_000);
 * assert.equal(sys.lastPublished.get(SYS_TOPICS.uptime), "10 seconds");
 * sys.stop();
 * ```
 */
export class SysTopics {
  #source: SysTopicsSource;
  #scheduler: Scheduler;
  #intervalMs: number;
  #startedAt: number | undefined = undefined;
  #task: ScheduledTask | undefined = undefined;
  #last = new Map<string, string>();

  /** `$SYS` publishing for `source` every `intervalSeconds` (at least 1) on `scheduler`. */
  constructor(source: SysTopicsSource, scheduler: Scheduler, intervalSeconds: number) {
    if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1) {
      throw new RangeError(
        `Cannot publish $SYS topics as 'intervalSeconds' must be a positive integer: current value is ${
          String(intervalSeconds)
        }`,
      );
    }
    this.#source = source;
    this.#scheduler = scheduler;
    this.#intervalMs = intervalSeconds * 1000;
  }

  /** The payload last published on each topic. */
  get lastPublished(): ReadonlyMap<string, string> {
    return this.#last;
  }

  /** Publishes every topic now and schedules the next rounds. Idempotent. */
  start(): void {
    if (this.#startedAt !== undefined) return;
    const now = this.#scheduler.clock.now();
    this.#startedAt = now;
    this.publishNow(now);
  }

  /** Stops publishing; the retained messages stay. */
  stop(): void {
    this.#task?.cancel();
    this.#task = undefined;
  }

  /** Publishes the values that changed since the last round, as of `now`. */
  publishNow(now: number = this.#scheduler.clock.now()): void {
    const startedAt = this.#startedAt ??= now;
    const stats = this.#source.stats;
    this.#put(SYS_TOPICS.version, BROKER_VERSION);
    this.#put(SYS_TOPICS.uptime, `${Math.floor((now - startedAt) / 1000)} seconds`);
    this.#put(SYS_TOPICS.clientsConnected, String(stats.clientsConnected));
    this.#put(SYS_TOPICS.clientsTotal, String(stats.sessions));
    this.#put(SYS_TOPICS.messagesReceived, String(stats.messagesReceived));
    this.#put(SYS_TOPICS.messagesSent, String(stats.messagesSent));
    this.#put(SYS_TOPICS.messagesDropped, String(stats.messagesDropped));
    this.#put(SYS_TOPICS.bytesReceived, String(stats.bytesReceived));
    this.#put(SYS_TOPICS.bytesSent, String(stats.bytesSent));
    this.#put(SYS_TOPICS.subscriptionsCount, String(stats.subscriptions));
    // Last, so the count includes the other $SYS messages, and this one once stored.
    const retained = this.#source.stats.retainedMessages;
    const own = this.#last.has(SYS_TOPICS.retainedCount) ? 0 : 1;
    this.#put(SYS_TOPICS.retainedCount, String(retained + own));
    this.#task?.cancel();
    this.#task = this.#scheduler.schedule(now + this.#intervalMs, (at) => this.publishNow(at));
  }

  #put(topic: string, payload: string): void {
    if (this.#last.get(topic) === payload) return;
    this.#last.set(topic, payload);
    this.#source.publish({ topic, payload, qos: 0, retain: true });
  }
}
