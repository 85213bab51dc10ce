/**
 * MQTT 5 enhanced authentication (section 4.12): pluggable methods, each an async
 * handler that is given the client's Authentication Data and answers "continue" (with
 * data for the client), "success" or "failure". The connection runs the AUTH exchange
 * around it: CONNECT with an Authentication Method, AUTH 0x18 rounds, then CONNACK; and
 * re-authentication, started by the client with AUTH 0x19 once connected.
 *
 * @module
 */

import { ReasonCode } from "../lib/packet/reason_codes.ts";
import type { ProtocolVersion } from "../lib/packet/types.ts";

/**
 * What an {@link AuthHandler} learns about the exchange it takes part in.
 *
 * @example The first round of a connection's authentication
 * ```ts
 * import type { AuthContext } from "./enhanced_auth.ts";
 * const context: AuthContext = {
 *   method: "SCRAM-SHA-256", clientId: "a", protocolVersion: 5, round: 1, reauthenticate: false,
 * };
 * ```
 */
export interface AuthContext {
  /** The Authentication Method the client named. */
  readonly method: string;
  /** The Client Identifier from CONNECT ("" when the broker will assign one). */
  readonly clientId: string;
  /** Always 5: only MQTT 5 has enhanced authentication. */
  readonly protocolVersion: ProtocolVersion;
  /** The User Name from CONNECT, if sent. */
  readonly username?: string;
  /** The client's address, when the transport knows it. */
  readonly remoteAddress?: string;
  /** 1 for the data of CONNECT (or of AUTH 0x19), then 2, 3... for each AUTH 0x18 reply. */
  readonly round: number;
  /** True when the client re-authenticates an established connection (AUTH 0x19). */
  readonly reauthenticate: boolean;
  /**
   * State the handler may keep between the rounds of one exchange; a new exchange
   * (a re-authentication) starts with a fresh object.
   */
  readonly state?: Record<string, unknown>;
}

/**
 * A handler's answer: send `data` to the client and wait for its next AUTH
 * ("continue"); accept, with optional final `data` for the CONNACK or AUTH 0x00
 * ("success"); or refuse ("failure"), with a reason code of 0x80 or above (default 0x87
 * Not authorized) and an optional Reason String.
 *
 * @example The three answers
 * ```ts
 * import type { AuthResult } from "./enhanced_auth.ts";
 * const answers: AuthResult[] = [
 *   { action: "continue", data: new Uint8Array([1, 2]) },
 *   { action: "success" },
 *   { action: "failure", reasonCode: 0x86, reason: "wrong proof" },
 * ];
 * ```
 */
export type AuthResult =
  | { action: "continue"; data?: Uint8Array }
  | { action: "success"; data?: Uint8Array }
  | { action: "failure"; reasonCode?: number; reason?: string };

/**
 * One authentication method: called with the Authentication Data of CONNECT (or of
 * each AUTH from the client) and the exchange's context. A throw or rejection counts as
 * a failure with 0x87 Not authorized.
 *
 * @example A one-round shared secret
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AuthHandler } from "./enhanced_auth.ts";
 * const token: AuthHandler = (data) =>
 *   new TextDecoder().decode(data) === "let-me-in"
 *     ? { action: "success" }
 *     : { action: "failure" };
 * const context = { method: "token", clientId: "a", protocolVersion: 5, round: 1, reauthenticate: false } as const;
 * assert.deepEqual(await token(new TextEncoder().encode("let-me-in"), context), { action: "success" });
 * ```
 */
export type AuthHandler = (
  data: Uint8Array | undefined,
  context: AuthContext,
) => AuthResult | Promise<AuthResult>;

/**
 * Authentication methods by name, as given in the broker's `auth` option.
 *
 * @example A challenge-response method
 * ```ts
 * import type { AuthMethods } from "./enhanced_auth.ts";
 * const auth: AuthMethods = {
 *   challenge: (data, { round }) =>
 *     round === 1
 *       ? { action: "continue", data: new TextEncoder().encode("nonce") }
 *       : { action: new TextDecoder().decode(data) === "nonce-signed" ? "success" : "failure" },
 * };
 * ```
 */
export type AuthMethods = Readonly<Record<string, AuthHandler>>;

/**
 * Calls `handler` and checks its answer, turning a throw, a rejection or a malformed
 * answer into a failure (0x87 Not authorized), and a failure code below 0x80 into 0x87.
 * Synchronous answers stay synchronous.
 *
 * @example A throwing handler fails the exchange
 * ```ts
 * import assert from "node:assert/strict";
 * import { runAuthHandler } from "./enhanced_auth.ts";
 * const context = { method: "m", clientId: "a", protocolVersion: 5, round: 1, reauthenticate: false } as const;
 * const result = runAuthHandler(() => { throw new Error("down"); }, undefined, context);
 * assert.deepEqual(result, { action: "failure", reasonCode: 0x87 });
 * ```
 */
export function runAuthHandler(
  handler: AuthHandler,
  data: Uint8Array | undefined,
  context: AuthContext,
): AuthResult | Promise<AuthResult> {
  let answer: AuthResult | Promise<AuthResult>;
  try {
    answer = handler(data, context);
  } catch {
    return failure();
  }
  if (typeof (answer as { then?: unknown } | null)?.then === "function") {
    return (answer as Promise<AuthResult>).then(checkResult, failure);
  }
  return checkResult(answer as AuthResult);
}

function failure(): AuthResult {
  return { action: "failure", reasonCode: ReasonCode.NotAuthorized };
}

function checkResult(result: AuthResult): AuthResult {
  if (result === null || typeof result !== "object") return failure();
  switch (result.action) {
    case "continue":
    case "success":
      if (result.data !== undefined && !(result.data instanceof Uint8Array)) return failure();
      return result;
    case "failure": {
      const code = result.reasonCode;
      if (code === undefined || !Number.isInteger(code) || code < 0x80 || code > 0xff) {
        return { ...result, reasonCode: ReasonCode.NotAuthorized };
      }
      return result;
    }
    default:
      return failure();
  }
}
