/**
 * The argument checks and small utilities of `MqttClient`: payload conversion
 * ({@link toBytes}), value descriptions for error messages ({@link describe}), QoS and
 * integer checks, an encodability check, an abortable {@link sleep} and the clock
 * ({@link now}).
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { encodePacket } from "./packet/encode.ts";
import type { Packet, QoS } from "./packet/types.ts";

const encoder = new TextEncoder();

/**
 * The client's clock, in milliseconds: what the session's deadlines are measured in.
 *
 * @example A monotonic clock in milliseconds
 * ```ts
 * import assert from "node:assert/strict";
 * import { now } from "./client_checks.ts";
 * const before = now();
 * await new Promise((resolve) => setTimeout(resolve, 20));
 * assert.ok(now() - before >= 15);
 * ```
 */
export function now(): number {
  return performance.now();
}

/**
 * Converts a payload to bytes (strings as UTF-8); throws a TypeError naming `what` otherwise.
 *
 * @example Text, bytes and views become a Uint8Array; other values throw
 * ```ts
 * import assert from "node:assert/strict";
 * import { toBytes } from "./client_checks.ts";
 * assert.deepEqual(toBytes("publish", "hé"), new Uint8Array([0x68, 0xc3, 0xa9]));
 * const words = new Uint16Array([0x0102]);
 * assert.equal(toBytes("publish", words).byteLength, 2);
 * assert.throws(() => toBytes("publish", 42), {
 *   name: "TypeError",
 *   message:
 *     "Cannot publish as 'payload' must be a string, a Uint8Array, an ArrayBuffer or a view: current value is 42",
 * });
 * ```
 */
export function toBytes(what: string, value: unknown): Uint8Array {
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

/**
 * Describes `value` for an error message: strings quoted, objects by their class.
 *
 * @example How values read in error messages
 * ```ts
 * import assert from "node:assert/strict";
 * import { describe } from "./client_checks.ts";
 * assert.equal(describe("a/b"), '"a/b"');
 * assert.equal(describe(undefined), "undefined");
 * assert.equal(describe(null), "null");
 * assert.equal(describe(new Map()), "Map");
 * ```
 */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * Throws the codec's TypeError / RangeError when `packet` cannot be encoded.
 *
 * @example A packet the codec takes passes; one it refuses throws
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkEncodable } from "./client_checks.ts";
 * checkEncodable({ type: "pingreq" });
 * assert.throws(() => checkEncodable({ type: "unsubscribe", packetId: 0, topicFilters: ["a"] }), {
 *   name: "RangeError",
 *   message:
 *     "Cannot encode UNSUBSCRIBE as 'packetId' must be an integer from 1 to 65535: current value is 0",
 * });
 * ```
 */
export function checkEncodable(packet: Packet): void {
  encodePacket(packet, 5);
}

/**
 * Returns `qos` when it is 0, 1 or 2; throws a RangeError naming `verb` otherwise.
 *
 * @example A valid QoS comes back; an invalid one throws
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkQoS } from "./client_checks.ts";
 * assert.equal(checkQoS("publish", 2), 2);
 * assert.throws(() => checkQoS("publish", 3), {
 *   name: "RangeError",
 *   message: "Cannot publish as 'qos' must be 0, 1 or 2: current value is 3",
 * });
 * ```
 */
export function checkQoS(verb: string, qos: unknown): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(
      `Cannot ${verb} as 'qos' must be 0, 1 or 2: current value is ${describe(qos)}`,
    );
  }
  return qos;
}

/**
 * Throws a RangeError naming `verb` and `name` unless `value` is a positive integer.
 *
 * @example 1 passes; 0 and 1.5 throw
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPositiveInteger } from "./client_checks.ts";
 * checkPositiveInteger("subscribe", "highWaterMark", 1);
 * assert.throws(() => checkPositiveInteger("subscribe", "highWaterMark", 0), {
 *   name: "RangeError",
 *   message: "Cannot subscribe as 'highWaterMark' must be a positive integer: current value is 0",
 * });
 * assert.throws(() => checkPositiveInteger("subscribe", "highWaterMark", 1.5), RangeError);
 * ```
 */
export function checkPositiveInteger(verb: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${verb} as '${name}' must be a positive integer: current value is ${describe(value)}`,
    );
  }
}

/**
 * Resolves after `ms`, or rejects with `signal.reason` when it aborts first.
 *
 * @example Waiting, and being woken early by an abort
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./client_checks.ts";
 * const controller = new AbortController();
 * await sleep(1, controller.signal);
 * const long = sleep(60_000, controller.signal);
 * controller.abort(new Error("stop"));
 * await assert.rejects(long, { message: "stop" });
 * await assert.rejects(sleep(1, controller.signal), { message: "stop" });
 * ```
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
