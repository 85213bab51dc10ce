/**
 * The part of Bun's API the transports and the Bun listener use, typed here so that the
 * package needs no `bun-types` dependency and `deno check` can check the Bun code too.
 * Internal: not exported from the package.
 *
 * @module
 */

/** A TCP or TLS socket from `Bun.connect` or `Bun.listen`. */
export interface BunSocket<Data> {
  /** Per-socket user data. */
  data: Data;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Writes without buffering: returns how many bytes the socket took, -1 once closed. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Sends FIN and closes the socket. */
  end(): void;
  /** Closes the socket at once (RST). */
  terminate(): void;
  /** Stops reading from the socket. */
  pause(): void;
  /** Reads from the socket again after `pause()`. */
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  /** Closes the socket after this many idle seconds; 0 turns the timeout off. */
  timeout(seconds: number): void;
}

/** The callbacks of a Bun socket, with `binaryType: "uint8array"`. */
export interface BunSocketHandler<Data> {
  binaryType?: "uint8array";
  open?(socket: BunSocket<Data>): void;
  data?(socket: BunSocket<Data>, chunk: Uint8Array): void;
  drain?(socket: BunSocket<Data>): void;
  close?(socket: BunSocket<Data>, error?: Error): void;
  error?(socket: BunSocket<Data>, error: Error): void;
  handshake?(socket: BunSocket<Data>, success: boolean, authorizationError: Error | null): void;
  connectError?(socket: BunSocket<Data>, error: Error): void;
}

/** TLS settings of `Bun.connect`, `Bun.listen`, `Bun.serve` and Bun's WebSocket client. */
export interface BunTlsOptions {
  ca?: string | string[];
  cert?: string;
  key?: string;
  serverName?: string;
  ALPNProtocols?: Uint8Array;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
}

/** A server from `Bun.listen`. */
export interface BunTcpListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

/** The server side of a WebSocket accepted by `Bun.serve`. */
export interface BunServerWebSocket<Data> {
  data: Data;
  readonly remoteAddress: string;
  binaryType?: "nodebuffer" | "arraybuffer" | "uint8array" | "blob";
  /** Returns the bytes sent, -1 when queued under backpressure, 0 when dropped. */
  send(data: Uint8Array, compress?: boolean): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
}

/** The WebSocket callbacks of `Bun.serve`. */
export interface BunWebSocketHandler<Data> {
  open?(ws: BunServerWebSocket<Data>): void;
  message?(ws: BunServerWebSocket<Data>, message: string | Uint8Array): void;
  drain?(ws: BunServerWebSocket<Data>): void;
  close?(ws: BunServerWebSocket<Data>, code: number, reason: string): void;
  maxPayloadLength?: number;
  backpressureLimit?: number;
  closeOnBackpressureLimit?: boolean;
  idleTimeout?: number;
  sendPings?: boolean;
  perMessageDeflate?: boolean;
}

/** A server from `Bun.serve`. */
export interface BunServer<Data> {
  readonly port: number | undefined;
  readonly hostname: string | undefined;
  stop(closeActiveConnections?: boolean): Promise<void>;
  upgrade(request: Request, options: { headers?: Record<string, string>; data: Data }): boolean;
  requestIP(request: Request): { address: string; port: number } | null;
}

/** The `Bun` global, as far as tern uses it. */
export interface BunRuntime {
  connect<Data>(options: {
    hostname: string;
    port: number;
    data: Data;
    socket: BunSocketHandler<Data>;
    tls?: BunTlsOptions;
  }): Promise<BunSocket<Data>>;
  listen<Data>(options: {
    hostname: string;
    port: number;
    socket: BunSocketHandler<Data>;
    tls?: BunTlsOptions;
  }): BunTcpListener;
  serve<Data>(options: {
    hostname: string;
    port: number;
    tls?: BunTlsOptions;
    fetch(request: Request, server: BunServer<Data>): Response | undefined;
    websocket: BunWebSocketHandler<Data>;
  }): BunServer<Data>;
}

/** The `Bun` global; only call it where `"Bun" in globalThis`. */
export function bunRuntime(): BunRuntime {
  return (globalThis as unknown as { Bun: BunRuntime }).Bun;
}
