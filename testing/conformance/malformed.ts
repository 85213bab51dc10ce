/**
 * Broker conformance scenarios, area "malformed": packets that break the encoding rules
 * (written byte by byte, as tern's encoder refuses them) must make the broker close the
 * connection without acting on them.
 *
 * @module
 */

import {
  defineScenario,
  rawPacket,
  rawString,
  type Scenario,
  type ScenarioContext,
  utf8,
} from "./scenario.ts";

/** The properties-length byte MQTT 5 bodies carry, and nothing before 5.0. */
function props(ctx: ScenarioContext): number[] {
  return ctx.version === 5 ? [0] : [];
}

/** A scenario: connect, send `bytes(ctx)`, expect the connection closed and nothing granted. */
function closes(
  name: string,
  ids: { 4?: string; 5?: string },
  title: string,
  bytes: (ctx: ScenarioContext) => Uint8Array,
): Scenario[] {
  return defineScenario({
    name: `malformed.${name}`,
    ids,
    title,
    area: "malformed",
    async run(ctx) {
      const client = await ctx.connect();
      await client.sendRaw(bytes(ctx));
      const sent = await ctx.expectClosed(client, "the packet");
      const granted = sent.find((p) =>
        (p.type === "puback" || p.type === "pubrec") && (p.reasonCode ?? 0) < 0x80 ||
        p.type === "suback" && p.reasonCodes.some((code) => code < 0x80) ||
        p.type === "unsuback" || p.type === "pubcomp"
      );
      ctx.check(granted === undefined, `the broker acted on the packet: it sent ${granted?.type}`);
    },
  });
}

/**
 * The "malformed" scenarios.
 *
 * @example List them
 * ```ts
 * import assert from "node:assert/strict";
 * import { MALFORMED_SCENARIOS } from "./malformed.ts";
 * assert.ok(MALFORMED_SCENARIOS.every((s) => s.area === "malformed"));
 * ```
 */
export const MALFORMED_SCENARIOS: Scenario[] = [
  ...closes(
    "publish-qos3",
    { 4: "MQTT-3.3.1-4", 5: "MQTT-3.3.1-4" },
    "A PUBLISH with both QoS bits set closes the connection",
    (ctx) => rawPacket(0x36, [...rawString(ctx.topic()), 0, 1, ...props(ctx), 0x78]),
  ),
  ...closes(
    "publish-dup-qos0",
    { 4: "MQTT-3.3.1-2", 5: "MQTT-3.3.1-2" },
    "A QoS 0 PUBLISH with DUP set closes the connection",
    (ctx) => rawPacket(0x38, [...rawString(ctx.topic()), ...props(ctx), 0x78]),
  ),
  ...closes(
    "publish-wildcard-topic",
    { 4: "MQTT-3.3.2-2", 5: "MQTT-3.3.2-2" },
    "A PUBLISH whose topic contains a wildcard closes the connection",
    (ctx) => rawPacket(0x32, [...rawString(`${ctx.topic()}/+`), 0, 1, ...props(ctx), 0x78]),
  ),
  ...closes(
    "publish-invalid-utf8",
    { 4: "MQTT-1.5.3-1", 5: "MQTT-1.5.4-1" },
    "A PUBLISH topic that is not well-formed UTF-8 closes the connection",
    (ctx) =>
      rawPacket(0x32, [
        ...rawString([...utf8(ctx.topic()), 0xc3, 0x28]),
        0,
        1,
        ...props(ctx),
        0x78,
      ]),
  ),
  ...closes(
    "publish-null-char",
    { 4: "MQTT-1.5.3-2", 5: "MQTT-1.5.4-2" },
    "A PUBLISH topic containing U+0000 closes the connection",
    (ctx) =>
      rawPacket(0x32, [...rawString([...utf8(ctx.topic()), 0, 0x61]), 0, 1, ...props(ctx), 0x78]),
  ),
  ...closes(
    "subscribe-flags",
    { 4: "MQTT-3.8.1-1", 5: "MQTT-3.8.1-1" },
    "A SUBSCRIBE with fixed header flags other than 0010 closes the connection",
    (ctx) => rawPacket(0x80, [0, 1, ...props(ctx), ...rawString(ctx.topic()), 0]),
  ),
  ...closes(
    "subscribe-packet-id-0",
    { 4: "MQTT-2.3.1-1", 5: "MQTT-2.2.1-3" },
    "A SUBSCRIBE with packet identifier 0 closes the connection",
    (ctx) => rawPacket(0x82, [0, 0, ...props(ctx), ...rawString(ctx.topic()), 0]),
  ),
  ...closes(
    "subscribe-no-filter",
    { 4: "MQTT-3.8.3-3", 5: "MQTT-3.8.3-2" },
    "A SUBSCRIBE without any topic filter closes the connection",
    (ctx) => rawPacket(0x82, [0, 1, ...props(ctx)]),
  ),
  ...closes(
    "subscribe-options-reserved",
    { 4: "MQTT-3.8.3-4", 5: "MQTT-3.8.3-5" },
    "A SUBSCRIBE with reserved bits set in its options byte closes the connection",
    (ctx) => rawPacket(0x82, [0, 1, ...props(ctx), ...rawString(ctx.topic()), 0xc1]),
  ),
  ...closes(
    "unsubscribe-flags",
    { 4: "MQTT-3.10.1-1", 5: "MQTT-3.10.1-1" },
    "An UNSUBSCRIBE with fixed header flags other than 0010 closes the connection",
    (ctx) => rawPacket(0xa0, [0, 1, ...props(ctx), ...rawString(ctx.topic())]),
  ),
  ...closes(
    "pubrel-flags",
    { 4: "MQTT-3.6.1-1", 5: "MQTT-3.6.1-1" },
    "A PUBREL with fixed header flags other than 0010 closes the connection",
    () => rawPacket(0x60, [0, 1]),
  ),
  ...defineScenario({
    name: "malformed.password-without-username",
    ids: { 4: "MQTT-3.1.2-22" },
    title: "A CONNECT with a password but no user name is refused and closed",
    area: "malformed",
    async run(ctx) {
      const client = await ctx.open();
      const body = [
        ...rawString("MQTT"),
        4,
        0x42,
        0,
        0,
        ...rawString(ctx.clientId()),
        ...rawString("pw"),
      ];
      await client.sendRaw(rawPacket(0x10, body));
      const sent = await ctx.expectClosed(client, "password without user name");
      ctx.check(
        !sent.some((p) => p.type === "connack" && p.reasonCode === 0),
        "the broker accepted the connection",
      );
    },
  }),
];
