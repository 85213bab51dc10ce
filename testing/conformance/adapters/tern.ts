/**
 * The client conformance suite's adapter for tern's own client (mod.ts).
 *
 * @module
 */

import { connect } from "../../../mod.ts";
import type { AdapterClient, AdapterConnectOptions, ClientAdapter } from "../client_adapter.ts";

/**
 * Runs tern's client under the client conformance suite.
 *
 * @example Refused when nothing listens
 * ```ts
 * import assert from "node:assert/strict";
 * import { ternAdapter } from "./tern.ts";
 * assert.equal(ternAdapter.name, "tern");
 * await assert.rejects(ternAdapter.connect("mqtt://127.0.0.1:1", { version: 4, clientId: "c", clean: true, keepalive: 0 }));
 * ```
 */
export const ternAdapter: ClientAdapter = {
  name: "tern",
  async connect(url: string, options: AdapterConnectOptions): Promise<AdapterClient> {
    const v5 = options.version === 5;
    const client = await connect(url, {
      clientId: options.clientId,
      protocolVersion: options.version,
      clean: options.clean,
      keepalive: options.keepalive,
      connectTimeout: 5_000,
      reconnect: options.reconnectMs === undefined
        ? false
        : { minDelay: options.reconnectMs, maxDelay: options.reconnectMs, factor: 1 },
      ...(v5 && options.sessionExpiryInterval !== undefined
        ? { sessionExpiryInterval: options.sessionExpiryInterval }
        : {}),
      ...(v5 && options.topicAliasMaximum !== undefined
        ? { topicAliasMaximum: options.topicAliasMaximum }
        : {}),
    });
    return {
      async publish(topic, payload, { qos, retain }) {
        await client.publish(topic, payload, { qos, retain: retain ?? false });
      },
      async subscribe(filter, { qos, subscriptionIdentifier }) {
        await client.subscribe(filter, {
          qos,
          ...(subscriptionIdentifier === undefined
            ? {}
            : { properties: { subscriptionIdentifiers: [subscriptionIdentifier] } }),
        });
      },
      onMessage(handler) {
        client.addEventListener("message", (event) => {
          const { topic, payload, qos, properties } = event.message;
          handler({ topic, payload, qos, properties: { ...properties } });
        });
      },
      onDisconnect(handler) {
        client.addEventListener("disconnect", (event) => {
          handler(event.reasonCode === undefined ? {} : { reasonCode: event.reasonCode });
        });
      },
      async disconnect() {
        await client.disconnect({ timeout: 2_000 });
      },
      async close() {
        await client.disconnect({ timeout: 200 }).catch(() => {});
      },
    };
  },
};
