/**
 * fast-check arbitraries for valid MQTT packets in tern's canonical form (see types.ts):
 * every packet type, for protocol levels 3, 4 and 5, with random MQTT 5 properties drawn
 * only from those each packet type allows. Shared by the property-based tests and the
 * mqtt-packet cross-checks; test-only (testdata/ is not published).
 *
 * @module
 */

import fc from "fast-check";
import type {
  Packet,
  Properties,
  ProtocolVersion,
  QoS,
  Subscription,
  UserProperty,
  Will,
} from "../types.ts";
import { VALID_REASON_CODES } from "../reason_codes.ts";

/**
 * Narrowings for peers that cannot represent every valid packet. All default to false,
 * which generates the full valid space.
 *
 * @example Keep passwords paired with user names
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { type ArbitraryOptions, packetArbitraries } from "./arbitraries.ts";
 * const options: ArbitraryOptions = { passwordNeedsUsername: true };
 * for (const packet of fc.sample(packetArbitraries(5, options).connect!, 20)) {
 *   if (packet.type === "connect" && packet.password) assert.notEqual(packet.username, undefined);
 * }
 * ```
 */
export interface ArbitraryOptions {
  /** User properties grouped by name, names not integer-like, values non-empty. */
  groupedUserProperties?: boolean;
  /** A password only with a user name, even in MQTT 5. */
  passwordNeedsUsername?: boolean;
  /** An empty client id only with clean start, even in MQTT 5. */
  emptyClientIdNeedsClean?: boolean;
  /** AUTH always carries its reason code byte (never the empty 0x00 short form). */
  authNeedsReasonCodeByte?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Strings and numbers

/** Strings that stress UTF-8 handling: a leading BOM must survive, astral code points, etc. */
const TRICKY = ["\uFEFF", "\uFEFFa", "\u{10FFFF}", "\u{1F600}", "é", "\u0080", "\u07FF", "\uFFFF"];

/**
 * Well-formed text without U+0000, up to `maxLength` code points.
 *
 * @example Draw a string
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { text } from "./arbitraries.ts";
 * const [sample] = fc.sample(text(), 1);
 * assert.equal(typeof sample, "string");
 * ```
 */
export const text = (maxLength = 12, minLength = 0): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: "grapheme-ascii", minLength, maxLength }),
    fc.string({ unit: "binary", minLength, maxLength }),
    fc.constantFrom(...TRICKY),
  ).map((s) => s.replaceAll("\u0000", "0"));

/** A topic level without wildcards; may be empty (as in "a//b"). */
const level = text(6).map((s) => s.replace(/[+#/]/g, ""));

/**
 * A Topic Name: one or more characters, no wildcards, not a shared subscription.
 *
 * @example Topic names never hold wildcards
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { topicName } from "./arbitraries.ts";
 * for (const topic of fc.sample(topicName, 20)) assert.doesNotMatch(topic, /[+#]/);
 * ```
 */
export const topicName: fc.Arbitrary<string> = fc.array(level, { minLength: 1, maxLength: 4 })
  .map((levels) => levels.join("/"))
  .filter((topic) => topic.length > 0 && !topic.startsWith("$share/"));

/**
 * A Topic Filter: levels, '+' anywhere, '#' only last. Never a shared subscription.
 *
 * @example '#' only ends a filter
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { topicFilter } from "./arbitraries.ts";
 * for (const filter of fc.sample(topicFilter, 20)) {
 *   assert.ok(!filter.includes("#") || filter.indexOf("#") === filter.length - 1);
 * }
 * ```
 */
export const topicFilter: fc.Arbitrary<string> = fc.tuple(
  fc.array(fc.oneof({ weight: 3, arbitrary: level }, fc.constant("+")), {
    minLength: 1,
    maxLength: 4,
  }),
  fc.boolean(),
).map(([levels, multi]) => (multi ? [...levels, "#"] : levels).join("/"))
  .filter((filter) => filter.length > 0 && !filter.startsWith("$share/"));

/** `fc.record` with ordinary prototypes, so drawn values deep-equal decoded packets. */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

const bytes = (maxLength = 16) => fc.uint8Array({ maxLength });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const bit = fc.constantFrom(0, 1);
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: 0xffff });
const subscriptionId = fc.integer({ min: 1, max: 268_435_455 });

function userPropertiesArb(options: ArbitraryOptions): fc.Arbitrary<UserProperty[]> {
  if (!options.groupedUserProperties) {
    return fc.array(
      fc.tuple(text(), text()).map(([k, v]): UserProperty => [k, v]),
      { minLength: 1, maxLength: 3 },
    );
  }
  const name = text(8).map((s) => `k${s}`);
  const values = fc.array(text(8, 1).filter((v) => v.length > 0), { minLength: 1, maxLength: 2 });
  return fc.uniqueArray(fc.tuple(name, values), {
    minLength: 1,
    maxLength: 3,
    selector: ([k]) => k,
  }).map((groups) => groups.flatMap(([k, vs]) => vs.map((v): UserProperty => [k, v])));
}

// ---------------------------------------------------------------------------------------------
// MQTT 5 properties, per packet type

type PropertyArbs = { [K in keyof Properties]-?: fc.Arbitrary<Properties[K]> };

function propertyArbs(options: ArbitraryOptions): PropertyArbs {
  return {
    payloadFormatIndicator: bit,
    messageExpiryInterval: u32,
    contentType: text(),
    responseTopic: topicName,
    correlationData: bytes(),
    subscriptionIdentifiers: fc.array(subscriptionId, { minLength: 1, maxLength: 3 }),
    sessionExpiryInterval: u32,
    assignedClientIdentifier: text(),
    serverKeepAlive: u16,
    authenticationMethod: text(),
    authenticationData: bytes(),
    requestProblemInformation: bit,
    willDelayInterval: u32,
    requestResponseInformation: bit,
    responseInformation: text(),
    serverReference: text(),
    reasonString: text(),
    receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
    topicAliasMaximum: u16,
    topicAlias: fc.integer({ min: 1, max: 0xffff }),
    maximumQoS: bit,
    retainAvailable: bit,
    userProperties: userPropertiesArb(options),
    maximumPacketSize: fc.integer({ min: 1, max: 0xffff_ffff }),
    wildcardSubscriptionAvailable: bit,
    subscriptionIdentifiersAvailable: bit,
    sharedSubscriptionAvailable: bit,
  };
}

/**
 * The MQTT 5 properties each packet type (and the will) allows, spec section 2.2.2.2.
 *
 * @example PUBLISH may carry a Topic Alias, CONNECT may not
 * ```ts
 * import assert from "node:assert/strict";
 * import { ALLOWED_PROPERTIES } from "./arbitraries.ts";
 * assert.ok(ALLOWED_PROPERTIES.publish!.includes("topicAlias"));
 * assert.ok(!ALLOWED_PROPERTIES.connect!.includes("topicAlias"));
 * ```
 */
export const ALLOWED_PROPERTIES: Readonly<Record<string, readonly (keyof Properties)[]>> = {
  connect: [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumPacketSize",
    "topicAliasMaximum",
    "requestResponseInformation",
    "requestProblemInformation",
    "userProperties",
    "authenticationMethod",
    "authenticationData",
  ],
  will: [
    "willDelayInterval",
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "contentType",
    "responseTopic",
    "correlationData",
    "userProperties",
  ],
  connack: [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumQoS",
    "retainAvailable",
    "maximumPacketSize",
    "assignedClientIdentifier",
    "topicAliasMaximum",
    "reasonString",
    "userProperties",
    "wildcardSubscriptionAvailable",
    "subscriptionIdentifiersAvailable",
    "sharedSubscriptionAvailable",
    "serverKeepAlive",
    "responseInformation",
    "serverReference",
    "authenticationMethod",
    "authenticationData",
  ],
  publish: [
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "topicAlias",
    "responseTopic",
    "correlationData",
    "userProperties",
    "subscriptionIdentifiers",
    "contentType",
  ],
  puback: ["reasonString", "userProperties"],
  pubrec: ["reasonString", "userProperties"],
  pubrel: ["reasonString", "userProperties"],
  pubcomp: ["reasonString", "userProperties"],
  subscribe: ["subscriptionIdentifiers", "userProperties"],
  suback: ["reasonString", "userProperties"],
  unsubscribe: ["userProperties"],
  unsuback: ["reasonString", "userProperties"],
  disconnect: ["sessionExpiryInterval", "reasonString", "userProperties", "serverReference"],
  auth: ["authenticationMethod", "authenticationData", "reasonString", "userProperties"],
};

/** Properties drawn from those `owner` allows, undefined when none were drawn. */
function properties(
  owner: string,
  options: ArbitraryOptions,
  override: Partial<PropertyArbs> = {},
): fc.Arbitrary<Properties | undefined> {
  const all = propertyArbs(options);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const name of ALLOWED_PROPERTIES[owner]!) model[name] = override[name] ?? all[name];
  return fc.record(model, { requiredKeys: [], noNullPrototype: true }).map((drawn) => {
    const result = drawn as Properties;
    // Authentication Data without Authentication Method is a Protocol Error.
    if (result.authenticationData !== undefined && result.authenticationMethod === undefined) {
      delete result.authenticationData;
    }
    return Object.keys(result).length === 0 ? undefined : result;
  });
}

/** Sets `properties` only when there are some, as the canonical form wants. */
function withProperties<T extends object>(packet: T, props: Properties | undefined): T {
  return props === undefined ? packet : { ...packet, properties: props };
}

const codes = (type: string) => fc.constantFrom(...VALID_REASON_CODES[type]!);

const none = fc.constant(undefined);

// ---------------------------------------------------------------------------------------------
// Packets

function willArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Will> {
  return record({
    topic: topicName,
    payload: bytes(),
    qos,
    retain: fc.boolean(),
    properties: version === 5 ? properties("will", options) : none,
  }).map(({ properties: props, ...will }) => {
    // A receiver MAY check a payload declared as UTF-8 text: keep such payloads well-formed.
    if (props?.payloadFormatIndicator === 1) will.payload = new TextEncoder().encode("text");
    return withProperties(will, props);
  });
}

function connectArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  return record({
    // MQTT 3.1 wants 1 to 23 characters; later levels allow any length, even empty.
    clientId: version === 3
      ? fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 23 })
        .map((s) => s.replaceAll("\u0000", "0"))
      : text(),
    clean: fc.boolean(),
    keepalive: u16,
    username: fc.option(text(), { nil: undefined }),
    password: fc.option(bytes(), { nil: undefined }),
    will: fc.option(willArb(version, options), { nil: undefined }),
    properties: version === 5 ? properties("connect", options) : none,
  }).map(({ clientId, clean, keepalive, username, password, will, properties: props }) => {
    if (clientId === "" && options.emptyClientIdNeedsClean) clean = true;
    const packet: Packet = {
      type: "connect",
      protocolVersion: version,
      clientId,
      clean,
      keepalive,
    };
    if (username !== undefined) packet.username = username;
    // Before MQTT 5 a password needs a user name [MQTT-3.1.2-22].
    const passwordAllowed = version === 5 && !options.passwordNeedsUsername;
    if (password !== undefined && (passwordAllowed || username !== undefined)) {
      packet.password = password;
    }
    if (will !== undefined) packet.will = will;
    return withProperties(packet, props);
  });
}

function connackArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  return record({
    sessionPresent: fc.boolean(),
    reasonCode: version === 5 ? codes("connack") : fc.integer({ min: 0, max: 5 }),
    properties: version === 5 ? properties("connack", options) : none,
  }).map(({ sessionPresent, reasonCode, properties: props }) =>
    withProperties({
      type: "connack",
      // MQTT 3.1 has no Session Present flag; a refusal never has a session.
      sessionPresent: version !== 3 && reasonCode === 0 && sessionPresent,
      reasonCode,
    } as Packet, props)
  );
}

function publishArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  return record({
    topic: topicName,
    payload: bytes(32),
    qos,
    retain: fc.boolean(),
    dup: fc.boolean(),
    packetId,
    emptyTopic: fc.boolean(),
    properties: version === 5 ? properties("publish", options) : none,
  }).map(({ topic, payload, qos, retain, dup, packetId, emptyTopic, properties: props }) => {
    // A receiver MAY check a payload declared as UTF-8 text: keep such payloads well-formed.
    if (props?.payloadFormatIndicator === 1) payload = new TextEncoder().encode("text");
    const packet: Packet = {
      type: "publish",
      // With a Topic Alias the topic may be empty (MQTT 5 only).
      topic: emptyTopic && props?.topicAlias !== undefined ? "" : topic,
      payload,
      qos,
      retain,
      dup: qos > 0 && dup,
    };
    if (qos > 0) packet.packetId = packetId;
    return withProperties(packet, props);
  });
}

function ackArb(
  type: "puback" | "pubrec" | "pubrel" | "pubcomp",
  version: ProtocolVersion,
  options: ArbitraryOptions,
): fc.Arbitrary<Packet> {
  if (version !== 5) return packetId.map((id) => ({ type, packetId: id }) as Packet);
  return record({ packetId, reasonCode: codes(type), properties: properties(type, options) })
    .map(({ properties: props, ...rest }) => withProperties({ type, ...rest } as Packet, props));
}

function subscriptionArb(version: ProtocolVersion): fc.Arbitrary<Subscription> {
  if (version !== 5) return record({ topicFilter, qos });
  return record({
    topicFilter,
    qos,
    noLocal: fc.boolean(),
    retainAsPublished: fc.boolean(),
    retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  });
}

function subscribeArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  return record({
    packetId,
    subscriptions: fc.array(subscriptionArb(version), { minLength: 1, maxLength: 4 }),
    properties: version === 5
      ? properties("subscribe", options, {
        // SUBSCRIBE carries at most one Subscription Identifier.
        subscriptionIdentifiers: subscriptionId.map((id) => [id]),
      })
      : none,
  }).map(({ properties: props, ...rest }) =>
    withProperties({ type: "subscribe", ...rest } as Packet, props)
  );
}

function subackArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  const code = version === 5 ? codes("suback") : fc.constantFrom(0, 1, 2, 0x80);
  return record({
    packetId,
    reasonCodes: fc.array(code, { minLength: 1, maxLength: 4 }),
    properties: version === 5 ? properties("suback", options) : none,
  }).map(({ properties: props, ...rest }) =>
    withProperties({ type: "suback", ...rest } as Packet, props)
  );
}

function unsubscribeArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  return record({
    packetId,
    topicFilters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
    properties: version === 5 ? properties("unsubscribe", options) : none,
  }).map(({ properties: props, ...rest }) =>
    withProperties({ type: "unsubscribe", ...rest } as Packet, props)
  );
}

function unsubackArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  if (version !== 5) return packetId.map((id) => ({ type: "unsuback", packetId: id }) as Packet);
  return record({
    packetId,
    reasonCodes: fc.array(codes("unsuback"), { minLength: 1, maxLength: 4 }),
    properties: properties("unsuback", options),
  }).map(({ properties: props, ...rest }) =>
    withProperties({ type: "unsuback", ...rest } as Packet, props)
  );
}

function disconnectArb(version: ProtocolVersion, options: ArbitraryOptions): fc.Arbitrary<Packet> {
  if (version !== 5) return fc.constant({ type: "disconnect" } as Packet);
  return record({
    reasonCode: codes("disconnect"),
    properties: properties("disconnect", options),
  }).map(({ properties: props, reasonCode }) =>
    withProperties({ type: "disconnect", reasonCode } as Packet, props)
  );
}

function authArb(options: ArbitraryOptions): fc.Arbitrary<Packet> {
  // AUTH must name its Authentication Method (section 3.15.2.2.2)...
  const full = record({
    reasonCode: codes("auth"),
    method: text(),
    properties: properties("auth", options),
  }).map(({ reasonCode, method, properties: props }): Packet => ({
    type: "auth",
    reasonCode,
    properties: { ...props, authenticationMethod: method },
  }));
  // ...except in the short form of Remaining Length 0: Success, no properties (3.15.2.1).
  if (options.authNeedsReasonCodeByte) return full;
  return fc.oneof(
    { weight: 4, arbitrary: full },
    fc.constant<Packet>({ type: "auth", reasonCode: 0 }),
  );
}

/**
 * Arbitraries for every packet type a protocol level has, keyed by packet type
 * (AUTH only for level 5).
 *
 * @example Draw a random valid PUBLISH for MQTT 5
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { packetArbitraries } from "./arbitraries.ts";
 * const [packet] = fc.sample(packetArbitraries(5).publish!, 1);
 * assert.equal(packet!.type, "publish");
 * ```
 */
export function packetArbitraries(
  version: ProtocolVersion,
  options: ArbitraryOptions = {},
): Record<string, fc.Arbitrary<Packet>> {
  const arbs: Record<string, fc.Arbitrary<Packet>> = {
    connect: connectArb(version, options),
    connack: connackArb(version, options),
    publish: publishArb(version, options),
    puback: ackArb("puback", version, options),
    pubrec: ackArb("pubrec", version, options),
    pubrel: ackArb("pubrel", version, options),
    pubcomp: ackArb("pubcomp", version, options),
    subscribe: subscribeArb(version, options),
    suback: subackArb(version, options),
    unsubscribe: unsubscribeArb(version, options),
    unsuback: unsubackArb(version, options),
    pingreq: fc.constant({ type: "pingreq" } as Packet),
    pingresp: fc.constant({ type: "pingresp" } as Packet),
    disconnect: disconnectArb(version, options),
  };
  if (version === 5) arbs.auth = authArb(options);
  return arbs;
}

/**
 * Any valid packet of a protocol level, every type equally likely.
 *
 * @example Every drawn packet has a type
 * ```ts
 * import assert from "node:assert/strict";
 * import fc from "fast-check";
 * import { anyPacket } from "./arbitraries.ts";
 * for (const packet of fc.sample(anyPacket(4), 5)) assert.equal(typeof packet.type, "string");
 * ```
 */
export function anyPacket(
  version: ProtocolVersion,
  options: ArbitraryOptions = {},
): fc.Arbitrary<Packet> {
  return fc.oneof(...Object.values(packetArbitraries(version, options)));
}
