import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodePacket } from "./decode.ts";
import { encodePacket } from "./encode.ts";
import { ProtocolError } from "../errors.ts";
import type { Packet, ProtocolVersion } from "./types.ts";
import { FIXTURES } from "./testdata/fixtures.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ");

describe("golden fixtures", () => {
  test("cover every packet type at every protocol level", () => {
    const seen = new Set(FIXTURES.map((fixture) => `${fixture.version} ${fixture.packet.type}`));
    const types = [
      "connect",
      "connack",
      "publish",
      "puback",
      "pubrec",
      "pubrel",
      "pubcomp",
      "subscribe",
      "suback",
      "unsubscribe",
      "unsuback",
      "pingreq",
      "pingresp",
      "disconnect",
    ];
    for (const version of [3, 4, 5]) {
      for (const type of types) {
        assert.ok(seen.has(`${version} ${type}`), `${type} at level ${version}`);
      }
    }
    assert.ok(seen.has("5 auth"));
    assert.ok(!seen.has("3 auth") && !seen.has("4 auth"));
  });

  for (const { name, version, bytes, packet } of FIXTURES) {
    describe(name, () => {
      test("decodes to the packet", () => {
        assert.deepEqual(decodePacket(bytes, { protocolVersion: version }), {
          packet,
          bytesRead: bytes.length,
        });
      });

      test("encodes to the bytes", () => {
        assert.equal(hex(encodePacket(packet, version)), hex(bytes));
      });

      test("round trips", () => {
        const encoded = encodePacket(packet, version);
        assert.deepEqual(decodePacket(encoded, { protocolVersion: version })?.packet, packet);
      });

      test("needs more bytes for every proper prefix", () => {
        const step = bytes.length > 300 ? 97 : 1;
        for (let length = 0; length < bytes.length; length += step) {
          assert.equal(
            decodePacket(bytes.subarray(0, length), { protocolVersion: version }),
            undefined,
          );
        }
      });

      test("leaves the bytes after the packet alone", () => {
        const longer = new Uint8Array(bytes.length + 3);
        longer.set(bytes);
        longer.set([0xc0, 0x00, 0xff], bytes.length);
        const result = decodePacket(longer, { protocolVersion: version });
        assert.equal(result?.bytesRead, bytes.length);
        assert.deepEqual(result?.packet, packet);
      });
    });
  }
});

describe("decodePacket", () => {
  test("decodes a CONNECT at its own protocol level whatever the option says", () => {
    for (const fixture of FIXTURES.filter((f) => f.packet.type === "connect")) {
      for (const protocolVersion of [3, 4, 5] as const) {
        assert.deepEqual(
          decodePacket(fixture.bytes, { protocolVersion })?.packet,
          fixture.packet,
          fixture.name,
        );
      }
    }
  });

  test("returns binary fields as views into the input", () => {
    const fixture = FIXTURES.find((f) => f.name.startsWith("v5 CONNECT with every"))!;
    const bytes = fixture.bytes.slice();
    const packet = decodePacket(bytes, { protocolVersion: 5 })!.packet;
    assert.equal(packet.type, "connect");
    if (packet.type !== "connect") return;
    for (
      const view of [
        packet.password!,
        packet.will!.payload,
        packet.will!.properties!.correlationData!,
      ]
    ) {
      assert.equal(view.buffer, bytes.buffer);
    }
    assert.equal(packet.properties!.authenticationData!.buffer, bytes.buffer);
  });

  test("decodes a view that starts inside a larger buffer", () => {
    const fixture = FIXTURES.find((f) => f.name === "v5 PUBLISH QoS 0 without properties")!;
    const outer = new Uint8Array(fixture.bytes.length + 7);
    outer.set(fixture.bytes, 5);
    const view = outer.subarray(5, 5 + fixture.bytes.length);
    const result = decodePacket(view, { protocolVersion: 5 })!;
    assert.deepEqual(result.packet, fixture.packet);
    assert.equal(result.packet.type === "publish" && result.packet.payload.byteOffset, 5 + 8);
  });

  test("rejects a packet over maxPacketSize from its fixed header alone", () => {
    // PUBLISH with Remaining Length 1000: only the fixed header is given.
    const header = new Uint8Array([0x30, 0xe8, 0x07]);
    assert.equal(decodePacket(header, { protocolVersion: 4, maxPacketSize: 1003 }), undefined);
    assert.throws(
      () => decodePacket(header, { protocolVersion: 4, maxPacketSize: 1002 }),
      (error) => error instanceof ProtocolError && error.reasonCode === 0x95,
    );
  });

  test("counts the fixed header in maxPacketSize", () => {
    const bytes = new Uint8Array([0x40, 2, 0, 1]);
    assert.deepEqual(decodePacket(bytes, { protocolVersion: 4, maxPacketSize: 4 })?.bytesRead, 4);
    assert.throws(() => decodePacket(bytes, { protocolVersion: 4, maxPacketSize: 3 }), {
      reasonCode: 0x95,
    });
  });

  test("reads the largest Remaining Length the fixed header allows", () => {
    const header = new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f]);
    assert.equal(decodePacket(header, { protocolVersion: 4 }), undefined);
    assert.throws(
      () => decodePacket(header, { protocolVersion: 4, maxPacketSize: 268_435_459 }),
      { reasonCode: 0x95 },
    );
  });

  test("rejects options it cannot use", () => {
    const bytes = new Uint8Array([0xc0, 0]);
    assert.throws(() => decodePacket(bytes, { protocolVersion: 6 as ProtocolVersion }), RangeError);
    assert.throws(() => decodePacket(bytes, { protocolVersion: 4, maxPacketSize: 0 }), RangeError);
  });
});

describe("encodePacket", () => {
  test("leaves out MQTT 5 fields before MQTT 5", () => {
    const cases: [Packet, number[]][] = [
      [{ type: "puback", packetId: 7, reasonCode: 0x10, properties: { reasonString: "x" } }, [
        0x40,
        2,
        0,
        7,
      ]],
      [{ type: "disconnect", reasonCode: 0x04 }, [0xe0, 0]],
      [{ type: "unsuback", packetId: 3, reasonCodes: [0x11] }, [0xb0, 2, 0, 3]],
      [
        {
          type: "subscribe",
          packetId: 1,
          subscriptions: [{ topicFilter: "t", qos: 1, noLocal: true }],
        },
        [0x82, 6, 0, 1, 0, 1, 0x74, 1],
      ],
      [
        {
          type: "publish",
          topic: "t",
          payload: new Uint8Array([1]),
          qos: 0,
          retain: false,
          dup: false,
          properties: { contentType: "x" },
        },
        [0x30, 4, 0, 1, 0x74, 1],
      ],
    ];
    for (const [packet, bytes] of cases) {
      for (const version of [3, 4] as const) {
        assert.deepEqual([...encodePacket(packet, version)], bytes);
      }
    }
  });

  test("writes the shortest MQTT 5 acknowledgement forms", () => {
    assert.deepEqual([...encodePacket({ type: "pubrec", packetId: 1 }, 5)], [0x50, 2, 0, 1]);
    assert.deepEqual([...encodePacket({ type: "pubrec", packetId: 1, properties: {} }, 5)], [
      0x50,
      2,
      0,
      1,
    ]);
    assert.deepEqual([...encodePacket({ type: "disconnect" }, 5)], [0xe0, 0]);
    assert.deepEqual([...encodePacket({ type: "auth" }, 5)], [0xf0, 0]);
  });

  test("returns bytes that later encodes never overwrite", () => {
    const packet: Packet = { type: "puback", packetId: 1 };
    const kept = Array.from(
      { length: 30000 },
      (_, i) => encodePacket({ ...packet, packetId: i + 1 }, 4),
    );
    kept.forEach((bytes, i) =>
      assert.deepEqual([...bytes], [0x40, 2, (i + 1) >> 8, (i + 1) & 0xff])
    );
  });

  test("encodes a UTF-8 string of exactly 65535 bytes and rejects one more", () => {
    const topic = "a".repeat(65535);
    const bytes = encodePacket({ type: "unsubscribe", packetId: 1, topicFilters: [topic] }, 4);
    assert.equal(bytes.length, 1 + 3 + 2 + 2 + 65535);
    assert.throws(
      () => encodePacket({ type: "unsubscribe", packetId: 1, topicFilters: [topic + "é"] }, 4),
      RangeError,
    );
  });

  const publish = (fields: Record<string, unknown>): Packet =>
    ({
      type: "publish",
      topic: "t",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
      ...fields,
    }) as Packet;

  const mistakes: [
    string,
    Packet,
    ProtocolVersion,
    typeof TypeError | typeof RangeError,
    RegExp,
  ][] = [
    [
      "QoS 3",
      publish({ qos: 3, packetId: 1 }),
      4,
      RangeError,
      /^Cannot encode PUBLISH as 'qos' must be 0, 1 or 2: current value is 3$/,
    ],
    [
      "a missing packet id",
      publish({ qos: 1 }),
      4,
      TypeError,
      /'packetId' must be an integer from 1 to 65535/,
    ],
    [
      "packet id 0",
      { type: "pubrel", packetId: 0 },
      5,
      RangeError,
      /'packetId'.*current value is 0/,
    ],
    [
      "packet id 65536",
      { type: "suback", packetId: 65536, reasonCodes: [0] },
      4,
      RangeError,
      /'packetId'/,
    ],
    ["DUP at QoS 0", publish({ dup: true }), 4, TypeError, /'dup' must be false when 'qos' is 0/],
    ["a wildcard in a topic", publish({ topic: "a/+" }), 5, TypeError, /'topic' must not contain/],
    ["U+0000 in a topic", publish({ topic: "a\0" }), 4, TypeError, /'topic'/],
    [
      "a lone surrogate",
      { type: "unsubscribe", packetId: 1, topicFilters: ["\ud800"] },
      4,
      TypeError,
      /topicFilters/,
    ],
    [
      "an empty topic before MQTT 5",
      publish({ topic: "" }),
      4,
      TypeError,
      /'topic' must not be empty/,
    ],
    [
      "an empty topic without alias",
      publish({ topic: "" }),
      5,
      TypeError,
      /'topic' must not be empty/,
    ],
    [
      "a string payload",
      publish({ payload: "hi" }),
      4,
      TypeError,
      /'payload' must be a Uint8Array/,
    ],
    [
      "a payload too large for the Remaining Length",
      // A Uint8Array that claims to be 256 MiB long, so nothing that large is allocated.
      publish({
        payload: Object.defineProperty(new Uint8Array(1), "length", { value: 268_435_456 }),
      }),
      4,
      RangeError,
      /'remaining length' must be at most 268435455 bytes/,
    ],
    [
      "a password without a user name before MQTT 5",
      {
        type: "connect",
        protocolVersion: 4,
        clientId: "c",
        clean: true,
        keepalive: 0,
        password: new Uint8Array(1),
      },
      4,
      TypeError,
      /MQTT-3\.1\.2-22/,
    ],
    [
      "keep alive out of range",
      { type: "connect", protocolVersion: 4, clientId: "c", clean: true, keepalive: 65536 },
      4,
      RangeError,
      /'keepalive'/,
    ],
    [
      "an unknown protocol level",
      {
        type: "connect",
        protocolVersion: 6 as ProtocolVersion,
        clientId: "c",
        clean: true,
        keepalive: 0,
      },
      4,
      RangeError,
      /'protocolVersion' must be 3, 4 or 5/,
    ],
    [
      "an empty SUBSCRIBE",
      { type: "subscribe", packetId: 1, subscriptions: [] },
      4,
      TypeError,
      /MQTT-3\.8\.3-3/,
    ],
    [
      "an empty UNSUBSCRIBE",
      { type: "unsubscribe", packetId: 1, topicFilters: [] },
      5,
      TypeError,
      /MQTT-3\.10\.3-2/,
    ],
    [
      "Retain Handling 3",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "t", qos: 0, retainHandling: 3 as 0 }],
      },
      5,
      RangeError,
      /retainHandling/,
    ],
    [
      "a PUBACK reason code of SUBACK",
      { type: "puback", packetId: 1, reasonCode: 0xa2 },
      5,
      RangeError,
      /reasonCode/,
    ],
    [
      "a CONNACK return code over 5",
      { type: "connack", sessionPresent: false, reasonCode: 6 },
      4,
      RangeError,
      /'reasonCode'/,
    ],
    [
      "a SUBACK code of MQTT 5 before MQTT 5",
      { type: "suback", packetId: 1, reasonCodes: [0x87] },
      4,
      RangeError,
      /reasonCodes\[0\]/,
    ],
    [
      "AUTH before MQTT 5",
      { type: "auth", reasonCode: 0 },
      4,
      TypeError,
      /AUTH as it needs MQTT 5/,
    ],
    [
      "AUTH without Authentication Method",
      { type: "auth", reasonCode: 0x18 },
      5,
      TypeError,
      /'properties\.authenticationMethod' must be set/,
    ],
    [
      "Authentication Data without Authentication Method",
      {
        type: "connack",
        sessionPresent: false,
        reasonCode: 0,
        properties: { authenticationData: new Uint8Array(1) },
      },
      5,
      TypeError,
      /'properties\.authenticationData' needs 'properties\.authenticationMethod'/,
    ],
    [
      "No Local on a shared subscription",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "$share/g/t", qos: 0, noLocal: true }],
      },
      5,
      TypeError,
      /'subscriptions\[0\]\.noLocal'.*MQTT-3\.8\.3-4/,
    ],
    [
      "an empty SUBACK",
      { type: "suback", packetId: 1, reasonCodes: [] },
      4,
      TypeError,
      /'reasonCodes'/,
    ],
    [
      "an MQTT 5 UNSUBACK without reason codes",
      { type: "unsuback", packetId: 1 },
      5,
      TypeError,
      /'reasonCodes'/,
    ],
    [
      "a property the packet does not allow",
      publish({ properties: { sessionExpiryInterval: 1 } }),
      5,
      TypeError,
      /'properties\.sessionExpiryInterval' is not allowed in PUBLISH/,
    ],
    [
      "an unknown property",
      publish({ properties: { colour: 1 } }),
      5,
      TypeError,
      /'properties\.colour'/,
    ],
    ["a Topic Alias of 0", publish({ properties: { topicAlias: 0 } }), 5, RangeError, /topicAlias/],
    [
      "a flag property of 2",
      publish({ properties: { payloadFormatIndicator: 2 } }),
      5,
      RangeError,
      /0 or 1/,
    ],
    [
      "two subscription identifiers in SUBSCRIBE",
      {
        type: "subscribe",
        packetId: 1,
        subscriptions: [{ topicFilter: "t", qos: 0 }],
        properties: { subscriptionIdentifiers: [1, 2] },
      },
      5,
      RangeError,
      /at most one/,
    ],
    [
      "subscription identifier 0",
      publish({ properties: { subscriptionIdentifiers: [0] } }),
      5,
      RangeError,
      /from 1/,
    ],
    [
      "a wildcard in a Response Topic",
      publish({ properties: { responseTopic: "r/#" } }),
      5,
      TypeError,
      /responseTopic/,
    ],
    [
      "a malformed user property",
      publish({ properties: { userProperties: [["only-name"]] } }),
      5,
      TypeError,
      /userProperties/,
    ],
    ["an unknown packet type", { type: "hello" } as unknown as Packet, 4, TypeError, /'type'/],
    [
      "an unknown protocol version",
      { type: "pingreq" },
      2 as ProtocolVersion,
      RangeError,
      /'protocolVersion'/,
    ],
  ];
  for (const [what, packet, version, error, message] of mistakes) {
    test(`throws ${error.name} for ${what}`, () => {
      assert.throws(() => encodePacket(packet, version), (thrown: unknown) => {
        assert.ok(thrown instanceof error, `${thrown}`);
        assert.match((thrown as Error).message, message);
        return true;
      });
    });
  }
});
