/**
 * Cross-checks the codec against the npm package mqtt-packet (the codec of MQTT.js and aedes)
 * for MQTT 3.1.1 and 5.0, every packet type both support:
 *
 * - bytes tern encodes parse in mqtt-packet into the same packet;
 * - bytes mqtt-packet generates decode in tern into the same packet;
 * - for MQTT 3.1.1, where the wire leaves no choice, both produce identical bytes.
 *
 * The two object shapes differ; `toMqttPacket` / `fromMqttPacket` below translate. Where
 * mqtt-packet cannot represent a valid packet, the generator is narrowed and the deviation
 * is named next to the narrowing (see `MQTT_PACKET_LIMITS`).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { decodePacket, encodePacket } from "./mod.ts";
import type { Packet, Properties, UserProperty } from "./types.ts";
import { type ArbitraryOptions, packetArbitraries } from "./testdata/arbitraries.ts";

const RUNS = 200;

/**
 * Valid packets mqtt-packet 9.0.2 cannot carry, and so are kept out of the generator:
 * - user properties are an object keyed by name, so the interleaving of different names is
 *   lost (MQTT 5 section 3.1.2.11.8 wants order kept), integer-like names are reordered
 *   by JavaScript, and a repeated name whose value is "" is overwritten, not appended:
 *   generate names grouped, prefixed with a letter, with non-empty values;
 * - its generator refuses a password without a user name even for MQTT 5, which allows it
 *   (MQTT 5 section 3.1.2.9);
 * - its generator refuses an empty client id with Clean Session / Clean Start 0: the packet is
 *   well-formed, and the server decides (3.1.1 answers 0x02 Identifier rejected
 *   [MQTT-3.1.3-8]; MQTT 5 section 3.1.3.1 lets the server accept it);
 * - its parser fails on an AUTH with Remaining Length 0, which MQTT 5 section 3.15.2.1
 *   allows for reason code 0x00 without properties.
 */
const MQTT_PACKET_LIMITS: ArbitraryOptions = {
  groupedUserProperties: true,
  passwordNeedsUsername: true,
  emptyClientIdNeedsClean: true,
  authNeedsReasonCodeByte: true,
};

// ---------------------------------------------------------------------------------------------
// mqtt-packet's object shape

type MqttPacketObject = Record<string, any>;

/** MQTT 5 byte properties that mqtt-packet models as booleans. */
const BOOLEAN_PROPERTIES = new Set([
  "payloadFormatIndicator",
  "requestProblemInformation",
  "requestResponseInformation",
  "retainAvailable",
  "wildcardSubscriptionAvailable",
  "subscriptionIdentifiersAvailable",
  "sharedSubscriptionAvailable",
]);

const BINARY_PROPERTIES = new Set(["correlationData", "authenticationData"]);

function toBuffer(bytes: Uint8Array): Uint8Array {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function fromBuffer(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes);
}

function propertiesToMqttPacket(props: Properties | undefined): MqttPacketObject | undefined {
  if (props === undefined) return undefined;
  const out: MqttPacketObject = {};
  for (const [name, value] of Object.entries(props)) {
    if (name === "userProperties") {
      const grouped: Record<string, string | string[]> = {};
      for (const [k, v] of value as UserProperty[]) {
        const seen = grouped[k];
        grouped[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v];
      }
      out.userProperties = grouped;
    } else if (name === "subscriptionIdentifiers") {
      const ids = value as number[];
      out.subscriptionIdentifier = ids.length === 1 ? ids[0] : ids;
    } else if (BOOLEAN_PROPERTIES.has(name)) {
      out[name] = value === 1;
    } else if (BINARY_PROPERTIES.has(name)) {
      out[name] = toBuffer(value as Uint8Array);
    } else {
      out[name] = value;
    }
  }
  return out;
}

function propertiesFromMqttPacket(props: MqttPacketObject | undefined): Properties | undefined {
  if (props === undefined) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(props)) {
    if (name === "userProperties") {
      const list: UserProperty[] = [];
      for (const [k, v] of Object.entries(value as Record<string, string | string[]>)) {
        for (const one of Array.isArray(v) ? v : [v]) list.push([k, one]);
      }
      out.userProperties = list;
    } else if (name === "subscriptionIdentifier") {
      out.subscriptionIdentifiers = Array.isArray(value) ? value : [value];
    } else if (BOOLEAN_PROPERTIES.has(name)) {
      out[name] = value ? 1 : 0;
    } else if (BINARY_PROPERTIES.has(name)) {
      out[name] = fromBuffer(value);
    } else {
      out[name] = value;
    }
  }
  return Object.keys(out).length === 0 ? undefined : (out as Properties);
}

/** Adds `properties` when defined. */
function withProps<T extends object>(object: T, props: object | undefined): T {
  return props === undefined ? object : { ...object, properties: props };
}

/** tern's packet as the object mqtt-packet's `generate` takes. */
function toMqttPacket(packet: Packet, version: 4 | 5): MqttPacketObject {
  const props = propertiesToMqttPacket("properties" in packet ? packet.properties : undefined);
  switch (packet.type) {
    case "connect": {
      const out: MqttPacketObject = {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: packet.protocolVersion,
        clean: packet.clean,
        keepalive: packet.keepalive,
        clientId: packet.clientId,
      };
      if (packet.username !== undefined) out.username = packet.username;
      if (packet.password !== undefined) out.password = toBuffer(packet.password);
      if (packet.will !== undefined) {
        out.will = withProps({
          topic: packet.will.topic,
          payload: toBuffer(packet.will.payload),
          qos: packet.will.qos,
          retain: packet.will.retain,
        }, propertiesToMqttPacket(packet.will.properties));
      }
      return withProps(out, props);
    }
    case "connack":
      return withProps({
        cmd: "connack",
        sessionPresent: packet.sessionPresent,
        [version === 5 ? "reasonCode" : "returnCode"]: packet.reasonCode,
      }, props);
    case "publish": {
      const out: MqttPacketObject = {
        cmd: "publish",
        topic: packet.topic,
        payload: toBuffer(packet.payload),
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
      };
      if (packet.packetId !== undefined) out.messageId = packet.packetId;
      return withProps(out, props);
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp": {
      const out: MqttPacketObject = { cmd: packet.type, messageId: packet.packetId };
      if (packet.reasonCode !== undefined) out.reasonCode = packet.reasonCode;
      return withProps(out, props);
    }
    case "subscribe":
      return withProps({
        cmd: "subscribe",
        messageId: packet.packetId,
        subscriptions: packet.subscriptions.map((s) =>
          version === 5
            ? {
              topic: s.topicFilter,
              qos: s.qos,
              nl: s.noLocal ?? false,
              rap: s.retainAsPublished ?? false,
              rh: s.retainHandling ?? 0,
            }
            : { topic: s.topicFilter, qos: s.qos }
        ),
      }, props);
    case "suback":
      return withProps(
        { cmd: "suback", messageId: packet.packetId, granted: packet.reasonCodes },
        props,
      );
    case "unsubscribe":
      return withProps(
        { cmd: "unsubscribe", messageId: packet.packetId, unsubscriptions: packet.topicFilters },
        props,
      );
    case "unsuback": {
      const out: MqttPacketObject = { cmd: "unsuback", messageId: packet.packetId };
      if (packet.reasonCodes !== undefined) out.granted = packet.reasonCodes;
      return withProps(out, props);
    }
    case "pingreq":
    case "pingresp":
      return { cmd: packet.type };
    case "disconnect":
    case "auth": {
      const out: MqttPacketObject = { cmd: packet.type };
      if (packet.reasonCode !== undefined) out.reasonCode = packet.reasonCode;
      return withProps(out, props);
    }
  }
}

/** What mqtt-packet's parser emitted, as tern's canonical packet. */
function fromMqttPacket(mp: MqttPacketObject, version: 4 | 5): Packet {
  const props = propertiesFromMqttPacket(mp.properties);
  switch (mp.cmd) {
    case "connect": {
      const out: Packet = {
        type: "connect",
        protocolVersion: mp.protocolVersion,
        clientId: mp.clientId,
        clean: mp.clean,
        keepalive: mp.keepalive,
      };
      if (mp.username !== undefined) out.username = mp.username;
      if (mp.password !== undefined) out.password = fromBuffer(mp.password);
      if (mp.will !== undefined) {
        out.will = withProps({
          topic: mp.will.topic,
          payload: fromBuffer(mp.will.payload),
          qos: mp.will.qos,
          retain: mp.will.retain,
        }, propertiesFromMqttPacket(mp.will.properties));
      }
      return withProps(out, props);
    }
    case "connack":
      return withProps({
        type: "connack",
        sessionPresent: mp.sessionPresent,
        reasonCode: version === 5 ? mp.reasonCode : mp.returnCode,
      }, props);
    case "publish": {
      const out: Packet = {
        type: "publish",
        topic: mp.topic,
        payload: fromBuffer(mp.payload),
        qos: mp.qos,
        retain: mp.retain,
        dup: mp.dup,
      };
      if (mp.qos > 0) out.packetId = mp.messageId;
      return withProps(out, props);
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp": {
      const out: MqttPacketObject = { type: mp.cmd, packetId: mp.messageId };
      if (version === 5) out.reasonCode = mp.reasonCode;
      return withProps(out, props) as Packet;
    }
    case "subscribe":
      return withProps({
        type: "subscribe",
        packetId: mp.messageId,
        subscriptions: mp.subscriptions.map((s: MqttPacketObject) =>
          version === 5
            ? {
              topicFilter: s.topic,
              qos: s.qos,
              noLocal: s.nl,
              retainAsPublished: s.rap,
              retainHandling: s.rh,
            }
            : { topicFilter: s.topic, qos: s.qos }
        ),
      }, props);
    case "suback":
      return withProps({ type: "suback", packetId: mp.messageId, reasonCodes: mp.granted }, props);
    case "unsubscribe":
      return withProps(
        { type: "unsubscribe", packetId: mp.messageId, topicFilters: mp.unsubscriptions },
        props,
      );
    case "unsuback": {
      const out: Packet = { type: "unsuback", packetId: mp.messageId };
      if (version === 5) out.reasonCodes = mp.granted;
      return withProps(out, props);
    }
    case "pingreq":
    case "pingresp":
      return { type: mp.cmd };
    case "disconnect":
    case "auth": {
      const out: MqttPacketObject = { type: mp.cmd };
      if (version === 5) out.reasonCode = mp.reasonCode;
      return withProps(out, props) as Packet;
    }
    default:
      throw new Error(`mqtt-packet emitted an unknown command ${String(mp.cmd)}`);
  }
}

/** Parses exactly one packet with mqtt-packet, throwing its error if it reports one. */
function parseWithMqttPacket(bytes: Uint8Array, version: 4 | 5): MqttPacketObject {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: MqttPacketObject[] = [];
  let failure: unknown;
  parser.on("packet", (packet: MqttPacketObject) => packets.push(packet));
  parser.on("error", (error: unknown) => failure ??= error);
  const left = parser.parse(toBuffer(bytes) as Buffer);
  if (failure !== undefined) throw failure;
  assert.equal(left, 0, "mqtt-packet consumed every byte");
  assert.equal(packets.length, 1, "mqtt-packet emitted one packet");
  return packets[0]!;
}

function generateWithMqttPacket(packet: Packet, version: 4 | 5): Uint8Array {
  return fromBuffer(
    mqttPacket.generate(toMqttPacket(packet, version) as any, { protocolVersion: version }),
  );
}

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

// ---------------------------------------------------------------------------------------------
// The checks

for (const version of [4, 5] as const) {
  const arbs = packetArbitraries(version, MQTT_PACKET_LIMITS);
  describe(`mqtt-packet cross-check, MQTT ${version === 5 ? "5.0" : "3.1.1"}`, () => {
    for (const [type, arb] of Object.entries(arbs)) {
      const runs = type === "pingreq" || type === "pingresp" ? 1 : RUNS;

      test(`${type} encoded by tern parses equal in mqtt-packet`, () => {
        fc.assert(
          fc.property(arb, (packet) => {
            const bytes = encodePacket(packet, version);
            const parsed = parseWithMqttPacket(bytes, version);
            assert.deepEqual(fromMqttPacket(parsed, version), packet, hex(bytes));
          }),
          { numRuns: runs },
        );
      });

      test(`${type} generated by mqtt-packet decodes equal in tern`, () => {
        fc.assert(
          fc.property(arb, (packet) => {
            const bytes = generateWithMqttPacket(packet, version);
            const decoded = decodePacket(bytes, { protocolVersion: version });
            assert.ok(decoded, `a whole packet: ${hex(bytes)}`);
            assert.equal(decoded.bytesRead, bytes.length);
            assert.deepEqual(decoded.packet, packet, hex(bytes));
          }),
          { numRuns: runs },
        );
      });

      if (version === 4) {
        test(`${type} bytes are identical from both encoders`, () => {
          fc.assert(
            fc.property(arb, (packet) => {
              assert.deepEqual(encodePacket(packet, 4), generateWithMqttPacket(packet, 4));
            }),
            { numRuns: runs },
          );
        });
      }
    }
  });
}

test("the mapping itself: a fixed MQTT 5 PUBLISH reads the same in both shapes", () => {
  // Guards the translation layer: if toMqttPacket / fromMqttPacket drifted, the random
  // checks above could agree with each other and still be wrong.
  const packet: Packet = {
    type: "publish",
    topic: "a/b",
    payload: Uint8Array.of(1, 2),
    qos: 1,
    retain: true,
    dup: false,
    packetId: 7,
    properties: {
      payloadFormatIndicator: 0,
      subscriptionIdentifiers: [3, 4],
      userProperties: [["k", "v"], ["k", "w"]],
    },
  };
  // Remaining Length 30: topic 5, packet id 2, Property Length 1 + 20, payload 2.
  const expected = [
    0x33,
    30,
    0,
    3,
    0x61,
    0x2f,
    0x62,
    0,
    7, // header, topic "a/b", packet id 7
    20,
    0x01,
    0x00,
    0x0b,
    3,
    0x0b,
    4, // properties: format 0, subscription ids 3 and 4
    0x26,
    0,
    1,
    0x6b,
    0,
    1,
    0x76, // user property ("k", "v")
    0x26,
    0,
    1,
    0x6b,
    0,
    1,
    0x77, // user property ("k", "w")
    1,
    2, // payload
  ];
  assert.deepEqual([...generateWithMqttPacket(packet, 5)], expected);
  assert.deepEqual(fromMqttPacket(parseWithMqttPacket(Uint8Array.from(expected), 5), 5), packet);
});
