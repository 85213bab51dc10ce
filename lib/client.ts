/**
 * {@link MqttClient}: one MQTT connection (and its reconnections) around a sans-I/O
 * {@link ClientSession}. The client owns the transport, the timers, the promises, the
 * offline queue and the message buffers; the session decides what goes on the wire.
 *
 * This file names no runtime: the transport comes from the `transport` option, which
 * `connect()` in mod.ts fills with `openTransport`.
 *
 * @module
 */

import {
  ConnectionClosedError,
  ConnectionRefusedError,
  MqttError,
  OfflineQueueFullError,
  ProtocolError,
  ServerDisconnectError,
  SubscribeError,
  UnsubscribeError,
} from "./errors.ts";
import {
  ConnectEvent,
  ConnectFailedEvent,
  DisconnectEvent,
  LogEvent,
  type Logger,
  type LogLevel,
  MessageArrivedEvent,
  MqttClientEventTarget,
  PublishEvent,
  SubscribeEvent,
  SubscriptionLostEvent,
  UnsubscribeEvent,
} from "./events.ts";
import type { AuthExchange, AuthMethod } from "./auth_method.ts";
import { Backoff } from "./backoff.ts";
import { Message } from "./message.ts";
import { OfflineQueue, type OfflineQueueOptions } from "./offline_queue.ts";
import { encodePacket } from "./packet/encode.ts";
import type {
  AuthPacket,
  Packet,
  Properties,
  ProtocolVersion,
  QoS,
  Subscription as SubscriptionOptions,
} from "./packet/types.ts";
import type {
  ConnectedAction,
  DeliverAction,
  OutgoingMessage,
  SessionAction,
  SettleAction,
} from "./session/actions.ts";
import { ClientSession, type ClientSessionOptions } from "./session/client_session.ts";
import { PacketReader } from "./session/packet_reader.ts";
import type { ServerLimits } from "./session/server_limits.ts";
import type { SessionStore } from "./store/types.ts";
import { MessageBuffer, Subscription, type SubscriptionOwner } from "./subscription.ts";
import {
  parseSharedSubscription,
  topicMatches,
  validateTopicFilter,
  validateTopicName,
} from "./topic.ts";
import type { TlsOptions, Transport, TransportOptions, WsOptions } from "./transport/types.ts";

/** Options a {@link TransportOpener} receives: the transport options besides the address. */
export type TransportOpenOptions = Omit<TransportOptions, "hostname" | "port">;

/**
 * Opens a transport to a broker URL; `openTransport` from `./transport/open.ts` is the
 * standard one. Tests and unusual environments may pass their own.
 */
export type TransportOpener = (url: URL, options: TransportOpenOptions) => Promise<Transport>;

/** The Will: what the server publishes when the connection ends without DISCONNECT. */
export interface WillOptions {
  /** The topic the Will is published to. */
  topic: string;
  /** Text (sent as UTF-8) or bytes. Default empty. */
  payload?: string | Uint8Array;
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /** MQTT 5 will properties (Will Delay Interval, Message Expiry Interval, ...). */
  properties?: Properties;
}

/** Automatic reconnection settings; see {@link Backoff} for the delays. */
export interface ReconnectOptions {
  /** Shortest delay between attempts, in milliseconds (default 1000). */
  minDelay?: number;
  /** Longest delay between attempts, in milliseconds (default 60000). */
  maxDelay?: number;
  /** Growth of the delay ceiling per attempt (default 2). */
  factor?: number;
  /**
   * Keep trying after a CONNACK refusal that cannot heal by itself (bad user name or
   * password, not authorized, banned, unsupported protocol version, invalid client id...),
   * for instance when `credentials` fetches new ones. Default false: the client gives up.
   */
  retryRefused?: boolean;
}

/** What a `credentials` hook may return: credentials for the next CONNECT. */
export interface Credentials {
  /** User Name for the next CONNECT. */
  username?: string;
  /** Password for the next CONNECT: text (sent as UTF-8) or bytes. */
  password?: string | Uint8Array;
}

/** Options of `connect()`. */
export interface ConnectOptions {
  /**
   * Client Identifier. Default "": an MQTT 5 server assigns one; MQTT 3.1.1 then needs
   * `clean: true`. Required with a `store`.
   */
  clientId?: string;
  /** 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0). Default 5. */
  protocolVersion?: ProtocolVersion;
  /** Clean Start (MQTT 5) / Clean Session (3.1.1). Default true. */
  clean?: boolean;
  /** MQTT 5 Session Expiry Interval in seconds. Default 0. */
  sessionExpiryInterval?: number;
  /** Keep Alive in seconds (0 turns it off). Default 60. */
  keepalive?: number;
  /** User Name for CONNECT. */
  username?: string;
  /** Password for CONNECT: text (sent as UTF-8) or bytes. */
  password?: string | Uint8Array;
  /** The Will, published by the server when the connection ends without DISCONNECT. */
  will?: WillOptions;
  /**
   * Reconnect automatically after a connection that was up is lost, with exponential
   * backoff and full jitter (default `{}`: 1 s to 60 s); `false` to never reconnect.
   * The first connection is not retried: `connect()` rejects instead.
   */
  reconnect?: ReconnectOptions | false;
  /**
   * Called before each connection attempt (the first one included); what it returns
   * replaces the user name and password for that attempt. Use it to refresh tokens.
   */
  credentials?: (attempt: { url: URL; attempt: number }) => Credentials | Promise<Credentials>;
  /**
   * Where the session is kept (see `./store/mod.ts`). With `clean: false`, the saved
   * session is taken up again: unfinished QoS 1/2 messages are sent again, QoS 2 messages
   * are received exactly once. With `clean: true`, a saved session is deleted.
   */
  store?: SessionStore;
  /** TLS settings for `mqtts:`, `ssl:` and `wss:` URLs: CA, client certificate, SNI, ALPN. */
  tls?: TlsOptions;
  /** WebSocket settings for `ws:` and `wss:` URLs. */
  ws?: WsOptions;
  /**
   * MQTT 5 enhanced authentication (see `./auth_method.ts`): CONNECT names
   * `auth.method`, AUTH challenges are answered by it, and `client.reauthenticate()`
   * runs it again on a live connection. Needs `protocolVersion` 5.
   */
  auth?: AuthMethod;
  /** Aborts `connect()`: it rejects with `signal.reason`. Later aborts have no effect. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the transport and the CONNACK (default 30000). */
  connectTimeout?: number;
  /**
   * Milliseconds to wait for an answer to PINGREQ before the connection is declared dead
   * (default: the keep-alive interval).
   */
  pingTimeout?: number;
  /**
   * How many QoS 1/2 messages the server may have in flight to this client: their
   * acknowledgements are what a slow reader holds back. Announced to MQTT 5 servers as
   * Receive Maximum only when set. Whether announced or not, the client stops reading the
   * connection while this many messages (default 100) wait unacknowledged, so memory
   * stays bounded whatever the server does.
   */
  receiveMaximum?: number;
  /**
   * What to do when an MQTT 5 server sends more unacknowledged QoS 1/2 messages than our
   * announced `receiveMaximum`. Default false: accept them, count them
   * (`client.receiveMaximumExceeded`) and log a warning once per connection, as some
   * servers do it (Mosquitto 2.0.11 sends 8 against an announced 3). True: end the
   * connection with DISCONNECT 0x93 Receive Maximum exceeded, as MQTT-3.3.4-9 says.
   */
  strictReceiveMaximum?: boolean;
  /** MQTT 5 Topic Alias Maximum for messages from the server (default 0: none). */
  topicAliasMaximum?: number;
  /** MQTT 5 Maximum Packet Size accepted from the server, in bytes. Larger ones fail the connection. */
  maximumPacketSize?: number;
  /** Further MQTT 5 CONNECT properties (User Properties, Request Problem Information...). */
  properties?: Properties;
  /**
   * Messages a subscription (and `client.messages`) holds for its reader before
   * acknowledgements are held back (default 100). See `MessageBuffer`.
   */
  highWaterMark?: number;
  /**
   * The default `ack` of subscriptions, and the mode of `client.messages` (the messages
   * no subscription claims, like those a resumed session delivers right after CONNACK):
   * `"auto"` (default) or `"manual"`, see `SubscribeOptions.ack`.
   */
  ack?: "auto" | "manual";
  /** Bounds of the queue of publications made while offline (default 1000 messages, 16 MiB, reject new). */
  offlineQueue?: OfflineQueueOptions;
  /** Receives the client's log lines (`console` works); `"log"` events carry them too. */
  logger?: Logger;
  /** Opens transports; `connect()` of mod.ts defaults it to `openTransport`. */
  transport?: TransportOpener;
}

/** Options of {@link MqttClient.publish}. */
export interface PublishOptions {
  /** Default 0. */
  qos?: QoS;
  /** Default false. */
  retain?: boolean;
  /**
   * MQTT 5 PUBLISH properties: Message Expiry Interval, Content Type, Response Topic,
   * Correlation Data, User Properties, Payload Format Indicator. Topic aliases are
   * assigned by the client.
   */
  properties?: Properties;
  /**
   * Stops waiting: the promise rejects with `signal.reason`. A message not yet sent is
   * withdrawn; one already sent completes its exchange anyway.
   */
  signal?: AbortSignal;
}

/** How a publication ended. */
export interface PublishResult {
  /**
   * The reason code the server answered with: for QoS 1 the PUBACK's, for QoS 2 the
   * PUBREC's unless the PUBCOMP's is not 0; 0 for QoS 0 and before MQTT 5. 0x10 (No
   * matching subscribers) is a success.
   */
  reasonCode: number;
  /** The properties of the final acknowledgement (Reason String, User Properties). */
  properties?: Properties;
}

/** Options of {@link MqttClient.subscribe}. */
export interface SubscribeOptions {
  /** Maximum QoS to receive with. Default 0. */
  qos?: QoS;
  /** MQTT 5: do not receive this client's own publications. */
  noLocal?: boolean;
  /** MQTT 5: keep the RETAIN flag as published instead of clearing it. */
  retainAsPublished?: boolean;
  /** MQTT 5: 0 send retained messages, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5 SUBSCRIBE properties: a Subscription Identifier, User Properties. */
  properties?: Properties;
  /** Messages held for the reader before acknowledgements are held back (default: the client's). */
  highWaterMark?: number;
  /**
   * When the PUBACK (QoS 1) or PUBREC (QoS 2) of a message leaves. `"auto"` (default):
   * once the message is in the subscription's buffer (within `highWaterMark`), so a
   * process that dies with messages in its buffers has acknowledged messages it never
   * processed. `"manual"`: only after `message.ack()`, which the application calls once
   * it has processed the message (committed its effect).
   *
   * The guarantee of `"manual"` with `clean: false`, a session expiry the server keeps,
   * and a durable `store` (for QoS 2), across a crash of this process at any point:
   * - a message whose `ack()` did not resolve is delivered again after the restart
   *   (the server re-sends it, as it was never acknowledged);
   * - a QoS 2 message whose `ack()` resolved is never delivered again: the store knew it
   *   before its PUBREC left. So each QoS 2 message is acknowledged by the application
   *   exactly once; processing that commits together with `ack()` (or is idempotent
   *   up to it) happens exactly once.
   * - QoS 1 stays at least once: one acknowledged just before a crash may come again.
   *
   * Unacknowledged messages hold back the acknowledgements of later ones (they leave in
   * arrival order, MQTT-4.6.0-2), and count against `receiveMaximum`: the client stops
   * reading the connection while that many wait. QoS 0 messages need no `ack()`.
   */
  ack?: "auto" | "manual";
  /** Stops waiting for the SUBACK: rejects with `signal.reason` and undoes the subscription. */
  signal?: AbortSignal;
}

/** Options of {@link MqttClient.request}. */
export interface RequestOptions {
  /** QoS of the request (default 1); the response inbox is subscribed with QoS 1. */
  qos?: QoS;
  /** Further MQTT 5 PUBLISH properties (Response Topic and Correlation Data are set by the client). */
  properties?: Properties;
  /** Milliseconds to wait for the response (default 30000). */
  timeout?: number;
  /** Stops waiting: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** Options of {@link MqttClient.disconnect}. */
export interface DisconnectOptions {
  /** MQTT 5 DISCONNECT reason code: 0 (default), or 0x04 to have the server publish the Will. */
  reasonCode?: number;
  /** MQTT 5 DISCONNECT properties (Session Expiry Interval, Reason String, User Properties). */
  properties?: Properties;
  /** Milliseconds to wait for the DISCONNECT to be written (default 5000). */
  timeout?: number;
  /**
   * Stops waiting for the DISCONNECT to be written: the connection closes at once and the
   * promise rejects with `signal.reason`. The client is closed either way.
   */
  signal?: AbortSignal;
}

/** Where a client stands. */
export type ClientState = "connecting" | "connected" | "reconnecting" | "closing" | "closed";

const DEFAULT_CONNECT_TIMEOUT = 30_000;
/** Unacknowledged messages held before the client stops reading the connection. */
const DEFAULT_HOLD_LIMIT = 100;
const DEFAULT_HIGH_WATER_MARK = 100;
const encoder = new TextEncoder();

/** How many Server Reference redirects the first connection follows in a row. */
const MAX_REDIRECTS = 3;

/**
 * The server another one sent us to: a CONNACK or DISCONNECT with 0x9C (Use another
 * server) or 0x9D (Server moved) and a Server Reference. The reference is a URL, or
 * "host" / "host:port" taken with the scheme of the current URL; of several references
 * separated by spaces, the first is used.
 */
function redirectOf(error: unknown, current: URL): URL | undefined {
  let reference: string | undefined;
  let code: number | undefined;
  if (error instanceof ConnectionRefusedError || error instanceof ServerDisconnectError) {
    reference = error.serverReference;
    code = error.reasonCode;
  }
  if (reference === undefined || (code !== 0x9c && code !== 0x9d)) return undefined;
  const first = reference.trim().split(/\s+/)[0];
  if (!first) return undefined;
  try {
    const url = new URL(first.includes("://") ? first : `${current.protocol}//${first}`);
    if (!first.includes("://") && (current.pathname !== "/" || current.search !== "")) {
      url.pathname = current.pathname;
      url.search = current.search;
    }
    return url;
  } catch {
    return undefined;
  }
}

/** CONNACK codes after which trying again cannot help, unless told otherwise. */
const HOPELESS_V5 = new Set([
  0x81,
  0x82,
  0x84,
  0x85,
  0x86,
  0x87,
  0x8a,
  0x8c,
  0x90,
  0x95,
  0x99,
  0x9a,
  0x9b,
]);
const HOPELESS_V3 = new Set([1, 2, 4, 5]);

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
 * One transport and its write queue. Packets written in the same turn of the event loop
 * go out as one chunk; while a write is under way, the next chunk gathers.
 */
/** An enhanced authentication exchange in progress on a connection. */
interface AuthRun {
  reauthenticate: boolean;
  round: number;
  /** An answer to the server is being computed: a second challenge now is an error. */
  busy: boolean;
  /** Settles `reauthenticate()`. */
  done: PromiseWithResolvers<void> | undefined;
}

class Connection {
  readonly url: URL;
  readonly transport: Transport;
  /** The CONNACK accepted the connection. */
  connected = false;
  /** The client is done with this connection (it may still be draining its writes). */
  lost = false;
  /** The warning about a server exceeding our Receive Maximum was logged. */
  excessLogged = false;
  /** The enhanced authentication exchange under way, if any. */
  auth: AuthRun | undefined;
  readonly ready = Promise.withResolvers<ConnectedAction>();
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #outbox: Uint8Array[] = [];
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #pumping: Promise<void> | undefined;
  #ending = false;
  #closed = false;
  #beforeWrite: (() => Promise<void>) | undefined;
  #onError: (error: unknown) => void;
  /** Packets written that wait for the server's answer: QoS 1/2 PUBLISH, PUBREC, PUBREL. */
  #awaiting = 0;
  /** How many of the queued packets will wait for an answer once written. */
  #queuedAwaiting = 0;
  #outboxBytes = 0;
  #deferTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    url: URL,
    transport: Transport,
    beforeWrite: (() => Promise<void>) | undefined,
    onError: (error: unknown) => void,
  ) {
    this.url = url;
    this.transport = transport;
    this.#writer = transport.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.#beforeWrite = beforeWrite;
    this.#onError = onError;
    // A connection that never resolves `ready` must not leave an unhandled rejection.
    this.ready.promise.catch(() => {});
  }

  /**
   * Queues bytes; they leave with the others of this turn, or, while many packets wait
   * for the server's answer, with the next answer (see {@link DEFER_AWAITING}). Ignored
   * once ending. `awaitsAnswer`: the packet is a QoS 1/2 PUBLISH, a PUBREC or a PUBREL.
   */
  write(bytes: Uint8Array, awaitsAnswer = false): void {
    if (this.#ending || this.#closed) return;
    this.#outbox.push(bytes);
    this.#outboxBytes += bytes.length;
    if (awaitsAnswer) this.#queuedAwaiting++;
    this.#schedule(false);
  }

  /** The server answered a packet that waited for it (PUBACK, PUBREC, PUBREL, PUBCOMP). */
  answered(): void {
    if (this.#awaiting > 0) this.#awaiting--;
    if (this.#deferTimer !== undefined && !this.#deferring()) {
      clearTimeout(this.#deferTimer);
      this.#deferTimer = undefined;
      this.#schedule(false);
    }
  }

  /** Whether queued packets wait for the next answer rather than leave this turn. */
  #deferring(): boolean {
    return this.#awaiting >= DEFER_AWAITING && this.#outboxBytes < DEFER_MAX_BYTES &&
      !this.#ending;
  }

  #schedule(force: boolean): void {
    if (this.#pumping !== undefined || this.#outbox.length === 0 || this.#closed) return;
    if (!force && this.#deferring()) {
      // Answers are on their way and will flush the queue; the timer only covers a
      // server that stops answering.
      this.#deferTimer ??= setTimeout(() => {
        this.#deferTimer = undefined;
        this.#schedule(true);
      }, DEFER_MAX_MS);
      return;
    }
    this.#pumping = Promise.resolve().then(() => this.#pump(force));
  }

  /** Resolves once everything queued so far reached the transport. */
  written(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectionClosedError("The connection closed before the packet was written"),
      );
    }
    if (this.#outbox.length === 0 && this.#pumping === undefined) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ resolve, reject });
    return promise;
  }

  /** Takes no more packets, waits (up to `timeout` ms) for the queued ones, then closes. */
  async flushAndClose(timeout: number): Promise<void> {
    this.#ending = true;
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
    this.#schedule(true);
    if (this.#outbox.length > 0 || this.#pumping !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.written().catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, timeout)),
      ]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** Closes the transport at once and fails what waits to be written. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    this.#outbox = [];
    clearTimeout(this.#deferTimer);
    this.#deferTimer = undefined;
    const waiters = this.#waiters;
    this.#waiters = [];
    const error = new ConnectionClosedError("The connection closed before the packet was written");
    for (const waiter of waiters) waiter.reject(error);
    this.transport.close().catch(() => {});
  }

  async #pump(force: boolean): Promise<void> {
    try {
      while (this.#outbox.length > 0 && !this.#closed && (force || !this.#deferring())) {
        force = false;
        const chunks = this.#outbox;
        const waiters = this.#waiters;
        this.#outbox = [];
        this.#waiters = [];
        this.#awaiting += this.#queuedAwaiting;
        this.#queuedAwaiting = 0;
        this.#outboxBytes = 0;
        // Persist the state these packets follow from before they leave (later packets,
        // queued while saving, wait for the next round and its own save).
        if (this.#beforeWrite) await this.#beforeWrite();
        if (this.#closed) {
          const error = new ConnectionClosedError(
            "The connection closed before the packet was written",
          );
          for (const waiter of waiters) waiter.reject(error);
          break;
        }
        await this.#writer.write(chunks.length === 1 ? chunks[0]! : concat(chunks));
        for (const waiter of waiters) waiter.resolve();
      }
    } catch (error) {
      if (!this.#closed) this.#onError(error);
    } finally {
      this.#pumping = undefined;
      if (this.#outbox.length === 0 && !this.#closed) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) waiter.resolve();
      } else {
        this.#schedule(false);
      }
    }
  }
}

/**
 * While this many QoS 1/2 PUBLISH, PUBREC and PUBREL packets wait for the server's answer,
 * new packets wait for the next answer (PUBACK, PUBREC, PUBREL, PUBCOMP) instead of leaving
 * at once:
 * a pipelining publisher then writes tens of packets per system call instead of a few,
 * and the server answers in bigger batches too. It costs no latency worth the name, as
 * that many packets are queued at the server ahead of the new ones anyway, and none when
 * fewer wait (a request / response exchange never waits).
 */
const DEFER_AWAITING = 32;
/** Queued bytes that leave at once even while answers are awaited. */
const DEFER_MAX_BYTES = 64 * 1024;
/** How long queued packets wait for an answer at most, in ms. */
const DEFER_MAX_MS = 2;

/** Resolves once `buffer` is drained or after one timer tick, whichever comes first. */
function drainedOrTick(buffer: MessageBuffer): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    buffer.drained(),
    new Promise<void>((resolve) => timer = setTimeout(resolve, 0)),
  ]).finally(() => clearTimeout(timer));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function now(): number {
  return performance.now();
}

function toBytes(what: string, value: unknown): Uint8Array {
  if (typeof value === "string") return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new TypeError(
    `Cannot ${what} as 'payload' must be a string, a Uint8Array, an ArrayBuffer or a view: current value is ${
      describe(value)
    }`,
  );
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** Throws the codec's TypeError / RangeError when `packet` cannot be encoded. */
function checkEncodable(packet: Packet): void {
  encodePacket(packet, 5);
}

function checkQoS(verb: string, qos: unknown): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(
      `Cannot ${verb} as 'qos' must be 0, 1 or 2: current value is ${describe(qos)}`,
    );
  }
  return qos;
}

function checkPositiveInteger(verb: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${verb} as '${name}' must be a positive integer: current value is ${describe(value)}`,
    );
  }
}

/** Resolves after `ms`, or rejects with `signal.reason` when it aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether the connection may heal by trying again after `error`: transport failures,
 * timeouts and most refusals may; bad credentials, authorization, bans and malformed
 * requests do not.
 */
function canHeal(error: unknown, protocolVersion: ProtocolVersion, retryRefused: boolean): boolean {
  if (error instanceof ConnectionRefusedError) {
    if (retryRefused) return true;
    return !(protocolVersion === 5 ? HOPELESS_V5 : HOPELESS_V3).has(error.reasonCode);
  }
  if (error instanceof ServerDisconnectError) {
    // Another connection took the session over: reconnecting would take it back, and so on.
    return error.reasonCode !== 0x8e;
  }
  return true;
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
  /** A buffer a QoS 0 message just filled: the read loop lets its reader catch up. */
  #congested: MessageBuffer | undefined;
  /** The last topic name that passed validation. */
  #validTopic: string | undefined;
  #session: ClientSession;
  #urls: URL[];
  #urlIndex = 0;
  /** Where the next attempt goes, when a server named another one (Server Reference). */
  #redirect: URL | undefined;
  #opener: TransportOpener;
  #options: ConnectOptions;
  #store: SessionStore | undefined;
  #storeKey: string;
  #reconnect: ReconnectOptions | false;
  #backoff: Backoff;
  #logger: Logger | undefined;
  #highWaterMark: number;
  #connectTimeout: number;

  #state: ClientState = "connecting";
  #conn: Connection | undefined;
  #connectedOnce = false;
  #lifetime = new AbortController();
  #closed = Promise.withResolvers<void>();
  #closeError: unknown;

  #queue: unknown[] = [];
  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  #publishes = new Map<number, PendingPublish>();
  #offline: OfflineQueue<PendingPublish>;
  #flushOffline = false;
  #subscribes = new Map<number, PendingSubscribe>();
  #unsubscribes = new Map<number, PendingUnsubscribe>();
  #routes = new Set<Route>();
  #messages: MessageBuffer;
  #owner: SubscriptionOwner;
  #inbox: Promise<ResponseInbox> | undefined;

  /** Delivered QoS 1/2 messages whose acknowledgement the buffers still hold back. */
  #held = 0;
  #holdLimit: number;
  #drainWaiters: (() => void)[] = [];

  #version = 0;
  #savedVersion = 0;
  #saving: Promise<void> | undefined;

  /** Use `connect()`; the constructor makes an unconnected client. */
  constructor(
    urls: readonly (string | URL)[],
    options: ConnectOptions & { transport: TransportOpener },
    session: ClientSession,
  ) {
    super();
    this.#urls = urls.map((url) => url instanceof URL ? url : new URL(url));
    this.#opener = options.transport;
    this.#options = options;
    this.#store = options.store;
    this.#storeKey = options.clientId ?? "";
    this.#reconnect = options.reconnect ?? {};
    this.#backoff = new Backoff(this.#reconnect === false ? {} : this.#reconnect);
    this.#logger = options.logger;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
    this.#holdLimit = options.receiveMaximum ?? DEFAULT_HOLD_LIMIT;
    this.#offline = new OfflineQueue(options.offlineQueue);
    this.#messages = new MessageBuffer({ highWaterMark: this.#highWaterMark });
    this.#session = session;
    this.#owner = { unsubscribe: (subscription) => this.#unsubscribe(subscription) };
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
    return this.#conn?.url ?? this.#urls[this.#urlIndex]!;
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
    return this.#messages.readable;
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
      message = this.#outgoing(topic, payload, options);
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
    const message = this.#outgoing(topic, payload, options);
    this.#assertOpen("publish");
    this.#publish(message, undefined).catch((error) => {
      this.#log("warn", `A publication to '${topic}' failed: ${(error as Error)?.message}`, error);
    });
  }

  #publish(message: OutgoingMessage, signal: AbortSignal | undefined): Promise<PublishResult> {
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
      const onAbort = () => this.#abortPublish(pending, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      pending.cleanup = () => signal.removeEventListener("abort", onAbort);
    }
    if (this.#state === "connected") {
      this.#publishNow(pending);
    } else {
      this.#queueOffline(pending);
    }
    return promise;
  }

  #outgoing(topic: string, payload: unknown, options: PublishOptions): OutgoingMessage {
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
    if (properties !== undefined && this.protocolVersion === 5) {
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

  #publishNow(pending: PendingPublish): void {
    let result;
    try {
      result = this.#session.publish(pending.message, now());
    } catch (error) {
      this.#finishPublish(pending, error, undefined);
      return;
    }
    pending.id = result.id;
    this.#publishes.set(result.id, pending);
    if (pending.qos > 0) this.#dirty();
    this.#run(result.actions);
  }

  #queueOffline(pending: PendingPublish): void {
    const size = pending.message.payload.length + pending.message.topic.length + 16;
    const { accepted, dropped } = this.#offline.push(pending, size);
    for (const old of dropped) {
      this.#finishPublish(
        old,
        new OfflineQueueFullError(
          "The offline queue dropped the message to make room for newer ones",
        ),
        undefined,
      );
    }
    if (!accepted) {
      this.#finishPublish(
        pending,
        new OfflineQueueFullError(
          `Cannot queue the message to '${pending.message.topic}' as the offline queue is full`,
        ),
        undefined,
      );
    }
  }

  #abortPublish(pending: PendingPublish, reason: unknown): void {
    if (pending.done) return;
    if (pending.id === undefined) {
      this.#offline.remove(pending);
    } else if (this.#session.cancel(pending.id)) {
      this.#publishes.delete(pending.id);
      this.#dirty();
    }
    this.#finishPublish(pending, reason, undefined);
  }

  #finishPublish(pending: PendingPublish, error: unknown, result: PublishResult | undefined): void {
    if (pending.done) return;
    pending.done = true;
    pending.cleanup?.();
    if (result !== undefined) pending.resolve(result);
    else pending.reject(error);
  }

  #settlePublish(action: SettleAction): void {
    const pending = this.#publishes.get(action.id);
    this.#publishes.delete(action.id);
    let reasonCode = 0;
    for (const code of action.reasonCodes) {
      if (code !== 0) {
        reasonCode = code;
        break;
      }
    }
    const qos = pending?.qos ?? 1;
    const topic = pending?.message.topic ?? "";
    if (action.error) {
      this.#dispatch(new PublishEvent({ topic, qos, reasonCode, error: action.error }));
      if (pending) this.#finishPublish(pending, action.error, undefined);
      return;
    }
    const result: PublishResult = { reasonCode };
    if (action.properties) result.properties = action.properties;
    if (qos === 0) {
      // Done once written: wait for the chunk that carries it.
      const conn = this.#conn;
      const written = conn ? conn.written() : Promise.reject(
        new ConnectionClosedError("The connection closed before the message was written"),
      );
      written.then(
        () => {
          if (this.hasListened("publish")) {
            this.#dispatch(new PublishEvent({ topic, qos, reasonCode }));
          }
          if (pending) this.#finishPublish(pending, undefined, result);
        },
        (error) => {
          this.#dispatch(new PublishEvent({ topic, qos, reasonCode, error }));
          if (pending) this.#finishPublish(pending, error, undefined);
        },
      );
      return;
    }
    if (this.hasListened("publish")) this.#dispatch(new PublishEvent({ topic, qos, reasonCode }));
    if (pending) this.#finishPublish(pending, undefined, result);
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
  async subscribe(
    topicFilters: string | readonly string[],
    options: SubscribeOptions = {},
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
    const ack = options.ack ?? this.#options.ack ?? "auto";
    if (ack !== "auto" && ack !== "manual") {
      throw new TypeError(
        `Cannot subscribe as 'ack' must be "auto" or "manual": current value is ${describe(ack)}`,
      );
    }
    const { signal } = options;
    signal?.throwIfAborted();
    this.#assertOpen("subscribe");
    const v5 = this.protocolVersion === 5;
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
    const { id, actions } = this.#session.subscribe(request, now());
    this.#routes.add(route);
    this.#dirty();
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
        if (this.#session.cancel(id)) {
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
    this.#run(actions);
    return await promise;
  }

  #settleSubscribe(action: SettleAction): void {
    const filters = action.topicFilters ?? [];
    this.#dispatch(new SubscribeEvent(filters, action.reasonCodes));
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
      if (orphans.length > 0 && this.#state !== "closed") {
        const { actions } = this.#session.unsubscribe({ topicFilters: orphans }, now());
        this.#dirty();
        this.#run(actions);
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
      this.#log("error", `A subscription was not restored: ${error.message}`, error);
      if (route.match.length === 0) {
        route.live = false;
        this.#routes.delete(route);
        route.buffer.error(error);
      }
      this.#dispatch(
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
      this.#log("error", `A subscription was not restored: ${error.message}`, error);
      this.#dispatch(
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
    if (this.#state === "closed" || this.#state === "closing") {
      this.#closeRoute(route);
      return;
    }
    const topicFilters = route.filters.filter((filter) => !this.#heldElsewhere(filter, route));
    route.leaving = true;
    if (topicFilters.length === 0) {
      this.#closeRoute(route);
      return;
    }
    const { id, actions } = this.#session.unsubscribe({ topicFilters }, now());
    this.#dirty();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#unsubscribes.set(id, { route, resolve, reject });
    this.#run(actions);
    return await promise;
  }

  #closeRoute(route: Route): void {
    route.live = false;
    this.#routes.delete(route);
    route.buffer.close();
  }

  #settleUnsubscribe(action: SettleAction): void {
    const filters = action.topicFilters ?? [];
    this.#dispatch(new UnsubscribeEvent(filters, action.reasonCodes));
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
  async request(
    topic: string,
    payload: string | Uint8Array | ArrayBuffer | ArrayBufferView = new Uint8Array(),
    options: RequestOptions = {},
  ): Promise<Message> {
    if (this.protocolVersion !== 5) {
      throw new TypeError(
        `Cannot send a request as it needs MQTT 5 (Response Topic, Correlation Data): the client uses protocol level ${this.protocolVersion}`,
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
    const message = this.#outgoing(topic, payload, {
      qos: options.qos ?? 1,
      properties: options.properties,
    });
    const { signal } = options;
    signal?.throwIfAborted();
    this.#assertOpen("send a request");
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
      await Promise.race([this.#publish(message, signal), promise]);
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
      const pending = this.subscribe(topic, { qos: 1 }).then((subscription) => {
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

  // ------------------------------------------------------------------ incoming

  #deliver(action: DeliverAction): void {
    const targets: Route[] = [];
    // A server sends one copy per matching subscription, each with the identifiers of the
    // subscriptions it stands for: a subscription made with an identifier takes only the
    // copies that carry it.
    const identifiers = action.message.properties?.subscriptionIdentifiers ?? [];
    const topic = action.message.topic;
    for (const route of this.#routes) {
      if (!route.live) continue;
      if (
        route.identifier !== undefined && identifiers.length > 0 &&
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
      (targets.length === 0 ? this.#options.ack === "manual" : targets.some((r) => r.manual));
    let message: Message;
    if (manual) {
      message = new Message({
        ...action.message,
        acknowledge: () => {
          release!();
          return this.#persist();
        },
      });
    } else {
      message = new Message(action.message);
    }
    if (this.hasListened("message")) this.#dispatch(new MessageArrivedEvent(message));
    if (token !== undefined) {
      const automatic = targets.filter((route) => !route.manual).length;
      let remaining = Math.max(1, automatic + (manual ? 1 : 0));
      this.#held++;
      release = () => {
        if (--remaining !== 0) return;
        this.#held--;
        if (this.#held < this.#holdLimit) this.#wakeReaders();
        this.#acknowledge(token);
      };
    }
    const hold = release === undefined ? undefined : () => {};
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

  #wakeReaders(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  #acknowledge(token: number): void {
    if (this.#state === "closed") return;
    const actions = this.#session.acknowledge(token, now());
    this.#dirty();
    this.#run(actions);
  }

  // ------------------------------------------------------------------ actions

  /**
   * Carries out session actions in order. Actions produced while others are being
   * carried out (a listener publishing, a buffer releasing an acknowledgement) wait for
   * their turn, so packets leave in the order the session produced them.
   */
  #run(actions: SessionAction[]): void {
    if (actions.length > 0) this.#queue.push(actions);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
        for (const action of batch as SessionAction[]) this.#do(action);
      }
      if (this.#flushOffline) {
        this.#flushOffline = false;
        for (const pending of this.#offline.drain()) this.#publishNow(pending);
        for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
          for (const action of batch as SessionAction[]) this.#do(action);
        }
      }
    } finally {
      this.#running = false;
    }
    this.#armTimer();
  }

  #do(action: SessionAction): void {
    switch (action.type) {
      case "send":
        this.#write(action.packet);
        break;
      case "deliver":
        this.#deliver(action);
        break;
      case "settle":
        if (action.request === "publish") this.#settlePublish(action);
        else if (action.request === "subscribe") this.#settleSubscribe(action);
        else this.#settleUnsubscribe(action);
        break;
      case "connected":
        this.#authenticated(action);
        break;
      case "disconnected": {
        const conn = this.#conn;
        const error = new ServerDisconnectError({
          reasonCode: action.reasonCode,
          properties: action.properties,
        });
        this.#log("warn", error.message, action);
        if (conn) this.#lose(conn, error, false);
        break;
      }
      case "auth":
        this.#onAuth(action.packet);
        break;
      case "close": {
        const conn = this.#conn;
        if (conn) this.#lose(conn, action.error, true);
        break;
      }
    }
  }

  #write(packet: Packet): void {
    const conn = this.#conn;
    if (conn === undefined || conn.lost) return;
    let bytes: Uint8Array;
    try {
      bytes = encodePacket(
        packet,
        packet.type === "connect" ? packet.protocolVersion : this.protocolVersion,
      );
    } catch (error) {
      // The session took a packet the codec refuses: start over on a new connection
      // rather than leave the session believing it was sent.
      this.#log(
        "error",
        `Cannot encode a ${packet.type.toUpperCase()}: ${(error as Error)?.message}`,
        error,
      );
      this.#lose(conn, error, false);
      return;
    }
    conn.write(
      bytes,
      packet.type === "pubrel" || packet.type === "pubrec" ||
        (packet.type === "publish" && packet.qos > 0),
    );
  }

  #armTimer(): void {
    const deadline = this.#session.nextDeadline();
    if (deadline === undefined) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    // An earlier timer stays: when it fires, it polls and arms the next one.
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#run(this.#session.poll(now()));
    }, Math.max(0, Math.ceil(deadline - now())));
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

  // ------------------------------------------------------------------ persistence

  #dirty(): void {
    if (this.#store) this.#version++;
  }

  /** Saves the session (when a store is set) so that the store knows every change made so far. */
  async #persist(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    const target = this.#version;
    while (this.#savedVersion < target) {
      if (this.#saving) {
        await this.#saving;
        continue;
      }
      const version = this.#version;
      const saving = store.save(this.#storeKey, this.#session.snapshot()).then(() => {
        this.#savedVersion = Math.max(this.#savedVersion, version);
      });
      this.#saving = saving;
      try {
        await saving;
      } finally {
        if (this.#saving === saving) this.#saving = undefined;
      }
    }
  }

  // ------------------------------------------------------------------ connection

  /** Opens a transport, sends CONNECT, resolves on an accepting CONNACK. */
  async #attempt(url: URL, attempt: number, signal: AbortSignal): Promise<ConnectedAction> {
    signal.throwIfAborted();
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#connectTimeout);
    const both = AbortSignal.any([signal, timeout.signal]);
    const reason = () =>
      signal.aborted ? signal.reason : new MqttError(
        `Cannot connect to ${url.href} as no CONNACK came within ${this.#connectTimeout} ms`,
      );
    try {
      return await this.#connectOnce(url, attempt, both, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  async #connectOnce(
    url: URL,
    attempt: number,
    both: AbortSignal,
    reason: () => unknown,
  ): Promise<ConnectedAction> {
    let credentials: Credentials | undefined;
    if (this.#options.credentials) {
      credentials = await this.#options.credentials({ url, attempt });
      if (both.aborted) throw reason();
    }
    const auth = this.#options.auth;
    let authData: Uint8Array | undefined;
    if (auth?.start) {
      authData = await auth.start({ method: auth.method, round: 1, reauthenticate: false });
      if (both.aborted) throw reason();
    }
    let transport: Transport;
    try {
      transport = await this.#opener(url, this.#transportOptions(both));
    } catch (error) {
      throw both.aborted ? reason() : error;
    }
    if (this.#state === "closed" || this.#state === "closing") {
      transport.close().catch(() => {});
      throw new ConnectionClosedError("The client closed while connecting");
    }
    const conn = new Connection(
      url,
      transport,
      this.#store ? () => this.#persist() : undefined,
      (error) => this.#lose(conn, error, false),
    );
    this.#conn = conn;
    if (auth) conn.auth = { reauthenticate: false, round: 1, busy: false, done: undefined };
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
      this.#write(packet);
      this.#readLoop(conn);
      return await conn.ready.promise;
    } finally {
      both.removeEventListener("abort", onAbort);
    }
  }

  #transportOptions(signal: AbortSignal): TransportOpenOptions {
    const options: TransportOpenOptions = { signal };
    if (this.#options.tls) options.tls = this.#options.tls;
    if (this.#options.ws) options.ws = this.#options.ws;
    return options;
  }

  async #readLoop(conn: Connection): Promise<void> {
    let failure: unknown;
    // Packets are cut from each chunk synchronously, so that all those of one socket read
    // are handled in one turn and the packets they cause leave in one write.
    const packets = new PacketReader(
      this.protocolVersion,
      this.#options.maximumPacketSize || Infinity,
    );
    const reader = conn.transport.readable.getReader();
    try {
      for (;;) {
        const packet = packets.next();
        if (packet === undefined) {
          const { done, value } = await reader.read();
          if (conn.lost) break;
          if (done) {
            packets.end();
            break;
          }
          packets.push(value);
          continue;
        }
        // Too many messages wait for their readers: let TCP hold the server back, even
        // one that ignores its window.
        while (this.#held >= this.#holdLimit && !conn.lost) {
          await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
        }
        if (conn.lost) break;
        this.#onPacket(conn, packet);
        const congested = this.#congested;
        if (congested !== undefined) {
          // A burst filled a buffer: give its reader (if it keeps up, within this turn) the
          // chance to empty it before more QoS 0 messages would be dropped; a reader that
          // does not keep up gets one timer tick.
          this.#congested = undefined;
          await drainedOrTick(congested);
        }
      }
    } catch (error) {
      failure = error;
    }
    reader.cancel().catch(() => {});
    if (conn.lost) return;
    if (failure instanceof ProtocolError) {
      // The server sent something malformed: MQTT 5 tells it why before closing.
      if (this.protocolVersion === 5 && conn.connected) {
        this.#write({ type: "disconnect", reasonCode: failure.reasonCode });
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
    if (packet.type !== "pingresp") this.#dirty();
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
    this.#run(actions);
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
    this.#backoff.reset();
    if (this.#storeKey === "") this.#storeKey = action.clientId;
    this.#flushOffline = this.#offline.length > 0;
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

  // ------------------------------------------------------------------ enhanced authentication

  /** An accepting CONNACK: with enhanced authentication, the method checks it first. */
  #authenticated(action: ConnectedAction): void {
    const conn = this.#conn;
    const auth = this.#options.auth;
    const run = conn?.auth;
    if (conn === undefined || auth === undefined || run === undefined) {
      this.#onConnected(action);
      return;
    }
    conn.auth = undefined;
    const method = action.connack.properties?.authenticationMethod;
    if (method !== auth.method) {
      this.#authFailed(
        conn,
        new ProtocolError(
          `CONNACK names Authentication Method ${JSON.stringify(method)}, not '${auth.method}'`,
          { reasonCode: 0x82, statement: "MQTT-4.12.0-5" },
        ),
      );
      return;
    }
    const exchange = { method: auth.method, round: run.round + 1, reauthenticate: false };
    const data = action.connack.properties?.authenticationData;
    settle(() => auth.onSuccess?.(data, exchange), (error) => {
      if (conn.lost || conn !== this.#conn) return;
      if (error === undefined) this.#onConnected(action);
      else this.#authFailed(conn, error);
    });
  }

  /** An AUTH from the server: a challenge to answer, or the end of a re-authentication. */
  #onAuth(packet: AuthPacket): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    const auth = this.#options.auth;
    const run = conn.auth;
    const code = packet.reasonCode ?? 0;
    const method = packet.properties?.authenticationMethod;
    const fail = (message: string, statement?: string) =>
      this.#authFailed(conn, new ProtocolError(message, { reasonCode: 0x82, statement }));
    if (auth === undefined) {
      return fail("The server sent AUTH, but no 'auth' method is configured");
    }
    if (method !== auth.method) {
      return fail(
        `AUTH names Authentication Method ${JSON.stringify(method)}, not '${auth.method}'`,
        "MQTT-4.12.0-5",
      );
    }
    if (run === undefined || run.busy) {
      return fail(
        `AUTH 0x${code.toString(16).padStart(2, "0")} outside an authentication exchange`,
      );
    }
    if (code === 0x00) {
      if (!run.reauthenticate) return fail("AUTH 0x00 before CONNACK: success is the CONNACK's");
      conn.auth = undefined;
      const exchange = { method: auth.method, round: run.round + 1, reauthenticate: true };
      settle(() => auth.onSuccess?.(packet.properties?.authenticationData, exchange), (error) => {
        if (error === undefined) {
          this.#log("info", "Re-authenticated");
          run.done?.resolve();
        } else {
          this.#authFailed(conn, error);
          run.done?.reject(error);
        }
      });
      return;
    }
    if (code !== 0x18) {
      return fail(`AUTH 0x${code.toString(16).padStart(2, "0")} from the server`);
    }
    run.round++;
    run.busy = true;
    const exchange: AuthExchange = {
      method: auth.method,
      round: run.round,
      reauthenticate: run.reauthenticate,
    };
    let answer: Uint8Array | undefined;
    settle(async () => {
      answer = await auth.onChallenge(packet.properties?.authenticationData, exchange);
    }, (error) => {
      run.busy = false;
      if (conn.lost || conn.auth !== run) return;
      if (error !== undefined) {
        this.#authFailed(conn, error);
        return;
      }
      this.#sendAuth(conn, 0x18, answer);
    });
  }

  #sendAuth(conn: Connection, reasonCode: number, data: Uint8Array | undefined): void {
    const method = this.#options.auth!.method;
    const properties: Properties = data === undefined
      ? { authenticationMethod: method }
      : { authenticationMethod: method, authenticationData: data };
    try {
      this.#run(this.#session.sendAuth({ type: "auth", reasonCode, properties }, now()));
    } catch (error) {
      this.#authFailed(conn, error);
    }
  }

  /** Ends a connection whose authentication failed on our side: DISCONNECT, then close. */
  #authFailed(conn: Connection, error: unknown): void {
    if (conn.lost) return;
    const reasonCode = error instanceof ProtocolError ? error.reasonCode : 0x87;
    this.#log("error", `Enhanced authentication failed: ${(error as Error)?.message}`, error);
    this.#write({ type: "disconnect", reasonCode });
    this.#lose(conn, error, true);
  }

  /**
   * MQTT 5 re-authentication (section 4.12.1): runs the `auth` method again on the live
   * connection (AUTH 0x19, then its challenges) and resolves when the server answers AUTH
   * 0x00 Success. Rejects with a `ServerDisconnectError` when the server refuses (it
   * disconnects), with the method's error when it throws, with a `ConnectionClosedError`
   * when not connected, and with `signal.reason` on abort (the exchange itself goes on).
   * Throws a TypeError when `auth` was not given to `connect()` or one is under way.
   */
  async reauthenticate(options: { signal?: AbortSignal } = {}): Promise<void> {
    const auth = this.#options.auth;
    if (auth === undefined) {
      throw new TypeError("Cannot reauthenticate as 'auth' was not given to connect()");
    }
    const { signal } = options;
    signal?.throwIfAborted();
    this.#assertOpen("reauthenticate");
    const conn = this.#conn;
    if (conn === undefined || !conn.connected || conn.lost) {
      throw new ConnectionClosedError("Cannot reauthenticate while not connected");
    }
    if (conn.auth !== undefined) {
      throw new TypeError("Cannot reauthenticate as a re-authentication is under way");
    }
    const done = Promise.withResolvers<void>();
    done.promise.catch(() => {});
    const run: AuthRun = { reauthenticate: true, round: 1, busy: true, done };
    conn.auth = run;
    settle(
      () => auth.start?.({ method: auth.method, round: 1, reauthenticate: true }),
      (error, data) => {
        run.busy = false;
        if (conn.lost || conn.auth !== run) return;
        if (error !== undefined) {
          conn.auth = undefined;
          done.reject(error);
          return;
        }
        this.#sendAuth(conn, 0x19, data);
      },
    );
    if (signal === undefined) return await done.promise;
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([done.promise, aborted.promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
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
      this.#armTimer();
    }
    this.#wakeReaders();
    if (!wasConnected) {
      conn.ready.reject(error);
      return;
    }
    if (this.#state === "closing" || this.#state === "closed") return;
    const retry = this.#reconnect !== false &&
      canHeal(error, this.protocolVersion, this.#reconnect.retryRefused ?? false);
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
      this.#redirect = redirectOf(error, conn.url);
    }
    this.#dispatch(new DisconnectEvent(event));
    if (retry) {
      this.#reconnectLoop();
    } else {
      this.#shutdown(error);
    }
  }

  async #reconnectLoop(): Promise<void> {
    const signal = this.#lifetime.signal;
    const retryRefused = this.#reconnect !== false && (this.#reconnect.retryRefused ?? false);
    let delay = this.#backoff.next();
    for (let attempt = 1; this.#state === "reconnecting"; attempt++) {
      try {
        await sleep(delay, signal);
      } catch {
        return; // disconnect() while waiting
      }
      if (this.#state !== "reconnecting") return;
      const url = this.#redirect ?? this.#urls[this.#urlIndex]!;
      this.#redirect = undefined;
      try {
        await this.#attempt(url, attempt, signal);
        return; // #onConnected did the rest
      } catch (error) {
        if (this.#state !== "reconnecting") return;
        const retry = canHeal(error, this.protocolVersion, retryRefused);
        this.#redirect = redirectOf(error, url);
        if (this.#redirect === undefined) this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
        delay = this.#backoff.next();
        this.#log(
          retry ? "warn" : "error",
          `Reconnection attempt ${attempt} to ${url.href} failed: ${
            (error as Error)?.message ?? error
          }`,
          error,
        );
        this.#dispatch(
          new ConnectFailedEvent({
            url: url.href,
            error: error as Error,
            attempt,
            retryIn: retry ? delay : undefined,
          }),
        );
        if (!retry) {
          this.#shutdown(error);
          return;
        }
      }
    }
  }

  static {
    startClient = (client, signal) => client.#start(signal);
  }

  /** The first connection: each URL in turn until one accepts. */
  async #start(signal: AbortSignal | undefined): Promise<void> {
    const lifetime = this.#lifetime.signal;
    const combined = signal ? AbortSignal.any([signal, lifetime]) : lifetime;
    let lastError: unknown;
    let redirects = 0;
    for (let i = 0; i < this.#urls.length;) {
      this.#urlIndex = i;
      const url = this.#redirect ?? this.#urls[i]!;
      this.#redirect = undefined;
      try {
        await this.#attempt(url, 1, combined);
        return;
      } catch (error) {
        lastError = error;
        if (signal?.aborted || this.#state === "closed") break;
        this.#redirect = redirectOf(error, url);
        if (this.#redirect !== undefined && ++redirects <= MAX_REDIRECTS) {
          this.#log("info", `Redirected from ${url.href} to ${this.#redirect.href}`);
          continue;
        }
        this.#redirect = undefined;
        if (!canHeal(error, this.protocolVersion, false)) break;
        i++;
      }
    }
    this.#state = "closed";
    this.#shutdown(lastError);
    throw signal?.aborted ? signal.reason : lastError;
  }

  /** Rejects everything pending, ends buffers and timers. */
  #shutdown(error: unknown): void {
    this.#state = "closed";
    this.#closeError = error;
    this.#lifetime.abort(new ConnectionClosedError("The client is closed"));
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const closedError = (what: string) =>
      new ConnectionClosedError(
        error === undefined
          ? `The client disconnected before the ${what} completed`
          : `The connection was lost before the ${what} completed: ${
            (error as Error)?.message ?? error
          }`,
        error === undefined ? {} : { cause: error },
      );
    for (const pending of this.#publishes.values()) {
      this.#finishPublish(pending, closedError("publication"), undefined);
    }
    this.#publishes.clear();
    for (const pending of this.#offline.drain()) {
      this.#finishPublish(pending, closedError("publication"), undefined);
    }
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
      this.#run(actions);
      this.#conn = undefined;
      conn.lost = true;
      this.#wakeReaders();
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
      await this.#persist();
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
  const urls = typeof url === "string" || url instanceof URL ? [url] : [...url];
  if (urls.length === 0) {
    throw new TypeError("Cannot connect as 'url' must name at least one broker");
  }
  for (const each of urls) {
    try {
      if (!(each instanceof URL)) new URL(each);
    } catch {
      throw new TypeError(
        `Cannot connect as 'url' must be a URL: current value is ${describe(each)}`,
      );
    }
  }
  if (typeof options.transport !== "function") {
    throw new TypeError(
      `Cannot connect as 'transport' must be a function: current value is ${
        describe(options.transport)
      }`,
    );
  }
  options.signal?.throwIfAborted();
  if (options.ack !== undefined && options.ack !== "auto" && options.ack !== "manual") {
    throw new TypeError(
      `Cannot connect as 'ack' must be "auto" or "manual": current value is ${
        describe(options.ack)
      }`,
    );
  }
  const sessionOptions = sessionOptionsOf(options);
  let session: ClientSession | undefined;
  const store = options.store;
  if (store !== undefined) {
    if (!options.clientId) {
      throw new TypeError("Cannot connect with a 'store' as 'clientId' must be a non-empty string");
    }
    if (options.clean === false) {
      const snapshot = await store.load(options.clientId);
      if (snapshot !== undefined) session = ClientSession.restore(snapshot, sessionOptions);
    } else {
      await store.delete(options.clientId);
    }
  }
  session ??= new ClientSession(sessionOptions);
  const client = new MqttClient(urls, options, session);
  await startClient(client, options.signal);
  return client;
}

/**
 * Calls `fn` and reports its outcome to `then`, synchronously when `fn` does not return
 * a promise: `(undefined, value)` on success, `(error)` on a throw or rejection (an
 * `undefined` error becomes an Error).
 */
function settle<T>(
  fn: () => T | Promise<T>,
  then: (error: unknown, value?: T) => void,
): void {
  const failed = (error: unknown) =>
    then(error ?? new Error("The authentication method failed without an error"));
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (error) {
    failed(error);
    return;
  }
  if (result instanceof Promise) result.then((value) => then(undefined, value), failed);
  else then(undefined, result);
}

function sessionOptionsOf(options: ConnectOptions): ClientSessionOptions {
  const result: ClientSessionOptions = {
    protocolVersion: options.protocolVersion ?? 5,
    clientId: options.clientId ?? "",
    clean: options.clean ?? true,
    manualAcks: true,
    strictReceiveMaximum: options.strictReceiveMaximum ?? false,
  };
  if (options.receiveMaximum !== undefined) result.receiveMaximum = options.receiveMaximum;
  if (options.keepalive !== undefined) result.keepalive = options.keepalive;
  if (options.sessionExpiryInterval !== undefined) {
    result.sessionExpiryInterval = options.sessionExpiryInterval;
  }
  if (options.topicAliasMaximum !== undefined) result.topicAliasMaximum = options.topicAliasMaximum;
  if (options.maximumPacketSize !== undefined) result.maximumPacketSize = options.maximumPacketSize;
  if (options.username !== undefined) result.username = options.username;
  if (options.password !== undefined) result.password = toBytes("connect", options.password);
  if (options.properties !== undefined) result.properties = options.properties;
  const auth = options.auth;
  if (auth !== undefined) {
    if (
      typeof auth !== "object" || auth === null || typeof auth.method !== "string" ||
      auth.method === "" || typeof auth.onChallenge !== "function"
    ) {
      throw new TypeError(
        `Cannot connect as 'auth' must have a non-empty 'method' and an 'onChallenge' function: current value is ${
          describe(auth)
        }`,
      );
    }
    if (result.protocolVersion !== 5) {
      throw new TypeError(
        `Cannot connect with 'auth' as enhanced authentication needs MQTT 5: 'protocolVersion' is ${result.protocolVersion}`,
      );
    }
    result.properties = { ...options.properties, authenticationMethod: auth.method };
  }
  if (options.pingTimeout !== undefined) result.pingTimeout = options.pingTimeout;
  if (options.will !== undefined) {
    const will = options.will;
    if (typeof will !== "object" || will === null) {
      throw new TypeError(
        `Cannot connect as 'will' must be an object: current value is ${describe(will)}`,
      );
    }
    try {
      validateTopicName(will.topic);
    } catch (error) {
      throw new TypeError(`Cannot connect as 'will.topic' is invalid: ${(error as Error).message}`);
    }
    result.will = {
      topic: will.topic,
      payload: toBytes("connect", will.payload ?? new Uint8Array()),
      qos: checkQoS("connect with a will", will.qos ?? 0),
      retain: will.retain ?? false,
    };
    if (will.properties !== undefined) result.will.properties = will.properties;
  }
  return result;
}
