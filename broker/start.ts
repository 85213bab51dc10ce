/**
 * {@link startBroker}: a {@link Broker} with its listeners (TCP, and optionally TLS and
 * WebSocket) on the runtime's own sockets, ready to use in a test or an application.
 *
 * @module
 */

import { Broker } from "./broker.ts";
import type { BrokerStats } from "./broker.ts";
import { listen, type Listener } from "./listener.ts";
import type { BrokerOptions } from "./options.ts";
import type { Violation } from "./violations.ts";

/**
 * Options of {@link startBroker}: the broker's options plus where to listen.
 *
 * @example TCP on an ephemeral port, WebSocket beside it
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StartBrokerOptions } from "./start.ts";
 * const options: StartBrokerOptions = { port: 0, ws: { port: 0, path: "/mqtt" }, strict: true };
 * assert.equal(options.ws?.path, "/mqtt");
 * ```
 */
export interface StartBrokerOptions extends BrokerOptions {
  /** Address to bind every listener to (default "127.0.0.1"). */
  hostname?: string;
  /** TCP port for mqtt:// (default 1883; 0 picks a free port). */
  port?: number;
  /** Adds a TLS listener (mqtts://). */
  tls?: {
    /** Port (default 8883; 0 picks a free port). */
    port?: number;
    /** Server certificate chain, PEM. */
    cert: string;
    /** Private key of `cert`, PEM. */
    key: string;
    /** Authorities for client certificates, PEM (with `requestCert`). */
    ca?: string | string[];
    /** Require client certificates signed by `ca` (Bun only). */
    requestCert?: boolean;
  };
  /** Adds a WebSocket listener (ws://, or wss:// with `tls`). */
  ws?: {
    /** Port (default 8080; 0 picks a free port). */
    port?: number;
    /** Request path (default "/mqtt"). */
    path?: string;
    /** Serve wss:// with this certificate and key. */
    tls?: { cert: string; key: string };
  };
}

/**
 * A broker with its listeners. Dispose it (`await using`) or call {@link close}.
 */
export interface RunningBroker extends AsyncDisposable {
  /** The broker, for stats, hand-driven connections and server-side publishing. */
  readonly broker: Broker;
  /** "mqtt://HOST:PORT" of the TCP listener. */
  readonly url: string;
  /** "mqtts://HOST:PORT" of the TLS listener, when there is one. */
  readonly tlsUrl: string | undefined;
  /** "ws://HOST:PORT/PATH" (or wss://) of the WebSocket listener, when there is one. */
  readonly wsUrl: string | undefined;
  /** The TCP port (the real one when 0 was asked for). */
  readonly port: number;
  /** The TLS port, when listening. */
  readonly tlsPort: number | undefined;
  /** The WebSocket port, when listening. */
  readonly wsPort: number | undefined;
  /** Every violation recorded, oldest first. */
  readonly violations: readonly Violation[];
  /** Counters since start. */
  readonly stats: BrokerStats;
  /** Stops the listeners, closes every connection and waits for them. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a broker listening for MQTT over TCP, and optionally TLS and WebSocket, on
 * Deno or Bun. Port 0 picks a free port; read the real one from `url` or `port`.
 *
 * @example Start, connect, stop
 * ```ts
 * import assert from "node:assert/strict";
 * import { startBroker } from "./start.ts";
 * await using broker = await startBroker({ port: 0 });
 * assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
 * assert.deepEqual(broker.violations, []);
 * ```
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const broker = new Broker(options);
  const hostname = options.hostname ?? "127.0.0.1";
  const onConnection = (transport: Parameters<Broker["accept"]>[0]) => {
    void broker.accept(transport);
  };
  const listeners: Listener[] = [];
  try {
    const tcp = await listen({ kind: "tcp", hostname, port: options.port ?? 1883 }, onConnection);
    listeners.push(tcp);
    let tls: Listener | undefined;
    if (options.tls !== undefined) {
      const { port = 8883, cert, key, ca, requestCert } = options.tls;
      tls = await listen({
        kind: "tls",
        hostname,
        port,
        tls: {
          cert,
          key,
          ...(ca === undefined ? {} : { ca }),
          ...(requestCert ? { requestCert } : {}),
        },
      }, onConnection);
      listeners.push(tls);
    }
    let ws: Listener | undefined;
    if (options.ws !== undefined) {
      ws = await listen({
        kind: "ws",
        hostname,
        port: options.ws.port ?? 8080,
        path: options.ws.path ?? "/mqtt",
        ...(options.ws.tls === undefined ? {} : { tls: options.ws.tls }),
      }, onConnection);
      listeners.push(ws);
    }
    return new Running(broker, listeners, tcp, tls, ws);
  } catch (error) {
    await Promise.all(listeners.map((listener) => listener.close().catch(() => {})));
    await broker.close();
    throw error;
  }
}

class Running implements RunningBroker {
  readonly broker: Broker;
  readonly url: string;
  readonly tlsUrl: string | undefined;
  readonly wsUrl: string | undefined;
  readonly port: number;
  readonly tlsPort: number | undefined;
  readonly wsPort: number | undefined;
  #listeners: Listener[];
  #closing: Promise<void> | undefined;

  constructor(broker: Broker, listeners: Listener[], tcp: Listener, tls?: Listener, ws?: Listener) {
    this.broker = broker;
    this.#listeners = listeners;
    this.url = tcp.url;
    this.port = tcp.port;
    this.tlsUrl = tls?.url;
    this.tlsPort = tls?.port;
    this.wsUrl = ws?.url;
    this.wsPort = ws?.port;
  }

  get violations(): readonly Violation[] {
    return this.broker.violations;
  }

  get stats(): BrokerStats {
    return this.broker.stats;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Stop accepting first, then close the connections; WebSocket listeners keep their
      // port until their last socket is gone, so they are awaited after the broker.
      const stopping = this.#listeners.map((listener) => listener.close().catch(() => {}));
      await this.broker.close();
      await Promise.all(stopping);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
