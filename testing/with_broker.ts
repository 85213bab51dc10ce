/**
 * {@link withBroker}: an in-process tern broker on a free port for one test, disposed with
 * `await using`, with a control API (clients, sessions, subscriptions, retained messages,
 * disconnecting a client, injecting a message) and an optional virtual clock that makes
 * keep alive, will delay and expiry tests finish in milliseconds.
 *
 * @module
 */

import type { Broker, PublishOptions } from "../broker/broker.ts";
import type { BrokerMessage } from "../broker/message.ts";
import { ManualClock } from "../broker/scheduler.ts";
import { type RunningBroker, startBroker, type StartBrokerOptions } from "../broker/start.ts";
import type { Violation } from "../broker/violations.ts";
import type { ProtocolVersion, QoS } from "../lib/packet/types.ts";
import { topicMatches } from "../lib/topic.ts";

/**
 * Options of {@link withBroker}: those of `startBroker` (TLS, WebSocket, strict mode,
 * authentication...), with port 0 by default, plus the virtual clock.
 *
 * @example A strict broker on a virtual clock
 * ```ts
 * import type { WithBrokerOptions } from "./with_broker.ts";
 * const options: WithBrokerOptions = { strict: true, virtualClock: true };
 * ```
 */
export interface WithBrokerOptions extends Omit<StartBrokerOptions, "clock"> {
  /**
   * Run the broker on a virtual clock that only moves in {@link TestBroker.advance}:
   * `true` for a fresh one, or a `ManualClock` of your own. Default: the system clock.
   */
  virtualClock?: boolean | ManualClock;
}

/**
 * A connected client as the broker sees it.
 *
 * @example What `clients()` returns
 * ```ts
 * import type { ClientInfo } from "./with_broker.ts";
 * const info: ClientInfo = { clientId: "a", protocolVersion: 5, remoteAddress: "127.0.0.1:50000" };
 * ```
 */
export interface ClientInfo {
  /** The client id (the assigned one for an empty id). */
  clientId: string;
  /** The protocol level it connected with. */
  protocolVersion: ProtocolVersion;
  /** The user name it connected with. */
  username?: string;
  /** Its address, when the transport knows it. */
  remoteAddress?: string;
}

/**
 * A session the broker holds.
 *
 * @example What `sessions()` returns
 * ```ts
 * import type { SessionInfo } from "./with_broker.ts";
 * const info: SessionInfo = {
 *   clientId: "a", online: false, expiryInterval: 60, subscriptions: ["a/#"],
 *   queued: 2, inflight: 0, dropped: 0, willPending: true,
 * };
 * ```
 */
export interface SessionInfo {
  /** The client id it belongs to. */
  clientId: string;
  /** Whether its client is connected. */
  online: boolean;
  /** Seconds it outlives its connection (0xFFFFFFFF: never expires). */
  expiryInterval: number;
  /** Its topic filters, as subscribed. */
  subscriptions: string[];
  /** Messages waiting to be sent to it. */
  queued: number;
  /** QoS 1 and 2 messages sent to it and not yet acknowledged. */
  inflight: number;
  /** Messages dropped on their way to it. */
  dropped: number;
  /** Whether an MQTT 5 will waits for its delay. */
  willPending: boolean;
}

/**
 * A subscription the broker holds.
 *
 * @example What `subscriptions()` returns
 * ```ts
 * import type { SubscriptionInfo } from "./with_broker.ts";
 * const info: SubscriptionInfo = {
 *   clientId: "a", topicFilter: "$share/g/a/#", qos: 1, group: "g", noLocal: false, retainAsPublished: false,
 * };
 * ```
 */
export interface SubscriptionInfo {
  /** Who subscribed. */
  clientId: string;
  /** The topic filter as subscribed (with its `$share/GROUP/` prefix). */
  topicFilter: string;
  /** The QoS granted. */
  qos: QoS;
  /** The shared subscription group, if any. */
  group?: string;
  /** MQTT 5 No Local. */
  noLocal: boolean;
  /** MQTT 5 Retain As Published. */
  retainAsPublished: boolean;
  /** MQTT 5 Subscription Identifier. */
  identifier?: number;
}

/**
 * The broker of one test: its addresses, its violations, a control API and, with a
 * virtual clock, {@link advance}. Dispose it with `await using`.
 *
 * @example Disconnect a client with a reason code
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TestBroker, withBroker } from "./with_broker.ts";
 * await using broker: TestBroker = await withBroker();
 * assert.deepEqual(broker.clients(), []);
 * assert.equal(broker.disconnect("nobody", { reasonCode: 0x8e }), false);
 * ```
 */
export interface TestBroker extends AsyncDisposable {
  /** The running broker with its listeners. */
  readonly running: RunningBroker;
  /** The broker core, for anything the control API does not cover. */
  readonly broker: Broker;
  /** "mqtt://127.0.0.1:PORT". */
  readonly url: string;
  /** "mqtts://..." when started with `tls`. */
  readonly tlsUrl: string | undefined;
  /** "ws://.../mqtt" (or wss://) when started with `ws`. */
  readonly wsUrl: string | undefined;
  /** Every violation recorded, oldest first. */
  readonly violations: readonly Violation[];
  /** The virtual clock, when there is one. */
  readonly clock: ManualClock | undefined;
  /**
   * Moves the virtual clock forward by `ms`, firing keep-alive, will delay and expiry
   * timers that fall due. Throws TypeError without a virtual clock.
   */
  advance(ms: number): void;
  /** The connected clients. */
  clients(): ClientInfo[];
  /** The sessions held, online or not. */
  sessions(): SessionInfo[];
  /** The session of `clientId`, if held. */
  session(clientId: string): SessionInfo | undefined;
  /** The subscriptions held, of every client or of `clientId`. */
  subscriptions(clientId?: string): SubscriptionInfo[];
  /** The retained messages, all or those matching `topicFilter`, sorted by topic. */
  retained(topicFilter?: string): BrokerMessage[];
  /**
   * Disconnects `clientId` from the server side: MQTT 5 clients get DISCONNECT with
   * `reasonCode` (default 0x98 Administrative action). Returns false when it is not connected.
   */
  disconnect(clientId: string, options?: { reasonCode?: number }): boolean;
  /** Publishes a message from the broker itself; returns how many sessions got a copy. */
  inject(message: PublishOptions): number;
  /**
   * Resolves once `check()` returns true, checking it every 2 ms, for state the broker
   * exposes no event for; rejects after `timeout` ms (default 10,000) naming `what`.
   */
  until(check: () => boolean, options?: { timeout?: number; what?: string }): Promise<void>;
  /** Stops the broker. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a broker for one test on free ports of 127.0.0.1.
 *
 * @example A test with a broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { withBroker } from "./with_broker.ts";
 * await using broker = await withBroker({ strict: true, virtualClock: true });
 * assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
 * assert.equal(broker.inject({ topic: "status", payload: "up", retain: true }), 0);
 * assert.deepEqual(broker.retained().map((m) => m.topic), ["status"]);
 * broker.advance(60_000);
 * assert.deepEqual(broker.violations, []);
 * ```
 */
export async function withBroker(options: WithBrokerOptions = {}): Promise<TestBroker> {
  const { virtualClock, ...rest } = options;
  const clock = virtualClock === true
    ? new ManualClock()
    : virtualClock instanceof ManualClock
    ? virtualClock
    : undefined;
  const running = await startBroker({
    ...rest,
    port: rest.port ?? 0,
    ...(rest.tls === undefined ? {} : { tls: { ...rest.tls, port: rest.tls.port ?? 0 } }),
    ...(rest.ws === undefined ? {} : { ws: { ...rest.ws, port: rest.ws.port ?? 0 } }),
    ...(clock === undefined ? {} : { clock }),
  });
  return new HarnessBroker(running, clock);
}

class HarnessBroker implements TestBroker {
  readonly running: RunningBroker;
  readonly clock: ManualClock | undefined;

  constructor(running: RunningBroker, clock: ManualClock | undefined) {
    this.running = running;
    this.clock = clock;
  }

  get broker(): Broker {
    return this.running.broker;
  }

  get url(): string {
    return this.running.url;
  }

  get tlsUrl(): string | undefined {
    return this.running.tlsUrl;
  }

  get wsUrl(): string | undefined {
    return this.running.wsUrl;
  }

  get violations(): readonly Violation[] {
    return this.running.violations;
  }

  advance(ms: number): void {
    if (this.clock === undefined) {
      throw new TypeError(
        "Cannot advance the clock as the broker runs on the system clock: pass 'virtualClock: true'",
      );
    }
    this.clock.advance(ms);
  }

  clients(): ClientInfo[] {
    return this.broker.listConnections().map((connection) => ({
      clientId: connection.clientId!,
      protocolVersion: connection.protocolVersion,
      ...(connection.username === undefined ? {} : { username: connection.username }),
      ...(connection.remoteAddress === undefined
        ? {}
        : { remoteAddress: connection.remoteAddress }),
    }));
  }

  sessions(): SessionInfo[] {
    return this.broker.listSessions().map((session) => ({
      clientId: session.clientId,
      online: session.connection !== undefined,
      expiryInterval: session.expiryInterval,
      subscriptions: [...session.subscriptions.values()].map((entry) => entry.filter),
      queued: session.queue.length,
      inflight: session.outbound.size,
      dropped: session.dropped,
      willPending: session.pendingWill !== undefined,
    }));
  }

  session(clientId: string): SessionInfo | undefined {
    return this.sessions().find((session) => session.clientId === clientId);
  }

  subscriptions(clientId?: string): SubscriptionInfo[] {
    const found: SubscriptionInfo[] = [];
    for (const session of this.broker.listSessions()) {
      if (clientId !== undefined && session.clientId !== clientId) continue;
      for (const entry of session.subscriptions.values()) {
        found.push({
          clientId: entry.clientId,
          topicFilter: entry.filter,
          qos: entry.qos,
          ...(entry.group === undefined ? {} : { group: entry.group }),
          noLocal: entry.noLocal,
          retainAsPublished: entry.retainAsPublished,
          ...(entry.identifier === undefined ? {} : { identifier: entry.identifier }),
        });
      }
    }
    return found;
  }

  retained(topicFilter?: string): BrokerMessage[] {
    return this.broker.listRetained()
      .filter((message) => topicFilter === undefined || topicMatches(topicFilter, message.topic))
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  disconnect(clientId: string, options: { reasonCode?: number } = {}): boolean {
    const code = options.reasonCode ?? 0x98;
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw new RangeError(
        `Cannot disconnect as 'reasonCode' must be an integer from 0 to 255: current value is ${
          String(code)
        }`,
      );
    }
    return this.broker.disconnectClient(clientId, code);
  }

  inject(message: PublishOptions): number {
    return this.broker.publish(message);
  }

  async until(
    check: () => boolean,
    options: { timeout?: number; what?: string } = {},
  ): Promise<void> {
    const timeout = options.timeout ?? 10_000;
    const deadline = Date.now() + timeout;
    while (!check()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out after ${timeout} ms waiting for ${options.what ?? "the condition"}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  close(): Promise<void> {
    return this.running.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
