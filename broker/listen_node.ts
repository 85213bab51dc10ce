/**
 * TCP and TLS listeners over `node:net` / `node:tls`. {@link listen} in listener.ts uses
 * them on runtimes that are neither Deno nor Bun (Node.js), and on Deno for TLS with
 * client certificates, which `Deno.listenTls` cannot ask for.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { nodeSocketTransport } from "../lib/transport/node_net.ts";
import type { Transport } from "../lib/transport/types.ts";
import {
  type CheckedListenOptions,
  type ConnectionHandler,
  type Listener,
  listenerUrl,
} from "./listener.ts";

/** Time a TLS client gets to complete its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Opens a `node:net` (TCP) or `node:tls` (TLS, with client certificates when
 * `tls.requestCert` is set) listener; see {@link listen} in listener.ts for the contract.
 * WebSocket is not supported here: it throws a TypeError.
 *
 * @example Mutual TLS listener
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenNode } from "./listen_node.ts";
 * import { generateTlsCerts } from "../testing/tls_certs.ts";
 *
 * const certs = await generateTlsCerts();
 * await using listener = await listenNode({
 *   kind: "tls",
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   path: "/mqtt",
 *   tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requestCert: true },
 * }, (transport) => void transport.close());
 * assert.equal(listener.url, `mqtts://127.0.0.1:${listener.port}`);
 * ```
 */
export async function listenNode(
  options: CheckedListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const { kind, hostname, port } = options;
  if (kind === "ws") {
    throw new TypeError("Cannot listen for WebSocket with node:net: use Deno or Bun");
  }
  const hand = (socket: net.Socket) => {
    const transport: Transport = nodeSocketTransport(socket);
    try {
      onConnection(transport);
    } catch {
      void transport.close();
    }
  };
  const server = kind === "tls"
    ? tls.createServer({
      cert: options.tls!.cert,
      key: options.tls!.key,
      ...(options.tls!.ca === undefined ? {} : { ca: options.tls!.ca }),
      ...(options.tls!.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    }, hand)
    : net.createServer(hand);
  // A client failing its handshake is that client's problem, not the listener's.
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {});
  const address = server.address() as net.AddressInfo;
  let closed = false;
  const listener: Listener = {
    kind,
    hostname: address.address,
    port: address.port,
    url: listenerUrl(kind, address.address, address.port, kind === "tls", options.path),
    close() {
      if (!closed) {
        closed = true;
        // Stops accepting at once; the callback would wait for accepted connections.
        server.close();
      }
      return Promise.resolve();
    },
    [Symbol.asyncDispose]() {
      return listener.close();
    },
  };
  return listener;
}
