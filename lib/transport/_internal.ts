/**
 * Helpers the transports share: address formatting, connect errors, abortable connects.
 * Internal: not exported from the package.
 *
 * @module
 */

import { MqttError } from "../errors.ts";

/** Largest read buffer a transport grows to while the peer keeps filling it. */
export const MAX_READ_BUFFER = 64 * 1024;

/** Bytes a push-based readable queues before it pauses the socket. */
export const READABLE_HIGH_WATER_MARK = 64 * 1024;

/** Queuing strategy counting bytes, for push-based readables. */
export const BYTE_STRATEGY: QueuingStrategy<Uint8Array> = {
  highWaterMark: READABLE_HIGH_WATER_MARK,
  size: (chunk) => chunk.byteLength,
};

/** "host:port", with brackets around an IPv6 address. */
export function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/** Strips the brackets URL.hostname keeps around an IPv6 address. */
export function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/** The error a failed connect rejects with; the runtime's error is the cause. */
export function connectError(what: string, target: string, cause: unknown): MqttError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new MqttError(`Cannot connect to ${target} over ${what}: ${detail}`, { cause });
}

/** Validates the options every connect function takes. */
export function checkEndpoint(verb: string, hostname: unknown, port: unknown): void {
  if (typeof hostname !== "string" || hostname === "") {
    throw new TypeError(
      `Cannot ${verb} as 'hostname' must be a non-empty string: current value is ${
        JSON.stringify(hostname)
      }`,
    );
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(
      `Cannot ${verb} as 'port' must be an integer from 1 to 65535: current value is ${
        String(port)
      }`,
    );
  }
}

/**
 * Runs `connect` so that `signal` can abort it: the returned promise rejects with
 * `signal.reason` as soon as the signal aborts, and a connection that completes after
 * that is handed to `discard`. `connect` receives a signal that aborts together with the
 * caller's but not after the connection completed, for runtimes that cancel natively.
 */
export function abortable<T>(
  signal: AbortSignal | undefined,
  connect: (signal: AbortSignal | undefined) => Promise<T>,
  discard: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return connect(undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  const inner = new AbortController();
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  let settled = false;
  const onAbort = () => {
    if (settled) return;
    settled = true;
    inner.abort(signal.reason);
    reject(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  connect(inner.signal).then(
    (value) => {
      signal.removeEventListener("abort", onAbort);
      if (settled) {
        discard(value);
      } else {
        settled = true;
        resolve(value);
      }
    },
    (error) => {
      signal.removeEventListener("abort", onAbort);
      if (!settled) {
        settled = true;
        reject(error);
      }
    },
  );
  return promise;
}

/** The error writes reject with once the transport is closed. */
export function closedError(): Error {
  return new Error("Cannot write as the transport is closed");
}
