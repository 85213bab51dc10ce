/**
 * TCP and TLS transports for Deno, over `Deno.connect` / `Deno.connectTls`, and the
 * wrapper that turns any `Deno.Conn` (accepted by a listener too) into a
 * {@link DirectTransport}.
 *
 * Reads do not use `conn.readable`, which keeps a 64 KiB buffer per pending read: each
 * `readChunk()` is one `conn.read()` into a buffer that starts small (512 bytes by
 * default), doubles while the peer fills it (up to 64 KiB) and shrinks back when reads
 * come in small, so an idle connection holds a small buffer and a busy one reads in big
 * chunks. The web streams are built from the two direct methods only when asked for.
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
import { directReadable, type DirectTransport, directWritable } from "./direct.ts";
import type { TransportOptions } from "./types.ts";

/** Options for {@link denoConnTransport}. */
export interface DenoConnTransportOptions {
  /** First read buffer size in bytes (default 512); reads that fill it double it, up to 64 KiB. */
  readBufferSize?: number;
  /**
   * Smallest read buffer in bytes (default: `readBufferSize`): reads that stay small
   * halve the buffer down to this, which is what an idle connection's pending read holds.
   */
  minReadBufferSize?: number;
}

const DEFAULT_READ_BUFFER = 512;

/**
 * Wraps an open `Deno.Conn` (TCP or TLS) as a {@link DirectTransport}. The transport owns the
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
): DirectTransport {
  const first = options.readBufferSize ?? DEFAULT_READ_BUFFER;
  return new DenoConnTransport(conn, first, options.minReadBufferSize ?? first);
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
export async function connectDenoTcp(options: TransportOptions): Promise<DirectTransport> {
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
  return new DenoConnTransport(conn, DEFAULT_READ_BUFFER, DEFAULT_READ_BUFFER);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * A Deno connection as a {@link DirectTransport}: `readChunk` is one `conn.read` into a
 * buffer that grows while the peer sends a lot and shrinks while it sends little, so an
 * idle connection holds a small buffer; `writeChunk` is `conn.write` until all is taken.
 * The streams are built only if asked for.
 */
class DenoConnTransport implements DirectTransport {
  readonly remoteAddress: string | undefined;
  #conn: Deno.Conn;
  #buffer: Uint8Array | undefined = undefined;
  #size: number;
  #minSize: number;
  #closing = false;
  #closed: PromiseWithResolvers<void> | undefined = undefined;
  #readable: ReadableStream<Uint8Array> | undefined = undefined;
  #writable: WritableStream<Uint8Array> | undefined = undefined;

  constructor(conn: Deno.Conn, readBufferSize: number, minReadBufferSize: number) {
    this.#conn = conn;
    this.#size = clampBufferSize(readBufferSize);
    this.#minSize = Math.min(clampBufferSize(minReadBufferSize), this.#size);
    // A TlsConn from Deno.startTls lacks `transport`: look at the fields themselves.
    const addr = conn.remoteAddr as Partial<Deno.NetAddr> | undefined;
    this.remoteAddress = typeof addr?.hostname === "string" && typeof addr.port === "number"
      ? formatAddress(addr.hostname, addr.port)
      : undefined;
    // Accepted TCP connections; a TlsConn has no setNoDelay.
    (conn as Partial<Deno.TcpConn>).setNoDelay?.(true);
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
    if (n * 4 < size && size > this.#minSize) this.#size = size / 2;
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

function clampBufferSize(size: number): number {
  return Math.max(64, Math.min(size, MAX_READ_BUFFER));
}
