import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import type { ProtocolVersion } from "../packet/types.ts";
import type { SessionAction } from "./actions.ts";
import { ClientSession } from "./client_session.ts";
import { connack, connected, serverPublish } from "./testdata/harness.ts";

/** The ProtocolError of the close action. */
function closeError(actions: SessionAction[]): ProtocolError {
  const close = actions.find((a) => a.type === "close");
  assert.ok(close?.type === "close" && close.error instanceof ProtocolError);
  return close.error;
}

/** A protocol violation by the server, the statement ids it breaks per version. */
interface Case {
  name: string;
  v5: string;
  v311: string | undefined;
  run(version: ProtocolVersion): SessionAction[];
}

const CASES: Case[] = [
  {
    name: "a second CONNACK",
    v5: "MQTT-3.2.0-2",
    v311: undefined,
    run: (protocolVersion) => connected({ protocolVersion }).session.handlePacket(connack(), 1),
  },
  {
    name: "Session Present after a clean start",
    v5: "MQTT-3.2.2-4",
    v311: "MQTT-3.2.2-1",
    run: (protocolVersion) => {
      const session = new ClientSession({ clientId: "a", clean: true, protocolVersion });
      session.connectPacket();
      return session.handlePacket(connack(true), 0);
    },
  },
  {
    name: "a SUBACK with the wrong number of return codes",
    v5: "MQTT-3.8.4-6",
    v311: "MQTT-3.8.4-5",
    run: (protocolVersion) => {
      const { session } = connected({ protocolVersion });
      session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 0 }] }, 0);
      return session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [0, 0] }, 0);
    },
  },
  {
    name: "an UNSUBACK with the Packet Identifier of a SUBSCRIBE",
    v5: "MQTT-3.10.4-5",
    v311: "MQTT-3.10.4-4",
    run: (protocolVersion) => {
      const { session } = connected({ protocolVersion });
      session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 0 }] }, 0);
      return session.handlePacket({ type: "unsuback", packetId: 1 }, 0);
    },
  },
  {
    name: "a Packet Identifier of an unfinished exchange reused at another QoS",
    v5: "MQTT-2.2.1-4",
    v311: "MQTT-2.3.1-4",
    run: (protocolVersion) => {
      const { session } = connected({ protocolVersion });
      session.handlePacket(serverPublish(5, 2), 0);
      return session.handlePacket(serverPublish(5, 1), 1);
    },
  },
];

describe("statement ids follow the protocol version", () => {
  for (const c of CASES) {
    test(`[${c.v5}] ${c.name} is a protocol error under MQTT 5.0`, () => {
      assert.equal(closeError(c.run(5)).statement, c.v5);
    });
    const label = c.v311 === undefined ? "(no statement id)" : `[${c.v311}]`;
    for (const version of [4, 3] as const) {
      test(`${label} ${c.name} is a protocol error under protocol level ${version}`, () => {
        assert.equal(closeError(c.run(version)).statement, c.v311);
      });
    }
  }
});
