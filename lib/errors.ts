/**
 * Every error class tern throws. Caller mistakes are plain `TypeError` / `RangeError`;
 * what a peer does wrong is a {@link ProtocolError} carrying the MQTT reason code and the
 * spec statement it breaks.
 *
 * @module
 */

import { reasonCodeName } from "./packet/reason_codes.ts";

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
