import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { encodePacket } from "../packet/mod.ts";
import type { Properties, PublishPacket, QoS } from "../packet/types.ts";
import {
  publishPacketSize,
  publishPropertiesLength,
  utf8Length,
  variableByteIntegerLength,
} from "./packet_size.ts";

/** mqtt-packet wants Node Buffers, which both runtimes provide as a global. */
function buffer(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as unknown as {
    Buffer: { from(b: ArrayBufferLike, offset: number, length: number): Uint8Array };
  }).Buffer;
  return B.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The same packet in mqtt-packet's shape, encoded by mqtt-packet. */
function referenceSize(packet: PublishPacket, protocolVersion: 4 | 5): number {
  const p = packet.properties;
  const properties: Record<string, unknown> = {};
  if (protocolVersion === 5 && p) {
    if (p.payloadFormatIndicator !== undefined) {
      properties.payloadFormatIndicator = p.payloadFormatIndicator === 1;
    }
    if (p.messageExpiryInterval !== undefined) {
      properties.messageExpiryInterval = p.messageExpiryInterval;
    }
    if (p.topicAlias !== undefined) properties.topicAlias = p.topicAlias;
    if (p.responseTopic !== undefined) properties.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) properties.correlationData = buffer(p.correlationData);
    if (p.contentType !== undefined) properties.contentType = p.contentType;
    if (p.userProperties) properties.userProperties = Object.fromEntries(p.userProperties);
  }
  const generated = mqttPacket.generate(
    {
      cmd: "publish",
      topic: packet.topic,
      payload: buffer(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      messageId: packet.packetId,
      ...(protocolVersion === 5 ? { properties } : {}),
    } as unknown as mqttPacket.IPublishPacket,
    { protocolVersion },
  );
  // mqtt-packet answers what it refuses to encode with an empty buffer
  assert.ok(generated.length > 0, "the reference encoder refused the packet");
  return generated.length;
}

const text = fc.string({ unit: "grapheme", maxLength: 40 });

const properties: fc.Arbitrary<Properties> = fc.record(
  {
    payloadFormatIndicator: fc.constantFrom(0, 1),
    messageExpiryInterval: fc.nat(),
    topicAlias: fc.integer({ min: 1, max: 65535 }),
    responseTopic: text,
    correlationData: fc.uint8Array({ maxLength: 40 }),
    contentType: text,
    // unique names: the reference encoder takes user properties as an object
    userProperties: fc.uniqueArray(fc.tuple(text, text), {
      selector: ([k]) => k,
      minLength: 1,
      maxLength: 4,
    }),
  },
  { requiredKeys: [] },
);

const publish: fc.Arbitrary<PublishPacket> = fc
  .record({
    topic: fc.string({ unit: "grapheme", minLength: 1, maxLength: 60 }),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n)),
    ),
    qos: fc.constantFrom<QoS>(0, 1, 2),
    retain: fc.boolean(),
    properties: fc.option(properties, { nil: undefined }),
  })
  .map(({ topic, payload, qos, retain, properties }) => {
    const packet: PublishPacket = { type: "publish", topic, payload, qos, retain, dup: false };
    if (qos > 0) packet.packetId = 1;
    if (properties && Object.keys(properties).length > 0) packet.properties = properties;
    return packet;
  });

describe("publishPacketSize", () => {
  test("matches an independent encoder (mqtt-packet) for MQTT 3.1.1 and 5", () => {
    fc.assert(
      fc.property(publish, fc.constantFrom<4 | 5>(4, 5), (packet, version) => {
        assert.equal(publishPacketSize(packet, version), referenceSize(packet, version));
      }),
      { numRuns: 300 },
    );
  });

  test("matches the project's encoder, subscription identifiers and MQTT 3.1 included", () => {
    const topicName = (t: string | undefined) => t === undefined || !/[+#\0]/.test(t);
    const encodable = (p: PublishPacket) =>
      topicName(p.topic) && topicName(p.properties?.responseTopic);
    const withIds = publish.filter(encodable).map((packet) => {
      // a server's PUBLISH may carry Subscription Identifiers (the reference above cannot)
      if (packet.properties) {
        packet.properties = {
          ...packet.properties,
          subscriptionIdentifiers: [1, 300, 268_435_455],
        };
      }
      return packet;
    });
    fc.assert(
      fc.property(withIds, fc.constantFrom<3 | 4 | 5>(3, 4, 5), (packet, version) => {
        assert.equal(publishPacketSize(packet, version), encodePacket(packet, version).length);
      }),
      { numRuns: 300 },
    );
  });

  test("counts the remaining length's own bytes at the varint boundaries", () => {
    const packet = (n: number): PublishPacket => ({
      type: "publish",
      topic: "a",
      payload: new Uint8Array(n),
      qos: 0,
      retain: false,
      dup: false,
    });
    // remaining length = 2 + 1 + payload (MQTT 3.1.1)
    assert.equal(publishPacketSize(packet(124), 4), 1 + 1 + 127);
    assert.equal(publishPacketSize(packet(125), 4), 1 + 2 + 128);
    assert.equal(publishPacketSize(packet(16_381), 4), 1 + 3 + 16_384);
  });

  test("MQTT 3.1 and 3.1.1 carry no properties", () => {
    const packet: PublishPacket = {
      type: "publish",
      topic: "t",
      payload: new Uint8Array(),
      qos: 0,
      retain: false,
      dup: false,
      properties: { contentType: "text/plain" },
    };
    assert.equal(publishPacketSize(packet, 3), 5);
    assert.equal(publishPacketSize(packet, 4), 5);
    assert.equal(publishPacketSize(packet, 5), 5 + 1 + 3 + 10);
  });
});

describe("size helpers", () => {
  test("utf8Length agrees with TextEncoder, lone surrogates included", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        assert.equal(utf8Length(s), encoder.encode(s).length);
      }),
    );
    assert.equal(utf8Length("\ud800"), 3);
    assert.equal(utf8Length("\udc00a"), 4);
  });

  test("variableByteIntegerLength at each boundary", () => {
    assert.deepEqual(
      [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455].map(
        variableByteIntegerLength,
      ),
      [1, 1, 2, 2, 3, 3, 4, 4],
    );
  });

  test("publishPropertiesLength counts subscription identifiers as varints", () => {
    assert.equal(publishPropertiesLength({ subscriptionIdentifiers: [1, 200] }), 2 + 3);
  });
});
