/**
 * TCP and TLS transports over `node:net` / `node:tls`: the fallback
 * {@link openTransport} uses on runtimes that are neither Deno nor Bun (Node.js), and
 * the wrapper that turns any connected `net.Socket` into a {@link Transport}.
 *
 * Reading pauses the socket while 64 KiB wait unread; a write resolves once Node handed
 * the chunk to the operating system.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { StreamBridge } from "./_bridge.ts";
import { abortable, checkEndpoint, closedError, connectError, formatAddress } from "./_internal.ts";
import type { Transport, TransportOptions } from "./types.ts";

/**
 * Wraps a connected `net.Socket` (or `tls.TLSSocket`) as a {@link Transport}. The
 * transport owns the socket: closing either closes both.
 *
 * @example Wrap both ends of a node:net connection
 * ```ts
 * import assert from "node:assert/strict";
 * import * as net from "node:net";
 * import { nodeSocketTransport } from "./node_net.ts";
 *
 * const accepted = Promise.withResolvers<net.Socket>();
 * const server = net.createServer((socket) => accepted.resolve(socket));
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as net.AddressInfo;
 * const socket = net.connect(port, "127.0.0.1");
 * await new Promise((resolve) => socket.once("connect", resolve));
 * await using client = nodeSocketTransport(socket);
 * await using peer = nodeSocketTransport(await accepted.promise);
 * await client.writable.getWriter().write(new Uint8Array([0xc0, 0x00]));
 * const { value } = await peer.readable.getReader().read();
 * assert.deepEqual(value, new Uint8Array([0xc0, 0x00]));
 * server.close();
 * ```
 */
export function nodeSocketTransport(socket: net.Socket): Transport {
  return new NodeSocketTransport(socket);
}

/**
 * Opens a TCP connection with `net.connect`, or a TLS one with `tls.connect` when
 * `options.tls` is set (resolving once the handshake succeeded and the server
 * certificate was verified).
 *
 * Rejects with an {@link MqttError} whose `cause` is Node's error when the connection or
 * the handshake fails, and with `signal.reason` when the signal aborts first.
 *
 * @example Connection refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectNodeNet } from "./node_net.ts";
 *
 * await assert.rejects(
 *   connectNodeNet({ hostname: "127.0.0.1", port: 1 }),
 *   /Cannot connect to 127\.0\.0\.1:1 over TCP/,
 * );
 * ```
 */
export async function connectNodeNet(options: TransportOptions): Promise<Transport> {
  const { hostname, port, signal } = options;
  const tlsOptions = options.tls;
  checkEndpoint("connect", hostname, port);
  if (tlsOptions && (tlsOptions.cert === undefined) !== (tlsOptions.key === undefined)) {
    throw new TypeError(
      "Cannot connect over TLS as 'tls.cert' and 'tls.key' must be given together",
    );
  }
  const target = formatAddress(hostname, port);
  const what = tlsOptions ? "TLS" : "TCP";
  return await abortable<Transport>(signal, (inner) =>
    new Promise<Transport>((resolve, reject) => {
      const socket = tlsOptions
        ? tls.connect({
          host: hostname,
          port,
          ca: tlsOptions.ca,
          cert: tlsOptions.cert,
          key: tlsOptions.key,
          servername: net.isIP(tlsOptions.serverName ?? hostname)
            ? undefined
            : tlsOptions.serverName ?? hostname,
          ...(tlsOptions.serverName === undefined ? {} : {
            checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
              tls.checkServerIdentity(tlsOptions.serverName!, cert),
          }),
          ALPNProtocols: tlsOptions.alpnProtocols,
        })
        : net.connect({ host: hostname, port });
      const onAbort = () => socket.destroy();
      const onConnect = () => {
        cleanup();
        resolve(new NodeSocketTransport(socket));
      };
      const onError = (error: Error) => {
        cleanup();
        socket.destroy();
        reject(inner?.aborted ? inner.reason : connectError(what, target, error));
      };
      const onClose = () => {
        cleanup();
        reject(
          inner?.aborted
            ? inner.reason
            : connectError(what, target, new Error("the connection closed")),
        );
      };
      const cleanup = () => {
        inner?.removeEventListener("abort", onAbort);
        socket.off(tlsOptions ? "secureConnect" : "connect", onConnect);
        socket.off("error", onError);
        socket.off("close", onClose);
      };
      inner?.addEventListener("abort", onAbort, { once: true });
      socket.once(tlsOptions ? "secureConnect" : "connect", onConnect);
      socket.once("error", onError);
      socket.once("close", onClose);
    }), (transport) => void transport.close());
}

class NodeSocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: string | undefined;
  #socket: net.Socket;
  #bridge: StreamBridge;
  #error: Error | undefined;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.remoteAddress = socket.remoteAddress !== undefined && socket.remotePort !== undefined
      ? formatAddress(socket.remoteAddress, socket.remotePort)
      : undefined;
    socket.setNoDelay(true);
    const bridge = new StreamBridge({
      pause: () => socket.pause(),
      resume: () => this.#socket.resume(),
      write: (chunk) => this.#write(chunk),
      finish: () => this.#shutdown(false),
      cancel: () => this.close(),
    });
    this.#bridge = bridge;
    this.readable = bridge.readable;
    this.writable = bridge.writable;
    socket.on("data", (chunk: Uint8Array) => {
      bridge.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    socket.on("error", (error) => {
      this.#error ??= error;
    });
    socket.on("end", () => bridge.endReadable());
    socket.once("close", () => {
      const failure = bridge.closing ? undefined : this.#error;
      bridge.endReadable(failure);
      if (bridge.beginClosing()) bridge.errorWritable(failure ?? closedError());
      resolve();
    });
    if (socket.destroyed) socket.emit("close", false);
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (this.#bridge.closing) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#socket.write(chunk, (error) => {
        if (error) reject(this.#bridge.closing ? closedError() : error);
        else resolve();
      });
    });
  }

  close(): Promise<void> {
    return this.#shutdown(true);
  }

  #shutdown(errorWritable: boolean): Promise<void> {
    if (this.#bridge.beginShutdown(errorWritable)) {
      if (this.#bridge.paused) this.#socket.resume();
      this.#socket.end(() => this.#socket.destroy());
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
