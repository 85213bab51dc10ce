/**
 * TCP and TLS transports for Bun, over `Bun.connect`, and the socket handlers a
 * `Bun.listen` server uses to turn accepted sockets into {@link Transport}s.
 *
 * Bun's sockets are callback based; this file bridges them to web streams with real
 * backpressure both ways:
 * - received chunks go into a ReadableStream that queues up to 64 KiB; past that the
 *   socket is paused (`socket.pause()`) until the reader catches up, so the kernel's
 *   receive window pushes back on the peer;
 * - a write resolves once `socket.write()` accepted every byte: Bun's write is
 *   unbuffered and may take only part of the chunk, in which case the rest goes out from
 *   the `drain` callback (as a view, never a copy) before the write resolves.
 *
 * Nothing is allocated per connection beyond the two streams: an idle socket holds no
 * read buffer.
 *
 * @module
 */

import { StreamBridge } from "./_bridge.ts";
import { abortable, checkEndpoint, closedError, connectError, formatAddress } from "./_internal.ts";
import { bunRuntime, type BunSocket, type BunSocketHandler } from "./_bun_api.ts";
import type { Transport, TransportOptions } from "./types.ts";

/** What a Bun socket carries in `socket.data`: its transport, once open. */
export type BunSocketData = BunSocketTransport | undefined;

interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

class BunSocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: string | undefined;
  #socket: BunSocket<BunSocketData>;
  #resolveClosed: () => void;
  #bridge: StreamBridge;
  #error: unknown;
  #pending: PendingWrite | undefined;

  constructor(socket: BunSocket<BunSocketData>) {
    this.#socket = socket;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    this.remoteAddress = socket.remoteAddress
      ? formatAddress(socket.remoteAddress, socket.remotePort)
      : undefined;
    socket.setNoDelay(true);
    this.#bridge = new StreamBridge({
      pause: () => this.#socket.pause(),
      resume: () => this.#socket.resume(),
      write: (chunk) => this.#write(chunk),
      finish: () => this.#shutdown(false),
      cancel: () => this.close(),
    });
    this.readable = this.#bridge.readable;
    this.writable = this.#bridge.writable;
  }

  /** Bun's `data` callback. */
  onData(chunk: Uint8Array): void {
    this.#bridge.push(chunk);
  }

  /** Bun's `drain` callback: the socket takes writes again. */
  onDrain(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    const { chunk } = pending;
    const n = this.#socket.write(chunk, pending.offset, chunk.byteLength - pending.offset);
    if (n < 0) {
      this.#pending = undefined;
      pending.reject(this.#error ?? closedError());
      return;
    }
    pending.offset += n;
    if (pending.offset === chunk.byteLength) {
      this.#pending = undefined;
      pending.resolve();
    }
  }

  /** Bun's `error` callback: remembered, reported by the `close` that follows. */
  onError(error: Error): void {
    this.#error ??= error;
  }

  /** Bun's `close` callback. */
  onClose(error?: Error): void {
    if (!this.#bridge.markEnded()) return;
    const failure = this.#bridge.closing ? undefined : (error ?? this.#error);
    this.#bridge.endReadable(failure);
    if (this.#bridge.beginClosing()) this.#bridge.errorWritable(failure ?? closedError());
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(failure ?? closedError());
    this.#resolveClosed();
  }

  #write(chunk: Uint8Array): Promise<void> | void {
    if (this.#bridge.closing) throw closedError();
    const n = this.#socket.write(chunk);
    if (n === chunk.byteLength) return;
    if (n < 0) throw this.#error ?? closedError();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#pending = { chunk, offset: n, resolve, reject };
    return promise;
  }

  close(): Promise<void> {
    return this.#shutdown(true);
  }

  #shutdown(errorWritable: boolean): Promise<void> {
    if (this.#bridge.beginShutdown(errorWritable)) {
      // Graceful: what the kernel already holds still goes out, then FIN. Bun reports
      // the close through the `close` callback, which resolves `closed`.
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
export async function connectBunTcp(options: TransportOptions): Promise<Transport> {
  const { hostname, port, tls, signal } = options;
  checkEndpoint("connect", hostname, port);
  if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(
      "Cannot connect over TLS as 'tls.cert' and 'tls.key' must be given together",
    );
  }
  const target = formatAddress(hostname, port);
  const what = tls ? "TLS" : "TCP";
  return await abortable<Transport>(signal, (inner) => {
    const { promise, resolve, reject } = Promise.withResolvers<Transport>();
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
