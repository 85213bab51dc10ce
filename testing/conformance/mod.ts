/**
 * Conformance suites. The broker suite checks any MQTT broker against the MQTT 3.1.1 and
 * 5.0 specifications with raw packets over a real connection: scenarios grouped by area
 * (connect, publish, retained, will, sessions, wildcards, shared subscriptions, topic
 * aliases, flow control, expiry, malformed input), each named after the spec statements
 * it checks. Reports come as a terminal table, JSON or JUnit XML.
 *
 * The client suite plays the server with a scripted one and checks how a client behaves
 * (re-sent PUBLISH and PUBREL after reconnecting, QoS 2 duplicates, topic aliases,
 * Receive Maximum, Maximum Packet Size, keep alive, server DISCONNECT, Session Present);
 * clients plug in through a {@link ClientAdapter} (tern's is {@link ternAdapter}; MQTT.js's
 * lives in adapters/mqttjs.ts, outside this module's graph).
 *
 * From a terminal: `deno run -A testing/conformance/main.ts broker mqtt://host:port
 * [--v5 | --v311] [--json] [--junit FILE]` or `... main.ts client tern|mqttjs`, which exit
 * non-zero when a scenario fails.
 *
 * @example Check a broker from a test
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTable, runBrokerConformance } from "./mod.ts";
 * import { withBroker } from "../with_broker.ts";
 * await using broker = await withBroker();
 * const report = await runBrokerConformance(broker.url, { versions: [4], only: ["wildcards"] });
 * assert.equal(report.summary.failed, 0, formatTable(report));
 * ```
 *
 * @module
 */

export { BROKER_SCENARIOS, runBrokerConformance, selects, summarize } from "./broker_suite.ts";
export type {
  BrokerConformanceOptions,
  ConformanceReport,
  ConformanceSummary,
  Outcome,
  ScenarioResult,
} from "./broker_suite.ts";
export { escapeXml, formatTable, toJson, toJUnitXml } from "./report.ts";
export { main, parseArgs, USAGE } from "./main.ts";
export type { ConformanceArgs, MainIo } from "./main.ts";
export {
  AREAS,
  defineScenario,
  rawPacket,
  rawString,
  ScenarioContext,
  ScenarioFailure,
  ScenarioSkip,
  text,
  utf8,
} from "./scenario.ts";
export type {
  Area,
  Connected,
  ConnectOptions,
  ContextOptions,
  Scenario,
  ScenarioDefinition,
  ScenarioPublishOptions,
  SuiteVersion,
} from "./scenario.ts";
export { describePacket, RawClient } from "./_raw_client.ts";
export type { RawClientOptions } from "./_raw_client.ts";
export { MOSQUITTO_DEVIATIONS } from "./mosquitto_deviations.ts";
export { MQTTJS_DEVIATIONS } from "./mqttjs_deviations.ts";
export { runClientConformance } from "./client_suite.ts";
export type { ClientConformanceOptions } from "./client_suite.ts";
export { CLIENT_SCENARIOS, defineClientScenario } from "./client_scenarios.ts";
export { ClientScenarioContext } from "./client_scenario.ts";
export type {
  ClientConnectOptions,
  ClientContextOptions,
  ClientScenario,
  ClientUnderTest,
} from "./client_scenario.ts";
export type {
  AdapterClient,
  AdapterConnectOptions,
  ClientAdapter,
  DisconnectInfo,
  ReceivedMessage,
} from "./client_adapter.ts";
export { ternAdapter } from "./adapters/tern.ts";
export type { Deviation } from "./mosquitto_deviations.ts";
export type * from "../../lib/packet/types.ts";
export type { TlsOptions } from "../../lib/transport/types.ts";
