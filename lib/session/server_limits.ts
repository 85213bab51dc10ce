/**
 * What the server announced about itself in CONNACK (MQTT 5 section 3.2.2.3), with the
 * spec's defaults for whatever it left out.
 *
 * @module
 */

import type { ConnackPacket, QoS } from "../packet/types.ts";

/** The server's limits and capabilities for one connection. */
export interface ServerLimits {
  /** How many QoS 1 and 2 PUBLISH packets may await acknowledgement at once (default 65535). */
  receiveMaximum: number;
  /** Highest Topic Alias the server accepts from us; 0 means none (the default). */
  topicAliasMaximum: number;
  /** Largest packet the server accepts, in bytes; `undefined` means the protocol's limit. */
  maximumPacketSize: number | undefined;
  /** Highest QoS the server accepts in PUBLISH (default 2). */
  maximumQoS: QoS;
  /** Whether the server accepts retained messages (default true). */
  retainAvailable: boolean;
  /** Whether the server accepts wildcard subscriptions (default true). */
  wildcardSubscriptionAvailable: boolean;
  /** Whether the server accepts Subscription Identifiers (default true). */
  subscriptionIdentifiersAvailable: boolean;
  /** Whether the server accepts shared subscriptions (default true). */
  sharedSubscriptionAvailable: boolean;
  /** Keep Alive the server imposes, in seconds, when it sent one (MQTT-3.2.2-21). */
  serverKeepAlive: number | undefined;
  /** Client Identifier the server assigned, when we connected with an empty one. */
  assignedClientIdentifier: string | undefined;
}

/**
 * The limits a CONNACK announces. MQTT 3.1 and 3.1.1 servers announce nothing, so they
 * get the defaults.
 *
 * @example Read a CONNACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { serverLimitsFromConnack } from "./server_limits.ts";
 * const limits = serverLimitsFromConnack({
 *   type: "connack",
 *   sessionPresent: false,
 *   reasonCode: 0,
 *   properties: { receiveMaximum: 10, maximumQoS: 1, retainAvailable: 0 },
 * });
 * assert.equal(limits.receiveMaximum, 10);
 * assert.equal(limits.maximumQoS, 1);
 * assert.equal(limits.retainAvailable, false);
 * assert.equal(limits.topicAliasMaximum, 0);
 * assert.equal(limits.maximumPacketSize, undefined);
 * ```
 */
export function serverLimitsFromConnack(connack: ConnackPacket): ServerLimits {
  const p = connack.properties ?? {};
  return {
    receiveMaximum: p.receiveMaximum ?? 65535,
    topicAliasMaximum: p.topicAliasMaximum ?? 0,
    maximumPacketSize: p.maximumPacketSize,
    maximumQoS: (p.maximumQoS ?? 2) as QoS,
    retainAvailable: (p.retainAvailable ?? 1) === 1,
    wildcardSubscriptionAvailable: (p.wildcardSubscriptionAvailable ?? 1) === 1,
    subscriptionIdentifiersAvailable: (p.subscriptionIdentifiersAvailable ?? 1) === 1,
    sharedSubscriptionAvailable: (p.sharedSubscriptionAvailable ?? 1) === 1,
    serverKeepAlive: p.serverKeepAlive,
    assignedClientIdentifier: p.assignedClientIdentifier,
  };
}
