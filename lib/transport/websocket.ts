/**
 * MQTT over WebSocket (spec chapter 6) with the global `WebSocket` of Deno and Bun: the
 * `ws:` / `wss:` transport, and the wrapper that turns an open WebSocket (one accepted by
 * `Deno.upgradeWebSocket` too) into a {@link Transport}.
 *
 * MQTT bytes travel in binary messages; a message may hold part of a packet or several
 * packets, so the readable yields the message payloads as a plain byte stream and each
 * write becomes one message. A text message breaks the protocol
 * ([MQTT-6.0.0-1]): the readable errors with a {@link ProtocolError} and the connection
 * closes.
 *
 * Backpressure: writes wait while more than 1 MiB is buffered for sending. Reading
 * pauses the socket when 64 KiB wait unread on runtimes whose WebSocket can pause (Bun);
 * Deno's cannot, so there unread messages queue up.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ReasonCode } from "../packet/reason_codes.ts";
import { StreamBridge } from "./_bridge.ts";
import { abortable, checkEndpoint, closedError, connectError, formatAddress } from "./_internal.ts";
import type { Transport, TransportOptions } from "./types.ts";

/** Bytes buffered for sending above which writes wait. */
const SEND_HIGH_WATER_MARK = 1024 * 1024;

/**
 * The WebSocket subprotocol name of MQTT 3.1.1 and 5.0 (spec section 6.0), offered by
 * clients and answered by servers.
 *
 * @example Offer the MQTT subprotocol
 * ```ts
 * import assert from "node:assert/strict";
 * import { MQTT_SUBPROTOCOL } from "./websocket.ts";
 *
 * assert.equal(MQTT_SUBPROTOCOL, "mqtt");
 * ```
 */
export const MQTT_SUBPROTOCOL = "mqtt";

/** A WebSocket with the non-standard flow control of Bun's client. */
interface PausableWebSocket extends WebSocket {
  pause?(): unknown;
  resume?(): unknown;
}

/** Options for {@link webSocketTransport}. */
export interface WebSocketTransportOptions {
  /** Reported as the transport's `remoteAddress`. */
  remoteAddress?: string;
  /** Called once the WebSocket closed, for resources tied to it. */
  onClose?: () => void;
}

/**
 * Wraps an open WebSocket as a {@link Transport}. Sets `binaryType` to "arraybuffer".
 * The transport owns the WebSocket: closing the transport closes it with code 1000.
 *
 * @example Wrap both ends of a connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { webSocketTransport } from "./websocket.ts";
 *
 * if ("Deno" in globalThis) {
 *   const accepted = Promise.withResolvers<WebSocket>();
 *   await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *     const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "mqtt" });
 *     socket.addEventListener("open", () => accepted.resolve(socket));
 *     return response;
 *   });
 *   const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/mqtt`, ["mqtt"]);
 *   await new Promise((resolve) => ws.addEventListener("open", resolve));
 *   await using client = webSocketTransport(ws);
 *   await using peer = webSocketTransport(await accepted.promise);
 *   await client.writable.getWriter().write(new Uint8Array([0xc0, 0x00]));
 *   const { value } = await peer.readable.getReader().read();
 *   assert.deepEqual(value, new Uint8Array([0xc0, 0x00]));
 * }
 * ```
 */
export function webSocketTransport(
  ws: WebSocket,
  options: WebSocketTransportOptions = {},
): Transport {
  return new WebSocketTransport(ws, options);
}

/**
 * Opens an MQTT WebSocket connection to `ws://hostname:port/path` (`wss:` when
 * `options.tls` is set), offering the "mqtt" subprotocol unless `ws.protocols` says
 * otherwise. The path defaults to "/mqtt".
 *
 * TLS options: Bun takes them all; Deno takes `ca`, `cert` and `key` (through
 * `Deno.createHttpClient`) but neither `serverName` nor `alpnProtocols`, which throw a
 * TypeError there.
 *
 * Rejects with an {@link MqttError} whose `cause` is the runtime's error event when the
 * connection or the upgrade fails, and with `signal.reason` when the signal aborts
 * first.
 *
 * @example Connect to a WebSocket endpoint
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectWebSocket } from "./websocket.ts";
 *
 * await assert.rejects(
 *   connectWebSocket({ hostname: "127.0.0.1", port: 1, ws: { path: "/mqtt" } }),
 *   /Cannot connect to ws:\/\/127\.0\.0\.1:1\/mqtt over WebSocket/,
 * );
 * ```
 */
export async function connectWebSocket(options: TransportOptions): Promise<Transport> {
  const { hostname, port, tls, signal } = options;
  checkEndpoint("connect", hostname, port);
  const path = options.ws?.path ?? "/mqtt";
  if (!path.startsWith("/")) {
    throw new TypeError(
      `Cannot connect as 'ws.path' must start with "/": current value is ${JSON.stringify(path)}`,
    );
  }
  const url = `${tls ? "wss" : "ws"}://${formatAddress(hostname, port)}${path}`;
  const protocols = options.ws?.protocols ?? [MQTT_SUBPROTOCOL];
  const init: Record<string, unknown> = { protocols };
  if (options.ws?.headers !== undefined) init.headers = options.ws.headers;
  let release: (() => void) | undefined;
  if (tls !== undefined) {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new TypeError(
        "Cannot connect over TLS as 'tls.cert' and 'tls.key' must be given together",
      );
    }
    if ("Deno" in globalThis) {
      for (const name of ["serverName", "alpnProtocols"] as const) {
        if (tls[name] !== undefined) {
          throw new TypeError(
            `Cannot connect as 'tls.${name}' is not supported by Deno's WebSocket`,
          );
        }
      }
      if (tls.ca !== undefined || tls.cert !== undefined) {
        const client = Deno.createHttpClient({
          caCerts: tls.ca === undefined ? undefined : Array.isArray(tls.ca) ? tls.ca : [tls.ca],
          ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key! }),
        });
        init.client = client;
        release = () => client.close();
      }
    } else {
      init.tls = {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
      };
    }
  }
  const target = url;
  return await abortable<Transport>(signal, (inner) =>
    new Promise<Transport>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, init as unknown as string[]);
      } catch (error) {
        release?.();
        reject(connectError("WebSocket", target, error));
        return;
      }
      ws.binaryType = "arraybuffer";
      let failure: unknown;
      const onAbort = () => ws.close();
      const onOpen = () => {
        cleanup();
        resolve(
          new WebSocketTransport(ws, {
            remoteAddress: formatAddress(hostname, port),
            onClose: release,
          }),
        );
      };
      const onError = (event: Event) => {
        failure ??= (event as ErrorEvent).error ??
          new Error((event as ErrorEvent).message || "WebSocket error");
      };
      const onClose = (event: CloseEvent) => {
        cleanup();
        release?.();
        if (inner?.aborted) {
          reject(inner.reason);
          return;
        }
        const cause = failure ?? new Error(`the WebSocket closed with code ${event.code}`);
        reject(connectError("WebSocket", target, cause));
      };
      const cleanup = () => {
        inner?.removeEventListener("abort", onAbort);
        ws.removeEventListener("open", onOpen);
        ws.removeEventListener("error", onError);
        ws.removeEventListener("close", onClose);
      };
      inner?.addEventListener("abort", onAbort, { once: true });
      ws.addEventListener("open", onOpen);
      ws.addEventListener("error", onError);
      ws.addEventListener("close", onClose);
    }), (transport) => void transport.close());
}

class WebSocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: string | undefined;
  #ws: PausableWebSocket;
  #resolveClosed: () => void;
  #onClose: (() => void) | undefined;
  #bridge: StreamBridge;
  #drained: { resolve: () => void } | undefined;

  constructor(ws: WebSocket, options: WebSocketTransportOptions) {
    this.#ws = ws;
    this.#onClose = options.onClose;
    this.remoteAddress = options.remoteAddress;
    ws.binaryType = "arraybuffer";
    const { promise, resolve } = Promise.withResolvers<void>();
    this.closed = promise;
    this.#resolveClosed = resolve;
    const canPause = typeof this.#ws.pause === "function" && typeof this.#ws.resume === "function";
    this.#bridge = new StreamBridge({
      ...(canPause ? { pause: () => this.#ws.pause!(), resume: () => this.#ws.resume!() } : {}),
      write: (chunk) => this.#write(chunk),
      finish: () => this.#shutdown(false),
      cancel: () => this.close(),
    });
    this.readable = this.#bridge.readable;
    this.writable = this.#bridge.writable;
    ws.addEventListener("message", (event) => {
      if (this.#bridge.readDone) return;
      const data = event.data;
      if (typeof data === "string") {
        this.#fail(
          new ProtocolError("Received a WebSocket text message; MQTT uses binary messages only", {
            reasonCode: ReasonCode.ProtocolError,
            statement: "MQTT-6.0.0-1",
          }),
        );
        return;
      }
      this.#bridge.push(new Uint8Array(data as ArrayBuffer));
    });
    ws.addEventListener("close", () => this.#closedByRuntime());
    if (ws.readyState === WebSocket.CLOSED) this.#closedByRuntime();
  }

  /**
   * The WebSocket closed. Brokers commonly drop the TCP connection without a close
   * frame (code 1006, often with an "error" event first), after DISCONNECT as much as on
   * failure, so every close ends the readable cleanly, like a TCP FIN.
   */
  #closedByRuntime(): void {
    if (!this.#bridge.markEnded()) return;
    this.#bridge.endReadable();
    if (this.#bridge.beginClosing()) this.#bridge.errorWritable(closedError());
    this.#drained?.resolve();
    this.#onClose?.();
    this.#resolveClosed();
  }

  #fail(error: unknown): void {
    this.#bridge.endReadable(error);
    if (this.#bridge.beginClosing()) {
      this.#bridge.errorWritable(error);
      this.#ws.close(1002, "MQTT requires binary messages");
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (this.#bridge.closing || this.#ws.readyState !== WebSocket.OPEN) throw closedError();
    this.#ws.send(chunk);
    // WebSocket has no drain event: poll bufferedAmount, backing off, while it is high.
    let delay = 1;
    while (this.#ws.bufferedAmount > SEND_HIGH_WATER_MARK && !this.#bridge.ended) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#drained = { resolve };
      const timer = setTimeout(resolve, delay);
      await promise;
      clearTimeout(timer);
      this.#drained = undefined;
      delay = Math.min(delay * 2, 50);
    }
  }

  close(): Promise<void> {
    return this.#shutdown(true);
  }

  #shutdown(errorWritable: boolean): Promise<void> {
    if (this.#bridge.beginShutdown(errorWritable)) {
      if (this.#bridge.paused) this.#ws.resume!();
      try {
        this.#ws.close(1000);
      } catch {
        // already closing
      }
    }
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
