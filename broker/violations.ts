/**
 * The violation recorder: every time a client breaks the MQTT spec, the broker records
 * who, which statement, the reason code it answered with and what exactly was wrong, so a
 * client's author can see where their client went astray.
 *
 * @module
 */

import type { PacketType } from "../lib/packet/types.ts";

/**
 * One spec violation by a client.
 *
 * @example A recorded violation
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Violation } from "./violations.ts";
 * const violation: Violation = {
 *   clientId: "sensor-1",
 *   statement: "MQTT-3.1.0-2",
 *   reasonCode: 0x82,
 *   message: "A second CONNECT on the same connection",
 *   packetType: "connect",
 *   at: Date.now(),
 * };
 * assert.equal(violation.statement, "MQTT-3.1.0-2");
 * ```
 */
export interface Violation {
  /** The client id, or undefined when the client broke the spec before a valid CONNECT. */
  clientId: string | undefined;
  /** The spec statement id, like "MQTT-3.3.1-4" (no brackets), when the spec numbers the rule. */
  statement: string | undefined;
  /**
   * The MQTT 5 reason code for the problem: what the broker sent in its DISCONNECT,
   * CONNACK or acknowledgement to an MQTT 5 client, and what it would have sent to an
   * older one (which only gets its connection closed).
   */
  reasonCode: number;
  /** What was wrong, in words. */
  message: string;
  /** The packet that broke the rule, when the broker knows it. */
  packetType?: PacketType;
  /** The peer's address, when the transport knows it. */
  remoteAddress?: string;
  /** When it happened: milliseconds since the epoch by the broker's clock. */
  at: number;
}

/** Called with each violation as it is recorded. */
export type ViolationListener = (violation: Violation) => void;

/**
 * An append-only, bounded list of violations with listeners. Beyond `limit` entries the
 * oldest are dropped (and counted in `dropped`), so a misbehaving client cannot grow the
 * broker's memory without bound.
 *
 * @example Record and listen
 * ```ts
 * import assert from "node:assert/strict";
 * import { ViolationLog } from "./violations.ts";
 * const log = new ViolationLog({ limit: 2 });
 * const seen: string[] = [];
 * log.addListener((v) => seen.push(v.message));
 * for (const message of ["a", "b", "c"]) {
 *   log.record({ clientId: "x", statement: undefined, reasonCode: 0x82, message, at: 0 });
 * }
 * assert.deepEqual(seen, ["a", "b", "c"]);
 * assert.deepEqual(log.entries.map((v) => v.message), ["b", "c"]);
 * assert.equal(log.dropped, 1);
 * ```
 */
export class ViolationLog {
  #entries: Violation[] = [];
  #limit: number;
  #dropped = 0;
  #listeners: ViolationListener[] = [];

  /** `limit` is the number of violations kept (default 10,000). */
  constructor(options: { limit?: number } = {}) {
    const limit = options.limit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create a violation log as 'limit' must be a positive integer: current value is ${limit}`,
      );
    }
    this.#limit = limit;
  }

  /** The violations kept, oldest first. The array is live: it grows as violations come. */
  get entries(): readonly Violation[] {
    return this.#entries;
  }

  /** How many old violations were dropped to stay within the limit. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Appends `violation` and tells every listener; a listener that throws is ignored. */
  record(violation: Violation): void {
    if (this.#entries.length >= this.#limit) {
      this.#entries.splice(0, this.#entries.length - this.#limit + 1);
      this.#dropped++;
    }
    this.#entries.push(violation);
    for (const listener of this.#listeners) {
      try {
        listener(violation);
      } catch {
        // A listener's failure must not break the connection that triggered it.
      }
    }
  }

  /** Calls `listener` with every violation recorded from now on. */
  addListener(listener: ViolationListener): void {
    this.#listeners.push(listener);
  }

  /** Stops calling `listener`. */
  removeListener(listener: ViolationListener): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
  }
}
