import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KeepAlive } from "./keep_alive.ts";

describe("KeepAlive", () => {
  test("[MQTT-3.1.2-20] PINGREQ is due one interval after the last packet sent", () => {
    const k = new KeepAlive(1000);
    k.start(0);
    k.received(500);
    k.sent(600);
    // the earlier of last sent (600) and last received (500) plus the interval
    assert.equal(k.deadline(), 1500);
    k.received(1400);
    assert.equal(k.deadline(), 1600);
    assert.equal(k.poll(1599), undefined);
    assert.equal(k.poll(1600), "pingreq");
  });

  test("a client that only sends still probes a silent server", () => {
    const k = new KeepAlive(1000);
    k.start(0);
    for (let t = 100; t < 1000; t += 100) k.sent(t);
    assert.equal(k.poll(999), undefined);
    assert.equal(k.poll(1000), "pingreq");
  });

  test("the connection is dead when nothing arrives within the timeout of a PINGREQ", () => {
    const k = new KeepAlive(1000, 300);
    k.start(0);
    k.sent(1000, true);
    assert.equal(k.pingOutstanding, true);
    assert.equal(k.deadline(), 1300);
    assert.equal(k.poll(1299), undefined);
    assert.equal(k.poll(1300), "dead");
  });

  test("any packet pushes death back; PINGRESP clears the ping", () => {
    const k = new KeepAlive(1000, 300);
    k.start(0);
    k.sent(1000, true);
    k.received(1200); // a PUBLISH: the server is alive
    assert.equal(k.deadline(), 1500);
    assert.equal(k.poll(1499), undefined);
    k.received(1450, true);
    assert.equal(k.pingOutstanding, false);
    assert.equal(k.deadline(), 2000);
  });

  test("a long timeout still sends a PINGREQ every interval after the last send", () => {
    const k = new KeepAlive(1000, 5000);
    k.start(0);
    k.sent(1000, true);
    assert.equal(k.deadline(), 2000);
    assert.equal(k.poll(2000), "pingreq");
    k.sent(2000, true);
    assert.equal(k.deadline(), 3000);
    k.sent(3000, true);
    k.sent(4000, true);
    k.sent(5000, true);
    // the first unanswered PINGREQ (at 1000) started the timeout
    assert.equal(k.deadline(), 6000);
    assert.equal(k.poll(6000), "dead");
  });

  test("an interval of 0 turns keep-alive off", () => {
    const k = new KeepAlive(0);
    k.start(0);
    assert.equal(k.deadline(), undefined);
    assert.equal(k.poll(1e12), undefined);
  });

  test("nothing is due before start or after stop", () => {
    const k = new KeepAlive(1000);
    assert.equal(k.deadline(), undefined);
    assert.equal(k.poll(5000), undefined);
    k.start(0);
    k.sent(1000, true);
    k.stop();
    assert.equal(k.pingOutstanding, false);
    assert.equal(k.poll(1e9), undefined);
  });

  test("[MQTT-3.2.2-21] start takes a new interval, and the timeout follows it", () => {
    const k = new KeepAlive(60_000, 1000);
    k.start(0, 5000);
    assert.equal(k.interval, 5000);
    assert.equal(k.timeout, 5000);
    k.start(0, 5000, 200);
    assert.equal(k.timeout, 200);
  });

  test("rejects negative or non-finite times", () => {
    assert.throws(() => new KeepAlive(-1), RangeError);
    assert.throws(() => new KeepAlive(1000, Number.NaN), RangeError);
  });
});
