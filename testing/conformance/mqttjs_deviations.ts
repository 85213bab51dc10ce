/**
 * Where MQTT.js 5.16 departs from the MQTT specs, as the client conformance suite sees
 * it: one {@link Deviation} per failing scenario and version. MQTTJS_DEVIATIONS.md
 * explains each; `client_suite_test.ts` asserts MQTT.js fails exactly these.
 *
 * @module
 */

import type { Deviation } from "./mosquitto_deviations.ts";

/**
 * The client scenarios MQTT.js 5.16 fails, with why.
 *
 * @example Look up a deviation
 * ```ts
 * import assert from "node:assert/strict";
 * import { MQTTJS_DEVIATIONS } from "./mqttjs_deviations.ts";
 * const quota = MQTTJS_DEVIATIONS.find((d) => d.name === "flow-control.receive-maximum");
 * assert.equal(quota?.id, "MQTT-3.3.4-7");
 * ```
 */
export const MQTTJS_DEVIATIONS: readonly Deviation[] = [
  {
    name: "publish.resend-dup",
    version: 4,
    id: "MQTT-4.4.0-1",
    why: "the stored PUBLISH is replayed as first written, with DUP=0 (MQTT-3.3.1-1 wants DUP=1)",
  },
  {
    name: "publish.resend-dup",
    version: 5,
    id: "MQTT-4.4.0-1",
    why: "as in 3.1.1: the re-sent PUBLISH keeps DUP=0",
  },
  {
    name: "publish.maximum-qos",
    version: 5,
    id: "MQTT-3.2.2-11",
    why: "the CONNACK's Maximum QoS is ignored: a QoS 2 PUBLISH goes out after Maximum QoS 1",
  },
  {
    name: "publish.retain-available",
    version: 5,
    id: "MQTT-3.2.2-14",
    why: "the CONNACK's Retain Available is ignored: RETAIN=1 goes out after Retain Available 0",
  },
  {
    name: "sessions.session-present-0",
    version: 5,
    id: "MQTT-3.2.2-5",
    why: "after Session Present 0 the outgoing store is replayed anyway: the PUBREL of the " +
      "discarded session is re-sent",
  },
  {
    name: "flow-control.receive-maximum",
    version: 5,
    id: "MQTT-3.3.4-7",
    why:
      "the server's Receive Maximum is ignored: 5 QoS 1 PUBLISH in flight after Receive Maximum 2",
  },
  {
    name: "flow-control.maximum-packet-size",
    version: 5,
    id: "MQTT-3.2.2-15",
    why: "only incoming packets are checked against a Maximum Packet Size (the client's own): a " +
      "PUBLISH larger than the server's is sent",
  },
];
