/**
 * The broker's options: what can be tuned, the defaults, the authentication and
 * authorization hooks, and the checks that turn caller mistakes into clear errors.
 *
 * @module
 */

import type { ProtocolVersion, QoS } from "../lib/packet/types.ts";
import type { AuthMethods } from "./enhanced_auth.ts";
import type { Clock } from "./scheduler.ts";
import type { Violation } from "./violations.ts";

/**
 * What the `authenticate` hook learns about a connecting client.
 *
 * @example What a hook receives
 * ```ts
 * import type { ConnectInfo } from "./options.ts";
 * const info: ConnectInfo = { clientId: "a", protocolVersion: 5, clean: true, username: "alice" };
 * ```
 */
export interface ConnectInfo {
  /** The Client Identifier from CONNECT ("" when the client asks for one to be assigned). */
  clientId: string;
  /** The protocol level of the CONNECT. */
  protocolVersion: ProtocolVersion;
  /** Clean Session (3.1.1) or Clean Start (5.0). */
  clean: boolean;
  /** The User Name, if sent. */
  username?: string;
  /** The Password, if sent. */
  password?: Uint8Array;
  /** The client's address, when the transport knows it. */
  remoteAddress?: string;
}

/**
 * Decides whether a client may connect: `true` accepts; `false` refuses with "bad user
 * name or password" (0x86 in MQTT 5, return code 4 in 3.1.1); a number refuses with that
 * MQTT 5 reason code (mapped to the nearest 3.1.1 return code for older clients).
 *
 * @example Check a password
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Authenticate } from "./options.ts";
 * const authenticate: Authenticate = ({ username, password }) =>
 *   username === "alice" && new TextDecoder().decode(password) === "secret";
 * assert.equal(authenticate({ clientId: "c", protocolVersion: 4, clean: true, username: "bob" }), false);
 * ```
 */
export type Authenticate = (info: ConnectInfo) => boolean | number | Promise<boolean | number>;

/**
 * What the `authorize` hook is asked: may this client publish to this topic, or
 * subscribe to this filter?
 *
 * @example A subscription request
 * ```ts
 * import type { AuthorizeRequest } from "./options.ts";
 * const request: AuthorizeRequest = { action: "subscribe", clientId: "a", topic: "sensors/#" };
 * ```
 */
export interface AuthorizeRequest {
  /** What the client wants to do. */
  action: "publish" | "subscribe";
  /** Who asks. */
  clientId: string;
  /** The User Name the client connected with. */
  username?: string;
  /** The topic name (publish) or topic filter as sent (subscribe). */
  topic: string;
}

/**
 * Decides whether a publish or subscription is allowed. A denied subscription gets
 * failure code 0x80 (0x87 Not authorized in MQTT 5); a denied QoS 1 or 2 publish gets
 * 0x87 in its PUBACK / PUBREC in MQTT 5, and is acknowledged and dropped in 3.1.1
 * (MQTT-3.3.5-2).
 *
 * @example Read-only clients
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Authorize } from "./options.ts";
 * const authorize: Authorize = ({ action, clientId }) => action === "subscribe" || clientId === "admin";
 * assert.equal(authorize({ action: "publish", clientId: "guest", topic: "a" }), false);
 * ```
 */
export type Authorize = (request: AuthorizeRequest) => boolean | Promise<boolean>;

/**
 * Options of the runtime-agnostic `Broker` (and of `startBroker`, which adds listeners).
 *
 * @example A strict broker with short timeouts
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BrokerOptions } from "./options.ts";
 * const options: BrokerOptions = { strict: true, connectTimeout: 2_000, maxKeepAlive: 60 };
 * assert.equal(options.strict, true);
 * ```
 */
export interface BrokerOptions {
  /**
   * Strict mode. Violations of MUST statements are recorded and acted on in both modes;
   * strict mode also refuses what a lenient broker tolerates:
   * - an acknowledgement (PUBACK, PUBREC, PUBCOMP) for a packet id not in flight closes the
   *   connection (lenient: ignored; an MQTT 5 PUBREC gets PUBREL 0x92);
   * - a QoS 2 PUBLISH reusing an unreleased packet id with DUP 0 closes the connection
   *   (lenient: treated as a re-send);
   * - an invalid topic filter in SUBSCRIBE closes the connection (lenient: failure code
   *   0x80, or 0x8F in MQTT 5, for that filter only);
   * - an MQTT 5 PUBLISH whose Payload Format Indicator says UTF-8 is checked, and
   *   refused with DISCONNECT 0x99 when it is not (lenient: not checked);
   * - an MQTT 3.1 client id longer than 23 characters is refused with return code 2.
   */
  strict?: boolean;
  /** Protocol levels accepted (default all: 3, 4 and 5); others get CONNACK 0x01 / 0x84. */
  protocolVersions?: ProtocolVersion[];
  /** Milliseconds a new connection has to send CONNECT (default 10,000). */
  connectTimeout?: number;
  /**
   * Largest Keep Alive in seconds; MQTT 5 clients asking for more (or for 0) get this as
   * Server Keep Alive. Default: none (MQTT 3.1.1 clients always keep their own).
   */
  maxKeepAlive?: number;
  /** Receive Maximum announced to MQTT 5 clients: QoS 2 messages in flight from each (default 65,535). */
  receiveMaximum?: number;
  /** QoS 1 and 2 messages in flight to a client at most (and below its Receive Maximum). Default 100. */
  maxInflightMessages?: number;
  /** Topic Alias Maximum announced to MQTT 5 clients (default 10; 0 disables). */
  topicAliasMaximum?: number;
  /** Largest packet accepted, in bytes (default 16 MiB); announced to MQTT 5 clients. */
  maximumPacketSize?: number;
  /** Highest QoS granted to subscriptions (default 2). */
  maximumQoS?: QoS;
  /** Messages queued per session beyond those in flight; more are dropped and counted (default 1,000). */
  maxQueuedMessages?: number;
  /**
   * Bytes waiting to be written to a client beyond which QoS 0 messages to it are dropped
   * and counted (default 1 MiB): a slow reader cannot grow the broker's memory.
   */
  maxBufferedBytes?: number;
  /** Longest session expiry granted, in seconds (default 0xFFFFFFFF: never expires). */
  maxSessionExpiryInterval?: number;
  /** Violations kept in `violations` (default 10,000; older ones are dropped). */
  maxViolations?: number;
  /**
   * Queue QoS 0 messages for offline clients with a persistent session too, like QoS 1
   * and 2 (within `maxQueuedMessages`). Default false: QoS 0 is only sent to clients online.
   */
  queueQos0?: boolean;
  /**
   * Seconds between publications of the retained `$SYS/broker/...` statistics topics
   * (version, uptime, clients, messages, bytes, retained messages, subscriptions), on
   * the broker's clock. Default 0: no `$SYS` topics.
   */
  sysInterval?: number;
  /**
   * Response Information for MQTT 5 clients that ask for it (Request Response
   * Information 1): this prefix followed by the client id, e.g. "response/" gives
   * "response/sensor-1". Default "response/"; "" sends none.
   */
  responseInformation?: string;
  /**
   * MQTT 5 enhanced authentication methods by name. A CONNECT naming another method gets
   * CONNACK 0x8C Bad authentication method.
   */
  auth?: AuthMethods;
  /** Decides who may connect. */
  authenticate?: Authenticate;
  /** Decides who may publish and subscribe where. */
  authorize?: Authorize;
  /** Called with every violation as it is recorded. */
  onViolation?: (violation: Violation) => void;
  /** The clock (default the system clock); tests pass a `ManualClock`. */
  clock?: Clock;
}

/** {@link BrokerOptions} with every default filled in. */
export interface ResolvedBrokerOptions {
  /** See {@link BrokerOptions}. */
  readonly strict: boolean;
  /** See {@link BrokerOptions}. */
  readonly protocolVersions: ReadonlySet<ProtocolVersion>;
  /** See {@link BrokerOptions}. */
  readonly connectTimeout: number;
  /** See {@link BrokerOptions}. */
  readonly maxKeepAlive: number | undefined;
  /** See {@link BrokerOptions}. */
  readonly receiveMaximum: number;
  /** See {@link BrokerOptions}. */
  readonly maxInflightMessages: number;
  /** See {@link BrokerOptions}. */
  readonly topicAliasMaximum: number;
  /** See {@link BrokerOptions}. */
  readonly maximumPacketSize: number;
  /** See {@link BrokerOptions}. */
  readonly maximumQoS: QoS;
  /** See {@link BrokerOptions}. */
  readonly maxQueuedMessages: number;
  /** See {@link BrokerOptions}. */
  readonly maxBufferedBytes: number;
  /** See {@link BrokerOptions}. */
  readonly maxSessionExpiryInterval: number;
  /** See {@link BrokerOptions}. */
  readonly maxViolations: number;
  /** See {@link BrokerOptions}. */
  readonly queueQos0: boolean;
  /** See {@link BrokerOptions}. */
  readonly sysInterval: number;
  /** See {@link BrokerOptions}. */
  readonly responseInformation: string;
  /** See {@link BrokerOptions}. */
  readonly auth: AuthMethods;
}

/**
 * Checks `options` and fills in the defaults. Throws TypeError / RangeError naming the
 * option that is wrong.
 *
 * @example Defaults and a mistake
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveBrokerOptions } from "./options.ts";
 * assert.equal(resolveBrokerOptions({}).maxInflightMessages, 100);
 * assert.throws(() => resolveBrokerOptions({ receiveMaximum: 0 }), {
 *   name: "RangeError",
 *   message: "Cannot start the broker as 'receiveMaximum' must be an integer from 1 to 65535: current value is 0",
 * });
 * ```
 */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const versions = options.protocolVersions ?? [3, 4, 5];
  if (
    !Array.isArray(versions) || versions.length === 0 ||
    versions.some((v) => v !== 3 && v !== 4 && v !== 5)
  ) {
    throw new TypeError(
      `Cannot start the broker as 'protocolVersions' must list levels 3, 4 or 5: current value is ${
        JSON.stringify(versions)
      }`,
    );
  }
  const maximumQoS = options.maximumQoS ?? 2;
  if (maximumQoS !== 0 && maximumQoS !== 1 && maximumQoS !== 2) {
    throw new RangeError(
      `Cannot start the broker as 'maximumQoS' must be 0, 1 or 2: current value is ${
        String(maximumQoS)
      }`,
    );
  }
  return {
    strict: options.strict ?? false,
    protocolVersions: new Set(versions),
    connectTimeout: integer("connectTimeout", options.connectTimeout, 10_000, 1, 2 ** 31 - 1),
    maxKeepAlive: options.maxKeepAlive === undefined
      ? undefined
      : integer("maxKeepAlive", options.maxKeepAlive, 0, 1, 65_535),
    receiveMaximum: integer("receiveMaximum", options.receiveMaximum, 65_535, 1, 65_535),
    maxInflightMessages: integer(
      "maxInflightMessages",
      options.maxInflightMessages,
      100,
      1,
      65_535,
    ),
    topicAliasMaximum: integer("topicAliasMaximum", options.topicAliasMaximum, 10, 0, 65_535),
    maximumPacketSize: integer(
      "maximumPacketSize",
      options.maximumPacketSize,
      16 * 1024 * 1024,
      64,
      268_435_460,
    ),
    maximumQoS,
    maxQueuedMessages: integer(
      "maxQueuedMessages",
      options.maxQueuedMessages,
      1_000,
      0,
      2 ** 31 - 1,
    ),
    maxBufferedBytes: integer(
      "maxBufferedBytes",
      options.maxBufferedBytes,
      1024 * 1024,
      0,
      2 ** 53 - 1,
    ),
    maxSessionExpiryInterval: integer(
      "maxSessionExpiryInterval",
      options.maxSessionExpiryInterval,
      0xffff_ffff,
      0,
      0xffff_ffff,
    ),
    maxViolations: integer("maxViolations", options.maxViolations, 10_000, 1, 2 ** 31 - 1),
    queueQos0: options.queueQos0 ?? false,
    sysInterval: integer("sysInterval", options.sysInterval, 0, 0, 2_147_483),
    responseInformation: text("responseInformation", options.responseInformation, "response/"),
    auth: authMethods(options.auth),
  };
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start the broker as '${name}' must be an integer from ${min} to ${max}: current value is ${
        String(value)
      }`,
    );
  }
  return value;
}

function text(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot start the broker as '${name}' must be a string: current value is ${String(value)}`,
    );
  }
  return value;
}

function authMethods(auth: AuthMethods | undefined): AuthMethods {
  if (auth === undefined) return {};
  if (auth === null || typeof auth !== "object") {
    throw new TypeError(
      `Cannot start the broker as 'auth' must map method names to handlers: current value is ${
        String(auth)
      }`,
    );
  }
  for (const [method, handler] of Object.entries(auth)) {
    if (typeof handler !== "function") {
      throw new TypeError(
        `Cannot start the broker as 'auth.${method}' must be a function: current value is ${
          String(handler)
        }`,
      );
    }
  }
  return { ...auth };
}
