/**
 * `$SYS/broker/...` topics: published at start and every `sysInterval` seconds on the
 * broker's clock, retained, reflecting the broker's counters, and not matched by a
 * leading wildcard.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import { resolveBrokerOptions } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { BROKER_VERSION, SYS_TOPICS } from "./sys_topics.ts";
import { HandClient, text } from "./_test_client.ts";

function values(client: HandClient): Map<string, string> {
  return new Map(client.publishes().map((p) => [p.topic, text(p.payload)]));
}

describe("$SYS topics", () => {
  test("none unless sysInterval is set", async () => {
    await using broker = new Broker({ clock: new ManualClock(0) });
    assert.equal(broker.stats.retainedMessages, 0);
    assert.equal(resolveBrokerOptions({}).sysInterval, 0);
    assert.throws(() => new Broker({ sysInterval: -1 }), RangeError);
  });

  test("are retained: a new subscriber to $SYS/# gets every topic at once", async () => {
    const clock = new ManualClock(0);
    await using broker = new Broker({ clock, sysInterval: 10 });
    const [client] = HandClient.connect(broker, { clientId: "dash" });
    client.subscribe([{ topicFilter: "$SYS/#", qos: 0 }]);
    const got = values(client);
    assert.deepEqual([...got.keys()].sort(), Object.values(SYS_TOPICS).sort());
    assert.equal(got.get(SYS_TOPICS.version), BROKER_VERSION);
    assert.equal(got.get(SYS_TOPICS.uptime), "0 seconds");
    assert.equal(got.get(SYS_TOPICS.retainedCount), String(Object.keys(SYS_TOPICS).length));
  });

  test("[MQTT-4.7.2-1] are not matched by a leading wildcard", async () => {
    const clock = new ManualClock(0);
    await using broker = new Broker({ clock, sysInterval: 1 });
    const [client] = HandClient.connect(broker, { clientId: "all" });
    client.subscribe([{ topicFilter: "#", qos: 0 }, { topicFilter: "+/broker/#", qos: 0 }]);
    clock.advance(3_000);
    assert.deepEqual(client.take(), []);
  });

  test("follow the counters every interval, publishing only what changed", async () => {
    const clock = new ManualClock(0);
    await using broker = new Broker({ clock, sysInterval: 5 });
    const [dash] = HandClient.connect(broker, { clientId: "dash" });
    dash.subscribe([{ topicFilter: "$SYS/broker/#", qos: 0 }]);
    dash.take();
    const [other] = HandClient.connect(broker, { clientId: "other" });
    other.subscribe([{ topicFilter: "x", qos: 0 }]);
    other.publish("x", "hello");
    other.take();
    clock.advance(4_999);
    assert.deepEqual(dash.take(), [], "nothing before the interval");
    clock.advance(1);
    const got = values(dash);
    assert.equal(got.get(SYS_TOPICS.uptime), "5 seconds");
    assert.equal(got.get(SYS_TOPICS.clientsConnected), "2");
    assert.equal(got.get(SYS_TOPICS.clientsTotal), "2");
    assert.equal(got.get(SYS_TOPICS.messagesReceived), "1");
    assert.equal(got.get(SYS_TOPICS.subscriptionsCount), "2");
    assert.equal(got.has(SYS_TOPICS.version), false, "unchanged values are not re-published");
    for (const packet of dash.take()) assert.equal(packet.type, "publish");
    other.send({ type: "disconnect" });
    clock.advance(5_000);
    const later = values(dash);
    assert.equal(later.get(SYS_TOPICS.uptime), "10 seconds");
    assert.equal(later.get(SYS_TOPICS.clientsConnected), "1");
  });

  test("stop when the broker closes", async () => {
    const clock = new ManualClock(0);
    const broker = new Broker({ clock, sysInterval: 1 });
    const [dash] = HandClient.connect(broker, { clientId: "dash" });
    dash.subscribe([{ topicFilter: "$SYS/broker/uptime", qos: 0 }]);
    dash.take();
    await broker.close();
    assert.equal(clock.pending, 0);
  });
});
