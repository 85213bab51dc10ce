import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { RawClient } from "../broker/_test_client.ts";
import { startFaultProxy } from "./fault_proxy.ts";
import { startMosquitto } from "./mosquitto.ts";
import { PacketRecorder, type RecordedEntry, replay } from "./recorder.ts";
import { withBroker } from "./with_broker.ts";

const WAIT = 10_000;
const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;

const BINARY = new Uint8Array([0, 1, 2, 255]);
const SUBSCRIPTION = { noLocal: false, retainAsPublished: false, retainHandling: 0 } as const;

/**
 * A subscriber (MQTT 5) and a publisher (MQTT 3.1.1) through `url`: QoS 1 and QoS 2
 * flows both ways, MQTT 5 properties, binary payloads, unsubscribe, disconnects.
 */
async function scenario(url: string): Promise<void> {
  const [sub, subAck] = await RawClient.connect(url, { clientId: "rec-sub", protocolVersion: 5 });
  assert.equal(subAck.reasonCode, 0);
  await sub.send({
    type: "subscribe",
    packetId: 1,
    subscriptions: [{ topicFilter: "r/#", qos: 2, ...SUBSCRIPTION }],
  });
  assert.deepEqual((await sub.expect("suback")).reasonCodes, [2]);

  const [pub] = await RawClient.connect(url, { clientId: "rec-pub", protocolVersion: 4 });
  await pub.send({
    type: "publish",
    topic: "r/a",
    payload: BINARY,
    qos: 1,
    retain: false,
    dup: false,
    packetId: 1,
  });
  await pub.expect("puback");
  await pub.send({
    type: "publish",
    topic: "r/b",
    payload: new TextEncoder().encode("two"),
    qos: 2,
    retain: false,
    dup: false,
    packetId: 2,
  });
  await pub.expect("pubrec");
  await pub.send({ type: "pubrel", packetId: 2 });
  await pub.expect("pubcomp");
  await pub.send({ type: "disconnect" });
  await pub.untilEnded(WAIT);
  await pub.close();

  const first = await sub.expect("publish");
  await sub.send({ type: "puback", packetId: first.packetId!, reasonCode: 0 });
  const second = await sub.expect("publish");
  await sub.send({ type: "pubrec", packetId: second.packetId!, reasonCode: 0 });
  await sub.expect("pubrel");
  await sub.send({ type: "pubcomp", packetId: second.packetId!, reasonCode: 0 });
  await sub.send({
    type: "publish",
    topic: "r/props",
    payload: BINARY,
    qos: 1,
    retain: false,
    dup: false,
    packetId: 5,
    properties: {
      contentType: "application/octet-stream",
      correlationData: new Uint8Array([9, 8, 7]),
      userProperties: [["k", "v"], ["k", "w"]],
    },
  });
  // Its own message comes back (no No Local) besides the PUBACK, in either order.
  const answers = [await sub.next(), await sub.next()].map((p) => p.type).sort();
  assert.deepEqual(answers, ["puback", "publish"]);
  await sub.send({ type: "unsubscribe", packetId: 6, topicFilters: ["r/#"] });
  await sub.expect("unsuback");
  await sub.send({ type: "disconnect", reasonCode: 0 });
  await sub.untilEnded(WAIT);
  await sub.close();
}

/** Records {@link scenario} through a proxy in front of a tern broker. */
async function record(): Promise<PacketRecorder> {
  await using broker = await withBroker();
  await using proxy = await startFaultProxy({ upstream: broker.url });
  const recorder = new PacketRecorder();
  recorder.attach(proxy);
  await scenario(proxy.url);
  await broker.until(
    () => recorder.entries.filter((e) => e.event === "close").length === 2,
    { what: "both connections to close" },
  );
  return recorder;
}

describe("packet recorder", () => {
  test("records every packet both ways as JSON lines that round trip", async () => {
    const recorder = await record();
    const entries = recorder.entries;
    const kinds = entries.map((e) =>
      e.event === "packet"
        ? `${e.connection} ${e.direction[0]} ${e.packet?.type}`
        : `${e.connection} ${e.event}`
    );
    assert.deepEqual(kinds.filter((k) => k.startsWith("2 ")), [
      "2 open",
      "2 c connect",
      "2 s connack",
      "2 c publish",
      "2 s puback",
      "2 c publish",
      "2 s pubrec",
      "2 c pubrel",
      "2 s pubcomp",
      "2 c disconnect",
      "2 close",
    ]);
    assert.equal(kinds.filter((k) => k.startsWith("1 ")).length, 18);
    const times = entries.map((e) => e.at);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    assert.equal(times[0], 0);

    const jsonLines = recorder.toJsonLines();
    const lines = jsonLines.trimEnd().split("\n");
    assert.equal(lines.length, entries.length);
    const publishLine = lines.map((line) => JSON.parse(line)).find((e) =>
      e.packet?.type === "publish" && e.packet.topic === "r/a"
    );
    assert.equal(publishLine.packet.payload, "AAEC/w==");
    assert.match(publishLine.time, /^\d{4}-\d\d-\d\dT/);
    assert.ok(lines.some((line) => line.includes(`"correlationData":"CQgH"`)));
    assert.deepEqual(PacketRecorder.parse(jsonLines), entries);
  });

  test("parse names the line that is not an entry", () => {
    assert.throws(
      () => PacketRecorder.parse('{"event":"open","at":0,"connection":1}\n\nnot json\n'),
      {
        name: "TypeError",
        message: /^Cannot parse the recording as line 3 is not JSON/,
      },
    );
    assert.throws(() => PacketRecorder.parse('{"event":"packet","at":0,"connection":1}'), {
      name: "TypeError",
      message: /^Cannot parse the recording as line 1 is not a recording entry/,
    });
  });

  test("records undecodable bytes as base64 and replays them as they were", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const recorder = new PacketRecorder();
    recorder.attach(proxy);
    const [client] = await RawClient.connect(proxy.url, { clientId: "bad" });
    await client.sendRaw([0x30, 0x03, 0x00, 0x09, 0x61]);
    await client.untilEnded(WAIT);
    await client.close();
    await broker.until(() => recorder.entries.some((e) => e.event === "close"), {
      what: "the close",
    });
    const raw = recorder.entries.find((e) => e.event === "packet" && e.bytes !== undefined);
    assert.deepEqual(raw && raw.event === "packet" && raw.bytes, "MAMACWE=");

    await using fresh = await withBroker();
    const result = await replay(recorder.toJsonLines(), fresh.url, { timeout: WAIT });
    assert.deepEqual(result.mismatches, []);
    assert.equal(fresh.violations.length, 1);
    assert.equal(fresh.violations[0]!.clientId, "bad");
  });
});

describe("replay", () => {
  test("replays a recording against a fresh tern broker: same answers", async () => {
    const recorder = await record();
    await using broker = await withBroker({ strict: true });
    const result = await replay(recorder.toJsonLines(), broker.url, { timeout: WAIT });
    assert.deepEqual(result.mismatches, []);
    assert.equal(result.ok, true);
    const serverPackets = recorder.entries.filter((e) =>
      e.event === "packet" && e.direction === "server-to-client"
    );
    assert.equal(result.compared, serverPackets.length);
    assert.deepEqual(result.unexpected, []);
    assert.deepEqual(broker.violations, []);
  });

  test("reports where a broker answers differently", async () => {
    const recorder = await record();
    await using broker = await withBroker({ authorize: ({ action }) => action !== "subscribe" });
    const result = await replay(recorder.entries, broker.url, { timeout: 500 });
    assert.equal(result.ok, false);
    const first = result.mismatches[0]!;
    assert.equal(first.connection, 1);
    assert.equal(first.field, "reasonCodes");
    assert.deepEqual(first.expected, [2]);
    assert.deepEqual(first.actual, [0x87]);
    assert.match(first.message, /^connection 1: SUBACK reasonCodes expected \[2\], got \[135\]$/);
    // The subscriber then misses the messages it got in the recording.
    assert.ok(
      result.mismatches.some((m) =>
        m.field === "type" && m.expected === "publish" && m.actual === undefined
      ),
    );
  });

  test("follows the broker's own packet ids in the client's acknowledgements", async () => {
    const recorder = await record();
    // Shift the broker's packet ids in the recording: the replay must answer the real ones.
    const shifted: RecordedEntry[] = recorder.entries.map((entry) => {
      if (entry.event !== "packet" || entry.packet === undefined || entry.connection !== 1) {
        return entry;
      }
      const packet = entry.packet;
      const serverFlow = entry.direction === "server-to-client"
        ? packet.type === "publish" || packet.type === "pubrel"
        : packet.type === "puback" || packet.type === "pubrec" || packet.type === "pubcomp";
      if (!serverFlow || !("packetId" in packet) || packet.packetId === undefined) return entry;
      return { ...entry, packet: { ...packet, packetId: packet.packetId + 100 } } as RecordedEntry;
    });
    await using broker = await withBroker({ strict: true });
    const result = await replay(shifted, broker.url, { timeout: WAIT });
    assert.deepEqual(result.mismatches, []);
    assert.deepEqual(broker.violations, []);
  });

  test("replays a recording made against tern's broker against Mosquitto", {
    skip: !HAVE_MOSQUITTO,
  }, async () => {
    const recorder = await record();
    await using mosquitto = await startMosquitto();
    const result = await replay(recorder.toJsonLines(), mosquitto.url, { timeout: WAIT });
    assert.deepEqual(result.mismatches, []);
    assert.equal(result.ok, true);
  });
});
