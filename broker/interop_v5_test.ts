/**
 * MQTT 5 features and access control against independent clients over real sockets:
 * ACL denials seen by MQTT.js (3.1.1 and 5.0) and Mosquitto's command line clients, will
 * delay with MQTT.js and with Python paho-mqtt watched by mosquitto_sub, message expiry and topic aliases with MQTT.js v5, enhanced
 * authentication with MQTT.js, and `$SYS` topics read by mosquitto_sub.
 * Tests needing a program that is not installed are skipped, saying why.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import type mqtt from "mqtt";
import { startBroker } from "./start.ts";
import type { Authorize } from "./options.ts";
import { ManualClock } from "./scheduler.ts";
import { BROKER_VERSION } from "./sys_topics.ts";
import { eventually } from "./_test_client.ts";
import {
  collect,
  connectJs,
  mosquittoClients,
  pahoMissing as whyPahoMissing,
  PYTHON,
  run,
  runProgram,
  start,
  subscribed,
  TIMEOUT,
} from "./_interop.ts";

const { sub, pub, missing: mosquittoMissing } = mosquittoClients();
const pahoMissing = await whyPahoMissing();
for (const reason of [mosquittoMissing, pahoMissing]) {
  if (reason !== undefined) console.log(`interop_v5_test: skipping tests because ${reason}`);
}

/** Everyone may use "open/#"; nobody may publish or subscribe under "secret/". */
const authorize: Authorize = ({ topic }) => !topic.startsWith("secret/");

describe("ACL denials", () => {
  test("MQTT.js v5: a denied QoS 1 publish gets PUBACK 0x87, a denied subscription SUBACK 0x87", async () => {
    await using broker = await startBroker({ port: 0, authorize });
    const client = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-acl" });
    try {
      await assert.rejects(
        client.subscribeAsync({ "open/#": { qos: 1 }, "secret/#": { qos: 1 } }),
        (error: Error & { packet?: { granted?: unknown[] } }) => {
          assert.deepEqual(error.packet?.granted, [1, 0x87]);
          return true;
        },
      );
      await assert.rejects(client.publishAsync("secret/plans", "x", { qos: 1 }), (error: Error) => {
        assert.equal((error as Error & { code?: number }).code, 0x87);
        return true;
      });
      const messages = collect(client, 1);
      await client.publishAsync("open/news", "allowed", { qos: 1 });
      assert.deepEqual((await messages).map(([topic]) => topic), ["open/news"]);
    } finally {
      await client.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  test("MQTT.js 3.1.1: a denied subscription gets failure code 0x80; a denied publish is acknowledged and dropped", async () => {
    await using broker = await startBroker({ port: 0, authorize });
    const watcher = await connectJs(broker.url, { protocolVersion: 5, clientId: "js-all" });
    const client = await connectJs(broker.url, { protocolVersion: 4, clientId: "js-acl-4" });
    try {
      await watcher.subscribeAsync("#", { qos: 1 });
      await assert.rejects(
        client.subscribeAsync({ "open/#": { qos: 1 }, "secret/#": { qos: 1 } }),
        (error: Error & { packet?: { granted?: unknown[] } }) => {
          assert.deepEqual(error.packet?.granted, [1, 0x80]);
          return true;
        },
      );
      const seen = collect(watcher, 1);
      await client.publishAsync("secret/plans", "dropped", { qos: 1 }); // PUBACK, no error
      await client.publishAsync("open/news", "kept", { qos: 1 });
      assert.deepEqual((await seen).map(([topic]) => topic), ["open/news"]);
    } finally {
      await client.endAsync();
      await watcher.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  describe("Mosquitto command line clients", { skip: mosquittoMissing ?? false }, () => {
    test("mosquitto_sub is told its subscription was denied; mosquitto_pub v5 sees Not authorized", async () => {
      await using broker = await startBroker({ port: 0, authorize });
      const port = String(broker.port);
      const denied = await runProgram(sub, [
        "-p",
        port,
        "-V",
        "mqttv5",
        "-t",
        "secret/#",
        "-C",
        "1",
      ]);
      assert.match(denied.stdout + denied.stderr, /denied|not authori[sz]ed/i);
      const published = await runProgram(pub, [
        "-p",
        port,
        "-V",
        "mqttv5",
        "-q",
        "1",
        "-t",
        "secret/x",
        "-m",
        "x",
      ]);
      assert.match(published.stdout + published.stderr, /not authori[sz]ed/i);
    });
  });
});

describe("will delay with MQTT.js v5", () => {
  test("the will comes after its delay when the connection drops, and not at all when the client is back in time", async () => {
    await using broker = await startBroker({ port: 0 });
    const watcher = await connectJs(broker.url, { protocolVersion: 5, clientId: "watch" });
    await watcher.subscribeAsync("wills/#", { qos: 1 });
    // "returning" has a long delay: it is back long before, whatever the machine's load.
    const options = (clientId: string, delay: number): mqtt.IClientOptions => ({
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      will: {
        topic: `wills/${clientId}`,
        payload: "gone",
        qos: 1,
        retain: false,
        properties: { willDelayInterval: delay },
      },
    });
    const leaving = await connectJs(broker.url, options("leaving", 1));
    const returning = await connectJs(broker.url, options("returning", 30));
    try {
      const wills = collect(watcher, 1);
      const dropped = Date.now();
      leaving.stream.destroy();
      returning.stream.destroy();
      await eventually(
        () => broker.broker.session("returning")?.pendingWill !== undefined,
        TIMEOUT,
        "the delayed will of 'returning'",
      );
      const back = await connectJs(broker.url, options("returning", 30));
      assert.equal(broker.broker.session("returning")?.pendingWill, undefined, "cancelled");
      const [topic, payload] = (await wills)[0]!;
      assert.equal(`${topic} ${payload}`, "wills/leaving gone");
      assert.ok(Date.now() - dropped >= 900, "published after the delay");
      await back.endAsync();
    } finally {
      await leaving.endAsync(true);
      await returning.endAsync(true);
      await watcher.endAsync();
    }
  });
});

/**
 * A paho MQTT 5 client with a persistent session (expiry 60 s) and a will delayed by
 * argv[3] seconds; prints "connected <session present>" once connected, and disconnects
 * normally (no will) when a message arrives on "control/<client id>".
 */
const PAHO_WILL = `
import sys, paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port, client_id, delay = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
present = []
def on_connect(client, userdata, flags, rc, properties=None):
    present.append(flags["session present"])
    client.subscribe("control/" + client_id, qos=1)
def on_subscribe(client, userdata, mid, granted, properties=None):
    print("connected %d" % present[-1], flush=True)
def on_message(client, userdata, message):
    client.disconnect()
client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
will = Properties(PacketTypes.WILLMESSAGE)
will.WillDelayInterval = delay
client.will_set("wills/" + client_id, "gone", qos=1, properties=will)
session = Properties(PacketTypes.CONNECT)
session.SessionExpiryInterval = 60
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("127.0.0.1", port, clean_start=False, properties=session)
client.loop_forever()
`;

/** Resolves with the time (Date.now()) `child` first prints text matching `pattern`. */
function printed(child: ChildProcess, pattern: RegExp, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      child.stdout!.off("data", onData);
      reject(new Error(`Timed out waiting for ${what}; got: ${text}`));
    }, TIMEOUT);
    const onData = (chunk: unknown) => {
      text += String(chunk);
      if (pattern.test(text)) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(Date.now());
      }
    };
    child.stdout!.on("data", onData);
  });
}

describe("will delay with Python paho-mqtt v5 and mosquitto_sub", {
  skip: pahoMissing ?? mosquittoMissing ?? false,
}, () => {
  /** mosquitto_sub (MQTT 5) printing the first message under wills/#. */
  function watch(port: number): ReturnType<typeof start> {
    return start(sub, [
      ...["-V", "mqttv5", "-h", "127.0.0.1", "-p", String(port), "-i", "will-watcher"],
      ...["-q", "1", "-t", "wills/#", "-C", "1", "-F", "%t %p"],
    ]);
  }

  test("a killed client's will arrives after its 1 s delay, not before", async () => {
    await using broker = await startBroker({ port: 0 });
    const watcher = watch(broker.port);
    const paho = start(PYTHON, ["-c", PAHO_WILL, String(broker.port), "paho-leaving", "1"]);
    try {
      await subscribed(broker, 1);
      const willArrived = printed(watcher.child, /wills\/paho-leaving gone/, "the will");
      await printed(paho.child, /connected 0/, "paho to connect");
      paho.child.kill("SIGKILL");
      const killed = Date.now();
      await paho.output;
      const elapsed = (await willArrived) - killed;
      assert.ok(elapsed >= 900, `the will came ${elapsed} ms after the kill, before its delay`);
      assert.equal((await watcher.output).trim(), "wills/paho-leaving gone");
      assert.deepEqual(broker.violations, []);
    } finally {
      paho.child.kill("SIGKILL");
      watcher.child.kill("SIGKILL");
    }
  });

  test("a killed client back within its will delay resumes its session and no will arrives", async () => {
    await using broker = await startBroker({ port: 0 });
    const delay = 4; // seconds: enough for a second Python process to connect on a loaded machine
    const watcher = watch(broker.port);
    const args = ["-c", PAHO_WILL, String(broker.port), "paho-returning", String(delay)];
    const first = start(PYTHON, args);
    let second: ReturnType<typeof start> | undefined;
    try {
      await subscribed(broker, 1);
      await printed(first.child, /connected 0/, "paho to connect");
      first.child.kill("SIGKILL");
      const killed = Date.now();
      await first.output;
      await eventually(
        () => broker.broker.session("paho-returning")?.pendingWill !== undefined,
        TIMEOUT,
        "the delayed will of 'paho-returning'",
      );
      second = start(PYTHON, args);
      const back = await printed(second.child, /connected 1/, "paho to reconnect with its session");
      assert.ok(back - killed < delay * 1000, `paho took ${back - killed} ms to come back`);
      assert.equal(broker.broker.session("paho-returning")?.pendingWill, undefined, "cancelled");
      // Absence can only be shown by waiting: let the delay pass (with a margin), then a
      // sentinel must be the first message the watcher sees.
      const margin = killed + delay * 1000 + 500 - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, margin)));
      broker.broker.publish({ topic: "wills/sentinel", payload: "no will before me", qos: 1 });
      assert.equal((await watcher.output).trim(), "wills/sentinel no will before me");
      // A normal DISCONNECT: no will either.
      broker.broker.publish({ topic: "control/paho-returning", payload: "stop", qos: 1 });
      await second.output;
      assert.equal(second.child.exitCode, 0);
      assert.equal(broker.broker.session("paho-returning")?.pendingWill, undefined);
      assert.deepEqual(broker.violations, []);
    } finally {
      first.child.kill("SIGKILL");
      second?.child.kill("SIGKILL");
      watcher.child.kill("SIGKILL");
    }
  });
});

describe("MQTT.js v5 message expiry and topic aliases", () => {
  test("[MQTT-3.3.2-5] [MQTT-3.3.2-6] queued messages expire on the broker's clock; the rest arrive with the remaining interval", async () => {
    const clock = new ManualClock(Date.now());
    await using broker = await startBroker({ port: 0, clock });
    const options = {
      protocolVersion: 5 as const,
      clientId: "expiring",
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    };
    const first = await connectJs(broker.url, options);
    await first.subscribeAsync("exp/#", { qos: 1 });
    await first.endAsync();
    const publisher = await connectJs(broker.url, { protocolVersion: 5, clientId: "exp-pub" });
    await publisher.publishAsync("exp/short", "short", {
      qos: 1,
      properties: { messageExpiryInterval: 5 },
    });
    await publisher.publishAsync("exp/long", "long", {
      qos: 1,
      properties: { messageExpiryInterval: 100 },
    });
    await publisher.endAsync();
    clock.advance(10_000);
    let messages: ReturnType<typeof collect> | undefined;
    const second = await connectJs(broker.url, options, (client) => {
      messages = collect(client, 1); // queued messages follow CONNACK at once
    });
    try {
      const [topic, payload, packet] = (await messages!)[0]!;
      assert.equal(`${topic} ${payload}`, "exp/long long");
      assert.equal(packet.properties?.messageExpiryInterval, 90);
      assert.equal(broker.broker.session("expiring")?.dropped, 1);
    } finally {
      await second.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  test("aliases chosen by MQTT.js are resolved; aliases the broker assigns are resolved by MQTT.js", async () => {
    await using broker = await startBroker({ port: 0, topicAliasMaximum: 4 });
    const subscriber = await connectJs(broker.url, {
      protocolVersion: 5,
      clientId: "alias-sub",
      properties: { topicAliasMaximum: 2 },
    });
    const publisher = await connectJs(broker.url, {
      protocolVersion: 5,
      clientId: "alias-pub",
      autoUseTopicAlias: true,
    });
    try {
      await subscriber.subscribeAsync("alias/#", { qos: 1 });
      const topics = ["alias/a/long/topic", "alias/b/long/topic", "alias/c/long/topic"];
      const messages = collect(subscriber, 9);
      const sentAliases: number[] = [];
      publisher.on("packetsend", (packet) => {
        if (packet.cmd === "publish" && packet.properties?.topicAlias !== undefined) {
          sentAliases.push(packet.properties.topicAlias);
        }
      });
      for (let round = 0; round < 3; round++) {
        for (const topic of topics) {
          await publisher.publishAsync(topic, `${round}`, {
            qos: 1,
            properties: { topicAlias: topics.indexOf(topic) + 1 },
          });
        }
      }
      const got = await messages;
      assert.deepEqual(
        got.map(([topic, payload]) => `${topic} ${payload}`),
        [0, 1, 2].flatMap((round) => topics.map((topic) => `${topic} ${round}`)),
      );
      const received = got.map(([, , packet]) => packet.properties?.topicAlias);
      assert.ok(received.every((alias) => alias === 1 || alias === 2), JSON.stringify(received));
      assert.ok(sentAliases.length === 9, `MQTT.js sent aliases: ${JSON.stringify(sentAliases)}`);
    } finally {
      await subscriber.endAsync();
      await publisher.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });
});

describe("enhanced authentication with MQTT.js v5", () => {
  test("a challenge answered through handleAuth ends in CONNACK; a wrong answer is refused", async () => {
    const challenge = (data: Uint8Array | undefined, { round }: { round: number }) =>
      round === 1
        ? { action: "continue" as const, data: new TextEncoder().encode("nonce") }
        : new TextDecoder().decode(data) === "nonce+secret"
        ? { action: "success" as const }
        : { action: "failure" as const, reasonCode: 0x87 };
    await using broker = await startBroker({ port: 0, auth: { challenge } });
    type AuthCallback = Parameters<mqtt.MqttClient["handleAuth"]>[1];
    const connectWith = (secret: string) =>
      connectJs(broker.url, {
        protocolVersion: 5,
        clientId: `auth-${secret}`,
        properties: { authenticationMethod: "challenge" },
      }, (client) => {
        client.handleAuth = (packet, callback: AuthCallback) => {
          const nonce = new TextDecoder().decode(packet.properties?.authenticationData);
          callback(
            undefined,
            {
              cmd: "auth",
              reasonCode: 0x18,
              properties: {
                authenticationMethod: "challenge",
                authenticationData: new TextEncoder().encode(`${nonce}+${secret}`),
              },
            } as Parameters<AuthCallback>[1],
          );
        };
      });
    const good = await connectWith("secret");
    assert.equal(broker.stats.clientsConnected, 1);
    await good.endAsync();
    await assert.rejects(connectWith("guess"));
    assert.deepEqual(broker.violations, []);
  });
});

describe("$SYS topics with mosquitto_sub", { skip: mosquittoMissing ?? false }, () => {
  test("retained statistics are readable, updated every interval, and not matched by #", async () => {
    await using broker = await startBroker({ port: 0, sysInterval: 1 });
    const port = String(broker.port);
    const version = await run(sub, ["-p", port, "-t", "$SYS/broker/version", "-C", "1"]);
    assert.equal(version.trim(), BROKER_VERSION);
    const everything = start(sub, ["-p", port, "-t", "#", "-C", "1", "-F", "%t %p"]);
    await subscribed(broker, 1);
    // Two uptime updates, the second one periodic: the "#" subscriber was online for it.
    const uptime = await run(sub, ["-p", port, "-t", "$SYS/broker/uptime", "-C", "2"]);
    const [first, second] = uptime.trim().split("\n");
    assert.match(first!, /^\d+ seconds$/);
    assert.notEqual(first, second);
    const clients = await run(sub, [
      "-p",
      port,
      "-t",
      "$SYS/broker/clients/connected",
      "-C",
      "1",
    ]);
    assert.match(clients.trim(), /^[1-9]\d*$/);
    await run(pub, ["-p", port, "-t", "plain/topic", "-m", "hello"]);
    assert.equal((await everything.output).trim(), "plain/topic hello");
  });
});
