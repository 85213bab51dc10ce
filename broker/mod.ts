/**
 * tern's conformance broker: an MQTT 3.1, 3.1.1 and 5.0 broker for Deno and Bun, over
 * TCP, TLS and WebSocket, held to the spec. Every violation a client commits is recorded
 * with the client id, the spec statement id and the reason code, so a client's author can
 * see exactly where their client broke the spec.
 *
 * - {@link startBroker} starts a broker with its listeners (port 0 picks free ports).
 * - {@link Broker} is the runtime-agnostic core: it serves any `Transport`, or
 *   connections driven by hand for tests without sockets.
 * - {@link ManualClock} lets tests move time (keep alive, will delay, expiry) by hand.
 * - The `auth` option plugs in MQTT 5 enhanced authentication methods
 *   ({@link AuthHandler}); `sysInterval` turns on the `$SYS/broker/...` topics.
 *
 * @example Run a broker in a test
 * ```ts
 * import assert from "node:assert/strict";
 * import { startBroker } from "./mod.ts";
 * await using broker = await startBroker({ port: 0, strict: true });
 * assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
 * assert.deepEqual(broker.violations, []);
 * ```
 *
 * @module
 */

export { startBroker } from "./start.ts";
export type { RunningBroker, StartBrokerOptions } from "./start.ts";
export { Broker } from "./broker.ts";
export type { BrokerStats, PublishOptions } from "./broker.ts";
export { Connection } from "./connection.ts";
export type {
  ConnectionSink,
  ConnectionState,
  ConnectVerdict,
  PacketVerdict,
} from "./connection.ts";
export { resolveBrokerOptions } from "./options.ts";
export type {
  Authenticate,
  Authorize,
  AuthorizeRequest,
  BrokerOptions,
  ConnectInfo,
  ResolvedBrokerOptions,
} from "./options.ts";
export { runAuthHandler } from "./enhanced_auth.ts";
export type { AuthContext, AuthHandler, AuthMethods, AuthResult } from "./enhanced_auth.ts";
export { BROKER_VERSION, SYS_TOPICS, SysTopics } from "./sys_topics.ts";
export type { SysTopicsSource } from "./sys_topics.ts";
export { ViolationLog } from "./violations.ts";
export type { Violation, ViolationListener } from "./violations.ts";
export { ManualClock, systemClock } from "./scheduler.ts";
export type { Clock } from "./scheduler.ts";
export { aclAuthorizer, filterCovers, parseAcl, passwordAuthenticator } from "./acl.ts";
export type { AclRule } from "./acl.ts";
export type { BrokerMessage } from "./message.ts";
export { DeliveryQueue, NEVER_EXPIRES, ServerSession, subscriptionKey } from "./sessions.ts";
export type { Delivery, OutboundFlight, SessionConnection, SubscriptionEntry } from "./sessions.ts";
export { Scheduler } from "./scheduler.ts";
export type { ScheduledTask } from "./scheduler.ts";
export { ProtocolError } from "../lib/errors.ts";
export { PacketIdAllocator } from "../lib/session/packet_ids.ts";
export type { Transport } from "../lib/transport/types.ts";
export type * from "../lib/packet/types.ts";
export { MqttError } from "../lib/errors.ts";
