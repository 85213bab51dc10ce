import { describe, test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { bytes, RawClient, text } from "../broker/_test_client.ts";
import type { Packet, PublishPacket } from "../lib/packet/types.ts";
import { type ProxyEvent, startFaultProxy } from "./fault_proxy.ts";
import { withBroker } from "./with_broker.ts";

const WAIT = 10_000;

function publish(packetId: number | undefined, qos: 0 | 1 | 2, topic = "t"): PublishPacket {
  return {
    type: "publish",
    topic,
    payload: bytes(`m${packetId ?? 0}`),
    qos,
    retain: false,
    dup: false,
    ...(packetId === undefined ? {} : { packetId }),
  };
}

function ids(packets: Packet[]): Array<[string, number | undefined]> {
  return packets.map((p) => [p.type, "packetId" in p ? p.packetId : undefined]);
}

describe("fault proxy", () => {
  test("cuts after the 3rd PUBREC from the server", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const rule = proxy.on({ direction: "server-to-client", type: "pubrec", nth: 3 }, "cut-after");
    const [client, connack] = await RawClient.connect(proxy.url, { clientId: "q2" });
    await using _client = client;
    assert.equal(connack.reasonCode, 0);
    for (let id = 1; id <= 5; id++) await client.send(publish(id, 2));
    const received = await client.untilEnded(WAIT);
    assert.deepEqual(ids(received), [["pubrec", 1], ["pubrec", 2], ["pubrec", 3]]);
    await rule.untilApplied(1);
    assert.equal(rule.applied, 1);
    assert.ok(rule.matched >= 3);
    // The broker saw the connection drop (an abnormal close, not a DISCONNECT).
    await broker.until(() => broker.clients().length === 0, { what: "the broker to see the cut" });
    assert.equal(proxy.activeConnections, 0);
  });

  test("MQTT.js completes a QoS 2 publish exactly once across a cut after the PUBREC", async () => {
    await using broker = await withBroker({ strict: true });
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const [subscriber] = await RawClient.connect(broker.url, { clientId: "watch" });
    await using _subscriber = subscriber;
    await subscriber.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "q2", qos: 1 }],
    });
    await subscriber.expect("suback");
    const rule = proxy.on({ direction: "server-to-client", type: "pubrec", nth: 1 }, "cut-after");
    const client = await mqtt.connectAsync(proxy.url, {
      clientId: "mqttjs",
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 50,
      connectTimeout: WAIT,
    });
    try {
      await client.publishAsync("q2", "once", { qos: 2 });
    } finally {
      await client.endAsync();
    }
    assert.equal(rule.applied, 1);
    assert.ok(proxy.connections >= 2, "MQTT.js reconnected through the proxy");
    const delivered = await subscriber.expect("publish");
    assert.equal(text(delivered.payload), "once");
    await subscriber.send({ type: "puback", packetId: delivered.packetId! });
    await subscriber.send({ type: "pingreq" });
    await subscriber.expect("pingresp"); // no second copy before it
    assert.deepEqual(broker.violations, []);
  });

  test("cuts before a packet: the client never sees the CONNACK", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const closed = proxy.waitFor((e) => e.kind === "close");
    proxy.on({ direction: "server-to-client", type: "connack" }, "cut-before");
    await using client = await RawClient.open(proxy.url, 4);
    await client.send({
      type: "connect",
      protocolVersion: 4,
      clientId: "c",
      clean: true,
      keepalive: 0,
    });
    assert.deepEqual(await client.untilEnded(WAIT), []);
    assert.deepEqual(await closed, {
      kind: "close",
      connection: 1,
      time: (await closed).time,
      by: "proxy",
    });
  });

  test("drops the 1st PUBACK and lets the 2nd through", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const rule = proxy.on({ direction: "server-to-client", type: "puback", nth: 1 }, "drop");
    const [client] = await RawClient.connect(proxy.url, { clientId: "q1" });
    await using _client = client;
    await client.send(publish(1, 1));
    await client.send(publish(2, 1));
    assert.deepEqual(ids([await client.expect("puback")]), [["puback", 2]]);
    assert.equal(rule.applied, 1);
    assert.equal(rule.matched, 2);
    assert.deepEqual(client.received, []);
  });

  test("duplicates a PUBLISH from the client: the subscriber gets it three times", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const [subscriber] = await RawClient.connect(broker.url, { clientId: "sub" });
    await using _subscriber = subscriber;
    await subscriber.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "t", qos: 0 }],
    });
    await subscriber.expect("suback");
    const rule = proxy.on(
      {
        direction: "client-to-server",
        type: "publish",
        where: (p) => p.type === "publish" && p.qos === 0,
      },
      "duplicate",
      { copies: 3 },
    );
    const [client] = await RawClient.connect(proxy.url, { clientId: "pub" });
    await using _client = client;
    await client.send(publish(undefined, 0));
    for (let i = 0; i < 3; i++) assert.equal((await subscriber.expect("publish")).topic, "t");
    // A PINGREQ round trip on the subscriber shows nothing else was on its way.
    await client.send({ type: "pingreq" });
    await client.expect("pingresp");
    await subscriber.send({ type: "pingreq" });
    await subscriber.expect("pingresp");
    assert.equal(rule.applied, 1);
  });

  test("delays a packet and holds the ones behind it", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    proxy.on({ direction: "server-to-client", type: "pingresp", nth: 1 }, "delay", { ms: 300 });
    const [client] = await RawClient.connect(proxy.url, { clientId: "slow" });
    await using _client = client;
    const started = Date.now();
    await client.send({ type: "pingreq" });
    await client.send(publish(1, 1));
    await client.expect("pingresp");
    assert.ok(Date.now() - started >= 290, `the PINGRESP came after ${Date.now() - started} ms`);
    // Order is kept: the PUBACK sent after the PINGRESP still comes after it.
    assert.deepEqual(ids([await client.next()]), [["puback", 1]]);
  });

  test("reorders: the first PUBLISH reaches the broker after the second", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const rule = proxy.on({ direction: "client-to-server", type: "publish", nth: 1 }, "reorder");
    const [client] = await RawClient.connect(proxy.url, { clientId: "r" });
    await using _client = client;
    await client.send(publish(1, 1));
    await client.send(publish(2, 1));
    assert.deepEqual(ids([await client.next(), await client.next()]), [["puback", 2], [
      "puback",
      1,
    ]]);
    assert.equal(rule.applied, 1);
  });

  test("stalls one direction until resumed", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const [client] = await RawClient.connect(proxy.url, { clientId: "s" });
    await using _client = client;
    proxy.stall("server-to-client");
    assert.equal(proxy.isStalled("server-to-client"), true);
    assert.equal(proxy.isStalled("client-to-server"), false);
    const seen = proxy.on({ direction: "server-to-client", type: "pingresp" }, "pass");
    await client.send({ type: "pingreq" });
    await seen.untilApplied(1);
    // The PINGREQ went through (the other direction flows); the PINGRESP waits in the proxy.
    assert.deepEqual(client.received, []);
    const forwarded = proxy.waitFor((e) => e.kind === "packet" && e.packet?.type === "pingresp");
    proxy.resume("server-to-client");
    await client.expect("pingresp");
    await forwarded;
  });

  test("a stall rule holds a direction for a while from a chosen packet", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const rule = proxy.on({ direction: "client-to-server", type: "pingreq", nth: 1 }, "stall", {
      ms: 200,
    });
    const [client] = await RawClient.connect(proxy.url, { clientId: "s" });
    await using _client = client;
    const started = Date.now();
    await client.send({ type: "pingreq" });
    await rule.untilApplied(1);
    assert.equal(proxy.isStalled("client-to-server"), true);
    await client.expect("pingresp");
    assert.ok(Date.now() - started >= 190);
    assert.equal(proxy.isStalled("client-to-server"), false);
  });

  test("learns MQTT 5 from the CONNECT and decodes both ways at that level", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const events: ProxyEvent[] = [];
    proxy.observe((event) => events.push(event));
    const rule = proxy.on({
      direction: "server-to-client",
      type: "connack",
      where: (p) => p.type === "connack" && p.properties?.topicAliasMaximum === 10,
    }, "pass");
    const [client, connack] = await RawClient.connect(proxy.url, {
      clientId: "v5",
      protocolVersion: 5,
    });
    assert.equal(connack.reasonCode, 0);
    assert.equal(rule.applied, 1);
    const closed = proxy.waitFor((e) => e.kind === "close");
    await client.send({ type: "disconnect", reasonCode: 0x04 });
    await client.untilEnded(WAIT);
    assert.deepEqual(await closed, {
      kind: "close",
      connection: 1,
      time: (await closed).time,
      by: "server",
    });
    await client.close();
    const packets = events.flatMap((e) =>
      e.kind === "packet" ? [[e.direction, e.packet?.type, e.protocolVersion]] : []
    );
    assert.deepEqual(packets, [
      ["client-to-server", "connect", 5],
      ["server-to-client", "connack", 5],
      ["client-to-server", "disconnect", 5],
    ]);
    assert.deepEqual(events[0], { kind: "open", connection: 1, time: events[0]!.time });
  });

  test("passes malformed bytes through undecoded", async () => {
    await using broker = await withBroker();
    await using proxy = await startFaultProxy({ upstream: broker.url });
    const raw = proxy.waitFor((e) => e.kind === "packet" && e.packet === undefined);
    const [client] = await RawClient.connect(proxy.url, { clientId: "bad" });
    await using _client = client;
    await client.sendRaw([0x30, 0x03, 0x00, 0x09, 0x61]); // topic length runs past the packet
    await client.untilEnded(WAIT);
    const event = await raw;
    assert.ok(event.kind === "packet");
    assert.deepEqual([...event.bytes], [0x30, 0x03, 0x00, 0x09, 0x61]);
    assert.equal(broker.violations.length, 1);
  });

  test("rules can pick one connection; close() cuts every connection", async () => {
    await using broker = await withBroker();
    const proxy = await startFaultProxy({ upstream: broker.url });
    const rule = proxy.on({ connection: 2, type: "pingresp" }, "drop");
    const [first] = await RawClient.connect(proxy.url, { clientId: "one" });
    const [second] = await RawClient.connect(proxy.url, { clientId: "two" });
    await second.send({ type: "pingreq" });
    await first.send({ type: "pingreq" });
    await first.expect("pingresp");
    await rule.untilApplied(1);
    assert.equal(proxy.connections, 2);
    assert.equal(proxy.activeConnections, 2);
    await proxy.close();
    await first.untilEnded(WAIT);
    assert.deepEqual(await second.untilEnded(WAIT), []);
    assert.equal(proxy.activeConnections, 0);
    await assert.rejects(RawClient.open(proxy.url));
    await first.close();
    await second.close();
  });

  test("rejects bad rules with clear errors", async () => {
    await using proxy = await startFaultProxy({ upstream: "mqtt://127.0.0.1:1" });
    assert.throws(() => proxy.on({}, "explode" as "drop"), {
      name: "TypeError",
      message: /^Cannot add a proxy rule as 'action' must be one of pass, drop/,
    });
    assert.throws(() => proxy.on({ nth: 0 }, "drop"), {
      name: "RangeError",
      message: "Cannot add a proxy rule as 'nth' must be a positive integer: current value is 0",
    });
    assert.throws(() => proxy.on({}, "delay"), { name: "TypeError", message: /needs 'ms'/ });
    assert.throws(() => proxy.stall("sideways" as "client-to-server"), TypeError);
    const rule = proxy.on({ type: "publish" }, "drop");
    proxy.clearRules();
    assert.deepEqual(proxy.rules, []);
    assert.equal(rule.matched, 0);
  });

  test("an unreachable upstream closes the client connection", async () => {
    await using proxy = await startFaultProxy({ upstream: "mqtt://127.0.0.1:1" });
    await using client = await RawClient.open(proxy.url, 4);
    assert.deepEqual(await client.untilEnded(WAIT), []);
  });
});
