/**
 * Spec statement ids that differ between MQTT 5.0 and MQTT 3.1.1.
 *
 * @module
 */

import type { ProtocolVersion } from "../packet/types.ts";

/**
 * The id of the spec statement a peer broke, for the protocol version in use: `v5` for
 * MQTT 5.0, `v311` for MQTT 3.1.1 and 3.1 (which share the 3.1.1 numbering). Pass
 * `undefined` as `v311` where the older spec has no such statement.
 *
 * @example Pick the statement for each version
 * ```ts
 * import assert from "node:assert/strict";
 * import { statementFor } from "./_statement.ts";
 *
 * assert.equal(statementFor(5, "MQTT-3.8.4-6", "MQTT-3.8.4-5"), "MQTT-3.8.4-6");
 * assert.equal(statementFor(4, "MQTT-3.8.4-6", "MQTT-3.8.4-5"), "MQTT-3.8.4-5");
 * assert.equal(statementFor(3, "MQTT-3.2.0-2", undefined), undefined);
 * ```
 */
export function statementFor<T extends string | undefined>(
  version: ProtocolVersion,
  v5: string,
  v311: T,
): string | T {
  return version === 5 ? v5 : v311;
}
