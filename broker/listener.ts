/**
 * Where the broker accepts connections: a {@link Listener} for TCP, TLS or WebSocket
 * that hands every accepted connection over as a {@link Transport}. {@link listen} picks
 * the implementation for the runtime (listen_deno.ts or listen_bun.ts), the only broker
 * files that name `Deno` or `Bun`.
 *
 * @module
 */

import type { Transport } from "../lib/transport/types.ts";
import { formatAddress } from "../lib/transport/_internal.ts";

/** What a listener accepts: plain TCP, TLS over TCP, or WebSocket (wss with `tls`). */
export type ListenerKind = "tcp" | "tls" | "ws";

/**
 * A listening socket. `close()` stops accepting new connections; the transports it
 * already handed out stay open (the broker closes them).
 *
 * @example Listen on an ephemeral port
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "./listener.ts";
 *
 * await using listener = await listen({ kind: "tcp", hostname: "127.0.0.1", port: 0 }, (transport) => {
 *   void transport.close();
 * });
 * assert.equal(listener.url, `mqtt://127.0.0.1:${listener.port}`);
 * ```
 */
export interface Listener extends AsyncDisposable {
  /** What this listener accepts. */
  readonly kind: ListenerKind;
  /** The address it is bound to. */
  readonly hostname: string;
  /** The port it is bound to: the real one when port 0 was asked for. */
  readonly port: number;
  /** How clients reach it: mqtt://127.0.0.1:PORT, mqtts://..., ws://...:PORT/mqtt, wss://... */
  readonly url: string;
  /** Stops accepting connections; does not close the transports already accepted. */
  close(): Promise<void>;
}

/** TLS material of a `tls` listener (or a `ws` listener serving wss:), as PEM. */
export interface ListenTlsOptions {
  /** Server certificate chain. */
  cert: string;
  /** Private key of `cert`. */
  key: string;
  /** Authorities client certificates must chain to, with `requestCert`. */
  ca?: string | string[];
  /**
   * Require a client certificate signed by `ca` (mutual TLS); clients without one
   * never reach `onConnection`. On Deno, whose `Deno.listenTls` cannot ask for client
   * certificates, such a listener runs on `node:tls`.
   */
  requestCert?: boolean;
}

/**
 * Options of {@link listen}.
 *
 * @example A WebSocket listener on a custom path
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ListenOptions } from "./listener.ts";
 *
 * const options: ListenOptions = { kind: "ws", hostname: "127.0.0.1", port: 0, path: "/broker" };
 * assert.equal(options.kind, "ws");
 * ```
 */
export interface ListenOptions {
  /** What to accept. */
  kind: ListenerKind;
  /** Address to bind; defaults to "127.0.0.1" (use "0.0.0.0" or "::" for every interface). */
  hostname?: string;
  /** Port to bind; 0 picks a free one (read it from `Listener.port`). */
  port: number;
  /** Certificate and key: required for `tls`; for `ws` they make it serve wss:. */
  tls?: ListenTlsOptions;
  /** WebSocket path, "/mqtt" by default; other paths get 404. */
  path?: string;
}

/** Called with every accepted connection; if it throws, that connection is closed. */
export type ConnectionHandler = (transport: Transport) => void;

/**
 * Opens a listener with the runtime's own sockets (`Deno.listen`, `Deno.listenTls`,
 * `Deno.serve` on Deno; `Bun.listen`, `Bun.serve` on Bun; `node:net` / `node:tls`
 * elsewhere, without WebSocket) and calls `onConnection` with every accepted connection
 * as a {@link Transport}.
 *
 * WebSocket listeners answer the "mqtt" subprotocol when the client offers it, reply
 * 404 to other paths and 426 to plain HTTP requests on the path.
 *
 * @example Accept one connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "./listener.ts";
 * import { openTransport } from "../lib/transport/open.ts";
 * import type { Transport } from "../lib/transport/types.ts";
 *
 * const accepted = Promise.withResolvers<Transport>();
 * await using listener = await listen({ kind: "tcp", port: 0 }, accepted.resolve);
 * await using client = await openTransport(listener.url);
 * await using server = await accepted.promise;
 * await client.writable.getWriter().write(new Uint8Array([0xc0, 0x00]));
 * const { value } = await server.readable.getReader().read();
 * assert.deepEqual(value, new Uint8Array([0xc0, 0x00]));
 * ```
 */
export async function listen(
  options: ListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const checked = checkListenOptions(options);
  if ("Deno" in globalThis) {
    const { listenDeno } = await import("./listen_deno.ts");
    return await listenDeno(checked, onConnection);
  }
  if ("Bun" in globalThis) {
    const { listenBun } = await import("./listen_bun.ts");
    return await listenBun(checked, onConnection);
  }
  const { listenNode } = await import("./listen_node.ts");
  return await listenNode(checked, onConnection);
}

/** {@link ListenOptions} with the defaults filled in, as the runtime listeners take them. */
export interface CheckedListenOptions extends ListenOptions {
  /** Address to bind. */
  hostname: string;
  /** WebSocket path. */
  path: string;
}

function checkListenOptions(options: ListenOptions): CheckedListenOptions {
  const { kind, port, tls } = options;
  if (kind !== "tcp" && kind !== "tls" && kind !== "ws") {
    throw new TypeError(
      `Cannot listen as 'kind' must be "tcp", "tls" or "ws": current value is ${
        JSON.stringify(kind)
      }`,
    );
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot listen as 'port' must be an integer from 0 to 65535: current value is ${
        String(port)
      }`,
    );
  }
  if (kind === "tls" && tls === undefined) {
    throw new TypeError("Cannot listen as a \"tls\" listener needs 'tls.cert' and 'tls.key'");
  }
  if (kind === "tcp" && tls !== undefined) {
    throw new TypeError(
      'Cannot listen as a "tcp" listener takes no \'tls\' options: use kind "tls"',
    );
  }
  if (tls !== undefined && (typeof tls.cert !== "string" || typeof tls.key !== "string")) {
    throw new TypeError("Cannot listen as 'tls.cert' and 'tls.key' must be PEM strings");
  }
  if (tls?.requestCert && tls.ca === undefined) {
    throw new TypeError(
      "Cannot listen as 'tls.requestCert' needs 'tls.ca' to verify client certificates",
    );
  }
  const path = options.path ?? "/mqtt";
  if (!path.startsWith("/")) {
    throw new TypeError(
      `Cannot listen as 'path' must start with "/": current value is ${JSON.stringify(path)}`,
    );
  }
  return { ...options, hostname: options.hostname ?? "127.0.0.1", path };
}

/**
 * The URL clients use to reach a listener.
 *
 * @example URLs of each kind
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenerUrl } from "./listener.ts";
 *
 * assert.equal(listenerUrl("tcp", "127.0.0.1", 1883, false, "/mqtt"), "mqtt://127.0.0.1:1883");
 * assert.equal(listenerUrl("ws", "::1", 8080, true, "/mqtt"), "wss://[::1]:8080/mqtt");
 * ```
 */
export function listenerUrl(
  kind: ListenerKind,
  hostname: string,
  port: number,
  secure: boolean,
  path: string,
): string {
  const address = formatAddress(hostname, port);
  switch (kind) {
    case "tcp":
      return `mqtt://${address}`;
    case "tls":
      return `mqtts://${address}`;
    case "ws":
      return `${secure ? "wss" : "ws"}://${address}${path}`;
  }
}

/**
 * Picks the WebSocket subprotocol to answer from the client's
 * `Sec-WebSocket-Protocol` header: "mqtt" when offered ([MQTT-6.0.0-4]), else MQTT 3.1's
 * "mqttv3.1", else none (the connection is still accepted).
 *
 * @example Answer the MQTT subprotocol
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectSubprotocol } from "./listener.ts";
 *
 * assert.equal(selectSubprotocol("chat, mqtt"), "mqtt");
 * assert.equal(selectSubprotocol(null), undefined);
 * ```
 */
export function selectSubprotocol(header: string | null): string | undefined {
  if (header === null) return undefined;
  const offered = header.split(",").map((name) => name.trim());
  if (offered.includes("mqtt")) return "mqtt";
  if (offered.includes("mqttv3.1")) return "mqttv3.1";
  return undefined;
}
