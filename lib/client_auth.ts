/**
 * {@link ClientAuth}: MQTT 5 enhanced authentication (section 4.12) for an `MqttClient`:
 * checking the accepting CONNACK with the `auth` method, answering the server's AUTH
 * challenges, and re-authentication on a live connection.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import type { AuthExchange, AuthMethod } from "./auth_method.ts";
import { now } from "./client_checks.ts";
import type { AuthRun, Connection } from "./client_connection.ts";
import type { ClientHost } from "./client_host.ts";
import { ConnectionClosedError, ProtocolError } from "./errors.ts";
import type { AuthPacket, Properties } from "./packet/types.ts";
import type { ConnectedAction } from "./session/actions.ts";

/**
 * The enhanced authentication exchanges of one client, run by its `auth` method.
 *
 * @example A CONNACK naming another Authentication Method ends the connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientAuth } from "./client_auth.ts";
 * import { Connection } from "./client_connection.ts";
 * import type { ClientHost } from "./client_host.ts";
 * import { ProtocolError } from "./errors.ts";
 * import type { Packet } from "./packet/types.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * import type { Transport } from "./transport/types.ts";
 * const transport: Transport = {
 *   readable: new ReadableStream(), writable: new WritableStream(), closed: Promise.resolve(),
 *   remoteAddress: undefined, close: async () => {}, [Symbol.asyncDispose]: async () => {},
 * };
 * const conn = new Connection(new URL("mqtt://memory"), transport, undefined, () => {});
 * conn.auth = { reauthenticate: false, round: 1, busy: false, done: undefined };
 * const written: Packet[] = [];
 * let lost: unknown;
 * const session = new ClientSession({ properties: { authenticationMethod: "SCRAM-SHA-1" } });
 * const host = {
 *   session, connection: () => conn, log() {}, write: (packet) => void written.push(packet),
 *   lose: (_conn, error) => void (lost = error),
 * } as Partial<ClientHost> as ClientHost;
 * const auth = new ClientAuth(host, { method: "SCRAM-SHA-1", onChallenge: () => undefined });
 * session.connectPacket();
 * const connack = { type: "connack", sessionPresent: false, reasonCode: 0 } as const;
 * const [connected] = session.handleConnack(connack, 0);
 * assert.equal(connected?.type, "connected");
 * if (connected?.type === "connected") auth.authenticated(connected);
 * assert.deepEqual(written, [{ type: "disconnect", reasonCode: 0x82 }]);
 * assert.ok(lost instanceof ProtocolError);
 * assert.equal(lost.statement, "MQTT-4.12.0-5");
 * ```
 */
export class ClientAuth {
  #host: ClientHost;
  #method: AuthMethod | undefined;

  /** Exchanges of the client `host` with the `auth` option `method` (none when undefined). */
  constructor(host: ClientHost, method: AuthMethod | undefined) {
    this.#host = host;
    this.#method = method;
  }

  /** An accepting CONNACK: with enhanced authentication, the method checks it first. */
  authenticated(action: ConnectedAction): void {
    const conn = this.#host.connection();
    const auth = this.#method;
    const run = conn?.auth;
    if (conn === undefined || auth === undefined || run === undefined) {
      this.#host.connected(action);
      return;
    }
    conn.auth = undefined;
    const method = action.connack.properties?.authenticationMethod;
    if (method !== auth.method) {
      this.#authFailed(
        conn,
        new ProtocolError(
          `CONNACK names Authentication Method ${JSON.stringify(method)}, not '${auth.method}'`,
          { reasonCode: 0x82, statement: "MQTT-4.12.0-5" },
        ),
      );
      return;
    }
    const exchange = { method: auth.method, round: run.round + 1, reauthenticate: false };
    const data = action.connack.properties?.authenticationData;
    settle(() => auth.onSuccess?.(data, exchange), (error) => {
      if (conn.lost || conn !== this.#host.connection()) return;
      if (error === undefined) this.#host.connected(action);
      else this.#authFailed(conn, error);
    });
  }

  /** An AUTH from the server: a challenge to answer, or the end of a re-authentication. */
  onAuth(packet: AuthPacket): void {
    const conn = this.#host.connection();
    if (conn === undefined) return;
    const auth = this.#method;
    const run = conn.auth;
    const code = packet.reasonCode ?? 0;
    const method = packet.properties?.authenticationMethod;
    const fail = (message: string, statement?: string) =>
      this.#authFailed(conn, new ProtocolError(message, { reasonCode: 0x82, statement }));
    if (auth === undefined) {
      return fail("The server sent AUTH, but no 'auth' method is configured");
    }
    if (method !== auth.method) {
      return fail(
        `AUTH names Authentication Method ${JSON.stringify(method)}, not '${auth.method}'`,
        "MQTT-4.12.0-5",
      );
    }
    if (run === undefined || run.busy) {
      return fail(
        `AUTH 0x${code.toString(16).padStart(2, "0")} outside an authentication exchange`,
      );
    }
    if (code === 0x00) {
      if (!run.reauthenticate) return fail("AUTH 0x00 before CONNACK: success is the CONNACK's");
      conn.auth = undefined;
      const exchange = { method: auth.method, round: run.round + 1, reauthenticate: true };
      settle(() => auth.onSuccess?.(packet.properties?.authenticationData, exchange), (error) => {
        if (error === undefined) {
          this.#host.log("info", "Re-authenticated");
          run.done?.resolve();
        } else {
          this.#authFailed(conn, error);
          run.done?.reject(error);
        }
      });
      return;
    }
    if (code !== 0x18) {
      return fail(`AUTH 0x${code.toString(16).padStart(2, "0")} from the server`);
    }
    run.round++;
    run.busy = true;
    const exchange: AuthExchange = {
      method: auth.method,
      round: run.round,
      reauthenticate: run.reauthenticate,
    };
    let answer: Uint8Array | undefined;
    settle(async () => {
      answer = await auth.onChallenge(packet.properties?.authenticationData, exchange);
    }, (error) => {
      run.busy = false;
      if (conn.lost || conn.auth !== run) return;
      if (error !== undefined) {
        this.#authFailed(conn, error);
        return;
      }
      this.#sendAuth(conn, 0x18, answer);
    });
  }

  #sendAuth(conn: Connection, reasonCode: number, data: Uint8Array | undefined): void {
    const method = this.#method!.method;
    const properties: Properties = data === undefined
      ? { authenticationMethod: method }
      : { authenticationMethod: method, authenticationData: data };
    try {
      this.#host.run(this.#host.session.sendAuth({ type: "auth", reasonCode, properties }, now()));
    } catch (error) {
      this.#authFailed(conn, error);
    }
  }

  /** Ends a connection whose authentication failed on our side: DISCONNECT, then close. */
  #authFailed(conn: Connection, error: unknown): void {
    if (conn.lost) return;
    const reasonCode = error instanceof ProtocolError ? error.reasonCode : 0x87;
    this.#host.log("error", `Enhanced authentication failed: ${(error as Error)?.message}`, error);
    this.#host.write({ type: "disconnect", reasonCode });
    this.#host.lose(conn, error, true);
  }

  /** Re-authenticates on the live connection; see `MqttClient.reauthenticate`. */
  async reauthenticate(options: { signal?: AbortSignal } = {}): Promise<void> {
    const auth = this.#method;
    if (auth === undefined) {
      throw new TypeError("Cannot reauthenticate as 'auth' was not given to connect()");
    }
    const { signal } = options;
    signal?.throwIfAborted();
    this.#host.assertOpen("reauthenticate");
    const conn = this.#host.connection();
    if (conn === undefined || !conn.connected || conn.lost) {
      throw new ConnectionClosedError("Cannot reauthenticate while not connected");
    }
    if (conn.auth !== undefined) {
      throw new TypeError("Cannot reauthenticate as a re-authentication is under way");
    }
    const done = Promise.withResolvers<void>();
    done.promise.catch(() => {});
    const run: AuthRun = { reauthenticate: true, round: 1, busy: true, done };
    conn.auth = run;
    settle(
      () => auth.start?.({ method: auth.method, round: 1, reauthenticate: true }),
      (error, data) => {
        run.busy = false;
        if (conn.lost || conn.auth !== run) return;
        if (error !== undefined) {
          conn.auth = undefined;
          done.reject(error);
          return;
        }
        this.#sendAuth(conn, 0x19, data);
      },
    );
    if (signal === undefined) return await done.promise;
    const aborted = Promise.withResolvers<never>();
    const onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await Promise.race([done.promise, aborted.promise]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * Calls `fn` and reports its outcome to `then`, synchronously when `fn` does not return
 * a promise: `(undefined, value)` on success, `(error)` on a throw or rejection (an
 * `undefined` error becomes an Error).
 */
function settle<T>(
  fn: () => T | Promise<T>,
  then: (error: unknown, value?: T) => void,
): void {
  const failed = (error: unknown) =>
    then(error ?? new Error("The authentication method failed without an error"));
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (error) {
    failed(error);
    return;
  }
  if (result instanceof Promise) result.then((value) => then(undefined, value), failed);
  else then(undefined, result);
}
