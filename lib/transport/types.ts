/**
 * The one interface every byte carrier implements: a {@link Transport} is two web streams
 * (bytes in, bytes out) plus a way to close them. The client and the broker only ever see
 * this interface; the files beside this one are the only code that names `Deno` or `Bun`.
 *
 * @module
 */

/**
 * A bidirectional byte connection to an MQTT peer, as two web streams.
 *
 * - `readable` yields the bytes the peer sends, in chunks of any size that do not follow
 *   MQTT packet boundaries (one WebSocket message may hold part of a packet or several
 *   packets). It ends when the peer closes the connection, and when {@link close} is
 *   called; it errors when the runtime reports a broken connection (a TCP reset, a TLS
 *   alert) or the peer breaks the transport's own rules (a WebSocket text message).
 *   A WebSocket dropped without a close frame just ends, as brokers do that after
 *   DISCONNECT too. It applies
 *   backpressure: while nobody reads, the transport stops reading from the socket.
 * - `writable` takes the bytes to send. A write resolves once the runtime has accepted
 *   every byte of the chunk (not when the peer has received it), so awaiting writes is
 *   backpressure. The chunk is handed to the runtime as is, without a copy: do not change
 *   its bytes before the write resolves. Each write is one system call (or one WebSocket
 *   message), so coalesce small packets into one chunk where throughput matters. Closing
 *   the writable closes the connection.
 * - `closed` resolves (never rejects) once the connection is fully closed, whoever closed
 *   it and whatever the reason.
 *
 * @example Echo every chunk back to the peer
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Transport } from "./types.ts";
 *
 * async function echo(transport: Transport): Promise<void> {
 *   await transport.readable.pipeTo(transport.writable);
 *   await transport.closed;
 * }
 * assert.equal(typeof echo, "function");
 * ```
 */
export interface Transport extends AsyncDisposable {
  /** Bytes from the peer; ends when the peer closes the connection. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; a write resolves once the runtime accepted the whole chunk. */
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once the connection is fully closed; never rejects. */
  readonly closed: Promise<void>;
  /** The peer's address as "host:port" ("127.0.0.1:53412", "[::1]:1883") when known. */
  readonly remoteAddress: string | undefined;
  /**
   * Closes both directions at once, dropping bytes not yet read. Idempotent: every call
   * returns a promise that resolves once the connection is closed.
   */
  close(): Promise<void>;
}

/**
 * TLS settings for an `mqtts:` / `wss:` connection. PEM strings throughout.
 *
 * @example Mutual TLS with a private CA
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TlsOptions } from "./types.ts";
 *
 * const tls: TlsOptions = {
 *   ca: "-----BEGIN CERTIFICATE-----\n...",
 *   cert: "-----BEGIN CERTIFICATE-----\n...",
 *   key: "-----BEGIN PRIVATE KEY-----\n...",
 *   serverName: "broker.internal",
 * };
 * assert.equal(tls.serverName, "broker.internal");
 * ```
 */
export interface TlsOptions {
  /** Certificate authorities to trust besides the runtime's default roots (PEM). */
  ca?: string | string[];
  /** Client certificate chain for mutual TLS (PEM); needs `key`. */
  cert?: string;
  /** Private key of `cert` (PEM). */
  key?: string;
  /**
   * Name to send in SNI and to verify the server certificate against; defaults to the
   * hostname connected to.
   */
  serverName?: string;
  /** ALPN protocols to offer, like `["mqtt"]` (needed by some brokers on port 443). */
  alpnProtocols?: string[];
}

/**
 * WebSocket settings for a `ws:` / `wss:` connection.
 *
 * @example Connect to a broker behind a reverse proxy
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WsOptions } from "./types.ts";
 *
 * const ws: WsOptions = { path: "/broker/mqtt", headers: { authorization: "Bearer t0k3n" } };
 * assert.equal(ws.path, "/broker/mqtt");
 * ```
 */
export interface WsOptions {
  /** Request path (with an optional query); defaults to the URL's path. */
  path?: string;
  /** Subprotocols to offer; defaults to `["mqtt"]`. */
  protocols?: string[];
  /** Extra HTTP headers for the upgrade request (Deno and Bun extension to WebSocket). */
  headers?: Record<string, string> | [string, string][];
}

/**
 * Where and how to open a transport: what the per-runtime connect functions take.
 *
 * @example Options for a TLS connection
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TransportOptions } from "./types.ts";
 *
 * const options: TransportOptions = {
 *   hostname: "127.0.0.1",
 *   port: 8883,
 *   signal: AbortSignal.timeout(10_000),
 *   tls: { ca: "-----BEGIN CERTIFICATE-----\n..." },
 * };
 * assert.equal(options.port, 8883);
 * ```
 */
export interface TransportOptions {
  /** Host name or IP address to connect to. */
  hostname: string;
  /** TCP port to connect to. */
  port: number;
  /** Aborts a pending connect: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** TLS settings; for the TCP connect functions, their presence means TLS. */
  tls?: TlsOptions;
  /** WebSocket settings, read by the WebSocket transport only. */
  ws?: WsOptions;
}
