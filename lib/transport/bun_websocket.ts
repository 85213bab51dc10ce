/**
 * The server side of MQTT over WebSocket on Bun: the `websocket` handlers of a
 * `Bun.serve` server whose accepted WebSockets become {@link Transport}s.
 *
 * Backpressure both ways: a write resolves at once when Bun sent the message, and after
 * the `drain` callback when Bun had to queue it; reading pauses the socket
 * (`ws.pause()`) while 64 KiB wait unread. A text message breaks the protocol
 * ([MQTT-6.0.0-1]): the readable errors with a {@link ProtocolError} and the connection
 * closes.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ReasonCode } from "../packet/reason_codes.ts";
import type { BunServerWebSocket, BunWebSocketHandler } from "./_bun_api.ts";
import { StreamBridge } from "./_bridge.ts";
import { closedError } from "./_internal.ts";
import type { Transport } from "./types.ts";

/** What a Bun server WebSocket carries in `ws.data`. */
export interface BunWebSocketData {
  /** The peer's "host:port", set when upgrading. */
  remoteAddress: string | undefined;
  /** The transport, once open. */
  transport?: BunWebSocketTransport;
}

/** Largest WebSocket message accepted: the largest MQTT packet (256 MiB plus header). */
const MAX_MESSAGE = 268_435_460;

/**
 * The `websocket` handlers of a `Bun.serve` server that hands each accepted WebSocket to
 * `onConnection` as a {@link Transport}. Upgrade requests with
 * `server.upgrade(request, { data: { remoteAddress } })`. Bun's idle timeout and
 * automatic pings are off (MQTT has its own keep alive), so is compression.
 *
 * @example Serve MQTT over WebSocket on Bun
 * ```ts
 * import assert from "node:assert/strict";
 * import { bunWebSocketHandlers } from "./bun_websocket.ts";
 *
 * if ("Bun" in globalThis) {
 *   const Bun = (globalThis as any).Bun;
 *   const server = Bun.serve({
 *     hostname: "127.0.0.1",
 *     port: 0,
 *     fetch: (request: Request, server: any) =>
 *       server.upgrade(request, { data: { remoteAddress: undefined } })
 *         ? undefined
 *         : new Response("Not Found", { status: 404 }),
 *     websocket: bunWebSocketHandlers((transport) => void transport.close()),
 *   });
 *   const response = await fetch(`http://127.0.0.1:${server.port}/`);
 *   assert.equal(response.status, 404);
 *   await response.body?.cancel();
 *   await server.stop(true);
 * }
 * ```
 */
export function bunWebSocketHandlers(
  onConnection: (transport: Transport) => void,
): BunWebSocketHandler<BunWebSocketData> {
  return {
    open(ws) {
      const transport = new BunWebSocketTransport(ws);
      ws.data.transport = transport;
      onConnection(transport);
    },
    message(ws, message) {
      ws.data.transport?.onMessage(message);
    },
    drain(ws) {
      ws.data.transport?.onDrain();
    },
    close(ws) {
      ws.data.transport?.onClose();
    },
    maxPayloadLength: MAX_MESSAGE,
    backpressureLimit: 0,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate: false,
  };
}

class BunWebSocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: string | undefined;
  #ws: BunServerWebSocket<BunWebSocketData>;
  #resolveClosed: () => void;
  #bridge: StreamBridge;
  #drain: PromiseWithResolvers<void> | undefined;

  constructor(ws: BunServerWebSocket<BunWebSocketData>) {
    this.#ws = ws;
    ws.binaryType = "uint8array";
    this.remoteAddress = ws.data.remoteAddress;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    this.#bridge = new StreamBridge({
      pause: () => this.#ws.pause(),
      resume: () => this.#ws.resume(),
      write: (chunk) => this.#write(chunk),
      finish: () => this.#shutdown(false),
      cancel: () => this.close(),
    });
    this.readable = this.#bridge.readable;
    this.writable = this.#bridge.writable;
  }

  onMessage(message: string | Uint8Array): void {
    if (this.#bridge.readDone) return;
    if (typeof message === "string") {
      const error = new ProtocolError(
        "Received a WebSocket text message; MQTT uses binary messages only",
        { reasonCode: ReasonCode.ProtocolError, statement: "MQTT-6.0.0-1" },
      );
      this.#bridge.endReadable(error);
      if (this.#bridge.beginClosing()) {
        this.#bridge.errorWritable(error);
        this.#ws.close(1002, "MQTT requires binary messages");
      }
      return;
    }
    this.#bridge.push(message);
  }

  onDrain(): void {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }

  /**
   * Bun's `close` callback. Clients often drop the TCP connection without a close frame
   * (code 1006), after DISCONNECT as much as on failure, so every close ends the
   * readable cleanly, like a TCP FIN.
   */
  onClose(): void {
    if (!this.#bridge.markEnded()) return;
    this.#bridge.endReadable();
    if (this.#bridge.beginClosing()) this.#bridge.errorWritable(closedError());
    this.#drain?.reject(closedError());
    this.#drain = undefined;
    this.#resolveClosed();
  }

  #write(chunk: Uint8Array): Promise<void> | void {
    if (this.#bridge.closing) throw closedError();
    const status = this.#ws.send(chunk, false);
    if (status > 0 || (status === 0 && chunk.byteLength === 0)) return;
    if (status === 0) throw closedError();
    // -1: queued under backpressure; resolve once Bun drained its buffer.
    this.#drain = Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  close(): Promise<void> {
    return this.#shutdown(true);
  }

  #shutdown(errorWritable: boolean): Promise<void> {
    if (this.#bridge.beginShutdown(errorWritable)) {
      if (this.#bridge.paused) this.#ws.resume();
      this.#ws.close(1000);
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
