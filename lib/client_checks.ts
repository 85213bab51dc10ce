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

/** The client's clock, in milliseconds: what the session's deadlines are measured in. */
export function now(): number {
  return performance.now();
}

/** Converts a payload to bytes (strings as UTF-8); throws a TypeError naming `what` otherwise. */
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

/** Describes `value` for an error message: strings quoted, objects by their class. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value).slice(8, -1);
}

/** Throws the codec's TypeError / RangeError when `packet` cannot be encoded. */
export function checkEncodable(packet: Packet): void {
  encodePacket(packet, 5);
}

/** Returns `qos` when it is 0, 1 or 2; throws a RangeError naming `verb` otherwise. */
export function checkQoS(verb: string, qos: unknown): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(
      `Cannot ${verb} as 'qos' must be 0, 1 or 2: current value is ${describe(qos)}`,
    );
  }
  return qos;
}

/** Throws a RangeError naming `verb` and `name` unless `value` is a positive integer. */
export function checkPositiveInteger(verb: string, name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot ${verb} as '${name}' must be a positive integer: current value is ${describe(value)}`,
    );
  }
}

/** Resolves after `ms`, or rejects with `signal.reason` when it aborts first. */
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
