import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runClientConformance } from "./client_suite.ts";
import type { ConformanceReport } from "./broker_suite.ts";
import { CLIENT_SCENARIOS } from "./client_scenarios.ts";
import type { ClientAdapter } from "./client_adapter.ts";
import { ternAdapter } from "./adapters/tern.ts";
import { mqttjsAdapter } from "./adapters/mqttjs.ts";
import { MQTTJS_DEVIATIONS } from "./mqttjs_deviations.ts";
import { formatTable, toJUnitXml } from "./report.ts";
import { main, parseArgs } from "./main.ts";
import { RawClient } from "./_raw_client.ts";
import type { ReceivedMessage } from "./client_adapter.ts";

/**
 * A deliberately careless client on raw packets: one packet id for everything, no
 * acknowledgement waits, no PINGREQ, no reconnection, duplicates delivered, CONNACK limits
 * and topic aliases ignored. Every scenario it runs must catch it.
 */
const careless: ClientAdapter = {
  name: "careless",
  async connect(url, options) {
    const raw = await RawClient.open(url, { version: options.version, timeoutMs: 2_000 });
    await raw.send({
      type: "connect",
      protocolVersion: options.version,
      clientId: options.clientId,
      clean: options.clean,
      keepalive: options.keepalive,
      ...(options.version === 5 ? { properties: { topicAliasMaximum: 10 } } : {}),
    });
    await raw.expect("connack");
    const handlers: ((message: ReceivedMessage) => void)[] = [];
    const ok = options.version === 5 ? { reasonCode: 0 } : {};
    void (async () => {
      for (;;) {
        const packet = await raw.next(60_000).catch(() => undefined);
        if (packet === undefined) return;
        if (packet.type === "publish") {
          const { topic, payload, qos } = packet;
          for (const handler of handlers) handler({ topic, payload, qos, properties: {} });
          if (qos === 1) await raw.send({ type: "puback", packetId: packet.packetId!, ...ok });
          if (qos === 2) await raw.send({ type: "pubrec", packetId: packet.packetId!, ...ok });
        }
      }
    })();
    return {
      async publish(topic, payload, { qos, retain }) {
        await raw.send({
          type: "publish",
          topic,
          payload,
          qos,
          retain: retain ?? false,
          dup: false,
          ...(qos > 0 ? { packetId: 1 } : {}),
        });
      },
      async subscribe(filter, { qos, subscriptionIdentifier }) {
        await raw.send({
          type: "subscribe",
          packetId: 1,
          subscriptions: [
            options.version === 5
              ? {
                topicFilter: filter,
                qos,
                noLocal: false,
                retainAsPublished: false,
                retainHandling: 0,
              }
              : { topicFilter: filter, qos },
          ],
          ...(options.version === 5 && subscriptionIdentifier !== undefined
            ? { properties: { subscriptionIdentifiers: [subscriptionIdentifier] } }
            : {}),
        });
      },
      onMessage: (handler) => void handlers.push(handler),
      onDisconnect: () => {},
      disconnect: () => raw.close(),
      close: () => raw.close(),
    };
  },
};

/**
 * Scenarios tern's client is known to fail because of a client bug, as "name@version",
 * each with a comment naming the bug. Empty: tern's client passes the whole suite.
 */
const KNOWN_TERN_FAILURES: readonly string[] = [];

const key = (r: { name: string; version: number }) => `${r.name}@${r.version}`;

const failed = (report: ConformanceReport) =>
  report.results.filter((r) => r.outcome === "fail").map(key).sort();

describe("client conformance suite", () => {
  test("names every scenario after spec statements, uniquely per version", () => {
    const keys = CLIENT_SCENARIOS.map(key);
    assert.equal(new Set(keys).size, keys.length);
    for (const s of CLIENT_SCENARIOS) {
      assert.match(s.id, /^MQTT-\d+\.\d+\.\d+-\d+$/, `${key(s)} has id ${s.id}`);
    }
    assert.ok(CLIENT_SCENARIOS.filter((s) => s.version === 5).length >= 14);
  });

  test("rejects versions other than 4 and 5", async () => {
    await assert.rejects(
      runClientConformance(ternAdapter, { versions: [3 as 4] }),
      /'versions' must hold 4 or 5: current value is 3/,
    );
  });

  test("[conformance] tern's client passes every scenario", { timeout: 30_000 }, async () => {
    const report = await runClientConformance(ternAdapter);
    assert.equal(report.results.length, CLIENT_SCENARIOS.length);
    assert.deepEqual(failed(report), [...KNOWN_TERN_FAILURES].sort(), formatTable(report));
    assert.equal(report.suite, "client");
    assert.match(formatTable(report), /^Client conformance: client tern/);
  });

  test("[conformance] MQTT.js fails exactly its documented deviations", {
    timeout: 30_000,
  }, async () => {
    const report = await runClientConformance(mqttjsAdapter, { deviations: MQTTJS_DEVIATIONS });
    console.log(formatTable(report));
    assert.deepEqual(
      failed(report),
      MQTTJS_DEVIATIONS.map(key).sort(),
      formatTable(report),
    );
    for (const result of report.results.filter((r) => r.outcome === "fail")) {
      const deviation = MQTTJS_DEVIATIONS.find((d) => key(d) === key(result))!;
      assert.equal(result.id, deviation.id);
      assert.equal(result.deviation, deviation.why);
    }
  });

  test("a client that never connects fails every scenario, within bounded time", {
    timeout: 30_000,
  }, async () => {
    const mute: ClientAdapter = {
      name: "mute",
      connect: () => new Promise((_, reject) => setTimeout(() => reject(new Error("mute")), 50)),
    };
    const started = Date.now();
    const report = await runClientConformance(mute, { versions: [4], timeoutMs: 300 });
    assert.ok(report.results.length > 0);
    assert.ok(report.results.every((r) => r.outcome === "fail"), formatTable(report));
    assert.ok(Date.now() - started < 10_000);
    assert.match(toJUnitXml(report), /<testsuites name="MQTT client conformance"/);
    assert.match(toJUnitXml(report), /classname="client\.mqtt311\./);
  });

  test("every scenario catches a careless client", { timeout: 30_000 }, async () => {
    // Not this one: a careless client may still get through a short session unnoticed.
    const scenarios = CLIENT_SCENARIOS.filter((s) => s.name !== "connect.strict-broker");
    const report = await runClientConformance(careless, { scenarios, timeoutMs: 1_500 });
    assert.equal(report.results.length, scenarios.length);
    assert.deepEqual(
      report.results.filter((r) => r.outcome !== "fail").map(key),
      [],
      formatTable(report),
    );
  });

  test("the command line runs the client suite", { timeout: 30_000 }, async () => {
    assert.deepEqual(parseArgs(["client", "tern", "--v5"]).versions, [5]);
    assert.throws(() => parseArgs(["client", "paho"]), /the clients are: tern, mqttjs/);
    const printed: string[] = [];
    const status = await main(
      ["client", "mqttjs", "--only", "flow-control", "--deviations", "mqttjs"],
      { out: (text) => printed.push(text) },
    );
    assert.equal(status, 0, printed.join("\n"));
    assert.match(printed.join("\n"), /Client conformance: client mqttjs/);
    assert.match(printed.join("\n"), /known deviation/);
    const strict = await main(["client", "mqttjs", "--v5", "--only", "flow-control"], {
      out: () => {},
    });
    assert.equal(strict, 1);
    assert.equal(
      await main(["client", "tern", "--only", "publish.resend-pubrel"], {
        out: () => {},
      }),
      0,
    );
  });
});
