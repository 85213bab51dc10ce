/**
 * The client conformance suite's adapter for MQTT.js (npm `mqtt`, a dev dependency).
 * Nothing in the published graph imports this file: the command line loads it with a
 * dynamic import, and tests import it directly.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import type {
  AdapterClient,
  AdapterConnectOptions,
  ClientAdapter,
  DisconnectInfo,
  ReceivedMessage,
} from "../client_adapter.ts";
import type { Properties, QoS } from "../../../lib/packet/types.ts";

function toProperties(raw: Record<string, unknown> | undefined): Properties {
  if (raw === undefined) return {};
  const { subscriptionIdentifier, ...rest } = raw;
  const out: Record<string, unknown> = { ...rest };
  if (subscriptionIdentifier !== undefined) {
    out.subscriptionIdentifiers = Array.isArray(subscriptionIdentifier)
      ? subscriptionIdentifier
      : [subscriptionIdentifier];
  }
  return out as Properties;
}

/**
 * Runs MQTT.js under the client conformance suite.
 *
 * @example Refused when nothing listens
 * ```ts
 * import assert from "node:assert/strict";
 * import { mqttjsAdapter } from "./mqttjs.ts";
 * assert.equal(mqttjsAdapter.name, "mqttjs");
 * await assert.rejects(mqttjsAdapter.connect("mqtt://127.0.0.1:1", { version: 4, clientId: "c", clean: true, keepalive: 0 }));
 * ```
 */
export const mqttjsAdapter: ClientAdapter = {
  name: "mqttjs",
  connect(url: string, options: AdapterConnectOptions): Promise<AdapterClient> {
    const v5 = options.version === 5;
    const properties: Record<string, number> = {};
    if (v5 && options.sessionExpiryInterval !== undefined) {
      properties.sessionExpiryInterval = options.sessionExpiryInterval;
    }
    if (v5 && options.topicAliasMaximum !== undefined) {
      properties.topicAliasMaximum = options.topicAliasMaximum;
    }
    const client = mqtt.connect(url, {
      protocolVersion: options.version,
      clientId: options.clientId,
      clean: options.clean,
      keepalive: options.keepalive,
      reconnectPeriod: options.reconnectMs ?? 0,
      connectTimeout: 5_000,
      ...(Object.keys(properties).length === 0 ? {} : { properties }),
    });
    const messageHandlers: ((message: ReceivedMessage) => void)[] = [];
    const disconnectHandlers: ((info: DisconnectInfo) => void)[] = [];
    client.on("message", (topic, payload, packet) => {
      const message: ReceivedMessage = {
        topic,
        payload: new Uint8Array(payload),
        qos: packet.qos as QoS,
        properties: toProperties(packet.properties as Record<string, unknown> | undefined),
      };
      for (const handler of messageHandlers) handler(message);
    });
    client.on("disconnect", (packet) => {
      for (const handler of disconnectHandlers) handler({ reasonCode: packet.reasonCode ?? 0 });
    });
    client.on("close", () => {
      for (const handler of disconnectHandlers) handler({});
    });
    // Errors after the first connection show up as failed publishes or closes.
    client.on("error", () => {});
    const close = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        client.end(true, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    const adapterClient: AdapterClient = {
      publish(topic, payload, { qos, retain }) {
        return new Promise<void>((resolve, reject) => {
          client.publish(topic, Buffer.from(payload), { qos, retain: retain ?? false }, (error) => {
            if (error) reject(error);
            else resolve();
          });
        });
      },
      subscribe(filter, { qos, subscriptionIdentifier }) {
        return new Promise<void>((resolve, reject) => {
          client.subscribe(
            filter,
            {
              qos,
              ...(subscriptionIdentifier === undefined
                ? {}
                : { properties: { subscriptionIdentifier } }),
            },
            (error) => {
              if (error) reject(error);
              else resolve();
            },
          );
        });
      },
      onMessage(handler) {
        messageHandlers.push(handler);
      },
      onDisconnect(handler) {
        disconnectHandlers.push(handler);
      },
      disconnect() {
        return new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      },
      close,
    };
    return new Promise<AdapterClient>((resolve, reject) => {
      const fail = (error: unknown) => {
        client.off("connect", ok);
        void close().then(() => reject(error instanceof Error ? error : new Error(String(error))));
      };
      const ok = () => {
        client.off("error", fail);
        client.off("close", closed);
        resolve(adapterClient);
      };
      const closed = () => fail(new Error("The connection closed before CONNACK"));
      client.once("connect", ok);
      client.once("error", fail);
      client.once("close", closed);
    });
  },
};
