import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bytes, RawClient, text } from "../broker/_test_client.ts";
import { withBroker } from "./with_broker.ts";

const WAIT = 10_000;

describe("withBroker", () => {
  test("starts on free ports and stops on await using", async () => {
    let url: string;
    {
      await using broker = await withBroker({ ws: {} });
      url = broker.url;
      assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(broker.url, "mqtt://127.0.0.1:1883");
      assert.match(broker.wsUrl ?? "", /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
      assert.notEqual(broker.wsUrl, "ws://127.0.0.1:8080/mqtt");
      assert.equal(broker.tlsUrl, undefined);
      assert.equal(broker.clock, undefined);
      await using client = await RawClient.open(broker.wsUrl!, 4);
      await client.send({
        type: "connect",
        protocolVersion: 4,
        clientId: "ws",
        clean: true,
        keepalive: 0,
      });
      assert.equal((await client.expect("connack")).reasonCode, 0);
    }
    await assert.rejects(RawClient.open(url));
  });

  test("passes options through: strict mode and authentication", async () => {
    await using broker = await withBroker({
      strict: true,
      authenticate: ({ username }) => username === "alice",
    });
    const [refused, connack] = await RawClient.connect(broker.url, {
      clientId: "bob",
      username: "bob",
      protocolVersion: 5,
    });
    await refused.close();
    assert.equal(connack.reasonCode, 0x86);
    const [client, ok] = await RawClient.connect(broker.url, {
      clientId: "alice",
      username: "alice",
    });
    assert.equal(ok.reasonCode, 0);
    // Strict mode: a PUBACK for a packet id not in flight closes the connection.
    await client.send({ type: "puback", packetId: 9 });
    await client.untilEnded(WAIT);
    assert.equal(broker.violations.length, 1);
    assert.equal(broker.violations[0]!.clientId, "alice");
  });

  test("lists clients, sessions and subscriptions; injects and disconnects", async () => {
    await using broker = await withBroker();
    const [sub] = await RawClient.connect(broker.url, {
      clientId: "sub",
      protocolVersion: 5,
      username: "u",
      properties: { sessionExpiryInterval: 60 },
    });
    await using _sub = sub;
    await sub.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        { topicFilter: "a/+", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        {
          topicFilter: "$share/g/b/#",
          qos: 0,
          noLocal: false,
          retainAsPublished: true,
          retainHandling: 0,
        },
      ],
      properties: { subscriptionIdentifiers: [7] },
    });
    assert.deepEqual((await sub.expect("suback")).reasonCodes, [1, 0]);
    const [other] = await RawClient.connect(broker.url, { clientId: "other" });
    await using _other = other;

    const clients = broker.clients().sort((a, b) => a.clientId.localeCompare(b.clientId));
    assert.deepEqual(clients.map((c) => [c.clientId, c.protocolVersion, c.username]), [
      ["other", 4, undefined],
      ["sub", 5, "u"],
    ]);
    assert.match(clients[0]!.remoteAddress ?? "", /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(broker.session("sub"), {
      clientId: "sub",
      online: true,
      expiryInterval: 60,
      subscriptions: ["a/+", "$share/g/b/#"],
      queued: 0,
      inflight: 0,
      dropped: 0,
      willPending: false,
    });
    assert.deepEqual(broker.subscriptions("sub"), [
      {
        clientId: "sub",
        topicFilter: "a/+",
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        identifier: 7,
      },
      {
        clientId: "sub",
        topicFilter: "$share/g/b/#",
        qos: 0,
        group: "g",
        noLocal: false,
        retainAsPublished: true,
        identifier: 7,
      },
    ]);
    assert.deepEqual(broker.subscriptions("other"), []);
    assert.equal(broker.subscriptions().length, 2);

    assert.equal(broker.inject({ topic: "a/x", payload: "hi", qos: 1, retain: true }), 1);
    const publish = await sub.expect("publish");
    assert.equal(publish.topic, "a/x");
    assert.equal(text(publish.payload), "hi");
    assert.deepEqual(publish.properties?.subscriptionIdentifiers, [7]);
    assert.equal(broker.session("sub")?.inflight, 1);
    broker.inject({ topic: "z", payload: bytes("zz"), retain: true });
    assert.deepEqual(broker.retained().map((m) => m.topic), ["a/x", "z"]);
    assert.deepEqual(broker.retained("a/#").map((m) => text(m.payload)), ["hi"]);

    assert.equal(broker.disconnect("sub", { reasonCode: 0x8e }), true);
    const [disconnect] = await sub.untilEnded(WAIT);
    assert.deepEqual(disconnect, { type: "disconnect", reasonCode: 0x8e });
    assert.equal(broker.disconnect("sub"), false);
    assert.equal(broker.disconnect("nobody"), false);
    await broker.until(() => broker.clients().length === 1, { what: "sub to go" });
    assert.equal(broker.session("sub")?.online, false);
    assert.throws(() => broker.disconnect("other", { reasonCode: 300 }), RangeError);
  });

  test("advance() needs a virtual clock", async () => {
    await using broker = await withBroker();
    assert.throws(() => broker.advance(1_000), {
      name: "TypeError",
      message: /Cannot advance the clock/,
    });
  });
});

describe("withBroker on a virtual clock", () => {
  test("[MQTT-3.1.3-9] a will delay of one hour fires when the clock is advanced, without waiting", async () => {
    const started = Date.now();
    await using broker = await withBroker({ virtualClock: true });
    assert.ok(broker.clock !== undefined);
    const [watcher] = await RawClient.connect(broker.url, {
      clientId: "watcher",
      protocolVersion: 5,
    });
    await using _watcher = watcher;
    await watcher.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        {
          topicFilter: "wills/#",
          qos: 1,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        },
      ],
    });
    await watcher.expect("suback");
    const [dying] = await RawClient.connect(broker.url, {
      clientId: "dying",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 7_200 },
      will: {
        topic: "wills/dying",
        payload: bytes("gone"),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: 3_600 },
      },
    });
    // Without DISCONNECT: the will is due, after its delay.
    await dying.close();
    await broker.until(() => broker.session("dying")?.willPending === true, {
      what: "the delayed will",
    });

    broker.advance(3_599_000);
    assert.equal(broker.session("dying")?.willPending, true);
    assert.deepEqual(watcher.received, []);

    broker.advance(1_000);
    const will = await watcher.expect("publish");
    assert.equal(will.topic, "wills/dying");
    assert.equal(text(will.payload), "gone");
    assert.equal(broker.session("dying")?.willPending, false);
    assert.ok(Date.now() - started < 60_000, "an hour of broker time took well under a minute");
  });

  test("[MQTT-3.1.2-24] keep alive expires when the clock moves past 1.5 times the interval", async () => {
    await using broker = await withBroker({ virtualClock: true });
    const [client] = await RawClient.connect(broker.url, {
      clientId: "idle",
      protocolVersion: 4,
      keepalive: 10,
      will: { topic: "wills/idle", payload: bytes("timeout"), qos: 0, retain: true },
    });
    await using _client = client;
    broker.advance(14_000);
    assert.equal(client.isEnded, false);
    assert.equal(broker.clients().length, 1);
    broker.advance(1_000);
    await client.untilEnded(WAIT);
    assert.deepEqual(broker.retained().map((m) => [m.topic, text(m.payload)]), [[
      "wills/idle",
      "timeout",
    ]]);
  });

  test("[MQTT-4.1.0-2] a session expires when the clock passes its expiry interval", async () => {
    await using broker = await withBroker({ virtualClock: true });
    const [client] = await RawClient.connect(broker.url, {
      clientId: "brief",
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
    });
    await client.send({ type: "disconnect", reasonCode: 0 });
    await client.untilEnded(WAIT);
    await broker.until(() => broker.session("brief")?.online === false, {
      what: "the session to go offline",
    });
    broker.advance(59_999);
    assert.equal(broker.sessions().length, 1);
    broker.advance(1);
    assert.deepEqual(broker.sessions(), []);
  });

  test("[MQTT-3.3.2-5] a queued message expires with the clock", async () => {
    await using broker = await withBroker({ virtualClock: true });
    const options = {
      clientId: "late",
      protocolVersion: 5 as const,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    };
    const [first] = await RawClient.connect(broker.url, options);
    await first.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{
        topicFilter: "news",
        qos: 1,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 0,
      }],
    });
    await first.expect("suback");
    await first.send({ type: "disconnect", reasonCode: 0 });
    await first.untilEnded(WAIT);
    await broker.until(() => broker.session("late")?.online === false, {
      what: "the session to go offline",
    });
    broker.inject({
      topic: "news",
      payload: "stale",
      qos: 1,
      properties: { messageExpiryInterval: 10 },
    });
    broker.inject({
      topic: "news",
      payload: "fresh",
      qos: 1,
      properties: { messageExpiryInterval: 100 },
    });
    assert.equal(broker.session("late")?.queued, 2);
    broker.advance(11_000);
    const [second, connack] = await RawClient.connect(broker.url, options);
    await using _second = second;
    assert.equal(connack.sessionPresent, true);
    const publish = await second.expect("publish");
    assert.equal(text(publish.payload), "fresh");
    assert.equal(publish.properties?.messageExpiryInterval, 89);
  });
});
