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
import { BYTE_STRATEGY, closedError } from "./_internal.ts";
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
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #paused = false;
  #readDone = false;
  #closing = false;
  #ended = false;
  #drain: PromiseWithResolvers<void> | undefined;

  constructor(ws: BunServerWebSocket<BunWebSocketData>) {
    this.#ws = ws;
    ws.binaryType = "uint8array";
    this.remoteAddress = ws.data.remoteAddress;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: () => {
        if (this.#paused && !this.#ended) {
          this.#paused = false;
          this.#ws.resume();
        }
      },
      cancel: () => this.close(),
    }, BYTE_STRATEGY);
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#shutdown(false),
      abort: () => this.#shutdown(false),
    });
  }

  onMessage(message: string | Uint8Array): void {
    if (this.#readDone) return;
    if (typeof message === "string") {
      const error = new ProtocolError(
        "Received a WebSocket text message; MQTT uses binary messages only",
        { reasonCode: ReasonCode.ProtocolError, statement: "MQTT-6.0.0-1" },
      );
      this.#readDone = true;
      this.#readController.error(error);
      if (!this.#closing) {
        this.#closing = true;
        this.#writeController.error(error);
        this.#ws.close(1002, "MQTT requires binary messages");
      }
      return;
    }
    this.#readController.enqueue(message);
    if (!this.#paused && (this.#readController.desiredSize ?? 0) <= 0) {
      this.#paused = true;
      this.#ws.pause();
    }
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
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readController.close();
    }
    if (!this.#closing) {
      this.#closing = true;
      this.#writeController.error(closedError());
    }
    this.#drain?.reject(closedError());
    this.#drain = undefined;
    this.#resolveClosed();
  }

  #write(chunk: Uint8Array): Promise<void> | void {
    if (this.#closing) throw closedError();
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
    if (!this.#closing) {
      this.#closing = true;
      if (!this.#readDone) {
        this.#readDone = true;
        this.#readController.close();
      }
      if (errorWritable) this.#writeController.error(closedError());
      if (this.#paused) this.#ws.resume();
      this.#ws.close(1000);
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
