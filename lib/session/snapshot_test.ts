import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkSnapshot,
  decodeBase64,
  encodeBase64,
  propertiesFromJson,
  propertiesToJson,
  type SessionSnapshot,
} from "./snapshot.ts";

function valid(): SessionSnapshot {
  return {
    format: 1,
    protocolVersion: 5,
    clientId: "c",
    nextPacketId: 4,
    nextId: 9,
    outgoing: [
      { id: 1, topic: "a", payload: "", qos: 1, retain: false, phase: "publish", packetId: 1 },
      {
        id: 2,
        topic: "b",
        payload: "AQ==",
        qos: 2,
        retain: true,
        phase: "pubrel",
        packetId: 2,
        pubrecReasonCode: 0x10,
      },
      { id: 3, topic: "c", payload: "", qos: 2, retain: false, phase: "queued" },
    ],
    incoming: [{ packetId: 7, reasonCode: 0, pubrecSent: false }],
    subscriptions: [{
      subscription: { topicFilter: "x/#", qos: 2, noLocal: true },
      properties: { subscriptionIdentifiers: [5] },
    }],
  };
}

describe("base64", () => {
  test("round-trips any bytes, longer than one conversion chunk included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
      }),
    );
    const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    assert.deepEqual(decodeBase64(encodeBase64(big)), big);
  });

  test("encodes a view, not its whole buffer", () => {
    const view = new Uint8Array([9, 1, 2, 9]).subarray(1, 3);
    assert.equal(encodeBase64(view), "AQI=");
  });
});

describe("properties as JSON", () => {
  test("binary fields become base64 and come back", () => {
    const properties = {
      correlationData: new Uint8Array([1, 2, 3]),
      authenticationData: new Uint8Array([4]),
      userProperties: [["a", "1"], ["a", "2"]] as [string, string][],
      messageExpiryInterval: 10,
    };
    const json = propertiesToJson(properties);
    assert.deepEqual(json, {
      correlationData: "AQID",
      authenticationData: "BA==",
      userProperties: [["a", "1"], ["a", "2"]],
      messageExpiryInterval: 10,
    });
    assert.deepEqual(propertiesFromJson(JSON.parse(JSON.stringify(json))), properties);
  });
});

describe("checkSnapshot", () => {
  test("accepts a valid snapshot after a JSON round trip", () => {
    const snapshot = valid();
    assert.deepEqual(checkSnapshot(JSON.parse(JSON.stringify(snapshot))), snapshot);
  });

  const damage: [string, (s: Record<string, any>) => void, RegExp][] = [
    ["not an object", (s) => (s.outgoing = null), /'outgoing' must be an array/],
    ["format", (s) => (s.format = 2), /'format' must be 1/],
    ["protocol version", (s) => (s.protocolVersion = 6), /'protocolVersion' must be 3, 4 or 5/],
    ["next packet id", (s) => (s.nextPacketId = 0), /'nextPacketId' must be an integer from 1/],
    ["payload", (s) => (s.outgoing[0].payload = "%%"), /not base64/],
    ["qos 0 message", (s) => (s.outgoing[0].qos = 0), /'outgoing\[0\]\.qos' must be 1 or 2/],
    ["phase", (s) => (s.outgoing[0].phase = "sent"), /'outgoing\[0\]\.phase'/],
    ["missing packet id", (s) => delete s.outgoing[0].packetId, /'outgoing\[0\]\.packetId'/],
    ["queued with packet id", (s) => (s.outgoing[2].packetId = 3), /absent when queued/],
    ["duplicate packet id", (s) => (s.outgoing[1].packetId = 1), /must be unique/],
    ["duplicate id", (s) => (s.outgoing[1].id = 1), /'outgoing\[1\]\.id' must be unique/],
    ["qos 1 in pubrel", (s) => (s.outgoing[1].qos = 1), /be 2 in phase pubrel/],
    ["incoming flag", (s) => (s.incoming[0].pubrecSent = "yes"), /'incoming\[0\]\.pubrecSent'/],
    [
      "duplicate incoming",
      (s) => s.incoming.push({ packetId: 7, reasonCode: 0, pubrecSent: true }),
      /'incoming\[1\]\.packetId' must be unique/,
    ],
    ["filter", (s) => (s.subscriptions[0].subscription.topicFilter = ""), /topicFilter/],
  ];
  for (const [name, change, message] of damage) {
    test(`rejects a damaged snapshot: ${name}`, () => {
      const snapshot = valid() as unknown as Record<string, any>;
      change(snapshot);
      assert.throws(() => checkSnapshot(snapshot), { name: "TypeError", message });
    });
  }

  test("rejects what is not an object at all", () => {
    assert.throws(() => checkSnapshot("{}"), {
      name: "TypeError",
      message: /'snapshot' must be an object/,
    });
  });
});
