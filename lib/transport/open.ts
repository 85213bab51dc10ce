/**
 * {@link openTransport}: from a broker URL to a connected {@link Transport}, picking the
 * protocol from the URL scheme and the implementation from the runtime.
 *
 * @module
 */

import { connectBunTcp } from "./bun_tcp.ts";
import { connectDenoTcp } from "./deno_tcp.ts";
import { unbracket } from "./_internal.ts";
import type { Transport, TransportOptions } from "./types.ts";
import { connectWebSocket } from "./websocket.ts";

/**
 * The URL schemes {@link openTransport} understands, each with its protocol and
 * default port.
 *
 * @example Look up the default port of a scheme
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRANSPORT_SCHEMES } from "./open.ts";
 *
 * assert.deepEqual(TRANSPORT_SCHEMES["mqtts:"], { kind: "tls", port: 8883 });
 * ```
 */
export const TRANSPORT_SCHEMES = {
  "mqtt:": { kind: "tcp", port: 1883 },
  "tcp:": { kind: "tcp", port: 1883 },
  "mqtts:": { kind: "tls", port: 8883 },
  "ssl:": { kind: "tls", port: 8883 },
  "tls:": { kind: "tls", port: 8883 },
  "ws:": { kind: "ws", port: 80 },
  "wss:": { kind: "wss", port: 443 },
} as const;

/** Options of {@link openTransport}: what {@link TransportOptions} has besides the address. */
export type OpenTransportOptions = Omit<TransportOptions, "hostname" | "port">;

/**
 * Connects to the broker at `url` and returns the connection as a {@link Transport}.
 *
 * - `mqtt:` and `tcp:` open TCP (default port 1883); `mqtts:`, `ssl:` and `tls:` open
 *   TLS (default port 8883); `ws:` and `wss:` open a WebSocket (default ports 80 and 443)
 *   to the URL's path and query, unless `ws.path` replaces them.
 * - Deno uses `Deno.connect` / `Deno.connectTls`, Bun uses `Bun.connect`, any other
 *   runtime with `node:net` (Node.js) uses that; every runtime uses the global
 *   `WebSocket` for `ws:` / `wss:`.
 *
 * Rejects with a TypeError for an unknown scheme, and for `tls` options with a scheme
 * that is not secure; with an {@link MqttError} (the runtime's error as `cause`) when the
 * connection fails; with `signal.reason` when `signal` aborts before it is established.
 *
 * @example Talk to a local listener
 * ```ts
 * import assert from "node:assert/strict";
 * import { openTransport } from "./open.ts";
 *
 * await assert.rejects(openTransport("mqtt://127.0.0.1:1"), /Cannot connect to 127\.0\.0\.1:1 over TCP/);
 * await assert.rejects(openTransport("http://127.0.0.1"), TypeError);
 * ```
 */
export async function openTransport(
  url: URL | string,
  options: OpenTransportOptions = {},
): Promise<Transport> {
  const parsed = url instanceof URL ? url : new URL(url);
  const scheme = TRANSPORT_SCHEMES[parsed.protocol as keyof typeof TRANSPORT_SCHEMES];
  if (scheme === undefined) {
    throw new TypeError(
      `Cannot open a transport as the URL scheme must be one of ${
        Object.keys(TRANSPORT_SCHEMES).join(" ")
      }: current value is "${parsed.protocol}"`,
    );
  }
  const secure = scheme.kind === "tls" || scheme.kind === "wss";
  if (!secure && options.tls !== undefined) {
    throw new TypeError(
      `Cannot open a transport with 'tls' options to a "${parsed.protocol}" URL: use ${
        scheme.kind === "ws" ? "wss:" : "mqtts:"
      } for TLS`,
    );
  }
  const hostname = unbracket(parsed.hostname);
  if (hostname === "") {
    throw new TypeError(
      `Cannot open a transport as the URL has no host: current value is "${parsed.href}"`,
    );
  }
  const connectOptions: TransportOptions = {
    ...options,
    hostname,
    port: parsed.port === "" ? scheme.port : Number(parsed.port),
    tls: secure ? (options.tls ?? {}) : undefined,
  };
  if (scheme.kind === "ws" || scheme.kind === "wss") {
    const path = options.ws?.path ?? `${parsed.pathname || "/"}${parsed.search}`;
    return await connectWebSocket({ ...connectOptions, ws: { ...options.ws, path } });
  }
  if ("Deno" in globalThis) return await connectDenoTcp(connectOptions);
  if ("Bun" in globalThis) return await connectBunTcp(connectOptions);
  const { connectNodeNet } = await import("./node_net.ts");
  return await connectNodeNet(connectOptions);
}
