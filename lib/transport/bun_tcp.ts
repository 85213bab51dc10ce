/**
 * TCP and TLS transports for Bun, over `Bun.connect`, and the socket handlers a
 * `Bun.listen` server uses to turn accepted sockets into transports; both are
 * {@link DirectTransport}s, on the client and on the broker side.
 *
 * Bun's sockets are callback based; this file bridges them to `readChunk` /
 * `writeChunk` with real backpressure both ways:
 * - received chunks go to the waiting reader, or into a queue of up to 64 KiB; past that
 *   the socket is paused (`socket.pause()`) until the reader catches up, so the kernel's
 *   receive window pushes back on the peer;
 * - a write is done once `socket.write()` accepted every byte: Bun's write is
 *   unbuffered and may take only part of the chunk, in which case the rest goes out from
 *   the `drain` callback (as a view, never a copy) and the write's promise resolves then.
 *
 * An idle socket holds no read buffer and no streams (they are built only when asked for).
 *
 * @module
 */

import { abortable, checkEndpoint, closedError, connectError, formatAddress } from "./_internal.ts";
import { bunRuntime, type BunSocket, type BunSocketHandler } from "./_bun_api.ts";
import { directReadable, type DirectTransport, directWritable } from "./direct.ts";
import type { Transport, TransportOptions } from "./types.ts";

/** What a Bun socket carries in `socket.data`: its transport, once open. */
export type BunSocketData = BunSocketTransport | undefined;

/** Bytes received and not yet read beyond which the socket is paused. */
const READ_QUEUE_LIMIT = 64 * 1024;

/**
 * A Bun socket as a {@link DirectTransport}: received chunks go straight to the waiting
 * reader (or a short queue, pausing the socket when it grows), writes go straight to
 * the socket. No web streams unless `readable` or `writable` is asked for. Bun calls the
 * `on*` methods from its socket handlers.
 */
class BunSocketTransport implements DirectTransport {
  readonly remoteAddress: string | undefined;
  #socket: BunSocket<BunSocketData>;
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

  constructor(socket: BunSocket<BunSocketData>) {
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

/**
 * The socket handlers of a `Bun.listen` server whose accepted sockets become
 * {@link Transport}s, each handed to `onConnection` once open (for TLS, once the
 * handshake succeeded; a failed handshake never reaches `onConnection`).
 *
 * @example Accept TCP connections as transports
 * ```ts
 * import assert from "node:assert/strict";
 * import { bunServerHandlers, connectBunTcp } from "./bun_tcp.ts";
 * import type { Transport } from "./types.ts";
 *
 * if ("Bun" in globalThis) {
 *   const Bun = (globalThis as any).Bun;
 *   const accepted = Promise.withResolvers<Transport>();
 *   const listener = Bun.listen({
 *     hostname: "127.0.0.1",
 *     port: 0,
 *     socket: bunServerHandlers((transport) => accepted.resolve(transport), false),
 *   });
 *   await using client = await connectBunTcp({ hostname: "127.0.0.1", port: listener.port });
 *   await using server = await accepted.promise;
 *   assert.match(server.remoteAddress ?? "", /^127\.0\.0\.1:\d+$/);
 *   listener.stop();
 * }
 * ```
 */
export function bunServerHandlers(
  onConnection: (transport: Transport) => void,
  tls: boolean,
): BunSocketHandler<BunSocketData> {
  return {
    ...SHARED_HANDLERS,
    open(socket) {
      socket.data = new BunSocketTransport(socket);
      if (tls) socket.timeout(HANDSHAKE_TIMEOUT_SECONDS);
      else onConnection(socket.data);
    },
    ...(tls
      ? {
        handshake(socket: BunSocket<BunSocketData>, success: boolean) {
          if (success && socket.data !== undefined) {
            socket.timeout(0);
            onConnection(socket.data);
          } else {
            socket.terminate();
          }
        },
      }
      : {}),
  };
}

/** Seconds a TLS client gets to complete its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_SECONDS = 10;

const SHARED_HANDLERS: BunSocketHandler<BunSocketData> = {
  binaryType: "uint8array",
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

/**
 * Opens a TCP connection with `Bun.connect`, or a TLS one when `options.tls` is set (the
 * handshake completes, and the server certificate is verified, before the promise
 * resolves).
 *
 * Rejects with an {@link MqttError} whose `cause` is Bun's error when the connection or
 * the handshake fails, and with `signal.reason` when the signal aborts first.
 *
 * @example Connect to a listener
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectBunTcp } from "./bun_tcp.ts";
 *
 * if ("Bun" in globalThis) {
 *   const Bun = (globalThis as any).Bun;
 *   const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
 *   await using transport = await connectBunTcp({ hostname: "127.0.0.1", port: listener.port });
 *   assert.equal(transport.remoteAddress, `127.0.0.1:${listener.port}`);
 *   listener.stop(true);
 * }
 * ```
 */
export async function connectBunTcp(options: TransportOptions): Promise<DirectTransport> {
  const { hostname, port, tls, signal } = options;
  checkEndpoint("connect", hostname, port);
  if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(
      "Cannot connect over TLS as 'tls.cert' and 'tls.key' must be given together",
    );
  }
  const target = formatAddress(hostname, port);
  const what = tls ? "TLS" : "TCP";
  return await abortable<DirectTransport>(signal, (inner) => {
    const { promise, resolve, reject } = Promise.withResolvers<DirectTransport>();
    let socket: BunSocket<BunSocketData> | undefined;
    inner?.addEventListener("abort", () => socket?.terminate(), { once: true });
    const handlers: BunSocketHandler<BunSocketData> = {
      ...SHARED_HANDLERS,
      open(opened) {
        socket = opened;
        opened.data = new BunSocketTransport(opened);
        if (!tls) resolve(opened.data);
      },
      close(closed, error) {
        closed.data?.onClose(error);
        reject(
          connectError(
            what,
            target,
            error ?? new Error("the connection closed during the handshake"),
          ),
        );
      },
      connectError(_socket, error) {
        reject(connectError(what, target, error));
      },
      ...(tls
        ? {
          handshake(opened: BunSocket<BunSocketData>, success: boolean, error: Error | null) {
            if (success && opened.data !== undefined) {
              resolve(opened.data);
            } else {
              reject(connectError(what, target, error ?? new Error("TLS handshake failed")));
              opened.terminate();
            }
          },
        }
        : {}),
    };
    bunRuntime().connect<BunSocketData>({
      hostname,
      port,
      data: undefined,
      socket: handlers,
      ...(tls
        ? {
          tls: {
            ca: tls.ca,
            cert: tls.cert,
            key: tls.key,
            serverName: tls.serverName ?? hostname,
            ...(tls.alpnProtocols ? { ALPNProtocols: alpnWireFormat(tls.alpnProtocols) } : {}),
          },
        }
        : {}),
    }).then((connected) => {
      socket ??= connected;
      if (inner?.aborted) connected.terminate();
    }, (error) => reject(connectError(what, target, error)));
    return promise.catch((error) => {
      if (inner?.aborted) throw inner.reason;
      throw error;
    });
  }, (transport) => void transport.close());
}

/** ALPN protocol list in TLS wire format: each name prefixed by its length. */
function alpnWireFormat(protocols: string[]): Uint8Array {
  const names = protocols.map((name) => new TextEncoder().encode(name));
  const out = new Uint8Array(names.reduce((sum, name) => sum + 1 + name.length, 0));
  let offset = 0;
  for (const name of names) {
    if (name.length === 0 || name.length > 255) {
      throw new RangeError(
        `Cannot connect over TLS as each of 'tls.alpnProtocols' must be 1 to 255 bytes long: current length is ${name.length}`,
      );
    }
    out[offset++] = name.length;
    out.set(name, offset);
    offset += name.length;
  }
  return out;
}
