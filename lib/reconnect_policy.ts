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

/** How many Server Reference redirects the first connection follows in a row. */
export const MAX_REDIRECTS = 3;

/**
 * The server another one sent us to: a CONNACK or DISCONNECT with 0x9C (Use another
 * server) or 0x9D (Server moved) and a Server Reference. The reference is a URL, or
 * "host" / "host:port" taken with the scheme of the current URL; of several references
 * separated by spaces, the first is used.
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

/** CONNACK codes after which trying again cannot help, unless told otherwise. */
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
/** The same for MQTT 3.1 and 3.1.1 CONNACK return codes. */
export const HOPELESS_V3 = new Set([1, 2, 4, 5]);

/**
 * Whether the connection may heal by trying again after `error`: transport failures,
 * timeouts and most refusals may; bad credentials, authorization, bans and malformed
 * requests do not.
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
