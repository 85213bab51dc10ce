/**
 * The options and result types of `MqttClient` and `connect()`: {@link ConnectOptions}
 * and what it holds ({@link WillOptions}, {@link ReconnectOptions}, {@link Credentials},
 * {@link TransportOpener}), the options of publish, subscribe, request and disconnect,
 * {@link PublishResult} and {@link ClientState}; the defaults of the options, and the
 * checks of `connect()`'s arguments: {@link checkConnectArguments}, and
 * {@link sessionOptionsOf}, which turns the options into the session's.
 *
 * `./client.ts` re-exports the public types; mod.ts exports them from there.
 *
 * @module
 */

import type { AuthMethod } from "./auth_method.ts";
import { checkQoS, describe, toBytes } from "./client_checks.ts";
import type { Logger } from "./events.ts";
import type { OfflineQueueOptions } from "./offline_queue.ts";
import type { Properties, ProtocolVersion, QoS } from "./packet/types.ts";
import type { ClientSessionOptions } from "./session/client_session.ts";
import type { SessionStore } from "./store/types.ts";
import { validateTopicName } from "./topic.ts";
import type { TlsOptions, Transport, TransportOptions, WsOptions } from "./transport/types.ts";

/**
 * Options a {@link TransportOpener} receives: the transport options besides the address.
 *
 * @example An opener adds the address from the URL
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TransportOpenOptions } from "./client_options.ts";
 * import type { TransportOptions } from "./transport/types.ts";
 * const options: TransportOpenOptions = { ws: { path: "/mqtt", protocols: ["mqtt"] } };
 * const url = new URL("ws://broker.example:8080");
 * const full: TransportOptions = { hostname: url.hostname, port: Number(url.port), ...options };
 * assert.deepEqual(full, {
 *   hostname: "broker.example",
 *   port: 8080,
 *   ws: { path: "/mqtt", protocols: ["mqtt"] },
 * });
 * ```
 */
export type TransportOpenOptions = Omit<TransportOptions, "hostname" | "port">;

/**
 * Opens a transport to a broker URL; `openTransport` from `./transport/open.ts` is the
 * standard one. Tests and unusual environments may pass their own.
 *
 * @example connect() opens each URL through the opener (this one refuses)
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client.ts";
 * import type { TransportOpener } from "./client_options.ts";
 * const tried: string[] = [];
 * const transport: TransportOpener = (url) => {
 *   tried.push(url.href);
 *   return Promise.reject(new Error(`no route to ${url.host}`));
 * };
 * await assert.rejects(connect(["mqtt://a.example", "mqtt://b.example"], { transport }), {
 *   message: "no route to b.example",
 * });
 * assert.deepEqual(tried, ["mqtt://a.example", "mqtt://b.example"]);
 * ```
 */
export type TransportOpener = (url: URL, options: TransportOpenOptions) => Promise<Transport>;

/**
 * The Will: what the server publishes when the connection ends without DISCONNECT.
 *
 * @example A text Will becomes bytes, with defaults filled in
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionOptionsOf, type WillOptions } from "./client_options.ts";
 * const will: WillOptions = { topic: "devices/a/status", payload: "offline", qos: 1 };
 * assert.deepEqual(sessionOptionsOf({ will }).will, {
 *   topic: "devices/a/status",
 *   payload: new TextEncoder().encode("offline"),
 *   qos: 1,
 *   retain: false,
 * });
 * ```
 */
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

/**
 * Automatic reconnection settings; see {@link Backoff} for the delays.
 *
 * @example Delays from 100 ms to 400 ms, and retrying after refusals
 * ```ts
 * import assert from "node:assert/strict";
 * import { Backoff } from "./backoff.ts";
 * import type { ReconnectOptions } from "./client_options.ts";
 * import { ConnectionRefusedError } from "./errors.ts";
 * import { canHeal } from "./reconnect_policy.ts";
 * const reconnect: ReconnectOptions = { minDelay: 100, maxDelay: 400, retryRefused: true };
 * const ceilings = new Backoff({ ...reconnect, random: () => 0.999_999 });
 * assert.deepEqual([1, 2, 3].map(() => Math.round(ceilings.next())), [200, 400, 400]);
 * const notAuthorized = new ConnectionRefusedError({ reasonCode: 0x87 });
 * assert.equal(canHeal(notAuthorized, 5, reconnect.retryRefused ?? false), true);
 * ```
 */
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

/**
 * What a `credentials` hook may return: credentials for the next CONNECT.
 *
 * @example A token as the password, sent as UTF-8
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Credentials, sessionOptionsOf } from "./client_options.ts";
 * const credentials: Credentials = { username: "device-7", password: "t0ken" };
 * const session = sessionOptionsOf(credentials);
 * assert.equal(session.username, "device-7");
 * assert.deepEqual(session.password, new Uint8Array([0x74, 0x30, 0x6b, 0x65, 0x6e]));
 * ```
 */
export interface Credentials {
  /** User Name for the next CONNECT. */
  username?: string;
  /** Password for the next CONNECT: text (sent as UTF-8) or bytes. */
  password?: string | Uint8Array;
}

/**
 * Options of `connect()`.
 *
 * @example The CONNECT they make, seen by a scripted in-memory broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./client.ts";
 * import type { ConnectOptions } from "./client_options.ts";
 * import { decodePacket, encodePacket } from "./packet/mod.ts";
 * import type { ConnectPacket } from "./packet/types.ts";
 *
 * let seen: ConnectPacket | undefined;
 * let toClient!: ReadableStreamDefaultController<Uint8Array>;
 * const readable = new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) });
 * const writable = new WritableStream<Uint8Array>({
 *   write(chunk) {
 *     const packet = decodePacket(chunk, { protocolVersion: 5 })?.packet;
 *     if (packet?.type === "connect") {
 *       seen = packet;
 *       toClient.enqueue(encodePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, 5));
 *     } else if (packet?.type === "disconnect") toClient.close();
 *   },
 * });
 * const options: ConnectOptions = { clientId: "meter-1", keepalive: 30, username: "meter" };
 * await using _client = await connect("mqtt://memory", {
 *   ...options,
 *   transport: async () => ({
 *     readable, writable, closed: Promise.resolve(), remoteAddress: undefined,
 *     close: async () => {}, [Symbol.asyncDispose]: async () => {},
 *   }),
 * });
 * assert.deepEqual([seen?.clientId, seen?.keepalive, seen?.username], ["meter-1", 30, "meter"]);
 * ```
 */
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

/**
 * Options of {@link MqttClient.publish}.
 *
 * @example The message a publish call makes from them
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import type { PublishOptions } from "./client_options.ts";
 * import { ClientPublishes } from "./client_publishes.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const host = { session: new ClientSession() } as Partial<ClientHost> as ClientHost;
 * const options: PublishOptions = { qos: 1, retain: true, properties: { contentType: "text/plain" } };
 * const message = new ClientPublishes(host, undefined).outgoing("rooms/1/temp", "21.5", options);
 * assert.deepEqual(message, {
 *   topic: "rooms/1/temp",
 *   payload: new TextEncoder().encode("21.5"),
 *   qos: 1,
 *   retain: true,
 *   properties: { contentType: "text/plain" },
 * });
 * ```
 */
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

/**
 * How a publication ended.
 *
 * @example A PUBACK's "No matching subscribers" settles a QoS 1 publication
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import type { PublishResult } from "./client_options.ts";
 * import { ClientPublishes } from "./client_publishes.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const host = {
 *   session: new ClientSession(), run() {}, dirty() {}, hasListened: () => false,
 * } as Partial<ClientHost> as ClientHost;
 * const publishes = new ClientPublishes(host, undefined);
 * const message = publishes.outgoing("a/b", "x", { qos: 1 });
 * const result: Promise<PublishResult> = publishes.publish(message, undefined, true);
 * publishes.settle({ type: "settle", id: 1, request: "publish", reasonCodes: [0x10] });
 * assert.deepEqual(await result, { reasonCode: 0x10 });
 * ```
 */
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

/**
 * Options of {@link MqttClient.subscribe}.
 *
 * @example The SUBSCRIBE they make
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import type { SubscribeOptions } from "./client_options.ts";
 * import { ClientSubscriptions } from "./client_subscriptions.ts";
 * import type { SessionAction } from "./session/actions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const session = new ClientSession();
 * session.connectPacket();
 * session.handleConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * const actions: SessionAction[] = [];
 * const host = {
 *   session, assertOpen() {}, dirty() {}, run: (more) => void actions.push(...more),
 * } as Partial<ClientHost> as ClientHost;
 * const subscriptions = new ClientSubscriptions(host, {
 *   highWaterMark: 100, holdLimit: 100, ack: undefined,
 * });
 * const options: SubscribeOptions = { qos: 1, noLocal: true, retainHandling: 2 };
 * void subscriptions.subscribe("sensors/#", options); // settles on SUBACK
 * const sent = actions[0]?.type === "send" ? actions[0].packet : undefined;
 * assert.deepEqual(sent?.type === "subscribe" && sent.subscriptions, [
 *   { topicFilter: "sensors/#", qos: 1, noLocal: true, retainHandling: 2 },
 * ]);
 * ```
 */
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

/**
 * Options of {@link MqttClient.request}.
 *
 * @example A timeout must be a positive number of milliseconds
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import type { RequestOptions } from "./client_options.ts";
 * import { ClientRequests } from "./client_requests.ts";
 * import type { ClientPublishes } from "./client_publishes.ts";
 * import type { ClientSubscriptions } from "./client_subscriptions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const host = { session: new ClientSession() } as Partial<ClientHost> as ClientHost;
 * const requests = new ClientRequests(host, {} as ClientPublishes, {} as ClientSubscriptions);
 * const options: RequestOptions = { qos: 1, timeout: 0 };
 * await assert.rejects(requests.request("rpc/add", "[1,2]", options), {
 *   name: "RangeError",
 *   message:
 *     "Cannot send a request as 'timeout' must be a positive number of milliseconds: current value is 0",
 * });
 * ```
 */
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

/**
 * Options of {@link MqttClient.disconnect}.
 *
 * @example 0x04 asks the server to publish the Will
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DisconnectOptions } from "./client_options.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const session = new ClientSession();
 * session.connectPacket();
 * session.handleConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * const options: DisconnectOptions = { reasonCode: 0x04, timeout: 1000 };
 * const [action] = session.disconnect(0, options);
 * assert.deepEqual(action?.type === "send" && action.packet, {
 *   type: "disconnect",
 *   reasonCode: 0x04,
 * });
 * ```
 */
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

/**
 * Where a client stands.
 *
 * @example States in which publications go out at once or wait
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientState } from "./client_options.ts";
 * const states: ClientState[] = ["connecting", "connected", "reconnecting", "closing", "closed"];
 * const publishesNow = (state: ClientState) => state === "connected";
 * assert.deepEqual(states.filter(publishesNow), ["connected"]);
 * ```
 */
export type ClientState = "connecting" | "connected" | "reconnecting" | "closing" | "closed";

/**
 * Milliseconds to wait for the transport and the CONNACK, unless `connectTimeout` says.
 *
 * @example Thirty seconds
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_CONNECT_TIMEOUT } from "./client_options.ts";
 * assert.equal(DEFAULT_CONNECT_TIMEOUT, 30_000);
 * ```
 */
export const DEFAULT_CONNECT_TIMEOUT = 30_000;
/**
 * Unacknowledged messages held before the client stops reading the connection.
 *
 * @example A hundred unacknowledged messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_HOLD_LIMIT } from "./client_options.ts";
 * assert.equal(DEFAULT_HOLD_LIMIT, 100);
 * ```
 */
export const DEFAULT_HOLD_LIMIT = 100;
/**
 * Messages a subscription holds for its reader, unless `highWaterMark` says.
 *
 * @example A hundred messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_HIGH_WATER_MARK } from "./client_options.ts";
 * assert.equal(DEFAULT_HIGH_WATER_MARK, 100);
 * ```
 */
export const DEFAULT_HIGH_WATER_MARK = 100;

/**
 * Checks the arguments of `connect()` that the session does not take (the URLs, the
 * `transport`, `signal` and `ack` options), and returns the URLs as a list. Throws a
 * TypeError for a malformed argument, `signal.reason` when it aborted.
 *
 * @example One URL or several; malformed arguments throw
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConnectArguments } from "./client_options.ts";
 * const transport = () => Promise.reject(new Error("unused"));
 * assert.deepEqual(checkConnectArguments("mqtt://a", { transport }), ["mqtt://a"]);
 * assert.equal(checkConnectArguments(["mqtt://a", "mqtt://b"], { transport }).length, 2);
 * assert.throws(() => checkConnectArguments("not a url", { transport }), {
 *   name: "TypeError",
 *   message: 'Cannot connect as \'url\' must be a URL: current value is "not a url"',
 * });
 * assert.throws(() => checkConnectArguments([], { transport }), {
 *   message: "Cannot connect as 'url' must name at least one broker",
 * });
 * const signal = AbortSignal.abort(new Error("gave up"));
 * assert.throws(() => checkConnectArguments("mqtt://a", { transport, signal }), {
 *   message: "gave up",
 * });
 * ```
 */
export function checkConnectArguments(
  url: string | URL | readonly (string | URL)[],
  options: ConnectOptions & { transport: TransportOpener },
): (string | URL)[] {
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
  return urls;
}

/**
 * Checks the options of `connect()` that the session takes, and turns them into
 * {@link ClientSessionOptions}. Throws a TypeError / RangeError for a malformed option.
 *
 * @example Defaults, conversions and a refused option
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionOptionsOf } from "./client_options.ts";
 * assert.deepEqual(sessionOptionsOf({ clientId: "a", keepalive: 10, password: "pw" }), {
 *   protocolVersion: 5,
 *   clientId: "a",
 *   clean: true,
 *   manualAcks: true,
 *   strictReceiveMaximum: false,
 *   keepalive: 10,
 *   password: new Uint8Array([0x70, 0x77]),
 * });
 * const auth = { method: "SCRAM-SHA-1", onChallenge: () => undefined };
 * assert.throws(() => sessionOptionsOf({ protocolVersion: 4, auth }), {
 *   name: "TypeError",
 *   message:
 *     "Cannot connect with 'auth' as enhanced authentication needs MQTT 5: 'protocolVersion' is 4",
 * });
 * ```
 */
export function sessionOptionsOf(options: ConnectOptions): ClientSessionOptions {
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
