/**
 * Transports: how tern's bytes reach a broker. A {@link Transport} is two web streams
 * and a `close()`; a {@link DirectTransport} adds a stream-free `readChunk` /
 * `writeChunk` that the client uses when offered (the TCP and TLS transports of Deno and
 * Bun do). {@link openTransport} opens one from a URL (`mqtt:`, `mqtts:`, `ws:`, `wss:`)
 * with the runtime's own sockets. The per-runtime functions are here for callers
 * that want one explicitly; `node_net.ts` (Node.js) is left out so that importing this
 * module never loads `node:net`.
 *
 * @example Open a transport from a URL
 * ```ts
 * import assert from "node:assert/strict";
 * import { openTransport } from "./mod.ts";
 *
 * await assert.rejects(openTransport("mqtt://127.0.0.1:1"), /Cannot connect/);
 * ```
 *
 * @module
 */

export type { TlsOptions, Transport, TransportOptions, WsOptions } from "./types.ts";
export { type DirectTransport, isDirectTransport } from "./direct.ts";
export { openTransport, type OpenTransportOptions, TRANSPORT_SCHEMES } from "./open.ts";
export { connectDenoTcp, denoConnTransport, type DenoConnTransportOptions } from "./deno_tcp.ts";
export { connectBunTcp } from "./bun_tcp.ts";
export {
  connectWebSocket,
  MQTT_SUBPROTOCOL,
  webSocketTransport,
  type WebSocketTransportOptions,
} from "./websocket.ts";
