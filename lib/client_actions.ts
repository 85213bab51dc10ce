/**
 * {@link ClientActions}: carries out what an `MqttClient`'s session decides, in order:
 * packets to write (encoded and queued on the connection), messages to deliver and
 * requests to settle (handed to the publications, subscriptions and authentication
 * collaborators), connections to end; and keeps the session's timer armed for its next
 * deadline.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import type { ClientAuth } from "./client_auth.ts";
import { now } from "./client_checks.ts";
import type { ClientHost } from "./client_host.ts";
import type { ClientPublishes } from "./client_publishes.ts";
import type { ClientSubscriptions } from "./client_subscriptions.ts";
import { SessionTimer } from "./client_timer.ts";
import { ServerDisconnectError } from "./errors.ts";
import { encodePacket } from "./packet/encode.ts";
import type { Packet } from "./packet/types.ts";
import type { SessionAction } from "./session/actions.ts";

/**
 * The carrying out of one client's session actions.
 *
 * @example Packets are written to the connection; a `close` action loses it
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientActions } from "./client_actions.ts";
 * import type { ClientAuth } from "./client_auth.ts";
 * import { Connection } from "./client_connection.ts";
 * import type { ClientHost } from "./client_host.ts";
 * import type { ClientPublishes } from "./client_publishes.ts";
 * import type { ClientSubscriptions } from "./client_subscriptions.ts";
 * import { ClientSession } from "./session/client_session.ts";
 *
 * const chunks: Uint8Array[] = [];
 * const conn = new Connection(new URL("mqtt://memory"), {
 *   readable: new ReadableStream(), writable: new WritableStream({ write: (c) => void chunks.push(c) }),
 *   closed: Promise.resolve(), remoteAddress: undefined,
 *   close: async () => {}, [Symbol.asyncDispose]: async () => {},
 * }, undefined, () => {});
 * let lost: unknown;
 * const host = {
 *   session: new ClientSession(), connection: () => conn, lose: (_c, error) => void (lost = error),
 * } as Partial<ClientHost> as ClientHost;
 * const none = {} as ClientPublishes & ClientSubscriptions & ClientAuth;
 * const actions = new ClientActions(host, none, none, none);
 * actions.run([{ type: "send", packet: { type: "pingreq" } }]);
 * await conn.written();
 * assert.deepEqual(chunks, [new Uint8Array([0xc0, 0x00])]);
 * actions.run([{ type: "close", error: new Error("keep-alive timeout") }]);
 * assert.deepEqual(lost, new Error("keep-alive timeout"));
 * ```
 */
export class ClientActions {
  #host: ClientHost;
  #publishes: ClientPublishes;
  #subscriptions: ClientSubscriptions;
  #auth: ClientAuth;
  #queue: unknown[] = [];
  #running = false;
  #timer: SessionTimer;
  /** The offline queue goes out after the actions of the next run (set on CONNACK). */
  #flushOffline = false;

  /** Actions of the client `host`, handed to its collaborators. */
  constructor(
    host: ClientHost,
    publishes: ClientPublishes,
    subscriptions: ClientSubscriptions,
    auth: ClientAuth,
  ) {
    this.#host = host;
    this.#publishes = publishes;
    this.#subscriptions = subscriptions;
    this.#auth = auth;
    const session = host.session;
    this.#timer = new SessionTimer(session, () => this.run(session.poll(now())));
  }

  /** A connection is up: what the offline queue holds goes out with the next run. */
  connected(): void {
    this.#flushOffline = this.#publishes.offlineLength > 0;
  }

  /** Arms the timer for the session's next deadline (after the session changed outside a run). */
  armTimer(): void {
    this.#timer.arm();
  }

  /** Stops the timer for good (the client is closed). */
  stopTimer(): void {
    this.#timer.clear();
  }

  /**
   * Carries out session actions in order. Actions produced while others are being
   * carried out (a listener publishing, a buffer releasing an acknowledgement) wait for
   * their turn, so packets leave in the order the session produced them.
   */
  run(actions: SessionAction[]): void {
    if (actions.length > 0) this.#queue.push(actions);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
        for (const action of batch as SessionAction[]) this.#do(action);
      }
      if (this.#flushOffline) {
        this.#flushOffline = false;
        this.#publishes.flushOffline();
        for (let batch = this.#queue.shift(); batch; batch = this.#queue.shift()) {
          for (const action of batch as SessionAction[]) this.#do(action);
        }
      }
    } finally {
      this.#running = false;
    }
    this.#timer.arm();
  }

  #do(action: SessionAction): void {
    switch (action.type) {
      case "send":
        this.write(action.packet);
        break;
      case "deliver":
        this.#subscriptions.deliver(action);
        break;
      case "settle":
        if (action.request === "publish") this.#publishes.settle(action);
        else if (action.request === "subscribe") this.#subscriptions.settleSubscribe(action);
        else this.#subscriptions.settleUnsubscribe(action);
        break;
      case "connected":
        this.#auth.authenticated(action);
        break;
      case "disconnected": {
        const conn = this.#host.connection();
        const error = new ServerDisconnectError({
          reasonCode: action.reasonCode,
          properties: action.properties,
        });
        this.#host.log("warn", error.message, action);
        if (conn) this.#host.lose(conn, error, false);
        break;
      }
      case "auth":
        this.#auth.onAuth(action.packet);
        break;
      case "close": {
        const conn = this.#host.connection();
        if (conn) this.#host.lose(conn, action.error, true);
        break;
      }
    }
  }

  /** Encodes `packet` and queues it on the current connection (nothing when there is none). */
  write(packet: Packet): void {
    const conn = this.#host.connection();
    if (conn === undefined || conn.lost) return;
    let bytes: Uint8Array;
    try {
      bytes = encodePacket(
        packet,
        packet.type === "connect" ? packet.protocolVersion : this.#host.session.protocolVersion,
      );
    } catch (error) {
      // The session took a packet the codec refuses: start over on a new connection
      // rather than leave the session believing it was sent.
      this.#host.log(
        "error",
        `Cannot encode a ${packet.type.toUpperCase()}: ${(error as Error)?.message}`,
        error,
      );
      this.#host.lose(conn, error, false);
      return;
    }
    conn.write(
      bytes,
      packet.type === "pubrel" || packet.type === "pubrec" ||
        (packet.type === "publish" && packet.qos > 0),
    );
  }
}
