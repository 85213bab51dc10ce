/**
 * {@link ClientHost}: what the collaborators of `MqttClient` (its action runner,
 * publications, subscriptions, enhanced authentication, requests, connection attempts)
 * may ask of the client. They hold their own state and reach the client's connection,
 * session and events only through it.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import type { ClientState, Credentials } from "./client_options.ts";
import type { Connection } from "./client_connection.ts";
import type { LogLevel } from "./events.ts";
import type { Packet } from "./packet/types.ts";
import type { ConnectedAction, SessionAction } from "./session/actions.ts";
import type { ClientSession } from "./session/client_session.ts";
import type { Transport } from "./transport/types.ts";

/**
 * The client as its collaborators see it; `MqttClient` makes one for itself.
 *
 * @example A host that records what a collaborator asks of it
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientHost } from "./client_host.ts";
 * import { ClientPublishes } from "./client_publishes.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * const session = new ClientSession();
 * session.connectPacket();
 * session.handleConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * const seen: string[] = [];
 * const host: ClientHost = {
 *   session,
 *   state: () => "connected",
 *   connection: () => undefined,
 *   run: (actions) => void seen.push(...actions.map((action) => action.type)),
 *   write: (packet) => void seen.push(`write ${packet.type}`),
 *   dirty: () => void seen.push("dirty"),
 *   persist: () => Promise.resolve(),
 *   dispatch: (event) => void seen.push(`event ${event.type}`),
 *   hasListened: () => true,
 *   log: () => {},
 *   assertOpen: () => {},
 *   lose: () => {},
 *   connected: () => {},
 *   open: () => Promise.reject(new Error("no network here")),
 *   shutdown: () => {},
 * };
 * const publishes = new ClientPublishes(host, undefined);
 * const done = publishes.publish(publishes.outgoing("a/b", "x", { qos: 1 }), undefined, true);
 * publishes.settle({ type: "settle", id: 1, request: "publish", reasonCodes: [0] });
 * assert.deepEqual(await done, { reasonCode: 0 });
 * assert.deepEqual(seen, ["dirty", "send", "event publish"]);
 * ```
 */
export interface ClientHost {
  /** The client's protocol state (one per client, never replaced). */
  readonly session: ClientSession;
  /** Where the client stands. */
  state(): ClientState;
  /** The current connection, if any. */
  connection(): Connection | undefined;
  /** Carries out session actions in order (see `ClientActions.run`). */
  run(actions: SessionAction[]): void;
  /** Encodes a packet and queues it on the current connection. */
  write(packet: Packet): void;
  /** Notes that the session changed since it was last saved. */
  dirty(): void;
  /** Saves the session when a store is set; resolves once the store knows every change. */
  persist(): Promise<void>;
  /** Dispatches an event on the client. */
  dispatch(event: Event): void;
  /** Whether a listener for `type` was ever added to the client (events cost nothing otherwise). */
  hasListened(type: string): boolean;
  /** Writes a log line to the logger and as a `"log"` event. */
  log(level: LogLevel, message: string, data?: unknown): void;
  /** Throws a ConnectionClosedError naming `verb` when the client is closing or closed. */
  assertOpen(verb: string): void;
  /**
   * Ends a connection: before its CONNACK the attempt fails, after it the client
   * reconnects or closes.
   */
  lose(conn: Connection, error: unknown, flush: boolean): void;
  /** The connection is up (its CONNACK accepted, and its authentication checked). */
  connected(action: ConnectedAction): void;
  /**
   * Starts a connection on a transport just opened to `url`: CONNECT (with the attempt's
   * `credentials` and first `authData`), then reading. Resolves on an accepting CONNACK;
   * `signal` aborting ends the connection with `reason()`.
   */
  open(
    url: URL,
    transport: Transport,
    credentials: Credentials | undefined,
    authData: Uint8Array | undefined,
    signal: AbortSignal,
    reason: () => unknown,
  ): Promise<ConnectedAction>;
  /** Closes the client for good: rejects everything pending, ends buffers and timers. */
  shutdown(error: unknown): void;
}
