/**
 * The broker's listeners on Deno: `Deno.listen` (TCP), `Deno.listenTls` (TLS) and
 * `Deno.serve` with `Deno.upgradeWebSocket` (WebSocket). Use {@link listen} from
 * listener.ts, which picks this file on Deno.
 *
 * Accepted TCP and TLS connections are handed over as direct transports
 * (`denoConnTransport`, lib/transport/deno_tcp.ts): `conn.read` into a small buffer that grows only while the peer
 * sends a lot, and no web streams unless asked for, which keeps idle connections cheap.
 *
 * @module
 */

import { formatAddress } from "../lib/transport/_internal.ts";
import type { Transport } from "../lib/transport/types.ts";
import { webSocketTransport } from "../lib/transport/websocket.ts";
import { denoConnTransport } from "../lib/transport/deno_tcp.ts";
import {
  type CheckedListenOptions,
  type ConnectionHandler,
  type Listener,
  listenerUrl,
  selectSubprotocol,
} from "./listener.ts";

/** Time a TLS client gets to complete its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Opens a Deno listener; see {@link listen} in listener.ts for the contract.
 *
 * On WebSocket listeners `close()` refuses new upgrades (503) at once but keeps the
 * port bound until the last accepted WebSocket has closed, because shutting down a
 * `Deno.serve` server also ends the WebSockets it upgraded.
 *
 * @example Listen for TCP on Deno
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenDeno } from "./listen_deno.ts";
 *
 * if ("Deno" in globalThis) {
 *   await using listener = await listenDeno(
 *     { kind: "tcp", hostname: "127.0.0.1", port: 0, path: "/mqtt" },
 *     (transport) => void transport.close(),
 *   );
 *   assert.ok(listener.port > 0);
 * }
 * ```
 */
export function listenDeno(
  options: CheckedListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  if (options.kind === "ws") return Promise.resolve(listenWebSocket(options, onConnection));
  if (options.tls?.requestCert) {
    // Deno.listenTls cannot ask for client certificates; node:tls in Deno can.
    return import("./listen_node.ts").then(({ listenNode }) => listenNode(options, onConnection));
  }
  const { hostname, port, tls } = options;
  const listener = tls === undefined
    ? Deno.listen({ hostname, port, transport: "tcp" })
    : Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  return Promise.resolve(new DenoConnListener(options, listener, onConnection));
}

function hand(onConnection: ConnectionHandler, transport: Transport): void {
  try {
    onConnection(transport);
  } catch {
    void transport.close();
  }
}

class DenoConnListener implements Listener {
  readonly kind: "tcp" | "tls";
  readonly hostname: string;
  readonly port: number;
  readonly url: string;
  #listener: Deno.Listener;
  #closed = false;
  #loop: Promise<void>;

  constructor(
    options: CheckedListenOptions,
    listener: Deno.Listener,
    onConnection: ConnectionHandler,
  ) {
    this.kind = options.kind === "tls" ? "tls" : "tcp";
    this.#listener = listener;
    const addr = listener.addr as Deno.NetAddr;
    this.hostname = addr.hostname;
    this.port = addr.port;
    this.url = listenerUrl(this.kind, this.hostname, this.port, this.kind === "tls", options.path);
    this.#loop = this.#accept(onConnection);
  }

  async #accept(onConnection: ConnectionHandler): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: let some connections go, then retry.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (this.kind === "tls") {
        void this.#handshake(conn as Deno.TlsConn, onConnection);
      } else {
        hand(onConnection, denoConnTransport(conn, READ_BUFFERS));
      }
    }
  }

  async #handshake(conn: Deno.TlsConn, onConnection: ConnectionHandler): Promise<void> {
    const timer = setTimeout(() => closeQuietly(conn), HANDSHAKE_TIMEOUT_MS);
    try {
      await conn.handshake();
    } catch {
      closeQuietly(conn);
      return;
    } finally {
      clearTimeout(timer);
    }
    hand(onConnection, denoConnTransport(conn, READ_BUFFERS));
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      closeQuietly(this.#listener);
    }
    await this.#loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}

function listenWebSocket(options: CheckedListenOptions, onConnection: ConnectionHandler): Listener {
  const { hostname, port, tls, path } = options;
  let closing = false;
  let open = 0;
  let shutdown: Promise<void> | undefined;
  const shutdownIfIdle = () => {
    if (closing && open === 0) shutdown ??= server.shutdown();
  };
  const handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response => {
    if (closing) return new Response("Service Unavailable", { status: 503 });
    if (new URL(request.url).pathname !== path) return new Response("Not Found", { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Upgrade Required", { status: 426, headers: { upgrade: "websocket" } });
    }
    const protocol = selectSubprotocol(request.headers.get("sec-websocket-protocol"));
    // Read before the upgrade: afterwards the request is gone.
    const remoteAddress = formatAddress(info.remoteAddr.hostname, info.remoteAddr.port);
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: 0,
      ...(protocol === undefined ? {} : { protocol }),
    });
    open++;
    socket.addEventListener("open", () => {
      hand(onConnection, webSocketTransport(socket, { remoteAddress }));
    }, { once: true });
    socket.addEventListener("close", () => {
      open--;
      shutdownIfIdle();
    }, { once: true });
    return response;
  };
  const server = Deno.serve(
    {
      hostname,
      port,
      onListen() {},
      ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key }),
    },
    handler,
  );
  const addr = server.addr;
  return {
    kind: "ws",
    hostname: addr.hostname,
    port: addr.port,
    url: listenerUrl("ws", addr.hostname, addr.port, tls !== undefined, path),
    close() {
      closing = true;
      shutdownIfIdle();
      return Promise.resolve();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

/** Read buffers of accepted connections: the first one, and the smallest an idle one shrinks to. */
const READ_BUFFERS = { readBufferSize: 1024, minReadBufferSize: 256 } as const;
