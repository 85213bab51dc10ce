/**
 * The broker against independent clients over real sockets: MQTT.js (npm `mqtt`) over
 * TCP and WebSocket in 3.1.1 and 5.0, Mosquitto's command line clients (TCP and TLS) and
 * Python paho-mqtt (TCP and WebSocket). Well-behaved clients must leave no violation.
 * Tests needing a program that is not installed are skipped, saying why.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { startBroker } from "./start.ts";
import { generateTlsCerts } from "../testing/tls_certs.ts";
import {
  collect,
  connectJs,
  mosquittoClients,
  pahoMissing as whyPahoMissing,
  PYTHON,
  run,
  start,
  subscribed,
} from "./_interop.ts";

const { sub, pub, missing: mosquittoMissing } = mosquittoClients();
const pahoMissing = await whyPahoMissing();
for (const reason of [mosquittoMissing, pahoMissing]) {
  if (reason !== undefined) console.log(`interop_test: skipping tests because ${reason}`);
}

describe("MQTT.js", () => {
  for (const transport of ["tcp", "ws"] as const) {
    for (const protocolVersion of [4, 5] as const) {
      test(`QoS 0, 1 and 2 both ways, downgraded to the granted QoS (${transport}, MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"})`, async () => {
        await using broker = await startBroker({ port: 0, ws: { port: 0 } });
        const url = transport === "tcp" ? broker.url : broker.wsUrl!;
        const subscriber = await connectJs(url, { protocolVersion, clientId: "js-sub" });
        const publisher = await connectJs(url, { protocolVersion, clientId: "js-pub" });
        try {
          await subscriber.subscribeAsync({ "qos/full": { qos: 2 }, "qos/one": { qos: 1 } });
          const messages = collect(subscriber, 6);
          for (const qos of [0, 1, 2] as const) {
            await publisher.publishAsync("qos/full", `full ${qos}`, { qos });
            await publisher.publishAsync("qos/one", `one ${qos}`, { qos });
          }
          const got = (await messages).map(([topic, payload, packet]) =>
            `${topic} ${payload} ${packet.qos}`
          ).sort();
          assert.deepEqual(got, [
            "qos/full full 0 0",
            "qos/full full 1 1",
            "qos/full full 2 2",
            "qos/one one 0 0",
            "qos/one one 1 1",
            "qos/one one 2 1",
          ]);
        } finally {
          await subscriber.endAsync();
          await publisher.endAsync();
        }
        assert.deepEqual(broker.violations, []);
      });
    }
  }

  test("retained messages and wildcards", async () => {
    await using broker = await startBroker({ port: 0 });
    const publisher = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-pub" });
    await publisher.publishAsync("home/kitchen/temp", "21", { qos: 1, retain: true });
    await publisher.publishAsync("home/hall/temp", "18", { qos: 1, retain: true });
    const subscriber = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-sub" });
    try {
      const messages = collect(subscriber, 2);
      await subscriber.subscribeAsync("home/+/temp", { qos: 1 });
      const got = (await messages).map(([topic, payload, packet]) =>
        `${topic}=${payload} retain=${packet.retain}`
      ).sort();
      assert.deepEqual(got, ["home/hall/temp=18 retain=true", "home/kitchen/temp=21 retain=true"]);
    } finally {
      await subscriber.endAsync();
      await publisher.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  test("the will is published when a client's connection drops, not after a normal end", async () => {
    await using broker = await startBroker({ port: 0 });
    const watcher = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-watch" });
    await watcher.subscribeAsync("status/#", { qos: 1 });
    const polite = await connectJs(broker.url, {
      protocolVersion: 4,
      clientId: "polite",
      will: { topic: "status/polite", payload: "gone", qos: 1, retain: false },
    });
    await polite.endAsync();
    const dropped = await connectJs(broker.url, {
      protocolVersion: 4,
      clientId: "dropped",
      will: { topic: "status/dropped", payload: "gone", qos: 1, retain: false },
    });
    try {
      const wills = collect(watcher, 1);
      dropped.stream.destroy();
      assert.deepEqual((await wills).map(([topic]) => topic), ["status/dropped"]);
    } finally {
      await dropped.endAsync(true);
      await watcher.endAsync();
    }
  });

  test("session resumption: queued QoS 1 messages arrive in order after reconnecting", async () => {
    await using broker = await startBroker({ port: 0 });
    const options = {
      protocolVersion: 5 as const,
      clientId: "js-durable",
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const first = await connectJs(broker.url, options);
    await first.subscribeAsync("jobs", { qos: 1 });
    await first.endAsync();
    const publisher = await connectJs(broker.url, { protocolVersion: 4, clientId: "js-pub" });
    for (let i = 1; i <= 5; i++) await publisher.publishAsync("jobs", `job ${i}`, { qos: 1 });
    await publisher.endAsync();
    const second = mqtt.connect(broker.url, { ...options, reconnectPeriod: 0 });
    try {
      const messages = collect(second, 5);
      const connack = await new Promise<mqtt.IConnackPacket>((resolve) =>
        second.once("connect", resolve)
      );
      assert.equal(connack.sessionPresent, true);
      assert.deepEqual((await messages).map(([, payload]) => payload), [
        "job 1",
        "job 2",
        "job 3",
        "job 4",
        "job 5",
      ]);
    } finally {
      await second.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  test("shared subscriptions spread messages across the group; topic aliases both ways", async () => {
    await using broker = await startBroker({ port: 0 });
    const a = await connectJs(broker.url, {
      protocolVersion: 5,
      clientId: "js-a",
      properties: { topicAliasMaximum: 5 },
    });
    const b = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-b" });
    const publisher = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-pub" });
    try {
      await a.subscribeAsync("$share/workers/tasks/#", { qos: 1 });
      await b.subscribeAsync("$share/workers/tasks/#", { qos: 1 });
      const gotA = collect(a, 2);
      const gotB = collect(b, 2);
      for (let i = 0; i < 4; i++) {
        await publisher.publishAsync("tasks/long/topic/name", `${i}`, {
          qos: 1,
          properties: { topicAlias: 1 },
        });
      }
      const all = [...await gotA, ...await gotB];
      assert.deepEqual(all.map(([, payload]) => payload).sort(), ["0", "1", "2", "3"]);
      for (const [topic] of all) assert.equal(topic, "tasks/long/topic/name");
    } finally {
      await a.endAsync();
      await b.endAsync();
      await publisher.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });
});

describe("Mosquitto command line clients", { skip: mosquittoMissing ?? false }, () => {
  for (const version of ["mqttv311", "mqttv5"]) {
    test(`mosquitto_pub and mosquitto_sub at QoS 2 (${version})`, async () => {
      await using broker = await startBroker({ port: 0 });
      const port = String(broker.port);
      const receiver = start(sub, [
        "-p",
        port,
        "-V",
        version,
        "-q",
        "2",
        "-t",
        "m/#",
        "-C",
        "3",
        "-F",
        "%t %q %p",
      ]);
      await subscribed(broker, 1);
      for (const qos of ["0", "1", "2"]) {
        await run(pub, [
          "-p",
          port,
          "-V",
          version,
          "-q",
          qos,
          "-t",
          `m/${qos}`,
          "-m",
          `qos ${qos}`,
        ]);
      }
      assert.deepEqual((await receiver.output).trim().split("\n"), [
        "m/0 0 qos 0",
        "m/1 1 qos 1",
        "m/2 2 qos 2",
      ]);
      assert.deepEqual(broker.violations, []);
    });
  }

  test("retained message with the retain flag, and a will on an abnormal exit", async () => {
    await using broker = await startBroker({ port: 0 });
    const port = String(broker.port);
    await run(pub, ["-p", port, "-q", "1", "-r", "-t", "config/a", "-m", "kept"]);
    const retained = await run(sub, ["-p", port, "-t", "config/#", "-C", "1", "-F", "%r %t %p"]);
    assert.equal(retained.trim(), "1 config/a kept");
    const watcher = start(sub, [
      "-p",
      port,
      "-V",
      "mqttv5",
      "-t",
      "wills/#",
      "-C",
      "1",
      "-F",
      "%t %p",
    ]);
    await subscribed(broker, 1);
    const doomed = start(sub, [
      "-p",
      port,
      "-t",
      "nothing",
      "--will-topic",
      "wills/doomed",
      "--will-payload",
      "bye",
      "-i",
      "doomed",
    ]);
    await subscribed(broker, 2);
    doomed.child.kill("SIGKILL");
    await doomed.output;
    assert.equal((await watcher.output).trim(), "wills/doomed bye");
  });

  test("over TLS (mqtts) with a generated certificate authority", async () => {
    const certs = await generateTlsCerts();
    const dir = await mkdtemp(join(tmpdir(), "tern-broker-test-"));
    try {
      const caFile = join(dir, "ca.pem");
      await writeFile(caFile, certs.ca);
      await using broker = await startBroker({
        port: 0,
        tls: { port: 0, cert: certs.serverCert, key: certs.serverKey },
      });
      const port = String(broker.tlsPort);
      const receiver = start(sub, [
        "-h",
        "localhost",
        "-p",
        port,
        "--cafile",
        caFile,
        "-t",
        "secure",
        "-C",
        "1",
        "-q",
        "1",
      ]);
      await subscribed(broker, 1);
      await run(pub, [
        "-h",
        "localhost",
        "-p",
        port,
        "--cafile",
        caFile,
        "-t",
        "secure",
        "-m",
        "sealed",
        "-q",
        "1",
      ]);
      assert.equal((await receiver.output).trim(), "sealed");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const PAHO_SCRIPT = `
import sys, paho.mqtt.client as mqtt
transport, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
got = []
def on_message(client, userdata, message):
    got.append("%s %s %d %d" % (message.topic, message.payload.decode(), message.qos, message.retain))
    if len(got) == 3:
        client.disconnect()
def on_subscribe(client, userdata, mid, granted, properties=None):
    client.publish("py/a", "one", qos=1)
    client.publish("py/b", "two", qos=2)
def on_connect(client, userdata, flags, rc, properties=None):
    client.subscribe("py/#", qos=2)
client = mqtt.Client(client_id="paho", protocol=mqtt.MQTTv5, transport=transport)
if transport == "websockets":
    client.ws_set_options(path=path)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("127.0.0.1", port)
client.loop_forever()
print("\\n".join(sorted(got)))
`;

describe("Python paho-mqtt", { skip: pahoMissing ?? false }, () => {
  for (const transport of ["tcp", "websockets"] as const) {
    test(`MQTT 5 subscribe, QoS 1 and 2 publish, retained (${transport})`, async () => {
      await using broker = await startBroker({ port: 0, ws: { port: 0, path: "/mqtt" } });
      broker.broker.publish({ topic: "py/retained", payload: "kept", qos: 1, retain: true });
      const port = String(transport === "tcp" ? broker.port : broker.wsPort);
      const output = await run(PYTHON, ["-c", PAHO_SCRIPT, transport, port, "/mqtt"]);
      assert.deepEqual(output.trim().split("\n"), [
        "py/a one 1 0",
        "py/b two 2 0",
        "py/retained kept 1 1",
      ]);
      assert.deepEqual(broker.violations, []);
    });
  }
});
