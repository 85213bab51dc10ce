/**
 * The serialisable form of a client session: plain JSON data a durable store can keep,
 * so that a restarted process neither loses a QoS 1/2 message nor delivers a QoS 2
 * message twice. Binary fields are base64 strings.
 *
 * @module
 */

import type { Properties, ProtocolVersion, Subscription } from "../packet/types.ts";

/** {@link Properties} with their binary fields as base64 strings. */
export type JsonProperties =
  & Omit<Properties, "correlationData" | "authenticationData">
  & { correlationData?: string; authenticationData?: string };

/** One outgoing QoS 1 or 2 message that has not completed. */
export interface OutgoingSnapshot {
  /** The id `publish()` returned; `settle` actions after a restore carry it. */
  id: number;
  /** Topic name. */
  topic: string;
  /** Base64. */
  payload: string;
  /** QoS of the message. */
  qos: 1 | 2;
  /** Retain flag of the message. */
  retain: boolean;
  /** MQTT 5 PUBLISH properties. */
  properties?: JsonProperties;
  /**
   * Where the message stands: `queued` (never sent), `publish` (sent, awaiting PUBACK or
   * PUBREC) or `pubrel` (PUBREC received, awaiting PUBCOMP).
   */
  phase: "queued" | "publish" | "pubrel";
  /** The Packet Identifier, for `publish` and `pubrel`. */
  packetId?: number;
  /** For `pubrel`: the reason code of the PUBREC. */
  pubrecReasonCode?: number;
}

/**
 * One incoming QoS 2 message the application accepted, whose PUBREL has not come: the
 * session answers a re-sent PUBLISH with this Packet Identifier with PUBREC instead of
 * delivering it again.
 */
export interface IncomingSnapshot {
  /** The server's Packet Identifier. */
  packetId: number;
  /** The PUBREC reason code (0 unless the application refused the message). */
  reasonCode: number;
  /** Whether the PUBREC was sent already (otherwise it is sent when the PUBLISH comes again). */
  pubrecSent: boolean;
}

/** One subscription the server granted, with the properties it was made with. */
export interface SubscriptionSnapshot {
  /** The topic filter and its options. */
  subscription: Subscription;
  /** The SUBSCRIBE properties it was made with. */
  properties?: JsonProperties;
}

/**
 * A client session as JSON-able data: see `ClientSession.snapshot()` and
 * `ClientSession.restore()`.
 *
 * @example A snapshot survives JSON
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSnapshot, type SessionSnapshot } from "./snapshot.ts";
 * const snapshot: SessionSnapshot = {
 *   format: 1, protocolVersion: 5, clientId: "a", nextPacketId: 3, nextId: 5,
 *   outgoing: [{ id: 4, topic: "t", payload: "AQI=", qos: 2, retain: false, phase: "pubrel", packetId: 2, pubrecReasonCode: 0 }],
 *   incoming: [{ packetId: 9, reasonCode: 0, pubrecSent: true }],
 *   subscriptions: [{ subscription: { topicFilter: "a/#", qos: 1 } }],
 * };
 * assert.deepEqual(checkSnapshot(JSON.parse(JSON.stringify(snapshot))), snapshot);
 * ```
 */
export interface SessionSnapshot {
  /** Version of this layout: 1. */
  format: 1;
  /** Protocol level of the session. */
  protocolVersion: ProtocolVersion;
  /** Client Identifier of the session (as assigned by the server, if it was). */
  clientId: string;
  /** The Packet Identifier the next allocation tries first. */
  nextPacketId: number;
  /** The next id `publish()`, `subscribe()` or `unsubscribe()` returns. */
  nextId: number;
  /** In flight first (in the order they were first sent), then queued, in order. */
  outgoing: OutgoingSnapshot[];
  /** Incoming QoS 2 exchanges awaiting PUBREL. */
  incoming: IncomingSnapshot[];
  /** Subscriptions granted, to restore when a session is lost. */
  subscriptions: SubscriptionSnapshot[];
}

const CHUNK = 0x8000;

/**
 * Bytes as base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64, encodeBase64 } from "./snapshot.ts";
 * assert.equal(encodeBase64(new Uint8Array([0, 255, 1])), "AP8B");
 * assert.deepEqual(decodeBase64("AP8B"), new Uint8Array([0, 255, 1]));
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/**
 * Base64 as bytes. Throws a TypeError for text that is not base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64 } from "./snapshot.ts";
 * assert.deepEqual(decodeBase64(""), new Uint8Array());
 * assert.throws(() => decodeBase64("not base64!"), TypeError);
 * ```
 */
export function decodeBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError(
      `Cannot decode base64 as the text is not base64: current value is '${text}'`,
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Properties as JSON-able data (binary fields become base64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { propertiesToJson } from "./snapshot.ts";
 * assert.deepEqual(
 *   propertiesToJson({ correlationData: new Uint8Array([1]), contentType: "a" }),
 *   { correlationData: "AQ==", contentType: "a" },
 * );
 * ```
 */
export function propertiesToJson(properties: Properties): JsonProperties {
  const { correlationData, authenticationData, ...rest } = properties;
  const json: JsonProperties = { ...rest };
  if (rest.userProperties) json.userProperties = rest.userProperties.map(([k, v]) => [k, v]);
  if (rest.subscriptionIdentifiers) {
    json.subscriptionIdentifiers = [...rest.subscriptionIdentifiers];
  }
  if (correlationData !== undefined) json.correlationData = encodeBase64(correlationData);
  if (authenticationData !== undefined) json.authenticationData = encodeBase64(authenticationData);
  return json;
}

/**
 * Properties back from {@link propertiesToJson}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { propertiesFromJson } from "./snapshot.ts";
 * assert.deepEqual(propertiesFromJson({ correlationData: "AQ==" }), {
 *   correlationData: new Uint8Array([1]),
 * });
 * ```
 */
export function propertiesFromJson(json: JsonProperties): Properties {
  const { correlationData, authenticationData, ...rest } = json;
  const properties: Properties = { ...rest };
  if (correlationData !== undefined) properties.correlationData = decodeBase64(correlationData);
  if (authenticationData !== undefined) {
    properties.authenticationData = decodeBase64(authenticationData);
  }
  return properties;
}

/**
 * Checks that a value read back from a store is a {@link SessionSnapshot}, and returns
 * it. Throws a TypeError naming the first field that is wrong.
 *
 * @example Reject a damaged snapshot
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSnapshot } from "./snapshot.ts";
 * assert.throws(() => checkSnapshot({ format: 2 }), /'format' must be 1/);
 * ```
 */
export function checkSnapshot(value: unknown): SessionSnapshot {
  const s = object(value, "snapshot");
  if (s.format !== 1) fail("format", "be 1", s.format);
  if (s.protocolVersion !== 3 && s.protocolVersion !== 4 && s.protocolVersion !== 5) {
    fail("protocolVersion", "be 3, 4 or 5", s.protocolVersion);
  }
  if (typeof s.clientId !== "string") fail("clientId", "be a string", s.clientId);
  integer(s.nextPacketId, "nextPacketId", 1, 65535);
  integer(s.nextId, "nextId", 1, Number.MAX_SAFE_INTEGER);
  const seenIds = new Set<number>();
  const seenPacketIds = new Set<number>();
  array(s.outgoing, "outgoing").forEach((entry, i) => {
    const name = `outgoing[${i}]`;
    const o = object(entry, name);
    integer(o.id, `${name}.id`, 1, Number.MAX_SAFE_INTEGER);
    if (seenIds.has(o.id as number)) fail(`${name}.id`, "be unique", o.id);
    seenIds.add(o.id as number);
    if (typeof o.topic !== "string" || o.topic === "") {
      fail(`${name}.topic`, "be a non-empty string", o.topic);
    }
    if (typeof o.payload !== "string") fail(`${name}.payload`, "be a base64 string", o.payload);
    decodeBase64(o.payload as string);
    if (o.qos !== 1 && o.qos !== 2) fail(`${name}.qos`, "be 1 or 2", o.qos);
    if (typeof o.retain !== "boolean") fail(`${name}.retain`, "be a boolean", o.retain);
    if (o.properties !== undefined) object(o.properties, `${name}.properties`);
    if (o.phase === "queued") {
      if (o.packetId !== undefined) fail(`${name}.packetId`, "be absent when queued", o.packetId);
    } else if (o.phase === "publish" || o.phase === "pubrel") {
      integer(o.packetId, `${name}.packetId`, 1, 65535);
      if (seenPacketIds.has(o.packetId as number)) {
        fail(`${name}.packetId`, "be unique", o.packetId);
      }
      seenPacketIds.add(o.packetId as number);
      if (o.phase === "pubrel") {
        if (o.qos !== 2) fail(`${name}.qos`, "be 2 in phase pubrel", o.qos);
        if (o.pubrecReasonCode !== undefined) {
          integer(o.pubrecReasonCode, `${name}.pubrecReasonCode`, 0, 0x7f);
        }
      }
    } else {
      fail(`${name}.phase`, "be 'queued', 'publish' or 'pubrel'", o.phase);
    }
  });
  const seenIncoming = new Set<number>();
  array(s.incoming, "incoming").forEach((entry, i) => {
    const name = `incoming[${i}]`;
    const o = object(entry, name);
    integer(o.packetId, `${name}.packetId`, 1, 65535);
    if (seenIncoming.has(o.packetId as number)) fail(`${name}.packetId`, "be unique", o.packetId);
    seenIncoming.add(o.packetId as number);
    integer(o.reasonCode, `${name}.reasonCode`, 0, 255);
    if (typeof o.pubrecSent !== "boolean") fail(`${name}.pubrecSent`, "be a boolean", o.pubrecSent);
  });
  array(s.subscriptions, "subscriptions").forEach((entry, i) => {
    const name = `subscriptions[${i}]`;
    const o = object(entry, name);
    const sub = object(o.subscription, `${name}.subscription`);
    if (typeof sub.topicFilter !== "string" || sub.topicFilter === "") {
      fail(`${name}.subscription.topicFilter`, "be a non-empty string", sub.topicFilter);
    }
    if (sub.qos !== 0 && sub.qos !== 1 && sub.qos !== 2) {
      fail(`${name}.subscription.qos`, "be 0, 1 or 2", sub.qos);
    }
    if (o.properties !== undefined) object(o.properties, `${name}.properties`);
  });
  return value as SessionSnapshot;
}

function object(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(name, "be an object", value);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) fail(name, "be an array", value);
  return value as unknown[];
}

function integer(value: unknown, name: string, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `be an integer from ${min} to ${max}`, value);
  }
}

function fail(name: string, rule: string, value: unknown): never {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new TypeError(
    `Cannot restore the session as '${name}' must ${rule}: current value is ${shown}`,
  );
}
