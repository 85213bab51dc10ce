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

/** Milliseconds to wait for the transport and the CONNACK, unless `connectTimeout` says. */
export const DEFAULT_CONNECT_TIMEOUT = 30_000;
/** Unacknowledged messages held before the client stops reading the connection. */
export const DEFAULT_HOLD_LIMIT = 100;
/** Messages a subscription holds for its reader, unless `highWaterMark` says. */
export const DEFAULT_HIGH_WATER_MARK = 100;

/**
 * Checks the arguments of `connect()` that the session does not take (the URLs, the
 * `transport`, `signal` and `ack` options), and returns the URLs as a list. Throws a
 * TypeError for a malformed argument, `signal.reason` when it aborted.
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
