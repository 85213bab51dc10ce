import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProtocolError } from "../errors.ts";
import { InboundTopicAliases, OutboundTopicAliases } from "./topic_alias.ts";

describe("OutboundTopicAliases", () => {
  test("[MQTT-3.2.2-18] gives no alias when the server's maximum is 0", () => {
    const aliases = new OutboundTopicAliases(0);
    assert.equal(aliases.assign("a"), undefined);
    assert.equal(aliases.assign("a", { peek: true }), undefined);
  });

  test("sends topic and alias first, then the alias alone", () => {
    const aliases = new OutboundTopicAliases(3);
    assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: true });
    assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: false });
    assert.deepEqual(aliases.assign("b"), { alias: 2, withTopic: true });
    assert.deepEqual(aliases.assign("b"), { alias: 2, withTopic: false });
  });

  test("[MQTT-3.3.2-9] never goes above the maximum: re-points the least recently used", () => {
    const aliases = new OutboundTopicAliases(2);
    aliases.assign("a"); // 1
    aliases.assign("b"); // 2
    aliases.assign("a"); // a is now the most recent
    assert.deepEqual(aliases.assign("c"), { alias: 2, withTopic: true }); // evicts b
    assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: false });
    assert.deepEqual(aliases.assign("b"), { alias: 2, withTopic: true }); // evicts c
    for (let i = 0; i < 100; i++) {
      const { alias } = aliases.assign(`t${i}`)!;
      assert.ok(alias >= 1 && alias <= 2);
    }
  });

  test("peek tells what assign would do without changing anything", () => {
    const aliases = new OutboundTopicAliases(1);
    assert.deepEqual(aliases.assign("a", { peek: true }), { alias: 1, withTopic: true });
    assert.deepEqual(aliases.assign("a", { peek: true }), { alias: 1, withTopic: true });
    aliases.assign("a");
    assert.deepEqual(aliases.assign("a", { peek: true }), { alias: 1, withTopic: false });
    assert.deepEqual(aliases.assign("b", { peek: true }), { alias: 1, withTopic: true });
    assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: false });
  });

  test("[MQTT-3.3.2-7] reset forgets the mapping of the last connection", () => {
    const aliases = new OutboundTopicAliases(5);
    aliases.assign("a");
    aliases.reset(5);
    assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: true });
    aliases.reset(0);
    assert.equal(aliases.assign("a"), undefined);
  });

  test("rejects a maximum out of range", () => {
    assert.throws(() => new OutboundTopicAliases(65536), RangeError);
    assert.throws(() => new OutboundTopicAliases(-1), RangeError);
  });
});

describe("InboundTopicAliases", () => {
  test("[MQTT-3.3.2-10] accepts every alias from 1 to our maximum", () => {
    const aliases = new InboundTopicAliases(3);
    assert.equal(aliases.resolve("x", 1), "x");
    assert.equal(aliases.resolve("y", 3), "y");
    assert.equal(aliases.resolve("", 1), "x");
    assert.equal(aliases.resolve("", 3), "y");
    // a topic with a known alias re-points it
    assert.equal(aliases.resolve("z", 1), "z");
    assert.equal(aliases.resolve("", 1), "z");
  });

  test("[MQTT-3.3.2-8] alias 0 is Topic Alias invalid (0x94)", () => {
    const aliases = new InboundTopicAliases(3);
    assert.throws(
      () => aliases.resolve("x", 0),
      (error) =>
        error instanceof ProtocolError && error.reasonCode === 0x94 &&
        error.statement === "MQTT-3.3.2-8",
    );
  });

  test("[MQTT-3.3.2-11] an alias above our maximum is Topic Alias invalid (0x94)", () => {
    const none = new InboundTopicAliases(0);
    assert.throws(() => none.resolve("x", 1), { reasonCode: 0x94, statement: "MQTT-3.3.2-11" });
    const two = new InboundTopicAliases(2);
    assert.throws(() => two.resolve("x", 3), { reasonCode: 0x94, statement: "MQTT-3.3.2-11" });
  });

  test("an empty topic with an unknown alias is a Protocol Error (0x82)", () => {
    const aliases = new InboundTopicAliases(2);
    assert.throws(() => aliases.resolve("", 2), { name: "ProtocolError", reasonCode: 0x82 });
  });

  test("an empty topic without an alias is a Protocol Error (0x82)", () => {
    const aliases = new InboundTopicAliases(2);
    assert.throws(() => aliases.resolve("", undefined), { reasonCode: 0x82 });
  });

  test("[MQTT-3.3.2-7] reset forgets every alias", () => {
    const aliases = new InboundTopicAliases(2);
    aliases.resolve("x", 1);
    aliases.reset();
    assert.throws(() => aliases.resolve("", 1), { reasonCode: 0x82 });
  });
});
