/**
 * How a client library plugs into the client conformance suite: a {@link ClientAdapter}
 * opens an {@link AdapterClient}, a thin wrapper that publishes, subscribes, reports
 * messages and disconnections, and closes. The suite's scripted server plays the other
 * side and checks the packets the client sends.
 *
 * @module
 */

import type { Properties, QoS } from "../../lib/packet/types.ts";
import type { SuiteVersion } from "./scenario.ts";

/**
 * Options the suite passes to {@link ClientAdapter.connect}.
 *
 * @example A persistent MQTT 5 session that reconnects quickly
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdapterConnectOptions } from "./client_adapter.ts";
 * const options: AdapterConnectOptions = {
 *   version: 5, clientId: "c1", clean: false, keepalive: 0, sessionExpiryInterval: 60, reconnectMs: 50,
 * };
 * assert.equal(options.clean, false);
 * ```
 */
export interface AdapterConnectOptions {
  /** Protocol level: 4 (MQTT 3.1.1) or 5 (MQTT 5.0). */
  version: SuiteVersion;
  /** Client identifier. */
  clientId: string;
  /** Clean session (3.1.1) or Clean Start (5.0). */
  clean: boolean;
  /** Keep alive in seconds; 0 turns it off. */
  keepalive: number;
  /** MQTT 5 Session Expiry Interval in seconds. */
  sessionExpiryInterval?: number;
  /** MQTT 5 Topic Alias Maximum the client announces. */
  topicAliasMaximum?: number;
  /** Reconnect this many milliseconds after losing the connection; absent: never reconnect. */
  reconnectMs?: number;
}

/**
 * A message the client delivered to the application.
 *
 * @example A delivered message
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReceivedMessage } from "./client_adapter.ts";
 * const message: ReceivedMessage = { topic: "a/b", payload: new Uint8Array([104, 105]), qos: 1, properties: {} };
 * assert.equal(message.qos, 1);
 * ```
 */
export interface ReceivedMessage {
  /** Topic name (resolved from a topic alias when the server used one). */
  topic: string;
  /** Payload bytes. */
  payload: Uint8Array;
  /** QoS it was delivered with. */
  qos: QoS;
  /** MQTT 5 properties (subscription identifiers among them). */
  properties: Properties;
}

/**
 * What the client reported when a connection ended.
 *
 * @example A server DISCONNECT
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DisconnectInfo } from "./client_adapter.ts";
 * const info: DisconnectInfo = { reasonCode: 0x8b };
 * assert.equal(info.reasonCode, 0x8b);
 * ```
 */
export interface DisconnectInfo {
  /** Reason code of the server's DISCONNECT, when the client surfaced one. */
  reasonCode?: number;
}

/**
 * A connected client under test.
 *
 * @example An adapter client that does nothing
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AdapterClient } from "./client_adapter.ts";
 * const idle: AdapterClient = {
 *   publish: async () => {}, subscribe: async () => {}, onMessage: () => {}, onDisconnect: () => {},
 *   disconnect: async () => {}, close: async () => {},
 * };
 * await idle.close();
 * assert.equal(typeof idle.publish, "function");
 * ```
 */
export interface AdapterClient {
  /** Publishes; resolves once the flow of its QoS is complete, rejects if the client refuses. */
  publish(
    topic: string,
    payload: Uint8Array,
    options: { qos: QoS; retain?: boolean },
  ): Promise<void>;
  /** Subscribes; resolves on SUBACK. */
  subscribe(filter: string, options: { qos: QoS; subscriptionIdentifier?: number }): Promise<void>;
  /** Calls `handler` with every message delivered to the application. */
  onMessage(handler: (message: ReceivedMessage) => void): void;
  /** Calls `handler` every time a connection ends. */
  onDisconnect(handler: (info: DisconnectInfo) => void): void;
  /** Ends the session politely (DISCONNECT, then close). */
  disconnect(): Promise<void>;
  /** Closes at once, stops reconnecting and abandons pending work; never rejects. */
  close(): Promise<void>;
}

/**
 * A client library under test.
 *
 * @example The shape of an adapter
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientAdapter } from "./client_adapter.ts";
 * const adapter: ClientAdapter = {
 *   name: "none",
 *   connect: () => Promise.reject(new Error("no client")),
 * };
 * await assert.rejects(adapter.connect("mqtt://127.0.0.1:1", { version: 4, clientId: "c", clean: true, keepalive: 0 }));
 * ```
 */
export interface ClientAdapter {
  /** Name in the report, like "tern" or "mqttjs". */
  name: string;
  /** Connects to `url`; resolves once the first CONNACK accepted the connection. */
  connect(url: string, options: AdapterConnectOptions): Promise<AdapterClient>;
}
