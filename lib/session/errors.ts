/**
 * Errors the client session reports through `settle` and `close` actions. They extend
 * {@link MqttError}, so `error.reasonCode` always holds the MQTT reason code involved.
 *
 * @module
 */

import { MqttError, type MqttErrorOptions } from "../errors.ts";
import { reasonCodeName } from "../packet/reason_codes.ts";
import type { ProtocolVersion } from "../packet/types.ts";

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
    const hex = `0x${code.toString(16).padStart(2, "0")}`;
    const detail = options.reasonString ? `: ${options.reasonString}` : "";
    super(`The server refused the connection: ${name} (${hex})${detail}`, options);
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
    const hex = `0x${code.toString(16).padStart(2, "0")}`;
    const detail = options.reasonString ? `: ${options.reasonString}` : "";
    super(
      `The server refused the message in its ${options.packetType.toUpperCase()}: ` +
        `${reasonCodeName(code)} (${hex})${detail}`,
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
