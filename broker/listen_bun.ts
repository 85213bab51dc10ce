/**
 * The broker's listeners on Bun: `Bun.listen` (TCP, TLS with optional client
 * certificates) and `Bun.serve` with its `websocket` handlers (WebSocket). Use
 * {@link listen} from listener.ts, which picks this file on Bun.
 *
 * Bun's callback sockets hold no read buffer per connection. TCP and TLS connections are
 * handed over as a {@link DirectTransport} (direct_transport.ts): received bytes go
 * straight to the broker's pump, with no web streams unless asked for, which keeps an
 * idle connection at a few KiB.
 *
 * @module
 */

import {
  bunRuntime,
  type BunSocket,
  type BunSocketHandler,
  type BunTlsOptions,
} from "../lib/transport/_bun_api.ts";
import { closedError, formatAddress } from "../lib/transport/_internal.ts";
import { type BunWebSocketData, bunWebSocketHandlers } from "../lib/transport/bun_websocket.ts";
import type { Transport } from "../lib/transport/types.ts";
import { directReadable, type DirectTransport, directWritable } from "./direct_transport.ts";
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
    socket: directSocketHandlers(handle, tls !== undefined),
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

/** Bytes received and not yet read beyond which the socket is paused. */
const READ_QUEUE_LIMIT = 64 * 1024;

/** Time a TLS client gets to complete its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_SECONDS = 10;

/**
 * A Bun socket as a {@link DirectTransport}: received chunks go straight to the waiting
 * reader (or a short queue, pausing the socket when it grows), writes go straight to
 * the socket. No web streams unless `readable` or `writable` is asked for.
 */
class BunDirectTransport implements DirectTransport {
  readonly remoteAddress: string | undefined;
  #socket: BunSocket<BunDirectTransport | undefined>;
  #queue: Uint8Array[] | undefined = undefined;
  #queuedBytes = 0;
  #paused = false;
  /** The waiting reader's resolve and reject (two fields, no resolvers object per read). */
  #resolveRead: ((chunk: Uint8Array | undefined) => void) | undefined = undefined;
  #rejectRead: ((error: unknown) => void) | undefined = undefined;
  #write: { chunk: Uint8Array; offset: number; done: PromiseWithResolvers<void> } | undefined =
    undefined;
  #ended = false;
  #closing = false;
  #error: unknown = undefined;
  #closed: PromiseWithResolvers<void> | undefined = undefined;
  #readable: ReadableStream<Uint8Array> | undefined = undefined;
  #writable: WritableStream<Uint8Array> | undefined = undefined;

  constructor(socket: BunSocket<BunDirectTransport | undefined>) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress
      ? formatAddress(socket.remoteAddress, socket.remotePort)
      : undefined;
    socket.setNoDelay(true);
  }

  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= directReadable(this);
  }

  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= directWritable(this);
  }

  get closed(): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return (this.#closed ??= Promise.withResolvers<void>()).promise;
  }

  readChunk(): Promise<Uint8Array | undefined> {
    const queue = this.#queue;
    if (queue !== undefined && queue.length > 0) {
      const chunk = queue.shift()!;
      this.#queuedBytes -= chunk.length;
      if (this.#paused && this.#queuedBytes < READ_QUEUE_LIMIT && !this.#ended) {
        this.#paused = false;
        this.#socket.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.#ended) {
      const failure = this.#closing ? undefined : this.#error;
      this.#error = undefined;
      return failure === undefined ? Promise.resolve(undefined) : Promise.reject(failure);
    }
    if (this.#resolveRead !== undefined) {
      return Promise.reject(new TypeError("Cannot read before the last read is done"));
    }
    return new Promise((resolve, reject) => {
      this.#resolveRead = resolve;
      this.#rejectRead = reject;
    });
  }

  writeChunk(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#closing || this.#ended) throw closedError();
    if (this.#write !== undefined) {
      throw new TypeError("Cannot write before the last write is done");
    }
    const n = this.#socket.write(chunk);
    if (n === chunk.byteLength) return undefined;
    if (n < 0) throw this.#error ?? closedError();
    const done = Promise.withResolvers<void>();
    this.#write = { chunk, offset: n, done };
    return done.promise;
  }

  onData(chunk: Uint8Array): void {
    if (this.#ended) return;
    const resolve = this.#resolveRead;
    if (resolve !== undefined) {
      this.#resolveRead = this.#rejectRead = undefined;
      resolve(chunk);
      return;
    }
    (this.#queue ??= []).push(chunk);
    this.#queuedBytes += chunk.length;
    if (!this.#paused && this.#queuedBytes >= READ_QUEUE_LIMIT) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  onDrain(): void {
    const write = this.#write;
    if (write === undefined) return;
    const { chunk } = write;
    const n = this.#socket.write(chunk, write.offset, chunk.byteLength - write.offset);
    if (n < 0) {
      this.#write = undefined;
      write.done.reject(this.#error ?? closedError());
      return;
    }
    write.offset += n;
    if (write.offset === chunk.byteLength) {
      this.#write = undefined;
      write.done.resolve();
    }
  }

  onError(error: Error): void {
    this.#error ??= error;
  }

  onClose(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) this.#error ??= error;
    const resolve = this.#resolveRead;
    const reject = this.#rejectRead;
    if (resolve !== undefined && reject !== undefined) {
      this.#resolveRead = this.#rejectRead = undefined;
      const failure = this.#closing ? undefined : this.#error;
      this.#error = undefined;
      if (failure === undefined) resolve(undefined);
      else reject(failure);
    }
    const write = this.#write;
    this.#write = undefined;
    write?.done.reject(this.#error ?? closedError());
    this.#closed?.resolve();
  }

  close(): Promise<void> {
    if (!this.#closing && !this.#ended) {
      this.#closing = true;
      // Graceful: what the kernel already holds still goes out, then FIN; Bun then calls
      // the close handler, which ends reads and resolves `closed`.
      this.#socket.end();
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Bun socket handlers that hand every accepted connection over as a direct transport. */
function directSocketHandlers(
  onConnection: (transport: Transport) => void,
  tls: boolean,
): BunSocketHandler<BunDirectTransport | undefined> {
  return {
    binaryType: "uint8array",
    open(socket) {
      socket.data = new BunDirectTransport(socket);
      if (tls) socket.timeout(HANDSHAKE_TIMEOUT_SECONDS);
      else onConnection(socket.data);
    },
    ...(tls
      ? {
        handshake(socket: BunSocket<BunDirectTransport | undefined>, success: boolean) {
          if (success && socket.data !== undefined) {
            socket.timeout(0);
            onConnection(socket.data);
          } else {
            socket.terminate();
          }
        },
      }
      : {}),
    data(socket, chunk) {
      socket.data?.onData(chunk);
    },
    drain(socket) {
      socket.data?.onDrain();
    },
    error(socket, error) {
      socket.data?.onError(error);
    },
    close(socket, error) {
      socket.data?.onClose(error);
    },
  };
}
