/**
 * The broker's listeners on Bun: `Bun.listen` (TCP, TLS with optional client
 * certificates) and `Bun.serve` with its `websocket` handlers (WebSocket). Use
 * {@link listen} from listener.ts, which picks this file on Bun.
 *
 * Bun's callback sockets hold no read buffer per connection. TCP and TLS connections are
 * handed over as direct transports (`bunServerHandlers`, lib/transport/bun_tcp.ts): received bytes go
 * straight to the broker's pump, with no web streams unless asked for, which keeps an
 * idle connection at a few KiB.
 *
 * @module
 */

import { bunRuntime, type BunTlsOptions } from "../lib/transport/_bun_api.ts";
import { formatAddress } from "../lib/transport/_internal.ts";
import { type BunWebSocketData, bunWebSocketHandlers } from "../lib/transport/bun_websocket.ts";
import { bunServerHandlers } from "../lib/transport/bun_tcp.ts";
import type { Transport } from "../lib/transport/types.ts";
import {
  type CheckedListenOptions,
  type ConnectionHandler,
  type Listener,
  listenerUrl,
  selectSubprotocol,
} from "./listener.ts";

/**
 * Opens a Bun listener; see {@link listen} in listener.ts for the contract.
 *
 * @example Listen for TCP on Bun
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenBun } from "./listen_bun.ts";
 *
 * if ("Bun" in globalThis) {
 *   await using listener = await listenBun(
 *     { kind: "tcp", hostname: "127.0.0.1", port: 0, path: "/mqtt" },
 *     (transport) => void transport.close(),
 *   );
 *   assert.ok(listener.port > 0);
 * }
 * ```
 */
export function listenBun(
  options: CheckedListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const Bun = bunRuntime();
  const { kind, hostname, port, path } = options;
  const handle = (transport: Transport) => {
    try {
      onConnection(transport);
    } catch {
      void transport.close();
    }
  };
  const tls: BunTlsOptions | undefined = options.tls && {
    cert: options.tls.cert,
    key: options.tls.key,
    ...(options.tls.ca === undefined ? {} : { ca: options.tls.ca }),
    ...(options.tls.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
  };
  if (kind === "ws") {
    const server = Bun.serve<BunWebSocketData>({
      hostname,
      port,
      ...(tls === undefined ? {} : { tls }),
      fetch(request, server) {
        if (new URL(request.url).pathname !== path) {
          return new Response("Not Found", { status: 404 });
        }
        if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
          return new Response("Upgrade Required", {
            status: 426,
            headers: { upgrade: "websocket" },
          });
        }
        const protocol = selectSubprotocol(request.headers.get("sec-websocket-protocol"));
        const ip = server.requestIP(request);
        const upgraded = server.upgrade(request, {
          data: { remoteAddress: ip ? formatAddress(ip.address, ip.port) : undefined },
          ...(protocol === undefined ? {} : { headers: { "sec-websocket-protocol": protocol } }),
        });
        return upgraded ? undefined : new Response("Bad Request", { status: 400 });
      },
      websocket: bunWebSocketHandlers(handle),
    });
    const boundPort = server.port ?? port;
    const boundHost = server.hostname ?? hostname;
    let stopped = false;
    return Promise.resolve({
      kind,
      hostname: boundHost,
      port: boundPort,
      url: listenerUrl(kind, boundHost, boundPort, tls !== undefined, path),
      close() {
        if (!stopped) {
          stopped = true;
          // The listening socket closes at once; Bun's promise waits for the open
          // WebSockets, which stay up, so it is not awaited.
          server.stop(false).catch(() => {});
        }
        return Promise.resolve();
      },
      [Symbol.asyncDispose]() {
        return this.close();
      },
    });
  }
  const listener = Bun.listen({
    hostname,
    port,
    socket: bunServerHandlers(handle, tls !== undefined),
    ...(tls === undefined ? {} : { tls }),
  });
  let stopped = false;
  return Promise.resolve({
    kind,
    hostname: listener.hostname,
    port: listener.port,
    url: listenerUrl(kind, listener.hostname, listener.port, tls !== undefined, path),
    close() {
      if (!stopped) {
        stopped = true;
        listener.stop(false);
      }
      return Promise.resolve();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  });
}
