/**
 * What to import in your own tests (`jsr:@tern/mqtt/testing`):
 *
 * - {@link withBroker}: an in-process tern broker on a free port for one test, with a
 *   control API (clients, sessions, subscriptions, retained messages, disconnect, inject)
 *   and a virtual clock for keep-alive, will delay and expiry tests.
 * - {@link startFaultProxy}: a TCP proxy between any client and any broker that drops,
 *   delays, duplicates, reorders or cuts at chosen packets, and stalls a direction.
 * - {@link PacketRecorder} and {@link replay}: every packet through the proxy as JSON lines,
 *   and the client side of a recording played against a broker, answers compared.
 * - {@link startMosquitto}: Mosquitto as a test peer; {@link generateTlsCerts}: throwaway
 *   certificates for TLS tests.
 *
 * @example A broker, a proxy in front of it, and a recorder on the proxy
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketRecorder, startFaultProxy, withBroker } from "./mod.ts";
 * await using broker = await withBroker({ virtualClock: true });
 * await using proxy = await startFaultProxy({ upstream: broker.url });
 * const recorder = new PacketRecorder();
 * recorder.attach(proxy);
 * proxy.on({ direction: "server-to-client", type: "pubrec", nth: 3 }, "cut-after");
 * assert.equal(recorder.entries.length, 0);
 * ```
 *
 * @module
 */

export { withBroker } from "./with_broker.ts";
export type {
  ClientInfo,
  SessionInfo,
  SubscriptionInfo,
  TestBroker,
  WithBrokerOptions,
} from "./with_broker.ts";
export { FAULT_ACTIONS, FaultProxy, startFaultProxy } from "./fault_proxy.ts";
export type {
  FaultAction,
  FaultOptions,
  FaultProxyOptions,
  FaultRule,
  PacketMatcher,
  ProxyDirection,
  ProxyEvent,
} from "./fault_proxy.ts";
export { comparePackets, PacketRecorder, replay } from "./recorder.ts";
export type { RecordedEntry, ReplayMismatch, ReplayOptions, ReplayResult } from "./recorder.ts";
export { startMosquitto } from "./mosquitto.ts";
export type { Mosquitto, MosquittoOptions } from "./mosquitto.ts";
export { generateTlsCerts } from "./tls_certs.ts";
export type { TlsCerts } from "./tls_certs.ts";
export { ManualClock } from "../broker/scheduler.ts";
export type { Clock } from "../broker/scheduler.ts";
export type { Broker, PublishOptions } from "../broker/broker.ts";
export type { BrokerMessage } from "../broker/message.ts";
export type { RunningBroker, StartBrokerOptions } from "../broker/start.ts";
export type { Violation } from "../broker/violations.ts";
export type { OpenTransportOptions } from "../lib/transport/open.ts";
export type { Packet, PacketType, ProtocolVersion, QoS } from "../lib/packet/types.ts";
export * from "./conformance/mod.ts";
