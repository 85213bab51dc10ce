/**
 * Broker conformance scenarios, area "connect": CONNECT / CONNACK, client identifiers,
 * session takeover, keep alive and PINGREQ.
 *
 * @module
 */

import { defineScenario, rawPacket, rawString, type Scenario } from "./scenario.ts";
import { describePacket } from "./_raw_client.ts";

/** Raw CONNECT body: protocol name, level, flags, keep alive, (properties), client id. */
function connectBody(version: number, flags: number, clientId: string, level = version): number[] {
  return [
    ...rawString("MQTT"),
    level,
    flags,
    0,
    0,
    ...(version === 5 ? [0] : []),
    ...rawString(clientId),
  ];
}

/**
 * The "connect" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONNECT_SCENARIOS } from "./connect.ts";
 * assert.ok(CONNECT_SCENARIOS.every((s) => s.area === "connect"));
 * ```
 */
export const CONNECT_SCENARIOS: Scenario[] = [
  ...defineScenario({
    name: "connect.accepted-clean",
    ids: { 4: "MQTT-3.2.2-1", 5: "MQTT-3.2.2-2" },
    title: "A clean CONNECT is answered with CONNACK Success and Session Present 0",
    area: "connect",
    async run(ctx) {
      const client = await ctx.connect({ clean: true });
      ctx.check(!client.connack.sessionPresent, "Session Present is 1 on a clean connection");
    },
  }),
  ...defineScenario({
    name: "connect.first-packet-connect",
    ids: { 4: "MQTT-3.1.0-1", 5: "MQTT-3.1.0-1" },
    title: "A connection whose first packet is not CONNECT is closed",
    area: "connect",
    async run(ctx) {
      const client = await ctx.open();
      await client.send({ type: "pingreq" });
      const sent = await ctx.expectClosed(client, "PINGREQ before CONNECT");
      ctx.check(
        !sent.some((p) => p.type === "pingresp"),
        "the broker answered a PINGREQ sent before CONNECT",
      );
    },
  }),
  ...defineScenario({
    name: "connect.second-connect",
    ids: { 4: "MQTT-3.1.0-2", 5: "MQTT-3.1.0-2" },
    title: "A second CONNECT on a connection is a protocol violation: the connection is closed",
    area: "connect",
    async run(ctx) {
      const client = await ctx.connect();
      await client.send({
        type: "connect",
        protocolVersion: ctx.version,
        clientId: ctx.clientId(),
        clean: true,
        keepalive: 0,
      });
      await ctx.expectClosed(client, "second CONNECT");
    },
  }),
  ...defineScenario({
    name: "connect.unsupported-level",
    ids: { 4: "MQTT-3.1.2-2", 5: "MQTT-3.1.2-2" },
    title:
      "An unsupported protocol level gets CONNACK 0x01 (or 5.0's 0x84) and the connection is closed",
    area: "connect",
    async run(ctx) {
      const client = await ctx.open();
      await client.sendRaw(rawPacket(0x10, connectBody(ctx.version, 0x02, ctx.clientId(), 0x07)));
      await ctx.expectClosed(client, "protocol level 7");
      // Which CONNACK layout answers an unknown level is up to the broker: read the bytes.
      const got = [...client.receivedBytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      ctx.check(
        got === "20 02 00 01" || got.startsWith("20 03 00 84 00"),
        `expected CONNACK 0x01 (20 02 00 01) or 0x84 (20 03 00 84 00), got ${got || "nothing"}`,
      );
    },
  }),
  ...defineScenario({
    name: "connect.reserved-flag",
    ids: { 4: "MQTT-3.1.2-3", 5: "MQTT-3.1.2-3" },
    title: "A CONNECT with the reserved flag set is refused and the connection closed",
    area: "connect",
    async run(ctx) {
      const client = await ctx.open();
      await client.sendRaw(rawPacket(0x10, connectBody(ctx.version, 0x03, ctx.clientId())));
      const sent = await ctx.expectClosed(client, "reserved CONNECT flag");
      ctx.check(
        !sent.some((p) => p.type === "connack" && p.reasonCode === 0),
        "the broker accepted the connection",
      );
    },
  }),
  ...defineScenario({
    name: "connect.empty-id-persistent",
    ids: { 4: "MQTT-3.1.3-8" },
    title: "An empty client id with Clean Session 0 gets CONNACK 0x02 and is closed",
    area: "connect",
    async run(ctx) {
      const [client, connack] = await ctx.tryConnect({ clientId: "", clean: false });
      ctx.check(
        connack.reasonCode === 0x02,
        `expected CONNACK 0x02, got ${describePacket(connack)}`,
      );
      await ctx.expectClosed(client, "refused CONNECT");
    },
  }),
  ...defineScenario({
    name: "connect.empty-id-assigned",
    ids: { 4: "MQTT-3.1.3-6", 5: "MQTT-3.1.3-7" },
    title:
      "An empty client id with Clean Start is given a unique id (MQTT 5: Assigned Client Identifier)",
    area: "connect",
    async run(ctx) {
      const [client, connack] = await ctx.tryConnect({ clientId: "", clean: true });
      if (connack.reasonCode === 0x02 || connack.reasonCode === 0x85) {
        ctx.skip("not supported: the broker refuses empty client ids");
      }
      ctx.check(connack.reasonCode === 0, `CONNACK refused: ${describePacket(connack)}`);
      if (ctx.version === 5) {
        const assigned = connack.properties?.assignedClientIdentifier;
        ctx.check(
          typeof assigned === "string" && assigned.length > 0,
          "CONNACK has no Assigned Client Identifier",
        );
      }
      await client.send({ type: "pingreq" });
      await client.expect("pingresp");
    },
  }),
  ...defineScenario({
    name: "connect.takeover",
    ids: { 4: "MQTT-3.1.4-2", 5: "MQTT-3.1.4-3" },
    title: "A second connection with the same client id closes the first (MQTT 5: DISCONNECT 0x8E)",
    area: "connect",
    async run(ctx) {
      const clientId = ctx.clientId();
      const first = await ctx.connect({ clientId });
      const second = await ctx.connect({ clientId });
      const sent = await ctx.expectClosed(first, "the first connection");
      if (ctx.version === 5) {
        const disconnect = sent.find((p) => p.type === "disconnect");
        ctx.check(
          disconnect !== undefined && disconnect.reasonCode === 0x8e,
          `expected DISCONNECT 0x8E Session taken over, got ${
            disconnect ? describePacket(disconnect) : "no DISCONNECT"
          }`,
        );
      }
      await second.send({ type: "pingreq" });
      await second.expect("pingresp");
    },
  }),
  ...defineScenario({
    name: "connect.ping",
    ids: { 4: "MQTT-3.12.4-1", 5: "MQTT-3.12.4-1" },
    title: "PINGREQ is answered with PINGRESP",
    area: "connect",
    async run(ctx) {
      const client = await ctx.connect();
      for (let i = 0; i < 3; i++) {
        await client.send({ type: "pingreq" });
        await client.expect("pingresp");
      }
    },
  }),
  ...defineScenario({
    name: "connect.keep-alive",
    ids: { 4: "MQTT-3.1.2-24", 5: "MQTT-3.1.2-22" },
    title: "A client silent for 1.5 times its keep alive is disconnected",
    area: "connect",
    extraMs: 3_000,
    async run(ctx) {
      const started = Date.now();
      const client = await ctx.connect({ keepalive: 1 });
      const keepAlive = client.connack.properties?.serverKeepAlive ?? 1;
      if (keepAlive > 2) ctx.skip(`the broker imposes a keep alive of ${keepAlive} s`);
      const closed = await client.waitClosed(keepAlive * 1_500 + ctx.timeoutMs);
      const after = Date.now() - started;
      ctx.check(closed, `still connected ${after} ms after CONNECT with keep alive ${keepAlive} s`);
      ctx.check(after >= keepAlive * 1_000, `closed too early, after ${after} ms`);
    },
  }),
];
