/**
 * {@link MqttClient}: one MQTT connection (and its reconnections) around a sans-I/O
 * {@link ClientSession}, and `connect()`. The client holds the public API and the
 * connection lifecycle (open, read loop, lose, shut down, disconnect); the session decides
 * what goes on the wire. Collaborators hold the rest, each with its own state, reaching
 * the client only through a `ClientHost` (`./client_host.ts`):
 * - `./client_actions.ts`: carries out the session's actions in order, and its timer;
 * - `./client_publishes.ts`: publications, from the checks to their settlement, and the
 *   offline queue;
 * - `./client_subscriptions.ts`: subscribe / unsubscribe, message routing to buffers,
 *   acknowledgements held back by readers;
 * - `./client_auth.ts`: MQTT 5 enhanced authentication and re-authentication;
 * - `./client_requests.ts`: MQTT 5 request / response;
 * - `./client_connector.ts`: connection attempts, redirects and the reconnection loop
 *   (with `./reconnect_policy.ts`);
 * - `./client_persistence.ts`: loading and saving the session in the `store`;
 * - `./client_connection.ts`: one transport and its batching write queue.
 *
 * The option types live in `./client_options.ts` and are re-exported here.
 *
 * This file names no runtime: the transport comes from the `transport` option, which
 * `connect()` in mod.ts fills with `openTransport`.
 *
 * @module
 */

import { ClientActions } from "./client_actions.ts";
import { ClientAuth } from "./client_auth.ts";
import { now, toBytes } from "./client_checks.ts";
import { Connection } from "./client_connection.ts";
import { ClientConnector } from "./client_connector.ts";
import type { ClientHost } from "./client_host.ts";
import {
  checkConnectArguments,
  type ClientState,
  type ConnectOptions,
  type Credentials,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_HOLD_LIMIT,
  type DisconnectOptions,
  type PublishOptions,
  type PublishResult,
  type RequestOptions,
  type SubscribeOptions,
  type TransportOpener,
} from "./client_options.ts";
import { ClientPersistence, loadSession } from "./client_persistence.ts";
import { ClientPublishes } from "./client_publishes.ts";
import { ClientRequests } from "./client_requests.ts";
import { ClientSubscriptions } from "./client_subscriptions.ts";
import { ConnectionClosedError, ProtocolError, ServerDisconnectError } from "./errors.ts";
import {
  ConnectEvent,
  DisconnectEvent,
  LogEvent,
  type Logger,
  type LogLevel,
  MqttClientEventTarget,
} from "./events.ts";
import type { Message } from "./message.ts";
import type { Packet, Properties, ProtocolVersion } from "./packet/types.ts";
import type { ConnectedAction, OutgoingMessage, SessionAction } from "./session/actions.ts";
import type { ClientSession } from "./session/client_session.ts";
import { PacketReader } from "./session/packet_reader.ts";
import type { ServerLimits } from "./session/server_limits.ts";
import type { MessageBuffer, Subscription } from "./subscription.ts";
import { isDirectTransport } from "./transport/direct.ts";
import type { Transport } from "./transport/types.ts";

export type {
  ClientState,
  ConnectOptions,
  Credentials,
  DisconnectOptions,
  PublishOptions,
  PublishResult,
  ReconnectOptions,
  RequestOptions,
  SubscribeOptions,
  TransportOpener,
  TransportOpenOptions,
  WillOptions,
} from "./client_options.ts";

/** Resolves once `buffer` is drained or after one timer tick, whichever comes first. */
function drainedOrTick(buffer: MessageBuffer): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    buffer.drained(),
    new Promise<void>((resolve) => timer = setTimeout(resolve, 0)),
  ]).finally(() => clearTimeout(timer));
}

/** Makes the first connection of a client; set by MqttClient's static block. */
let startClient: (client: MqttClient, signal: AbortSignal | undefined) => Promise<void>;

/**
 * An MQTT client connection, made by `connect()`: publish, subscribe, receive, with
 * automatic reconnection. Events (see `./events.ts`) report what happens: `connect`,
 * `connectfailed`, `disconnect`, `message`, `publish`, `subscribe`, `subscriptionlost`,
 * `unsubscribe`, `log`.
 *
 * @example Publish and receive through a scripted in-memory broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client.ts";
 * import { decodePacket, encodePacket } from "./packet/mod.ts";
 * import type { Transport } from "./transport/types.ts";
 *
 * // A tiny fake broker: accepts the connection and echoes QoS 0 publications.
 * function fakeBroker(): Transport {
 *   let toClient!: ReadableStreamDefaultController<Uint8Array>;
 *   const readable = new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) });
 *   const writable = new WritableStream<Uint8Array>({
 *     write(chunk) {
 *       for (let at = 0; at < chunk.length;) {
 *         const { packet, bytesRead } = decodePacket(chunk.subarray(at), { protocolVersion: 5 })!;
 *         at += bytesRead;
 *         if (packet.type === "connect") {
 *           toClient.enqueue(encodePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, 5));
 *         } else if (packet.type === "subscribe") {
 *           toClient.enqueue(encodePacket({ type: "suback", packetId: packet.packetId, reasonCodes: [0] }, 5));
 *         } else if (packet.type === "publish") {
 *           toClient.enqueue(encodePacket(packet, 5));
 *         } else if (packet.type === "disconnect") {
 *           toClient.close();
 *         }
 *       }
 *     },
 *   });
 *   return {
 *     readable, writable, closed: Promise.resolve(), remoteAddress: undefined,
 *     close: async () => {}, [Symbol.asyncDispose]: async () => {},
 *   };
 * }
 *
 * await using client = await connect("mqtt://fake", { transport: async () => fakeBroker() });
 * const subscription = await client.subscribe("greetings/#");
 * await client.publish("greetings/world", "hello");
 * for await (const message of subscription) {
 *   assert.equal(message.text(), "hello");
 *   break;
 * }
 * ```
 */
export class MqttClient extends MqttClientEventTarget implements AsyncDisposable {
  #session: ClientSession;
  #options: ConnectOptions;
  #logger: Logger | undefined;

  #state: ClientState = "connecting";
  #conn: Connection | undefined;
  #connectedOnce = false;
  #lifetime = new AbortController();
  #closed = Promise.withResolvers<void>();
  #closeError: unknown;

  #publishes: ClientPublishes;
  #subscriptions: ClientSubscriptions;
  #auth: ClientAuth;
  #requests: ClientRequests;
  #actions: ClientActions;

  #connector: ClientConnector;
  #persistence: ClientPersistence;

  /** Use `connect()`; the constructor makes an unconnected client. */
  constructor(
    urls: readonly (string | URL)[],
    options: ConnectOptions & { transport: TransportOpener },
    session: ClientSession,
  ) {
    super();
    this.#options = options;
    this.#logger = options.logger;
    this.#session = session;
    const persistence = new ClientPersistence(options.store, options.clientId ?? "", session);
    this.#persistence = persistence;
    // What the collaborators may ask of the client; made once, not per message.
    const host: ClientHost = {
      session,
      state: () => this.#state,
      connection: () => this.#conn,
      run: (actions) => this.#actions.run(actions),
      write: (packet) => this.#actions.write(packet),
      dirty: () => persistence.dirty(),
      persist: () => persistence.persist(),
      dispatch: (event) => this.#dispatch(event),
      hasListened: (type) => this.hasListened(type),
      log: (level, message, data) => this.#log(level, message, data),
      assertOpen: (verb) => this.#assertOpen(verb),
      lose: (conn, error, flush) => this.#lose(conn, error, flush),
      connected: (action) => this.#onConnected(action),
      open: (url, transport, credentials, authData, signal, reason) =>
        this.#open(url, transport, credentials, authData, signal, reason),
      shutdown: (error) => this.#shutdown(error),
    };
    this.#connector = new ClientConnector(
      host,
      urls.map((url) => url instanceof URL ? url : new URL(url)),
      options,
    );
    this.#publishes = new ClientPublishes(host, options.offlineQueue);
    this.#subscriptions = new ClientSubscriptions(host, {
      highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      holdLimit: options.receiveMaximum ?? DEFAULT_HOLD_LIMIT,
      ack: options.ack,
    });
    this.#auth = new ClientAuth(host, options.auth);
    this.#requests = new ClientRequests(host, this.#publishes, this.#subscriptions);
    this.#actions = new ClientActions(host, this.#publishes, this.#subscriptions, this.#auth);
    this.#closed.promise.catch(() => {});
  }

  #sessionPresent = false;

  /** Where the client stands. */
  get state(): ClientState {
    return this.#state;
  }

  /** Whether a connection is up. */
  get connected(): boolean {
    return this.#state === "connected";
  }

  /** The Client Identifier (the server's choice, when it assigned one). */
  get clientId(): string {
    return this.#session.clientId;
  }

  /**
   * Whether the server resumed a stored session in the last CONNACK (Session Present).
   * When false after `clean: false`, the server had no session: what it held is gone.
   *
   * @example Read it right after connecting
   * ```ts ignore
   * const client = await connect(url, { clientId: "worker", clean: false });
   * if (!client.sessionPresent) console.log("fresh session: nothing was queued for us");
   * ```
   */
  get sessionPresent(): boolean {
    return this.#sessionPresent;
  }

  /** The protocol level in use. */
  get protocolVersion(): ProtocolVersion {
    return this.#session.protocolVersion;
  }

  /**
   * How many QoS 1/2 messages servers sent beyond our Receive Maximum, accepted because
   * `strictReceiveMaximum` is false.
   */
  get receiveMaximumExceeded(): number {
    return this.#session.receiveMaximumExceeded;
  }

  /** What the server announced in its last CONNACK (MQTT 5 limits, defaults otherwise). */
  get serverLimits(): ServerLimits {
    return this.#session.limits;
  }

  /** The URL of the current (or last) connection. */
  get url(): URL {
    return this.#conn?.url ?? this.#connector.url;
  }

  /** Resolves once the client is closed for good (after `disconnect()` or a final failure). */
  get closed(): Promise<void> {
    return this.#closed.promise.then(() => {}, () => {});
  }

  /**
   * The messages no subscription of this client claims, such as those a resumed session
   * delivers right after CONNACK, before anything was subscribed again. Bounded like a
   * subscription: an unread backlog holds acknowledgements back (see `MessageBuffer`).
   * The stream ends when the client closes.
   */
  get messages(): ReadableStream<Message> {
    return this.#subscriptions.unclaimed.readable;
  }

  // ------------------------------------------------------------------ publish

  /**
   * Publishes a message. Resolves when it is done for its QoS: written to the transport
   * (QoS 0), PUBACK received (QoS 1), PUBCOMP received (QoS 2). Rejects with an
   * `AcknowledgementError` carrying the reason code when the server refuses it, a
   * `ServerLimitError` when the server's announced limits forbid it, an
   * `OfflineQueueFullError` when offline with a full queue, a `ConnectionClosedError` when
   * the client is closed; with a TypeError / RangeError for a malformed call.
   *
   * While the connection is down (and reconnection is on) the message waits in the
   * offline queue and goes out after reconnecting.
   */
  publish(
    topic: string,
    payload: string | Uint8Array | ArrayBuffer | ArrayBufferView = new Uint8Array(),
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    // Not `async`: one promise per message, not three, on the hot path.
    let message: OutgoingMessage;
    try {
      message = this.#publishes.outgoing(topic, payload, options);
      options.signal?.throwIfAborted();
      this.#assertOpen("publish");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#publish(message, options.signal);
  }

  /**
   * Publishes without waiting: like {@link publish}, but a failure goes to the logger and
   * to `"log"` and `"publish"` events instead of a promise. Throws for a malformed call,
   * and a `ConnectionClosedError` when the client is closed.
   */
  publishAndForget(
    topic: string,
    payload: string | Uint8Array | ArrayBuffer | ArrayBufferView = new Uint8Array(),
    options: Omit<PublishOptions, "signal"> = {},
  ): void {
    const message = this.#publishes.outgoing(topic, payload, options);
    this.#assertOpen("publish");
    this.#publish(message, undefined).catch((error) => {
      this.#log("warn", `A publication to '${topic}' failed: ${(error as Error)?.message}`, error);
    });
  }

  #publish(message: OutgoingMessage, signal: AbortSignal | undefined): Promise<PublishResult> {
    return this.#publishes.publish(message, signal, this.#state === "connected");
  }

  // ------------------------------------------------------------------ subscribe

  /**
   * Subscribes to one topic filter or several (one SUBSCRIBE), and resolves with the
   * {@link Subscription} on SUBACK. Rejects with a `SubscribeError` carrying the reason
   * code when the server refuses every filter (when it refuses only some, see
   * `subscription.reasonCodes`), with a `ConnectionClosedError` when the client is closed,
   * and with a TypeError / RangeError for a malformed call.
   *
   * Messages that arrive after the SUBSCRIBE went out, even before the SUBACK, are
   * delivered to the subscription.
   */
  subscribe(
    topicFilters: string | readonly string[],
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.#subscriptions.subscribe(topicFilters, options);
  }

  // ------------------------------------------------------------------ request / response

  /**
   * MQTT 5 request / response: publishes a request whose Response Topic is this client's
   * response inbox (subscribed on first use) and whose Correlation Data is unique, and
   * resolves with the first message that comes back to the inbox with that Correlation
   * Data. A responder answers by publishing to `message.responseTopic` with
   * `message.correlationData` in its properties.
   *
   * Rejects with a TypeError before MQTT 5, with an MqttError when no response comes
   * within `timeout`, with `signal.reason` on abort, and as {@link publish} does.
   */
  request(
    topic: string,
    payload: string | Uint8Array | ArrayBuffer | ArrayBufferView = new Uint8Array(),
    options: RequestOptions = {},
  ): Promise<Message> {
    return this.#requests.request(topic, payload, options);
  }

  /**
   * MQTT 5 re-authentication (section 4.12.1): runs the `auth` method again on the live
   * connection (AUTH 0x19, then its challenges) and resolves when the server answers AUTH
   * 0x00 Success. Rejects with a `ServerDisconnectError` when the server refuses (it
   * disconnects), with the method's error when it throws, with a `ConnectionClosedError`
   * when not connected, and with `signal.reason` on abort (the exchange itself goes on).
   * Throws a TypeError when `auth` was not given to `connect()` or one is under way.
   */
  reauthenticate(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#auth.reauthenticate(options);
  }

  #dispatch(event: Event): void {
    this.dispatchEvent(event);
  }

  #log(level: LogLevel, message: string, data?: unknown): void {
    this.#logger?.[level]?.(message, data);
    this.#dispatch(new LogEvent(level, message, data));
  }

  #assertOpen(verb: string): void {
    if (this.#state === "closed" || this.#state === "closing") {
      throw new ConnectionClosedError(`Cannot ${verb} as the client is ${this.#state}`, {
        cause: this.#closeError,
      });
    }
  }

  // ------------------------------------------------------------------ connection

  /**
   * Starts a connection on a transport the connector just opened: CONNECT (with the
   * attempt's credentials and first authentication data), then the read loop. Resolves on
   * an accepting CONNACK; `signal` aborting ends the connection with `reason()`.
   */
  async #open(
    url: URL,
    transport: Transport,
    credentials: Credentials | undefined,
    authData: Uint8Array | undefined,
    both: AbortSignal,
    reason: () => unknown,
  ): Promise<ConnectedAction> {
    if (this.#state === "closed" || this.#state === "closing") {
      transport.close().catch(() => {});
      throw new ConnectionClosedError("The client closed while connecting");
    }
    const conn = new Connection(
      url,
      transport,
      this.#persistence.enabled ? () => this.#persistence.persist() : undefined,
      (error) => this.#lose(conn, error, false),
    );
    this.#conn = conn;
    if (this.#options.auth) {
      conn.auth = { reauthenticate: false, round: 1, busy: false, done: undefined };
    }
    const onAbort = () => this.#lose(conn, reason(), false);
    both.addEventListener("abort", onAbort, { once: true });
    try {
      const packet = this.#session.connectPacket();
      if (credentials?.username !== undefined) packet.username = credentials.username;
      if (credentials?.password !== undefined) {
        packet.password = toBytes("connect", credentials.password);
      }
      if (authData !== undefined) {
        packet.properties = { ...packet.properties, authenticationData: authData };
      }
      this.#actions.write(packet);
      this.#readLoop(conn);
      return await conn.ready.promise;
    } finally {
      both.removeEventListener("abort", onAbort);
    }
  }

  async #readLoop(conn: Connection): Promise<void> {
    let failure: unknown;
    // Packets are cut from each chunk synchronously, so that all those of one socket read
    // are handled in one turn and the packets they cause leave in one write.
    const packets = new PacketReader(
      this.protocolVersion,
      this.#options.maximumPacketSize || Infinity,
    );
    // TCP and TLS on Deno and Bun offer a stream-free read: no promise hop per chunk.
    const transport = conn.transport;
    const direct = isDirectTransport(transport) ? transport : undefined;
    const reader = direct === undefined ? transport.readable.getReader() : undefined;
    const subscriptions = this.#subscriptions;
    try {
      for (;;) {
        const packet = packets.next();
        if (packet === undefined) {
          const chunk = direct !== undefined
            ? await direct.readChunk()
            : (await reader!.read()).value;
          if (conn.lost) break;
          if (chunk === undefined) {
            packets.end();
            break;
          }
          packets.push(chunk);
          continue;
        }
        // Too many messages wait for their readers: let TCP hold the server back, even
        // one that ignores its window.
        while (subscriptions.overHoldLimit && !conn.lost) {
          await subscriptions.readersCaughtUp();
        }
        if (conn.lost) break;
        this.#onPacket(conn, packet);
        const congested = subscriptions.takeCongested();
        if (congested !== undefined) {
          // A burst filled a buffer: give its reader (if it keeps up, within this turn) the
          // chance to empty it before more QoS 0 messages would be dropped; a reader that
          // does not keep up gets one timer tick.
          await drainedOrTick(congested);
        }
      }
    } catch (error) {
      failure = error;
    }
    // The connection is closed by whoever lost it (below, or earlier).
    reader?.cancel().catch(() => {});
    if (conn.lost) return;
    if (failure instanceof ProtocolError) {
      // The server sent something malformed: MQTT 5 tells it why before closing.
      if (this.protocolVersion === 5 && conn.connected) {
        this.#actions.write({ type: "disconnect", reasonCode: failure.reasonCode });
      }
      this.#lose(conn, failure, true);
      return;
    }
    this.#lose(
      conn,
      failure ?? new ConnectionClosedError(`The server closed the connection (${conn.url.href})`),
      false,
    );
  }

  #onPacket(conn: Connection, packet: Packet): void {
    if (conn !== this.#conn) return;
    if (packet.type !== "pingresp") this.#persistence.dirty();
    const exceeded = this.#session.receiveMaximumExceeded;
    const actions = this.#session.handlePacket(packet, now());
    if (this.#session.receiveMaximumExceeded !== exceeded && !conn.excessLogged) {
      conn.excessLogged = true;
      this.#log(
        "warn",
        `The server exceeds our Receive Maximum of ${this.#options.receiveMaximum}: ` +
          "accepting the excess messages (see 'strictReceiveMaximum')",
      );
    }
    this.#actions.run(actions);
    // After the settlements: what they cause (more publishes) joins the flush this may start.
    if (
      packet.type === "puback" || packet.type === "pubrec" || packet.type === "pubrel" ||
      packet.type === "pubcomp"
    ) conn.answered();
  }

  #onConnected(action: ConnectedAction): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    conn.connected = true;
    const reconnected = this.#connectedOnce;
    this.#connectedOnce = true;
    this.#state = "connected";
    this.#connector.connected();
    this.#persistence.assigned(action.clientId);
    this.#actions.connected();
    this.#sessionPresent = action.sessionPresent;
    this.#log("info", `Connected to ${conn.url.href}`, { sessionPresent: action.sessionPresent });
    this.#dispatch(
      new ConnectEvent({
        url: conn.url.href,
        sessionPresent: action.sessionPresent,
        connack: action.connack,
        reconnected,
      }),
    );
    conn.ready.resolve(action);
  }

  /** A connection ended: before its CONNACK (the attempt fails) or after (reconnect or close). */
  #lose(conn: Connection, error: unknown, flush: boolean): void {
    if (conn.lost) return;
    const wasConnected = conn.connected;
    conn.lost = true;
    conn.auth?.done?.reject(error);
    conn.auth = undefined;
    if (flush) conn.flushAndClose(1000);
    else conn.close();
    if (this.#conn === conn) {
      this.#conn = undefined;
      this.#session.connectionLost();
      this.#actions.armTimer();
    }
    this.#subscriptions.wakeReaders();
    if (!wasConnected) {
      conn.ready.reject(error);
      return;
    }
    if (this.#state === "closing" || this.#state === "closed") return;
    const retry = this.#connector.willRetry(error);
    this.#state = retry ? "reconnecting" : "closed";
    this.#log(
      retry ? "warn" : "error",
      `Connection lost: ${(error as Error)?.message ?? error}`,
      error,
    );
    const event: ConstructorParameters<typeof DisconnectEvent>[0] = {
      error: error as Error,
      willReconnect: retry,
    };
    if (error instanceof ServerDisconnectError) {
      event.reasonCode = error.reasonCode;
      if (error.properties) event.properties = error.properties;
      this.#connector.redirectAfter(error, conn.url);
    }
    this.#dispatch(new DisconnectEvent(event));
    if (retry) {
      this.#connector.reconnect(this.#lifetime.signal);
    } else {
      this.#shutdown(error);
    }
  }

  static {
    startClient = (client, signal) => client.#connector.start(signal, client.#lifetime.signal);
  }

  /** Rejects everything pending, ends buffers and timers. */
  #shutdown(error: unknown): void {
    this.#state = "closed";
    this.#closeError = error;
    this.#lifetime.abort(new ConnectionClosedError("The client is closed"));
    this.#actions.stopTimer();
    const closedError = (what: string) =>
      new ConnectionClosedError(
        error === undefined
          ? `The client disconnected before the ${what} completed`
          : `The connection was lost before the ${what} completed: ${
            (error as Error)?.message ?? error
          }`,
        error === undefined ? {} : { cause: error },
      );
    this.#publishes.shutdown(closedError);
    this.#subscriptions.shutdown(closedError, error);
    if (error === undefined) this.#closed.resolve();
    else this.#closed.reject(error);
  }

  /**
   * Ends the connection politely (DISCONNECT, then close) and closes the client for
   * good: pending requests reject with `ConnectionClosedError`, subscriptions end after
   * their buffered messages. With a store, the session is saved first; with `clean: false`
   * and a session expiry, the server keeps the session for a later client.
   */
  async disconnect(options: DisconnectOptions = {}): Promise<void> {
    if (this.#state === "closed" || this.#state === "closing") {
      await this.closed;
      return;
    }
    const { signal } = options;
    signal?.throwIfAborted();
    const conn = this.#conn;
    let actions: SessionAction[] = [];
    if (conn !== undefined && !conn.lost && conn.connected) {
      const request: { reasonCode?: number; properties?: Properties } = {};
      if (options.reasonCode !== undefined) request.reasonCode = options.reasonCode;
      if (options.properties !== undefined) request.properties = options.properties;
      actions = this.#session.disconnect(now(), request); // throws for a bad reason code
    }
    this.#state = "closing";
    this.#lifetime.abort(new ConnectionClosedError("The client is disconnecting"));
    let aborted = false;
    if (conn !== undefined && !conn.lost) {
      this.#actions.run(actions);
      this.#conn = undefined;
      conn.lost = true;
      this.#subscriptions.wakeReaders();
      this.#session.connectionLost();
      const onAbort = () => {
        aborted = true;
        conn.close();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      await conn.flushAndClose(options.timeout ?? 5000);
      signal?.removeEventListener("abort", onAbort);
    }
    this.#dispatch(new DisconnectEvent({ error: undefined, willReconnect: false }));
    try {
      await this.#persistence.persist();
    } catch (error) {
      this.#log("error", `Cannot save the session: ${(error as Error)?.message}`, error);
    }
    this.#shutdown(undefined);
    if (aborted) throw signal!.reason;
  }

  /** Same as {@link disconnect}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }
}

/**
 * Connects to an MQTT broker through `options.transport`, resolving with the client
 * once the server accepted the connection (CONNACK). `connect()` in mod.ts is this with
 * `openTransport` as the default transport; see it for the details.
 *
 * @example Connect through a custom transport
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client.ts";
 * await assert.rejects(
 *   connect("mqtt://nowhere", {
 *     transport: () => Promise.reject(new Error("no route to host")),
 *   }),
 *   /no route to host/,
 * );
 * ```
 */
export async function connect(
  url: string | URL | readonly (string | URL)[],
  options: ConnectOptions & { transport: TransportOpener },
): Promise<MqttClient> {
  const urls = checkConnectArguments(url, options);
  const session = await loadSession(options);
  const client = new MqttClient(urls, options, session);
  await startClient(client, options.signal);
  return client;
}
