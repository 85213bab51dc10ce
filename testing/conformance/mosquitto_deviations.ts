/**
 * Where Mosquitto (2.0.11, default configuration) departs from the MQTT specifications,
 * as the broker conformance suite observes it. The table in MOSQUITTO_DEVIATIONS.md
 * explains each entry; the suite's tests assert that Mosquitto fails exactly these
 * scenarios, so a new deviation (or a fixed one) shows up as a test failure.
 *
 * @module
 */

import type { SuiteVersion } from "./scenario.ts";

/**
 * One known departure from the spec.
 *
 * @example A deviation entry
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Deviation } from "./mosquitto_deviations.ts";
 * const deviation: Deviation = {
 *   name: "connect.takeover", version: 5, id: "MQTT-3.1.4-3", why: "no DISCONNECT 0x8E",
 * };
 * assert.equal(deviation.version, 5);
 * ```
 */
export interface Deviation {
  /** Scenario name, like "connect.keep-alive". */
  name: string;
  /** Protocol level the scenario runs at. */
  version: SuiteVersion;
  /** The statement broken. */
  id: string;
  /** What the broker does instead. */
  why: string;
}

/**
 * Mosquitto's known deviations.
 *
 * @example Look one up
 * ```ts
 * import assert from "node:assert/strict";
 * import { MOSQUITTO_DEVIATIONS } from "./mosquitto_deviations.ts";
 * assert.ok(MOSQUITTO_DEVIATIONS.some((d) => d.name === "connect.keep-alive" && d.version === 4));
 * ```
 */
export const MOSQUITTO_DEVIATIONS: readonly Deviation[] = [
  {
    name: "connect.keep-alive",
    version: 4,
    id: "MQTT-3.1.2-24",
    why: "keep alive is checked on a coarse timer: a client with keep alive 1 s or 2 s is " +
      "disconnected after about 6 s, not after 1.5 times its keep alive",
  },
  {
    name: "connect.keep-alive",
    version: 5,
    id: "MQTT-3.1.2-22",
    why: "as in 3.1.1: the keep-alive timeout fires about 6 s after the last packet",
  },
  {
    name: "connect.takeover",
    version: 5,
    id: "MQTT-3.1.4-3",
    why: "the first connection is closed without DISCONNECT 0x8E (Session taken over)",
  },
  {
    name: "shared.no-local",
    version: 5,
    id: "MQTT-3.8.3-4",
    why: "No Local on a $share subscription is granted (SUBACK 0x01) instead of closing " +
      "the connection as a Protocol Error",
  },
  {
    name: "malformed.publish-dup-qos0",
    version: 4,
    id: "MQTT-3.3.1-2",
    why: "a QoS 0 PUBLISH with DUP 1 is accepted and delivered; the spec makes it a " +
      "protocol violation, which closes the connection (MQTT-4.8.0-1)",
  },
  {
    name: "malformed.publish-dup-qos0",
    version: 5,
    id: "MQTT-3.3.1-2",
    why: "as in 3.1.1: the malformed PUBLISH is accepted instead of closing with 0x81",
  },
];
