/**
 * The reconnection policy of `MqttClient`: which failures may heal by trying again
 * ({@link canHeal}, with the CONNACK codes that cannot), and where a server's redirect
 * points ({@link redirectOf}, followed at most {@link MAX_REDIRECTS} times in a row).
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { ConnectionRefusedError, ServerDisconnectError } from "./errors.ts";
import type { ProtocolVersion } from "./packet/types.ts";

/**
 * How many Server Reference redirects the first connection follows in a row.
 *
 * @example A few hops, never an endless loop
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_REDIRECTS } from "./reconnect_policy.ts";
 * assert.equal(MAX_REDIRECTS, 3);
 * ```
 */
export const MAX_REDIRECTS = 3;

/**
 * The server another one sent us to: a CONNACK or DISCONNECT with 0x9C (Use another
 * server) or 0x9D (Server moved) and a Server Reference. The reference is a URL, or
 * "host" / "host:port" taken with the scheme of the current URL; of several references
 * separated by spaces, the first is used.
 *
 * @example Where "Use another server" points
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionRefusedError, ServerDisconnectError } from "./errors.ts";
 * import { redirectOf } from "./reconnect_policy.ts";
 * const current = new URL("ws://a.example:8080/mqtt");
 * const refused = new ConnectionRefusedError({
 *   reasonCode: 0x9c,
 *   serverReference: "b.example:9001 c.example",
 * });
 * assert.equal(redirectOf(refused, current)?.href, "ws://b.example:9001/mqtt");
 * const moved = new ServerDisconnectError({
 *   reasonCode: 0x9d,
 *   properties: { serverReference: "mqtts://d.example" },
 * });
 * assert.equal(redirectOf(moved, current)?.href, "mqtts://d.example");
 * // A reference without 0x9C / 0x9D, or another error, redirects nowhere.
 * const banned = new ConnectionRefusedError({ reasonCode: 0x8a, serverReference: "e.example" });
 * assert.equal(redirectOf(banned, current), undefined);
 * assert.equal(redirectOf(new Error("reset"), current), undefined);
 * ```
 */
export function redirectOf(error: unknown, current: URL): URL | undefined {
  let reference: string | undefined;
  let code: number | undefined;
  if (error instanceof ConnectionRefusedError || error instanceof ServerDisconnectError) {
    reference = error.serverReference;
    code = error.reasonCode;
  }
  if (reference === undefined || (code !== 0x9c && code !== 0x9d)) return undefined;
  const first = reference.trim().split(/\s+/)[0];
  if (!first) return undefined;
  try {
    const url = new URL(first.includes("://") ? first : `${current.protocol}//${first}`);
    if (!first.includes("://") && (current.pathname !== "/" || current.search !== "")) {
      url.pathname = current.pathname;
      url.search = current.search;
    }
    return url;
  } catch {
    return undefined;
  }
}

/**
 * CONNACK codes after which trying again cannot help, unless told otherwise.
 *
 * @example Bad credentials are hopeless, a busy server is not
 * ```ts
 * import assert from "node:assert/strict";
 * import { HOPELESS_V5 } from "./reconnect_policy.ts";
 * assert.ok(HOPELESS_V5.has(0x86)); // Bad User Name or Password
 * assert.ok(HOPELESS_V5.has(0x87)); // Not authorized
 * assert.ok(!HOPELESS_V5.has(0x89)); // Server busy
 * assert.ok(!HOPELESS_V5.has(0x88)); // Server unavailable
 * ```
 */
export const HOPELESS_V5 = new Set([
  0x81,
  0x82,
  0x84,
  0x85,
  0x86,
  0x87,
  0x8a,
  0x8c,
  0x90,
  0x95,
  0x99,
  0x9a,
  0x9b,
]);
/**
 * The same for MQTT 3.1 and 3.1.1 CONNACK return codes.
 *
 * @example Every refusal but "Server unavailable" (3) is hopeless
 * ```ts
 * import assert from "node:assert/strict";
 * import { HOPELESS_V3 } from "./reconnect_policy.ts";
 * assert.deepEqual([1, 2, 3, 4, 5].filter((code) => HOPELESS_V3.has(code)), [1, 2, 4, 5]);
 * ```
 */
export const HOPELESS_V3 = new Set([1, 2, 4, 5]);

/**
 * Whether the connection may heal by trying again after `error`: transport failures,
 * timeouts and most refusals may; bad credentials, authorization, bans and malformed
 * requests do not.
 *
 * @example Which failures are worth another attempt
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionRefusedError, ServerDisconnectError } from "./errors.ts";
 * import { canHeal } from "./reconnect_policy.ts";
 * assert.equal(canHeal(new Error("ECONNRESET"), 5, false), true);
 * const badPassword = new ConnectionRefusedError({ reasonCode: 0x86 });
 * assert.equal(canHeal(badPassword, 5, false), false);
 * assert.equal(canHeal(badPassword, 5, true), true); // retryRefused
 * const busy = new ConnectionRefusedError({ reasonCode: 0x89 });
 * assert.equal(canHeal(busy, 5, false), true);
 * const notAuthorized = new ConnectionRefusedError({ reasonCode: 5, protocolVersion: 4 });
 * assert.equal(canHeal(notAuthorized, 4, false), false);
 * const takenOver = new ServerDisconnectError({ reasonCode: 0x8e });
 * assert.equal(canHeal(takenOver, 5, false), false);
 * ```
 */
export function canHeal(
  error: unknown,
  protocolVersion: ProtocolVersion,
  retryRefused: boolean,
): boolean {
  if (error instanceof ConnectionRefusedError) {
    if (retryRefused) return true;
    return !(protocolVersion === 5 ? HOPELESS_V5 : HOPELESS_V3).has(error.reasonCode);
  }
  if (error instanceof ServerDisconnectError) {
    // Another connection took the session over: reconnecting would take it back, and so on.
    return error.reasonCode !== 0x8e;
  }
  return true;
}
