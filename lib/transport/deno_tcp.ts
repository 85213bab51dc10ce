/**
 * TCP and TLS transports for Deno, over `Deno.connect` / `Deno.connectTls`, and the
 * wrapper that turns any `Deno.Conn` (accepted by a listener too) into a
 * {@link Transport}.
 *
 * The readable does not use `conn.readable`, which keeps a 64 KiB buffer per pending
 * read: it pulls with `conn.read()` into a buffer that starts at 512 bytes, doubles while
 * the peer fills it (up to 64 KiB) and shrinks back when reads come in small, so an idle
 * connection holds a small buffer and a busy one reads in big chunks.
 *
 * @module
 */

import {
  abortable,
  checkEndpoint,
  closedError,
  connectError,
  formatAddress,
  MAX_READ_BUFFER,
} from "./_internal.ts";
import type { Transport, TransportOptions } from "./types.ts";

/** Options for {@link denoConnTransport}. */
export interface DenoConnTransportOptions {
  /** First read buffer size in bytes (default 512); reads grow it up to 64 KiB. */
  readBufferSize?: number;
}

const DEFAULT_READ_BUFFER = 512;

/**
 * Wraps an open `Deno.Conn` (TCP or TLS) as a {@link Transport}. The transport owns the
 * connection: closing either closes both. Nagle's algorithm is turned off on TCP, since
 * MQTT sends small packets that wait for answers.
 *
 * @example Wrap a connection accepted by `Deno.listen`
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoConnTransport } from "./deno_tcp.ts";
 *
 * if ("Deno" in globalThis) {
 *   using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 *   const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 *   await using server = denoConnTransport(await listener.accept());
 *   await using transport = denoConnTransport(client);
 *   const writer = transport.writable.getWriter();
 *   await writer.write(new Uint8Array([0xc0, 0x00]));
 *   const { value } = await server.readable.getReader().read();
 *   assert.deepEqual(value, new Uint8Array([0xc0, 0x00]));
 * }
 * ```
 */
export function denoConnTransport(
  conn: Deno.Conn,
  options: DenoConnTransportOptions = {},
): Transport {
  return new DenoConnTransport(conn, options.readBufferSize ?? DEFAULT_READ_BUFFER);
}

/**
 * Opens a TCP connection with `Deno.connect`, or a TLS one with `Deno.connectTls` when
 * `options.tls` is set (the TLS handshake completes before the promise resolves, so a
 * certificate problem rejects here). `tls.serverName` replaces the host name for SNI and
 * certificate checks; Deno cannot combine it with a client certificate.
 *
 * Nagle's algorithm is off, except on TLS with a client certificate: only
 * `Deno.connectTls` takes one, and its connections have no `setNoDelay`.
 *
 * Rejects with an {@link MqttError} whose `cause` is Deno's error when the connection or
 * the handshake fails, and with `signal.reason` when the signal aborts first.
 *
 * @example Connect to a listener
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectDenoTcp } from "./deno_tcp.ts";
 *
 * if ("Deno" in globalThis) {
 *   using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 *   await using transport = await connectDenoTcp({ hostname: "127.0.0.1", port: listener.addr.port });
 *   using _accepted = await listener.accept();
 *   assert.equal(transport.remoteAddress, `127.0.0.1:${listener.addr.port}`);
 * }
 * ```
 */
export async function connectDenoTcp(options: TransportOptions): Promise<Transport> {
  const { hostname, port, tls, signal } = options;
  checkEndpoint("connect", hostname, port);
  const target = formatAddress(hostname, port);
  const what = tls ? "TLS" : "TCP";
  const ca = tls?.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(
      "Cannot connect over TLS as 'tls.cert' and 'tls.key' must be given together",
    );
  }
  const serverName = tls?.serverName ?? hostname;
  if (tls?.cert !== undefined && serverName !== hostname) {
    throw new TypeError(
      "Cannot connect over TLS on Deno with both a client certificate and a 'tls.serverName' " +
        `that differs from the hostname: current values are ${JSON.stringify(serverName)} and ${
          JSON.stringify(hostname)
        }`,
    );
  }
  const conn = await abortable<Deno.Conn>(
    signal,
    async (inner) => {
      let conn: Deno.Conn;
      try {
        if (tls === undefined || tls.cert === undefined) {
          // TCP first, so that Nagle's algorithm is off under TLS too (a TlsConn has no
          // setNoDelay) and the connect can be cancelled.
          const tcp = await Deno.connect({ hostname, port, signal: inner });
          tcp.setNoDelay(true);
          conn = tls === undefined ? tcp : await Deno.startTls(tcp, {
            hostname: serverName,
            caCerts: ca,
            alpnProtocols: tls.alpnProtocols,
          });
        } else {
          // Only connectTls takes a client certificate.
          conn = await Deno.connectTls({
            hostname,
            port,
            caCerts: ca,
            alpnProtocols: tls.alpnProtocols,
            cert: tls.cert,
            key: tls.key!,
          });
        }
      } catch (error) {
        if (inner?.aborted) throw inner.reason;
        throw connectError(what, target, error);
      }
      if (tls !== undefined) {
        const onAbort = () => closeQuietly(conn);
        inner?.addEventListener("abort", onAbort, { once: true });
        try {
          await (conn as Deno.TlsConn).handshake();
        } catch (error) {
          closeQuietly(conn);
          if (inner?.aborted) throw inner.reason;
          throw connectError(what, target, error);
        } finally {
          inner?.removeEventListener("abort", onAbort);
        }
      }
      return conn;
    },
    closeQuietly,
  );
  return new DenoConnTransport(conn, DEFAULT_READ_BUFFER);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

class DenoConnTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: string | undefined;
  #conn: Deno.Conn;
  #closing = false;
  #resolveClosed: () => void;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #readDone = false;
  #buffer: Uint8Array | undefined;
  #bufferSize: number;
  #minBufferSize: number;

  constructor(conn: Deno.Conn, readBufferSize: number) {
    this.#conn = conn;
    this.#minBufferSize = this.#bufferSize = Math.max(
      64,
      Math.min(readBufferSize, MAX_READ_BUFFER),
    );
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    // A TlsConn from Deno.startTls lacks `transport`: look at the fields themselves.
    const addr = conn.remoteAddr as Partial<Deno.NetAddr> | undefined;
    this.remoteAddress = typeof addr?.hostname === "string" && typeof addr.port === "number"
      ? formatAddress(addr.hostname, addr.port)
      : undefined;
    // Accepted TCP connections; a TlsConn has no setNoDelay.
    (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#shutdown(false),
      abort: () => this.#shutdown(false),
    });
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const size = this.#bufferSize;
    const buffer = this.#buffer !== undefined && this.#buffer.length === size
      ? this.#buffer
      : new Uint8Array(size);
    this.#buffer = undefined;
    let n: number | null;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      if (this.#closing) {
        this.#endReadable();
      } else {
        this.#readDone = true;
        controller.error(error);
        this.close();
      }
      return;
    }
    if (n === null) {
      this.#endReadable();
      this.close();
      return;
    }
    if (n === size) {
      controller.enqueue(buffer);
      this.#bufferSize = Math.min(size * 2, MAX_READ_BUFFER);
    } else if (n * 2 >= size) {
      controller.enqueue(buffer.subarray(0, n));
    } else {
      // A small read: copy it out and keep the buffer for the next read.
      controller.enqueue(buffer.slice(0, n));
      this.#buffer = buffer;
      if (n * 4 < size && size > this.#minBufferSize) this.#bufferSize = size / 2;
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#closing) throw closedError();
    let written = 0;
    try {
      while (written < chunk.length) {
        written += await this.#conn.write(written === 0 ? chunk : chunk.subarray(written));
      }
    } catch (error) {
      const closedByUs = this.#closing;
      this.close();
      throw closedByUs ? closedError() : error;
    }
  }

  #endReadable(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    try {
      this.#readController.close();
    } catch {
      // already closed or errored
    }
  }

  close(): Promise<void> {
    return this.#shutdown(true);
  }

  #shutdown(errorWritable: boolean): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      closeQuietly(this.#conn);
      this.#endReadable();
      if (errorWritable) this.#writeController.error(closedError());
      this.#buffer = undefined;
      this.#resolveClosed();
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
