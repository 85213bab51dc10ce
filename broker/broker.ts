/**
 * The runtime-agnostic broker: sessions by client id, the subscription tree, retained
 * messages, timers and the violation log, serving any {@link Transport} it is given.
 * Listeners (TCP, TLS, WebSocket) are wired by `startBroker` in start.ts; this file
 * names no runtime.
 *
 * @module
 */

import type { QoS } from "../lib/packet/types.ts";
import type { Properties } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";
import { isValidTopicName } from "../lib/topic.ts";
import { type BrokerContext, Connection, type ConnectionSink } from "./connection.ts";
import { type BrokerMessage, forwardedProperties } from "./message.ts";
import {
  type Authenticate,
  type Authorize,
  type AuthorizeRequest,
  type BrokerOptions,
  resolveBrokerOptions,
  type ResolvedBrokerOptions,
} from "./options.ts";
import { RetainedStore } from "./retained.ts";
import { type Clock, Scheduler, systemClock } from "./scheduler.ts";
import {
  type Delivery,
  type ServerSession,
  type SubscriptionEntry,
  subscriptionKey,
} from "./sessions.ts";
import { SubscriptionTree } from "./subscription_tree.ts";
import { SysTopics } from "./sys_topics.ts";
import { TransportPump, type TransportPumpOptions } from "./transport_pump.ts";
import { type Violation, ViolationLog } from "./violations.ts";

/**
 * Counters of what the broker did since it started.
 *
 * @example Read the counters
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * await using broker = new Broker();
 * assert.equal(broker.stats.messagesReceived, 0);
 * ```
 */
export interface BrokerStats {
  /** Connections open now (CONNACK sent, not closed). */
  readonly clientsConnected: number;
  /** Sessions held, online or not. */
  readonly sessions: number;
  /** Subscriptions held. */
  readonly subscriptions: number;
  /** Retained messages held. */
  readonly retainedMessages: number;
  /** PUBLISH packets received from clients. */
  readonly messagesReceived: number;
  /** PUBLISH packets sent to clients. */
  readonly messagesSent: number;
  /**
   * Messages dropped on their way to a client: its queue was full, it read too slowly
   * (QoS 0), the message expired or was too large for it.
   */
  readonly messagesDropped: number;
  /** Bytes read from clients. */
  readonly bytesReceived: number;
  /** Bytes written to clients. */
  readonly bytesSent: number;
}

/**
 * A message the broker publishes itself, through {@link Broker.publish}.
 *
 * @example A server-side message
 * ```ts
 * import type { PublishOptions } from "./broker.ts";
 * const message: PublishOptions = { topic: "status", payload: "up", qos: 1, retain: true };
 * ```
 */
export interface PublishOptions {
  /** The topic name. */
  topic: string;
  /** The payload; a string is sent as UTF-8. */
  payload: Uint8Array | string;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 properties for subscribers (Topic Alias and Subscription Identifiers are ignored). */
  properties?: Properties;
}

/**
 * An MQTT 3.1, 3.1.1 and 5.0 broker that serves whatever transports it is handed
 * ({@link accept}) or, without I/O, connections driven by hand ({@link createConnection}).
 *
 * @example Two clients through hand-driven connections
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * await using broker = new Broker();
 * const subscriber = broker.createConnection();
 * subscriber.receive({ type: "connect", protocolVersion: 5, clientId: "sub", clean: true, keepalive: 0 }, 0);
 * subscriber.receive({
 *   type: "subscribe", packetId: 1, subscriptions: [{ topicFilter: "a/+", qos: 1 }],
 * }, 0);
 * const publisher = broker.createConnection();
 * publisher.receive({ type: "connect", protocolVersion: 4, clientId: "pub", clean: true, keepalive: 0 }, 0);
 * publisher.receive({
 *   type: "publish", topic: "a/b", payload: new Uint8Array([42]), qos: 0, retain: false, dup: false,
 * }, 0);
 * const received = subscriber.takeOutput().at(-1);
 * assert.equal(received?.type, "publish");
 * assert.deepEqual(received?.type === "publish" && received.payload, new Uint8Array([42]));
 * ```
 */
export class Broker implements AsyncDisposable {
  #options: ResolvedBrokerOptions;
  #authenticate: Authenticate | undefined;
  #authorize: Authorize | undefined;
  #clock: Clock;
  #scheduler: Scheduler;
  #violations: ViolationLog;
  #tree = new SubscriptionTree<SubscriptionEntry>();
  #retained = new RetainedStore();
  #sessions = new Map<string, ServerSession>();
  #connections = new Set<Connection>();
  #connected = 0;
  /** Running pumps and the promises of their runs; a pump removes itself when done. */
  #pumps = new Map<TransportPump, Promise<void>>();
  /** One options object for every pump: nothing allocated per connection for it. */
  #pumpOptions: TransportPumpOptions | undefined = undefined;
  #shareCursors = new Map<string, number>();
  #counters = {
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    bytesReceived: 0,
    bytesSent: 0,
  };
  #closed = false;
  #context: BrokerContext;
  #sys: SysTopics | undefined = undefined;

  /** A broker with `options`; it serves nothing until given transports or connections. */
  constructor(options: BrokerOptions = {}) {
    this.#options = resolveBrokerOptions(options);
    this.#authenticate = options.authenticate;
    this.#authorize = options.authorize;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = new Scheduler(this.#clock);
    this.#violations = new ViolationLog({ limit: this.#options.maxViolations });
    if (options.onViolation !== undefined) this.#violations.addListener(options.onViolation);
    this.#context = this.#createContext();
    if (this.#options.sysInterval > 0) {
      this.#sys = new SysTopics(this, this.#scheduler, this.#options.sysInterval);
      this.#sys.start();
    }
  }

  /** Every violation recorded (up to `maxViolations`, oldest first). Live: it grows. */
  get violations(): readonly Violation[] {
    return this.#violations.entries;
  }

  /** The violation log, to add and remove listeners. */
  get violationLog(): ViolationLog {
    return this.#violations;
  }

  /** The clock the broker runs on. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The options in effect, defaults filled in. */
  get options(): ResolvedBrokerOptions {
    return this.#options;
  }

  /** Counters since the broker started. */
  get stats(): BrokerStats {
    return {
      clientsConnected: this.#connected,
      sessions: this.#sessions.size,
      subscriptions: this.#tree.size,
      retainedMessages: this.#retained.size,
      ...this.#counters,
    };
  }

  /**
   * The session held for `clientId`, online or offline, for inspection (subscriptions,
   * queued and in-flight messages, drop count). Changing it bypasses the protocol.
   *
   * @example Inspect a session
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * const connection = broker.createConnection();
   * connection.receive({ type: "connect", protocolVersion: 4, clientId: "a", clean: false, keepalive: 0 }, 0);
   * assert.equal(broker.session("a")?.clientId, "a");
   * assert.equal(broker.session("b"), undefined);
   * ```
   */
  session(clientId: string): ServerSession | undefined {
    return this.#sessions.get(clientId);
  }

  /**
   * Every session held, online or offline, in the order they were created (for test
   * harnesses and admin tools; changing them bypasses the protocol).
   *
   * @example List the sessions
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * broker.createConnection().receive({ type: "connect", protocolVersion: 4, clientId: "a", clean: false, keepalive: 0 }, 0);
   * assert.deepEqual(broker.listSessions().map((s) => s.clientId), ["a"]);
   * ```
   */
  listSessions(): ServerSession[] {
    return [...this.#sessions.values()];
  }

  /**
   * The connections that completed CONNECT and are still open.
   *
   * @example List the connected clients
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * broker.createConnection().receive({ type: "connect", protocolVersion: 5, clientId: "a", clean: true, keepalive: 0 }, 0);
   * assert.deepEqual(broker.listConnections().map((c) => c.clientId), ["a"]);
   * ```
   */
  listConnections(): Connection[] {
    return [...this.#connections].filter((connection) => connection.state === "connected");
  }

  /**
   * Every retained message held (expired ones included until a subscription drops them).
   *
   * @example Read the retained messages
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * broker.publish({ topic: "status", payload: "up", retain: true });
   * assert.deepEqual(broker.listRetained().map((m) => m.topic), ["status"]);
   * ```
   */
  listRetained(): BrokerMessage[] {
    return [...this.#retained.values()];
  }

  /**
   * Closes the connection of `clientId` from the server side, as an administrator would:
   * an MQTT 5 client gets DISCONNECT with `reasonCode` (default 0x98 Administrative
   * action); the will is not published. Returns false when the client is not connected.
   *
   * @example Disconnect a client
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * const connection = broker.createConnection();
   * connection.receive({ type: "connect", protocolVersion: 5, clientId: "a", clean: true, keepalive: 0 }, 0);
   * connection.takeOutput();
   * assert.equal(broker.disconnectClient("a"), true);
   * assert.deepEqual(connection.takeOutput(), [{ type: "disconnect", reasonCode: 0x98 }]);
   * assert.equal(broker.disconnectClient("a"), false);
   * ```
   */
  disconnectClient(clientId: string, reasonCode: number = 0x98): boolean {
    for (const connection of this.#connections) {
      if (connection.state === "connected" && connection.clientId === clientId) {
        connection.shutdown(this.#clock.now(), reasonCode);
        return true;
      }
    }
    return false;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A new client connection to drive by hand: feed it packets with `receive()` and take
   * what it sends with `takeOutput()`. `sink.wake()` is called whenever it queues output
   * or closes. This is what {@link accept} uses under the I/O.
   */
  createConnection(options: { sink?: ConnectionSink; remoteAddress?: string } = {}): Connection {
    if (this.#closed) throw new TypeError("Cannot create a connection as the broker is closed");
    const connection = new Connection(this.#context, this.#clock.now(), options);
    this.#connections.add(connection);
    return connection;
  }

  /**
   * Serves a client over `transport` until it disconnects. Resolves once the transport
   * is closed; never rejects. A closed broker closes the transport at once.
   */
  accept(transport: Transport): Promise<void> {
    if (this.#closed) return transport.close().catch(() => {});
    const connection = this.createConnection(
      transport.remoteAddress === undefined ? {} : { remoteAddress: transport.remoteAddress },
    );
    const pumps = this.#pumps;
    this.#pumpOptions ??= {
      clock: this.#clock,
      maximumPacketSize: this.#options.maximumPacketSize,
      counters: this.#counters,
      ...(this.#authenticate === undefined ? {} : { authenticate: this.#authenticate }),
      ...(this.#authorize === undefined ? {} : { authorize: this.#authorize }),
      onEnd: (pump) => pumps.delete(pump),
    };
    const pump = new TransportPump(transport, connection, this.#pumpOptions);
    const running = pump.run();
    if (!pump.ended) pumps.set(pump, running);
    return running;
  }

  /**
   * Publishes a message from the broker itself to every matching subscription (and to
   * the retained store when `retain`). Returns how many sessions got a copy.
   *
   * @example Publish a retained status
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "./broker.ts";
   * await using broker = new Broker();
   * assert.equal(broker.publish({ topic: "status", payload: "up", retain: true }), 0);
   * assert.equal(broker.stats.retainedMessages, 1);
   * ```
   */
  publish(options: PublishOptions): number {
    if (!isValidTopicName(options.topic)) {
      throw new TypeError(
        `Cannot publish as 'topic' must be a valid topic name: current value is ${
          JSON.stringify(options.topic)
        }`,
      );
    }
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RangeError(
        `Cannot publish as 'qos' must be 0, 1 or 2: current value is ${String(qos)}`,
      );
    }
    const payload = typeof options.payload === "string"
      ? new TextEncoder().encode(options.payload)
      : options.payload.slice();
    const now = this.#clock.now();
    const properties = forwardedProperties(options.properties);
    const expiry = options.properties?.messageExpiryInterval;
    const message: BrokerMessage = {
      topic: options.topic,
      payload,
      qos,
      retain: options.retain ?? false,
      ...(properties === undefined ? {} : { properties }),
      ...(expiry === undefined ? {} : { expiresAt: now + expiry * 1000 }),
    };
    if (message.retain) this.#retained.set(message);
    return this.#route(message, now);
  }

  /**
   * Closes every connection (MQTT 5 clients get DISCONNECT 0x8B Server shutting down),
   * stops the timers and waits for the transports to close. Sessions, retained messages
   * and violations stay readable. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const now = this.#clock.now();
      for (const connection of [...this.#connections]) connection.shutdown(now);
      this.#sys?.stop();
      this.#scheduler.close();
    }
    while (this.#pumps.size > 0) await Promise.all([...this.#pumps.values()]);
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #createContext(): BrokerContext {
    const sessions = this.#sessions;
    const authorize = this.#authorize;
    return {
      ...(authorize === undefined ? {} : {
        authorize: (request: AuthorizeRequest): boolean | Promise<boolean> => {
          try {
            const answer = authorize(request);
            if (typeof (answer as { then?: unknown } | null)?.then !== "function") {
              return answer === true;
            }
            return Promise.resolve(answer).then((ok) => ok === true, () => false);
          } catch {
            return false;
          }
        },
      }),
      options: this.#options,
      scheduler: this.#scheduler,
      retained: this.#retained,
      sessions,
      recordViolation: (violation) => this.#violations.record(violation),
      route: (message, now) => this.#route(message, now),
      retain: (message) => this.#retained.set(message),
      addSubscription: (entry) => {
        this.#tree.add(entry.matchFilter, subscriptionKey(entry), entry);
      },
      removeSubscription: (entry) => {
        this.#tree.remove(entry.matchFilter, subscriptionKey(entry));
      },
      discardSession: (session) => this.#discardSession(session),
      assignClientId: () => {
        for (;;) {
          const bytes = crypto.getRandomValues(new Uint8Array(8));
          const id = `tern-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
          if (!sessions.has(id)) return id;
        }
      },
      connectionStateChanged: (connection) => {
        if (connection.state === "connected") this.#connected++;
        else if (connection.state === "closed" && this.#connections.delete(connection)) {
          if (connection.clientId !== undefined) this.#connected--;
        }
      },
      countDrop: (session) => {
        this.#counters.messagesDropped++;
        if (session !== undefined) session.dropped++;
      },
      countSent: () => {
        this.#counters.messagesSent++;
      },
      countReceived: () => {
        this.#counters.messagesReceived++;
      },
    };
  }

  #discardSession(session: ServerSession): void {
    session.expiryTask?.cancel();
    session.expiryTask = undefined;
    session.takePendingWill();
    for (const entry of session.subscriptions.values()) {
      this.#tree.remove(entry.matchFilter, subscriptionKey(entry));
    }
    session.subscriptions.clear();
    session.queue.clear();
    session.outbound.clear();
    session.incomingQos2.clear();
    if (this.#sessions.get(session.clientId) === session) this.#sessions.delete(session.clientId);
  }

  /**
   * Delivers `message` to every session with a matching subscription: one copy per
   * client at the highest QoS of its matching subscriptions with all their Subscription
   * Identifiers (MQTT-3.3.4-2, MQTT-3.3.4-3; MQTT-3.3.5-1 in 3.1.1), honouring No Local
   * (MQTT-3.8.3-3) and Retain As Published (MQTT-3.3.1-12, -13), and one copy per shared
   * subscription group, to its members in turn.
   */
  #route(message: BrokerMessage, now: number): number {
    let receivers = 0;
    const perClient = new Map<string, { qos: QoS; ids: number[] | undefined; retain: boolean }>();
    let groups: Map<string, SubscriptionEntry[]> | undefined;
    this.#tree.forEachMatch(message.topic, (_key, entry) => {
      if (entry.group !== undefined) {
        groups ??= new Map();
        const key = `${entry.group}\u0000${entry.matchFilter}`;
        const members = groups.get(key);
        if (members === undefined) groups.set(key, [entry]);
        else members.push(entry);
        return;
      }
      if (entry.noLocal && entry.clientId === message.sender) return;
      const retain = entry.retainAsPublished && message.retain;
      const found = perClient.get(entry.clientId);
      if (found === undefined) {
        perClient.set(entry.clientId, {
          qos: entry.qos,
          ids: entry.identifier === undefined ? undefined : [entry.identifier],
          retain,
        });
        return;
      }
      if (entry.qos > found.qos) found.qos = entry.qos;
      if (entry.identifier !== undefined) (found.ids ??= []).push(entry.identifier);
      if (retain) found.retain = true;
    });
    for (const [clientId, match] of perClient) {
      const session = this.#sessions.get(clientId);
      if (session === undefined) continue;
      receivers++;
      this.#deliver(session, {
        message,
        qos: Math.min(message.qos, match.qos) as QoS, // MQTT-3.8.4-8 (5.0), MQTT-3.8.4-6 (3.1.1)
        retain: match.retain,
        ...(match.ids === undefined ? {} : { subscriptionIds: match.ids }),
      }, now);
    }
    if (groups !== undefined) {
      for (const [key, members] of groups) {
        const entry = this.#pickMember(key, members);
        const session = this.#sessions.get(entry.clientId);
        if (session === undefined) continue;
        receivers++;
        this.#deliver(session, {
          message,
          qos: Math.min(message.qos, entry.qos) as QoS, // MQTT-4.8.2-3
          retain: entry.retainAsPublished && message.retain,
          ...(entry.identifier === undefined ? {} : { subscriptionIds: [entry.identifier] }),
        }, now);
      }
    }
    return receivers;
  }

  /** The next member of a shared subscription group, round robin, online members first. */
  #pickMember(key: string, members: SubscriptionEntry[]): SubscriptionEntry {
    const start = (this.#shareCursors.get(key) ?? 0) % members.length;
    for (let i = 0; i < members.length; i++) {
      const index = (start + i) % members.length;
      const member = members[index]!;
      if (this.#sessions.get(member.clientId)?.connection !== undefined) {
        this.#shareCursors.set(key, index + 1);
        return member;
      }
    }
    this.#shareCursors.set(key, start + 1);
    return members[start]!;
  }

  #deliver(session: ServerSession, delivery: Delivery, now: number): void {
    const connection = session.connection;
    if (connection !== undefined) {
      connection.deliver(delivery, now);
      return;
    }
    // Offline: QoS 1 and 2 wait in the session (MQTT-3.1.2-5 in 3.1.1); QoS 0 only
    // with the `queueQos0` option.
    if (delivery.qos === 0 && !this.#options.queueQos0) return;
    if (!session.queue.push(delivery)) {
      this.#counters.messagesDropped++;
      session.dropped++;
    }
  }
}
