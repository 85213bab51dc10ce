/**
 * Golden fixtures: hand-written bytes of every MQTT control packet at each protocol
 * level (AUTH only in MQTT 5), with the packet each decodes to, in canonical form (see
 * lib/packet/mod.ts). The bytes were written from the specifications, field by field,
 * not produced by the encoder. Codec tests check each fixture three ways: decode,
 * encode, and round trip.
 *
 * @module
 */

import type { Packet, ProtocolVersion } from "../types.ts";

/** One golden packet. */
export interface Fixture {
  /** What the fixture shows, starting with the protocol level: "v5 PUBACK with reason code only". */
  name: string;
  /** Protocol level the bytes are for. */
  version: ProtocolVersion;
  /** The packet on the wire. */
  bytes: Uint8Array;
  /** The packet those bytes decode to, and that encodes to them. */
  packet: Packet;
}

/**
 * Spells out bytes the way the spec's tables do: two hex digits per byte, "quoted"
 * ASCII characters one byte each (lengths are always written out by hand), `${bytes}`
 * for a Uint8Array, and `//` comments to the end of a line.
 */
function w(strings: TemplateStringsArray, ...values: Uint8Array[]): Uint8Array {
  const out: number[] = [];
  strings.forEach((text, index) => {
    const source = text.replace(/\/\/[^\n]*/g, " ");
    for (const token of source.match(/"[^"]*"|\S+/g) ?? []) {
      if (token.startsWith('"')) {
        for (const char of token.slice(1, -1)) {
          const code = char.charCodeAt(0);
          if (code > 0x7e) throw new RangeError(`Not ASCII: ${token}`);
          out.push(code);
        }
      } else if (/^[0-9a-f]{2}$/.test(token)) {
        out.push(parseInt(token, 16));
      } else {
        throw new SyntaxError(`Not a byte: ${token}`);
      }
    }
    const value = values[index];
    if (value !== undefined) out.push(...value);
  });
  return new Uint8Array(out);
}

/** ASCII text as bytes (for payloads and passwords). */
function t(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

/** `count` bytes counting up from 0 (wrapping), for payloads too long to spell. */
function filler(count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = i & 0xff;
  return out;
}

/** The three protocol levels. */
const LEVELS: ProtocolVersion[] = [3, 4, 5];

/** Packets whose bytes are the same at levels 3 and 4 (3.1 and 3.1.1). */
function before5(name: string, bytes: Uint8Array, packet: Packet): Fixture[] {
  return [
    { name: `v3 ${name}`, version: 3, bytes, packet },
    { name: `v4 ${name}`, version: 4, bytes, packet },
  ];
}

/** Golden fixtures for every packet type at every protocol level. */
export const FIXTURES: Fixture[] = [
  // ---------------------------------------------------------------- CONNECT
  {
    name: "v3 CONNECT minimal",
    version: 3,
    bytes: w`10 10 00 06 "MQIsdp" 03 02 00 3c 00 02 "c1"`,
    packet: { type: "connect", protocolVersion: 3, clientId: "c1", clean: true, keepalive: 60 },
  },
  {
    name: "v3 CONNECT with will, user name and password",
    version: 3,
    // Flags 0xEC: user name, password, will retain, will QoS 1, will; not clean.
    bytes: w`
      10 1f 00 06 "MQIsdp" 03 ec 00 0a 00 03 "cli" 00 01 "w" 00 03 "bye" 00 01 "u" 00 01 "p"
    `,
    packet: {
      type: "connect",
      protocolVersion: 3,
      clientId: "cli",
      clean: false,
      keepalive: 10,
      username: "u",
      password: t("p"),
      will: { topic: "w", payload: t("bye"), qos: 1, retain: true },
    },
  },
  {
    name: "v4 CONNECT minimal with empty client id",
    version: 4,
    bytes: w`10 0c 00 04 "MQTT" 04 02 00 3c 00 00`,
    packet: { type: "connect", protocolVersion: 4, clientId: "", clean: true, keepalive: 60 },
  },
  {
    name: "v4 CONNECT with empty will payload and binary password",
    version: 4,
    // Flags 0xC6: user name, password, will QoS 0, will, clean.
    bytes: w`
      10 26 00 04 "MQTT" 04 c6 00 00 00 08 "client-4" 00 03 "w/t" 00 00 00 04 "user" 00 03 00 ff 10
    `,
    packet: {
      type: "connect",
      protocolVersion: 4,
      clientId: "client-4",
      clean: true,
      keepalive: 0,
      username: "user",
      password: w`00 ff 10`,
      will: { topic: "w/t", payload: new Uint8Array(0), qos: 0, retain: false },
    },
  },
  {
    name: "v5 CONNECT minimal",
    version: 5,
    bytes: w`10 0f 00 04 "MQTT" 05 02 00 3c 00 00 02 "c1"`,
    packet: { type: "connect", protocolVersion: 5, clientId: "c1", clean: true, keepalive: 60 },
  },
  {
    name: "v5 CONNECT with every CONNECT property and a will with every will property",
    version: 5,
    // Flags 0xD6: user name, password, will QoS 2, will, clean.
    bytes: w`
      10 83 01                  // CONNECT, Remaining Length 131
      00 04 "MQTT" 05 d6 00 1e  // protocol name and level, flags, Keep Alive 30
      30                        // Property Length 48
      11 00 00 0e 10            // Session Expiry Interval 3600
      21 00 14                  // Receive Maximum 20
      27 00 10 00 00            // Maximum Packet Size 1048576
      22 00 0a                  // Topic Alias Maximum 10
      19 01                     // Request Response Information 1
      17 00                     // Request Problem Information 0
      26 00 01 "a" 00 01 "1"    // User Property a=1
      26 00 01 "a" 00 01 "2"    // User Property a=2
      15 00 05 "SCRAM"          // Authentication Method
      16 00 03 01 02 03         // Authentication Data
      00 02 "c5"                // Client Identifier
      2b                        // Will Property Length 43
      18 00 00 00 05            // Will Delay Interval 5
      01 01                     // Payload Format Indicator 1
      02 00 00 00 3c            // Message Expiry Interval 60
      03 00 0a "text/plain"     // Content Type
      08 00 03 "r/t"            // Response Topic
      09 00 02 09 09            // Correlation Data
      26 00 01 "k" 00 01 "v"    // User Property k=v
      00 06 "will/t"            // Will Topic
      00 04 "gone"              // Will Payload
      00 04 "user"              // User Name
      00 02 "pw"                // Password
    `,
    packet: {
      type: "connect",
      protocolVersion: 5,
      clientId: "c5",
      clean: true,
      keepalive: 30,
      username: "user",
      password: t("pw"),
      will: {
        topic: "will/t",
        payload: t("gone"),
        qos: 2,
        retain: false,
        properties: {
          willDelayInterval: 5,
          payloadFormatIndicator: 1,
          messageExpiryInterval: 60,
          contentType: "text/plain",
          responseTopic: "r/t",
          correlationData: w`09 09`,
          userProperties: [["k", "v"]],
        },
      },
      properties: {
        sessionExpiryInterval: 3600,
        receiveMaximum: 20,
        maximumPacketSize: 1048576,
        topicAliasMaximum: 10,
        requestResponseInformation: 1,
        requestProblemInformation: 0,
        userProperties: [["a", "1"], ["a", "2"]],
        authenticationMethod: "SCRAM",
        authenticationData: w`01 02 03`,
      },
    },
  },
  {
    name: "v5 CONNECT with a password and no user name",
    version: 5,
    bytes: w`10 11 00 04 "MQTT" 05 42 00 00 00 00 01 "p" 00 01 01`,
    packet: {
      type: "connect",
      protocolVersion: 5,
      clientId: "p",
      clean: true,
      keepalive: 0,
      password: w`01`,
    },
  },
  {
    name: "v5 CONNECT with a retained QoS 1 will without properties",
    version: 5,
    // Flags 0x2C: will retain, will QoS 1, will; not clean.
    bytes: w`10 16 00 04 "MQTT" 05 2c ff ff 00 00 01 "z" 00 00 01 "w" 00 02 c3 a9`,
    packet: {
      type: "connect",
      protocolVersion: 5,
      clientId: "z",
      clean: false,
      keepalive: 65535,
      will: { topic: "w", payload: w`c3 a9`, qos: 1, retain: true },
    },
  },

  // ---------------------------------------------------------------- CONNACK
  {
    name: "v3 CONNACK accepted",
    version: 3,
    bytes: w`20 02 00 00`,
    packet: { type: "connack", sessionPresent: false, reasonCode: 0 },
  },
  {
    name: "v3 CONNACK identifier rejected",
    version: 3,
    bytes: w`20 02 00 02`,
    packet: { type: "connack", sessionPresent: false, reasonCode: 2 },
  },
  {
    name: "v4 CONNACK with session present",
    version: 4,
    bytes: w`20 02 01 00`,
    packet: { type: "connack", sessionPresent: true, reasonCode: 0 },
  },
  {
    name: "v4 CONNACK not authorized",
    version: 4,
    bytes: w`20 02 00 05`,
    packet: { type: "connack", sessionPresent: false, reasonCode: 5 },
  },
  {
    name: "v5 CONNACK success without properties",
    version: 5,
    bytes: w`20 03 00 00 00`,
    packet: { type: "connack", sessionPresent: false, reasonCode: 0 },
  },
  {
    name: "v5 CONNACK with every CONNACK property",
    version: 5,
    bytes: w`
      20 49 01 00               // CONNACK, Remaining Length 73, session present, success
      46                        // Property Length 70
      11 00 00 00 78            // Session Expiry Interval 120
      21 00 0a                  // Receive Maximum 10
      24 01                     // Maximum QoS 1
      25 00                     // Retain Available 0
      27 00 00 ff ff            // Maximum Packet Size 65535
      12 00 06 "auto-1"         // Assigned Client Identifier
      22 00 05                  // Topic Alias Maximum 5
      1f 00 02 "ok"             // Reason String
      26 00 01 "x" 00 01 "y"    // User Property x=y
      28 01                     // Wildcard Subscription Available 1
      29 00                     // Subscription Identifiers Available 0
      2a 01                     // Shared Subscription Available 1
      13 00 78                  // Server Keep Alive 120
      1a 00 05 "resp/"          // Response Information
      15 00 05 "SCRAM"          // Authentication Method
      16 00 01 ff               // Authentication Data
    `,
    packet: {
      type: "connack",
      sessionPresent: true,
      reasonCode: 0,
      properties: {
        sessionExpiryInterval: 120,
        receiveMaximum: 10,
        maximumQoS: 1,
        retainAvailable: 0,
        maximumPacketSize: 65535,
        assignedClientIdentifier: "auto-1",
        topicAliasMaximum: 5,
        reasonString: "ok",
        userProperties: [["x", "y"]],
        wildcardSubscriptionAvailable: 1,
        subscriptionIdentifiersAvailable: 0,
        sharedSubscriptionAvailable: 1,
        serverKeepAlive: 120,
        responseInformation: "resp/",
        authenticationMethod: "SCRAM",
        authenticationData: w`ff`,
      },
    },
  },
  {
    name: "v5 CONNACK server moved with Server Reference",
    version: 5,
    bytes: w`20 17 00 9d 14 1c 00 0a "other:1883" 1f 00 04 "move"`,
    packet: {
      type: "connack",
      sessionPresent: false,
      reasonCode: 0x9d,
      properties: { serverReference: "other:1883", reasonString: "move" },
    },
  },

  // ---------------------------------------------------------------- PUBLISH
  ...before5("PUBLISH QoS 0", w`30 07 00 03 "a/b" "hi"`, {
    type: "publish",
    topic: "a/b",
    payload: t("hi"),
    qos: 0,
    retain: false,
    dup: false,
  }),
  ...before5("PUBLISH QoS 2 with DUP and RETAIN", w`3d 07 00 01 "t" 01 02 00 ff`, {
    type: "publish",
    topic: "t",
    payload: w`00 ff`,
    qos: 2,
    retain: true,
    dup: true,
    packetId: 0x0102,
  }),
  {
    name: "v4 PUBLISH QoS 1 with a non-ASCII topic and an empty payload",
    version: 4,
    // "é/😀" is c3 a9 2f f0 9f 98 80 in UTF-8.
    bytes: w`32 0b 00 07 c3 a9 2f f0 9f 98 80 00 01`,
    packet: {
      type: "publish",
      topic: "é/😀",
      payload: new Uint8Array(0),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 1,
    },
  },
  {
    name: "v4 PUBLISH retained with a two-byte Remaining Length (203)",
    version: 4,
    bytes: w`31 cb 01 00 01 "x" ${filler(200)}`,
    packet: { type: "publish", topic: "x", payload: filler(200), qos: 0, retain: true, dup: false },
  },
  {
    name: "v4 PUBLISH with a three-byte Remaining Length (16384)",
    version: 4,
    bytes: w`30 80 80 01 00 01 "t" ${filler(16381)}`,
    packet: {
      type: "publish",
      topic: "t",
      payload: filler(16381),
      qos: 0,
      retain: false,
      dup: false,
    },
  },
  {
    name: "v5 PUBLISH QoS 0 without properties",
    version: 5,
    bytes: w`30 08 00 03 "a/b" 00 "hi"`,
    packet: { type: "publish", topic: "a/b", payload: t("hi"), qos: 0, retain: false, dup: false },
  },
  {
    name:
      "v5 PUBLISH QoS 1 with every PUBLISH property, repeated user properties and subscription identifiers",
    version: 5,
    bytes: w`
      32 50                     // PUBLISH QoS 1, Remaining Length 80
      00 03 "s/t" 00 2a         // Topic Name, Packet Identifier 42
      46                        // Property Length 70
      01 01                     // Payload Format Indicator 1
      02 00 00 01 2c            // Message Expiry Interval 300
      23 00 03                  // Topic Alias 3
      08 00 05 "reply"          // Response Topic
      09 00 04 de ad be ef      // Correlation Data
      26 00 01 "a" 00 01 "1"    // User Property a=1
      26 00 01 "b" 00 00        // User Property b=""
      26 00 01 "a" 00 01 "2"    // User Property a=2, same name again
      0b 01                     // Subscription Identifier 1
      0b 80 80 01               // Subscription Identifier 16384
      03 00 10 "application/json" // Content Type
      "{}"                      // Payload
    `,
    packet: {
      type: "publish",
      topic: "s/t",
      payload: t("{}"),
      qos: 1,
      retain: false,
      dup: false,
      packetId: 42,
      properties: {
        payloadFormatIndicator: 1,
        messageExpiryInterval: 300,
        topicAlias: 3,
        responseTopic: "reply",
        correlationData: w`de ad be ef`,
        userProperties: [["a", "1"], ["b", ""], ["a", "2"]],
        subscriptionIdentifiers: [1, 16384],
        contentType: "application/json",
      },
    },
  },
  {
    name: "v5 PUBLISH with an empty topic and a Topic Alias",
    version: 5,
    bytes: w`31 07 00 00 03 23 00 05 "x"`,
    packet: {
      type: "publish",
      topic: "",
      payload: t("x"),
      qos: 0,
      retain: true,
      dup: false,
      properties: { topicAlias: 5 },
    },
  },
  {
    name: "v5 PUBLISH QoS 2 with DUP and the largest subscription identifier",
    version: 5,
    bytes: w`3c 0c 00 01 "q" ff ff 05 0b ff ff ff 7f 07`,
    packet: {
      type: "publish",
      topic: "q",
      payload: w`07`,
      qos: 2,
      retain: false,
      dup: true,
      packetId: 65535,
      properties: { subscriptionIdentifiers: [268435455] },
    },
  },

  // ---------------------------------------------------------------- PUBACK, PUBREC, PUBREL, PUBCOMP
  ...before5("PUBACK", w`40 02 00 07`, { type: "puback", packetId: 7 }),
  ...before5("PUBREC", w`50 02 00 08`, { type: "pubrec", packetId: 8 }),
  ...before5("PUBREL", w`62 02 00 09`, { type: "pubrel", packetId: 9 }),
  ...before5("PUBCOMP", w`70 02 01 0a`, { type: "pubcomp", packetId: 266 }),
  {
    name: "v5 PUBACK short form (success, no properties)",
    version: 5,
    bytes: w`40 02 00 07`,
    packet: { type: "puback", packetId: 7, reasonCode: 0 },
  },
  {
    name: "v5 PUBACK with reason code only",
    version: 5,
    bytes: w`40 03 00 07 10`,
    packet: { type: "puback", packetId: 7, reasonCode: 0x10 },
  },
  {
    name: "v5 PUBACK with reason code and properties",
    version: 5,
    bytes: w`40 13 00 07 97 0f 1f 00 05 "quota" 26 00 01 "k" 00 01 "v"`,
    packet: {
      type: "puback",
      packetId: 7,
      reasonCode: 0x97,
      properties: { reasonString: "quota", userProperties: [["k", "v"]] },
    },
  },
  {
    name: "v5 PUBREC short form",
    version: 5,
    bytes: w`50 02 00 08`,
    packet: { type: "pubrec", packetId: 8, reasonCode: 0 },
  },
  {
    name: "v5 PUBREC with reason code only",
    version: 5,
    bytes: w`50 03 00 08 80`,
    packet: { type: "pubrec", packetId: 8, reasonCode: 0x80 },
  },
  {
    name: "v5 PUBREC success with properties",
    version: 5,
    bytes: w`50 0b 00 08 00 07 26 00 01 "a" 00 01 "b"`,
    packet: {
      type: "pubrec",
      packetId: 8,
      reasonCode: 0,
      properties: { userProperties: [["a", "b"]] },
    },
  },
  {
    name: "v5 PUBREL short form",
    version: 5,
    bytes: w`62 02 00 09`,
    packet: { type: "pubrel", packetId: 9, reasonCode: 0 },
  },
  {
    name: "v5 PUBREL packet identifier not found with reason string",
    version: 5,
    bytes: w`62 0b 00 09 92 07 1f 00 04 "gone"`,
    packet: { type: "pubrel", packetId: 9, reasonCode: 0x92, properties: { reasonString: "gone" } },
  },
  {
    name: "v5 PUBCOMP short form",
    version: 5,
    bytes: w`70 02 01 0a`,
    packet: { type: "pubcomp", packetId: 266, reasonCode: 0 },
  },
  {
    name: "v5 PUBCOMP with reason code only",
    version: 5,
    bytes: w`70 03 01 0a 92`,
    packet: { type: "pubcomp", packetId: 266, reasonCode: 0x92 },
  },

  // ---------------------------------------------------------------- SUBSCRIBE
  ...before5("SUBSCRIBE two filters", w`82 0c 00 0a 00 03 "a/+" 01 00 01 "#" 00`, {
    type: "subscribe",
    packetId: 10,
    subscriptions: [{ topicFilter: "a/+", qos: 1 }, { topicFilter: "#", qos: 0 }],
  }),
  {
    name: "v4 SUBSCRIBE QoS 2",
    version: 4,
    bytes: w`82 0a 00 0b 00 05 "x/y/z" 02`,
    packet: { type: "subscribe", packetId: 11, subscriptions: [{ topicFilter: "x/y/z", qos: 2 }] },
  },
  {
    name: "v5 SUBSCRIBE minimal",
    version: 5,
    bytes: w`82 07 00 01 00 00 01 "t" 00`,
    packet: {
      type: "subscribe",
      packetId: 1,
      subscriptions: [{
        topicFilter: "t",
        qos: 0,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }],
    },
  },
  {
    name: "v5 SUBSCRIBE with subscription identifier, user property and every subscription option",
    version: 5,
    bytes: w`
      82 26 00 0c
      // Properties: 12 bytes.
      0c 0b ff ff ff 7f 26 00 01 "k" 00 01 "v"
      // QoS 1 + No Local.
      00 03 "a/+" 05
      // QoS 2 + Retain As Published + Retain Handling 2.
      00 0a "$share/g/x" 2a
      // QoS 0 + Retain Handling 1.
      00 01 "#" 10
    `,
    packet: {
      type: "subscribe",
      packetId: 12,
      subscriptions: [
        { topicFilter: "a/+", qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 0 },
        {
          topicFilter: "$share/g/x",
          qos: 2,
          noLocal: false,
          retainAsPublished: true,
          retainHandling: 2,
        },
        { topicFilter: "#", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 1 },
      ],
      properties: { subscriptionIdentifiers: [268435455], userProperties: [["k", "v"]] },
    },
  },

  // ---------------------------------------------------------------- SUBACK
  {
    name: "v3 SUBACK",
    version: 3,
    bytes: w`90 04 00 0a 01 00`,
    packet: { type: "suback", packetId: 10, reasonCodes: [1, 0] },
  },
  {
    name: "v4 SUBACK with a failure",
    version: 4,
    bytes: w`90 05 00 0b 02 80 00`,
    packet: { type: "suback", packetId: 11, reasonCodes: [2, 0x80, 0] },
  },
  {
    name: "v5 SUBACK without properties",
    version: 5,
    bytes: w`90 04 00 01 00 01`,
    packet: { type: "suback", packetId: 1, reasonCodes: [1] },
  },
  {
    name: "v5 SUBACK with reason string and several reason codes",
    version: 5,
    bytes: w`90 0e 00 0c 05 1f 00 02 "ok" 01 02 00 80 8f a2`,
    packet: {
      type: "suback",
      packetId: 12,
      reasonCodes: [0x01, 0x02, 0x00, 0x80, 0x8f, 0xa2],
      properties: { reasonString: "ok" },
    },
  },

  // ---------------------------------------------------------------- UNSUBSCRIBE
  {
    name: "v3 UNSUBSCRIBE",
    version: 3,
    bytes: w`a2 07 00 0b 00 03 "a/+"`,
    packet: { type: "unsubscribe", packetId: 11, topicFilters: ["a/+"] },
  },
  {
    name: "v4 UNSUBSCRIBE two filters",
    version: 4,
    bytes: w`a2 0a 00 0c 00 01 "a" 00 03 "b/#"`,
    packet: { type: "unsubscribe", packetId: 12, topicFilters: ["a", "b/#"] },
  },
  {
    name: "v5 UNSUBSCRIBE with user property",
    version: 5,
    bytes: w`a2 12 00 0d 07 26 00 01 "k" 00 01 "v" 00 03 "a/+" 00 01 "b"`,
    packet: {
      type: "unsubscribe",
      packetId: 13,
      topicFilters: ["a/+", "b"],
      properties: { userProperties: [["k", "v"]] },
    },
  },

  // ---------------------------------------------------------------- UNSUBACK
  ...before5("UNSUBACK", w`b0 02 00 0b`, { type: "unsuback", packetId: 11 }),
  {
    name: "v5 UNSUBACK with reason codes",
    version: 5,
    bytes: w`b0 05 00 0d 00 00 11`,
    packet: { type: "unsuback", packetId: 13, reasonCodes: [0x00, 0x11] },
  },
  {
    name: "v5 UNSUBACK with reason string",
    version: 5,
    bytes: w`b0 09 00 0e 05 1f 00 02 "no" 87`,
    packet: {
      type: "unsuback",
      packetId: 14,
      reasonCodes: [0x87],
      properties: { reasonString: "no" },
    },
  },

  // ---------------------------------------------------------------- PINGREQ, PINGRESP
  ...LEVELS.flatMap((version): Fixture[] => [
    { name: `v${version} PINGREQ`, version, bytes: w`c0 00`, packet: { type: "pingreq" } },
    { name: `v${version} PINGRESP`, version, bytes: w`d0 00`, packet: { type: "pingresp" } },
  ]),

  // ---------------------------------------------------------------- DISCONNECT
  ...before5("DISCONNECT", w`e0 00`, { type: "disconnect" }),
  {
    name: "v5 DISCONNECT short form (normal disconnection)",
    version: 5,
    bytes: w`e0 00`,
    packet: { type: "disconnect", reasonCode: 0 },
  },
  {
    name: "v5 DISCONNECT with reason code only",
    version: 5,
    bytes: w`e0 01 04`,
    packet: { type: "disconnect", reasonCode: 0x04 },
  },
  {
    name: "v5 DISCONNECT with every DISCONNECT property",
    version: 5,
    bytes: w`
      e0 21 9c 1f 11 00 00 00 00 1c 00 0a "other:1883" 1f 00 03 "bye" 26 00 01 "a" 00 01 "b"
    `,
    packet: {
      type: "disconnect",
      reasonCode: 0x9c,
      properties: {
        sessionExpiryInterval: 0,
        serverReference: "other:1883",
        reasonString: "bye",
        userProperties: [["a", "b"]],
      },
    },
  },

  // ---------------------------------------------------------------- AUTH
  {
    name: "v5 AUTH short form (success)",
    version: 5,
    bytes: w`f0 00`,
    packet: { type: "auth", reasonCode: 0 },
  },
  {
    name: "v5 AUTH continue authentication with every AUTH property",
    version: 5,
    bytes: w`
      f0 1f 18 1d 15 00 05 "SCRAM" 16 00 04 01 02 03 04 1f 00 04 "more" 26 00 01 "a" 00 01 "b"
    `,
    packet: {
      type: "auth",
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "SCRAM",
        authenticationData: w`01 02 03 04`,
        reasonString: "more",
        userProperties: [["a", "b"]],
      },
    },
  },
  {
    name: "v5 AUTH re-authenticate",
    version: 5,
    bytes: w`f0 0a 19 08 15 00 05 "SCRAM"`,
    packet: { type: "auth", reasonCode: 0x19, properties: { authenticationMethod: "SCRAM" } },
  },
];
