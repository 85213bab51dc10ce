/**
 * The broker's listeners on Deno: `Deno.listen` (TCP), `Deno.listenTls` (TLS) and
 * `Deno.serve` with `Deno.upgradeWebSocket` (WebSocket). Use {@link listen} from
 * listener.ts, which picks this file on Deno.
 *
 * Accepted TCP and TLS connections are handed over as a {@link DirectTransport}
 * (direct_transport.ts): `conn.read` into a small buffer that grows only while the peer
 * sends a lot, and no web streams unless asked for, which keeps idle connections cheap.
 *
 * @module
 */

import { closedError, formatAddress } from "../lib/transport/_internal.ts";
import type { Transport } from "../lib/transport/types.ts";
import { webSocketTransport } from "../lib/transport/websocket.ts";
import { directReadable, type DirectTransport, directWritable } from "./direct_transport.ts";
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
        hand(onConnection, new DenoDirectTransport(conn));
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
    hand(onConnection, new DenoDirectTransport(conn));
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

/** First read buffer of a connection; reads that fill it double it, up to the maximum. */
const FIRST_READ_BUFFER = 1024;
/** Smallest read buffer: what an idle connection's pending read holds. */
const MIN_READ_BUFFER = 256;
/** Largest read buffer. */
const MAX_READ_BUFFER = 64 * 1024;

/**
 * A Deno connection as a {@link DirectTransport}: `readChunk` is one `conn.read` into a
 * buffer that grows while the peer sends a lot and shrinks while it sends little, so
 * an idle connection holds a small buffer and no streams (built only if asked for).
 */
class DenoDirectTransport implements DirectTransport {
  readonly remoteAddress: string | undefined;
  #conn: Deno.Conn;
  #buffer: Uint8Array | undefined = undefined;
  #size = FIRST_READ_BUFFER;
  #closing = false;
  #closed: PromiseWithResolvers<void> | undefined = undefined;
  #readable: ReadableStream<Uint8Array> | undefined = undefined;
  #writable: WritableStream<Uint8Array> | undefined = undefined;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const addr = conn.remoteAddr;
    this.remoteAddress = addr.transport === "tcp"
      ? formatAddress(addr.hostname, addr.port)
      : undefined;
    // TLS connections have no setNoDelay in Deno.
    if (addr.transport === "tcp") (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= directReadable(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= directWritable(this);
  }

  get closed(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return (this.#closed ??= Promise.withResolvers<void>()).promise;
  }

  async readChunk(): Promise<Uint8Array | undefined> {
    if (this.#closing) return undefined;
    const size = this.#size;
    const buffer = this.#buffer ?? new Uint8Array(size);
    this.#buffer = undefined;
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      if (this.#closing) return undefined;
      void this.close();
      throw error;
    }
    if (n === null) {
      void this.close();
      return undefined;
    }
    if (n === size) {
      this.#size = Math.min(size * 2, MAX_READ_BUFFER);
      return buffer;
    }
    if (n * 2 >= size) return buffer.subarray(0, n);
    // A small read: copy it out; keep the buffer, or halve it when reads stay small.
    const chunk = buffer.slice(0, n);
    if (n * 4 < size && size > MIN_READ_BUFFER) this.#size = size / 2;
    else this.#buffer = buffer;
    return chunk;
  }

  writeChunk(chunk: Uint8Array): Promise<void> {
    if (this.#closing) throw closedError();
    return this.#writeAll(chunk);
  }

  async #writeAll(chunk: Uint8Array): Promise<void> {
    let written = 0;
    try {
      while (written < chunk.length) {
        written += await this.#conn.write(written === 0 ? chunk : chunk.subarray(written));
      }
    } catch (error) {
      const closedByUs = this.#closing;
      void this.close();
      throw closedByUs ? closedError() : error;
    }
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#buffer = undefined;
      closeQuietly(this.#conn);
      this.#closed?.resolve();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
