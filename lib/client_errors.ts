/**
 * Errors of the client's own making: a connection gone before a request completed, a
 * SUBACK or UNSUBACK refusing filters, a server DISCONNECT, a full offline queue. They
 * extend {@link MqttError}, so `reasonCode` holds the MQTT reason code when one applies.
 * The session's errors (refused CONNACK, failed acknowledgement, server limits,
 * keep-alive timeout) live in `./session/errors.ts`.
 *
 * @module
 */

import { MqttError, type MqttErrorOptions } from "./errors.ts";
import { reasonCodeName } from "./packet/reason_codes.ts";
import type { Properties } from "./packet/types.ts";

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * The connection closed (or the client was disconnected) before a request completed, or
 * a request was made on a client that is closed. `cause` holds what ended the
 * connection, when something did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionClosedError } from "./client_errors.ts";
 * const error = new ConnectionClosedError("Cannot publish as the client is closed");
 * assert.equal(error.name, "ConnectionClosedError");
 * assert.equal(error.reasonCode, undefined);
 * ```
 */
export class ConnectionClosedError extends MqttError {
  /** `cause`, in `options`, is what ended the connection. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, options);
  }
}

/** Options of {@link ServerDisconnectError}. */
export interface ServerDisconnectErrorOptions extends MqttErrorOptions {
  /** The DISCONNECT reason code (0 when the packet had none). */
  reasonCode: number;
  /** The DISCONNECT properties (Reason String, Server Reference, ...). */
  properties?: Properties;
}

/**
 * The server ended the connection with a DISCONNECT packet (MQTT 5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerDisconnectError } from "./client_errors.ts";
 * const error = new ServerDisconnectError({
 *   reasonCode: 0x9c, properties: { serverReference: "other:1883" },
 * });
 * assert.equal(error.serverReference, "other:1883");
 * assert.match(error.message, /UseAnotherServer \(0x9c\)/);
 * ```
 */
export class ServerDisconnectError extends MqttError {
  /** The DISCONNECT reason code. */
  declare readonly reasonCode: number;
  /** The DISCONNECT properties. */
  readonly properties: Properties | undefined;
  /** Describes the DISCONNECT in the message. */
  constructor(options: ServerDisconnectErrorOptions) {
    const code = options.reasonCode;
    const detail = options.properties?.reasonString ? `: ${options.properties.reasonString}` : "";
    super(`The server disconnected: ${reasonCodeName(code)} (${hex(code)})${detail}`, options);
    this.properties = options.properties;
  }

  /** Another server to use, when the server named one. */
  get serverReference(): string | undefined {
    return this.properties?.serverReference;
  }
}

/** Options of {@link SubscribeError}. */
export interface SubscribeErrorOptions extends ErrorOptions {
  /** The filters of the request. */
  topicFilters: readonly string[];
  /** The acknowledgement's reason codes, one per filter. */
  reasonCodes: readonly number[];
  /** MQTT 5 properties of the acknowledgement. */
  properties?: Properties;
}

/**
 * The server refused a subscription: every reason code of its SUBACK is 0x80 or above.
 * `reasonCode` is the first one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscribeError } from "./client_errors.ts";
 * const error = new SubscribeError({ topicFilters: ["$SYS/#"], reasonCodes: [0x87] });
 * assert.equal(error.reasonCode, 0x87);
 * assert.match(error.message, /NotAuthorized/);
 * ```
 */
export class SubscribeError extends MqttError {
  /** The first failure code of the SUBACK. */
  declare readonly reasonCode: number;
  /** The filters of the SUBSCRIBE. */
  readonly topicFilters: readonly string[];
  /** The SUBACK's reason codes, one per filter. */
  readonly reasonCodes: readonly number[];
  /** The SUBACK's MQTT 5 properties (Reason String, User Properties). */
  readonly properties: Properties | undefined;
  /** Names the filters and the first failure code in the message. */
  constructor(options: SubscribeErrorOptions) {
    const code = options.reasonCodes.find((c) => c >= 0x80) ?? 0x80;
    const detail = options.properties?.reasonString ? `: ${options.properties.reasonString}` : "";
    super(
      `The server refused the subscription to ${options.topicFilters.join(", ")}: ` +
        `${reasonCodeName(code)} (${hex(code)})${detail}`,
      { ...options, reasonCode: code },
    );
    this.topicFilters = options.topicFilters;
    this.reasonCodes = options.reasonCodes;
    this.properties = options.properties;
  }
}

/**
 * The server refused to remove a subscription: a reason code of its UNSUBACK is 0x80 or
 * above (MQTT 5). `reasonCode` is the first such code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsubscribeError } from "./client_errors.ts";
 * const error = new UnsubscribeError({ topicFilters: ["a"], reasonCodes: [0x87] });
 * assert.equal(error.reasonCode, 0x87);
 * ```
 */
export class UnsubscribeError extends MqttError {
  /** The first failure code of the UNSUBACK. */
  declare readonly reasonCode: number;
  /** The filters of the UNSUBSCRIBE. */
  readonly topicFilters: readonly string[];
  /** The UNSUBACK's reason codes, one per filter. */
  readonly reasonCodes: readonly number[];
  /** The UNSUBACK's MQTT 5 properties (Reason String, User Properties). */
  readonly properties: Properties | undefined;
  /** Names the filters and the first failure code in the message. */
  constructor(options: SubscribeErrorOptions) {
    const code = options.reasonCodes.find((c) => c >= 0x80) ?? 0x80;
    const detail = options.properties?.reasonString ? `: ${options.properties.reasonString}` : "";
    super(
      `The server refused to unsubscribe from ${options.topicFilters.join(", ")}: ` +
        `${reasonCodeName(code)} (${hex(code)})${detail}`,
      { ...options, reasonCode: code },
    );
    this.topicFilters = options.topicFilters;
    this.reasonCodes = options.reasonCodes;
    this.properties = options.properties;
  }
}

/**
 * A publication made while offline did not fit in the offline queue (policy
 * `"reject-new"`), or was pushed out of it by newer ones (policy `"drop-oldest"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OfflineQueueFullError } from "./client_errors.ts";
 * const error = new OfflineQueueFullError("Cannot queue the message as the offline queue is full");
 * assert.equal(error.name, "OfflineQueueFullError");
 * ```
 */
export class OfflineQueueFullError extends MqttError {
  /** Says which message did not fit. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, options);
  }
}
