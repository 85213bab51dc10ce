/**
 * Every error class tern throws. Caller mistakes are plain `TypeError` / `RangeError`;
 * what a peer does wrong is a {@link ProtocolError} carrying the MQTT reason code and the
 * spec statement it breaks.
 *
 * @module
 */

import { reasonCodeName } from "./packet/reason_codes.ts";
import type { Properties, ProtocolVersion } from "./packet/types.ts";

/** Options for {@link MqttError} subclasses. */
export interface MqttErrorOptions extends ErrorOptions {
  /** MQTT 5 reason code (or 3.1.1 return code) that describes the failure. */
  reasonCode?: number;
}

/**
 * Base class of tern's errors. `reasonCode` is the MQTT reason code when one applies.
 *
 * @example Catch any tern error
 * ```ts
 * import assert from "node:assert/strict";
 * import { MqttError, ProtocolError } from "./errors.ts";
 * const error = new ProtocolError("bad flags", { reasonCode: 0x81, statement: "MQTT-2.1.3-1" });
 * assert.ok(error instanceof MqttError);
 * assert.equal(error.reasonCode, 0x81);
 * ```
 */
export class MqttError extends Error {
  /** MQTT reason code, when the failure has one. */
  readonly reasonCode: number | undefined;
  /** Creates an error; `options.reasonCode` is kept as {@link MqttError.reasonCode}. */
  constructor(message: string, options: MqttErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reasonCode = options.reasonCode;
  }
}

/** Options for {@link ProtocolError}. */
export interface ProtocolErrorOptions extends ErrorOptions {
  /** Reason code the receiver sends (MQTT 5) or would send: 0x81 Malformed Packet, 0x82 Protocol Error, ... */
  reasonCode: number;
  /** The normative statement broken, like "MQTT-3.3.1-4" (no brackets). */
  statement?: string;
}

/**
 * The peer broke the protocol: a malformed packet, a forbidden value, a packet out of
 * place. `reasonCode` is what an MQTT 5 receiver answers with; `statement` names the
 * spec statement, when the spec has one for it.
 *
 * @example Inspect a decoding failure
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "./errors.ts";
 * const error = new ProtocolError("QoS 3 is reserved", { reasonCode: 0x81, statement: "MQTT-3.3.1-4" });
 * assert.equal(error.statement, "MQTT-3.3.1-4");
 * assert.match(error.message, /\[MQTT-3\.3\.1-4\]/);
 * ```
 */
export class ProtocolError extends MqttError {
  /** Spec statement id, like "MQTT-3.3.1-4", or undefined when no statement applies. */
  readonly statement: string | undefined;
  /** Reason code the receiver answers with, such as 0x81 Malformed Packet. */
  declare readonly reasonCode: number;
  /** Creates the error; the message gains the reason code's name and the statement id. */
  constructor(message: string, options: ProtocolErrorOptions) {
    const suffix = options.statement ? ` [${options.statement}]` : "";
    super(`${message} (${reasonCodeName(options.reasonCode)})${suffix}`, options);
    this.statement = options.statement;
  }
}

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
 * import { ConnectionClosedError } from "./errors.ts";
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
 * import { ServerDisconnectError } from "./errors.ts";
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
 * The server refused topic filters of a SUBSCRIBE or an UNSUBSCRIBE: the base of
 * {@link SubscribeError} and {@link UnsubscribeError}, to catch both. `reasonCode` is the
 * first failure code (0x80 or above) of the acknowledgement.
 *
 * @example Catch either refusal
 * ```ts
 * import assert from "node:assert/strict";
 * import { FilterRequestError, SubscribeError, UnsubscribeError } from "./errors.ts";
 * const refusals = [
 *   new SubscribeError({ topicFilters: ["a", "b"], reasonCodes: [0, 0x87] }),
 *   new UnsubscribeError({ topicFilters: ["c"], reasonCodes: [0x11] }),
 * ];
 * for (const error of refusals) assert.ok(error instanceof FilterRequestError);
 * assert.deepEqual(refusals.map((e) => e.reasonCode), [0x87, 0x80]);
 * ```
 */
export class FilterRequestError extends MqttError {
  /** The first failure code of the acknowledgement. */
  declare readonly reasonCode: number;
  /** The filters of the request. */
  readonly topicFilters: readonly string[];
  /** The acknowledgement's reason codes, one per filter. */
  readonly reasonCodes: readonly number[];
  /** The acknowledgement's MQTT 5 properties (Reason String, User Properties). */
  readonly properties: Properties | undefined;
  /** Names what was refused (`refused`, then the filters) and the first failure code. */
  protected constructor(refused: string, options: SubscribeErrorOptions) {
    const code = options.reasonCodes.find((c) => c >= 0x80) ?? 0x80;
    const detail = options.properties?.reasonString ? `: ${options.properties.reasonString}` : "";
    super(
      `The server refused ${refused} ${options.topicFilters.join(", ")}: ` +
        `${reasonCodeName(code)} (${hex(code)})${detail}`,
      { ...options, reasonCode: code },
    );
    this.topicFilters = options.topicFilters;
    this.reasonCodes = options.reasonCodes;
    this.properties = options.properties;
  }
}

/**
 * The server refused a subscription: every reason code of its SUBACK is 0x80 or above.
 * `reasonCode` is the first one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SubscribeError } from "./errors.ts";
 * const error = new SubscribeError({ topicFilters: ["$SYS/#"], reasonCodes: [0x87] });
 * assert.equal(error.reasonCode, 0x87);
 * assert.match(error.message, /NotAuthorized/);
 * ```
 */
export class SubscribeError extends FilterRequestError {
  /** Names the filters and the first failure code in the message. */
  constructor(options: SubscribeErrorOptions) {
    super("the subscription to", options);
  }
}

/**
 * The server refused to remove a subscription: a reason code of its UNSUBACK is 0x80 or
 * above (MQTT 5). `reasonCode` is the first such code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsubscribeError } from "./errors.ts";
 * const error = new UnsubscribeError({ topicFilters: ["a"], reasonCodes: [0x87] });
 * assert.equal(error.reasonCode, 0x87);
 * ```
 */
export class UnsubscribeError extends FilterRequestError {
  /** Names the filters and the first failure code in the message. */
  constructor(options: SubscribeErrorOptions) {
    super("to unsubscribe from", options);
  }
}

/**
 * A publication made while offline did not fit in the offline queue (policy
 * `"reject-new"`), or was pushed out of it by newer ones (policy `"drop-oldest"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OfflineQueueFullError } from "./errors.ts";
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

/** Options for {@link ConnectionRefusedError}. */
export interface ConnectionRefusedErrorOptions extends MqttErrorOptions {
  /** The CONNACK reason code (MQTT 5) or return code (3.1, 3.1.1). */
  reasonCode: number;
  /** The protocol level of the connection, to name the code. Default 5. */
  protocolVersion?: ProtocolVersion;
  /** MQTT 5 Reason String of the CONNACK. */
  reasonString?: string;
  /** MQTT 5 Server Reference of the CONNACK (with 0x9C Use another server or 0x9D Server moved). */
  serverReference?: string;
}

/**
 * The server refused the connection: its CONNACK carried a non-zero reason code.
 *
 * @example Inspect a refusal
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionRefusedError } from "./errors.ts";
 * const error = new ConnectionRefusedError({ reasonCode: 0x87 });
 * assert.equal(error.reasonCode, 0x87);
 * assert.equal(error.message, "The server refused the connection: NotAuthorized (0x87)");
 * ```
 */
export class ConnectionRefusedError extends MqttError {
  /** The CONNACK reason code (MQTT 5) or return code (3.1, 3.1.1). */
  declare readonly reasonCode: number;
  /** MQTT 5 Reason String, when the server sent one. */
  readonly reasonString: string | undefined;
  /** MQTT 5 Server Reference, when the server sent one. */
  readonly serverReference: string | undefined;
  /** Creates the error from the CONNACK's reason code and properties. */
  constructor(options: ConnectionRefusedErrorOptions) {
    const code = options.reasonCode;
    const name = reasonCodeName(code, options.protocolVersion ?? 5);
    const detail = options.reasonString ? `: ${options.reasonString}` : "";
    super(`The server refused the connection: ${name} (${hex(code)})${detail}`, options);
    this.reasonString = options.reasonString;
    this.serverReference = options.serverReference;
  }
}

/** Options for {@link AcknowledgementError}. */
export interface AcknowledgementErrorOptions extends MqttErrorOptions {
  /** The failure reason code, 0x80 or above. */
  reasonCode: number;
  /** The acknowledgement that carried it. */
  packetType: "puback" | "pubrec" | "pubcomp";
  /** MQTT 5 Reason String of the acknowledgement. */
  reasonString?: string;
}

/**
 * The server answered a PUBLISH with a failure reason code (0x80 or above) in its PUBACK,
 * PUBREC or PUBCOMP: the message was not accepted and will not be sent again
 * (MQTT-4.4.0-2).
 *
 * @example Inspect a refused publication
 * ```ts
 * import assert from "node:assert/strict";
 * import { AcknowledgementError } from "./errors.ts";
 * const error = new AcknowledgementError({ reasonCode: 0x97, packetType: "puback" });
 * assert.equal(error.reasonCode, 0x97);
 * assert.equal(error.packetType, "puback");
 * assert.match(error.message, /QuotaExceeded/);
 * ```
 */
export class AcknowledgementError extends MqttError {
  /** The failure reason code, 0x80 or above. */
  declare readonly reasonCode: number;
  /** The acknowledgement that carried the failure. */
  readonly packetType: "puback" | "pubrec" | "pubcomp";
  /** MQTT 5 Reason String, when the server sent one. */
  readonly reasonString: string | undefined;
  /** Creates the error from the acknowledgement's reason code. */
  constructor(options: AcknowledgementErrorOptions) {
    const code = options.reasonCode;
    const detail = options.reasonString ? `: ${options.reasonString}` : "";
    super(
      `The server refused the message in its ${options.packetType.toUpperCase()}: ` +
        `${reasonCodeName(code)} (${hex(code)})${detail}`,
      options,
    );
    this.packetType = options.packetType;
    this.reasonString = options.reasonString;
  }
}

/** Options for {@link ServerLimitError}. */
export interface ServerLimitErrorOptions extends MqttErrorOptions {
  /** The reason code the server would answer with: 0x9B, 0x9A or 0x95. */
  reasonCode: number;
  /** The spec statement that forbids sending the message, like "MQTT-3.2.2-11". */
  statement: string;
}

/**
 * A message breaks a limit the server announced in its CONNACK (Maximum QoS, Retain
 * Available, Maximum Packet Size), so the session refuses to send it. `reasonCode` is the
 * code the server would have answered with.
 *
 * @example Inspect a refusal
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerLimitError } from "./errors.ts";
 * const error = new ServerLimitError("Cannot publish with qos 2: the server's Maximum QoS is 1", {
 *   reasonCode: 0x9b,
 *   statement: "MQTT-3.2.2-11",
 * });
 * assert.equal(error.reasonCode, 0x9b);
 * assert.equal(error.statement, "MQTT-3.2.2-11");
 * ```
 */
export class ServerLimitError extends MqttError {
  /** The reason code the server would have answered with. */
  declare readonly reasonCode: number;
  /** The spec statement the message would have broken. */
  readonly statement: string;
  /** Creates the error; `message` says which limit the message breaks. */
  constructor(message: string, options: ServerLimitErrorOptions) {
    super(`${message} [${options.statement}]`, options);
    this.statement = options.statement;
  }
}

/**
 * The server did not answer a PINGREQ (nor send anything else) in time: the connection
 * is considered dead. `reasonCode` is 0x8D Keep Alive timeout.
 *
 * @example Inspect a timeout
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeepAliveTimeoutError } from "./errors.ts";
 * const error = new KeepAliveTimeoutError(30_000);
 * assert.equal(error.reasonCode, 0x8d);
 * assert.equal(error.timeout, 30_000);
 * ```
 */
export class KeepAliveTimeoutError extends MqttError {
  /** Always 0x8D Keep Alive timeout. */
  declare readonly reasonCode: number;
  /** How long the session waited for an answer, in milliseconds. */
  readonly timeout: number;
  /** Creates the error for a wait of `timeout` milliseconds. */
  constructor(timeout: number) {
    super(`No answer to PINGREQ within ${timeout} ms: the connection is dead`, {
      reasonCode: 0x8d,
    });
    this.timeout = timeout;
  }
}
