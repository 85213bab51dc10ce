/**
 * The broker over TLS against independent clients: MQTT.js (npm `mqtt`) and Python
 * paho-mqtt with a generated certificate authority, and mutual TLS (a client
 * certificate required: Bun only, as Deno.listenTls cannot ask for one), and secure
 * WebSocket (wss://) with MQTT.js and paho. Tests needing a program that is not
 * installed are skipped, saying why.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBroker, type StartBrokerOptions } from "./start.ts";
import { generateTlsCerts, type TlsCerts } from "../testing/tls_certs.ts";
import {
  collect,
  connectJs,
  findProgram,
  pahoMissing,
  PYTHON,
  run,
  runProgram,
  start,
} from "./_interop.ts";

// On Deno the broker requires client certificates through a node:tls listener
// (listen_node.ts), since Deno.listenTls cannot ask for them.
const mutualMissing: string | undefined = undefined;
const pahoReason = await pahoMissing();
const mosquittoSub = findProgram("mosquitto_sub");
for (
  const reason of [
    pahoReason,
    mutualMissing,
    "missing" in mosquittoSub ? mosquittoSub.missing : undefined,
  ]
) {
  if (reason !== undefined) console.log(`interop_tls_test: skipping tests because ${reason}`);
}

const certs: TlsCerts = await generateTlsCerts();

/**
 * MQTT.js subscriber and publisher over a TLS-secured URL trusting only the test authority:
 * each [subtopic, payload, qos] published under `prefix/` reaches the subscriber.
 */
async function mqttJsRoundTrip(
  url: string,
  protocolVersion: 4 | 5,
  prefix: string,
  sends: [string, string, 0 | 1][],
): Promise<void> {
  const options = { protocolVersion, ca: certs.ca, rejectUnauthorized: true };
  const subscriber = await connectJs(url, { ...options, clientId: `${prefix}-sub` });
  const publisher = await connectJs(url, { ...options, clientId: `${prefix}-pub` });
  try {
    await subscriber.subscribeAsync(`${prefix}/#`, { qos: 1 });
    const messages = collect(subscriber, sends.length);
    for (const [topic, payload, qos] of sends) {
      await publisher.publishAsync(`${prefix}/${topic}`, payload, { qos });
    }
    const got = (await messages).map(([topic, payload, p]) => `${topic} ${payload} ${p.qos}`);
    assert.deepEqual(
      got.sort(),
      sends.map(([topic, payload, qos]) => `${prefix}/${topic} ${payload} ${qos}`).sort(),
    );
  } finally {
    await subscriber.endAsync();
    await publisher.endAsync();
  }
}

/** Writes the certificates to a temporary directory for programs that read files. */
async function certFiles(): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), "tern-tls-test-"));
  const files = {
    dir,
    ca: join(dir, "ca.pem"),
    cert: join(dir, "client.pem"),
    key: join(dir, "client.key"),
  };
  await writeFile(files.ca, certs.ca);
  await writeFile(files.cert, certs.clientCert);
  await writeFile(files.key, certs.clientKey);
  return files;
}

function tlsOptions(requestCert: boolean): StartBrokerOptions {
  return {
    port: 0,
    tls: {
      port: 0,
      cert: certs.serverCert,
      key: certs.serverKey,
      ...(requestCert ? { ca: certs.ca, requestCert: true } : {}),
    },
  };
}

describe("MQTT.js over TLS", () => {
  for (const protocolVersion of [4, 5] as const) {
    test(`QoS 1 publish and subscribe over mqtts (MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"})`, async () => {
      await using broker = await startBroker(tlsOptions(false));
      const url = broker.tlsUrl!;
      await mqttJsRoundTrip(url, protocolVersion, "tls", [["a", "sealed", 1], ["b", "signed", 0]]);
      assert.deepEqual(broker.violations, []);
    });
  }

  test("a client that does not trust the broker's authority is refused by the TLS handshake", async () => {
    await using broker = await startBroker(tlsOptions(false));
    await assert.rejects(
      connectJs(broker.tlsUrl!, {
        protocolVersion: 5,
        clientId: "naive",
        rejectUnauthorized: true,
      }),
    );
    assert.equal(broker.stats.clientsConnected, 0);
  });
});

describe("mutual TLS (client certificate required)", { skip: mutualMissing ?? false }, () => {
  test("MQTT.js with the client certificate connects and exchanges messages", async () => {
    await using broker = await startBroker(tlsOptions(true));
    const options = {
      protocolVersion: 5 as const,
      ca: certs.ca,
      cert: certs.clientCert,
      key: certs.clientKey,
      rejectUnauthorized: true,
    };
    const client = await connectJs(broker.tlsUrl!, { ...options, clientId: "mtls" });
    try {
      await client.subscribeAsync("mtls", { qos: 1 });
      const messages = collect(client, 1);
      await client.publishAsync("mtls", "both sides proven", { qos: 1 });
      assert.deepEqual((await messages).map(([, payload]) => payload), ["both sides proven"]);
    } finally {
      await client.endAsync();
    }
    assert.deepEqual(broker.violations, []);
  });

  test("MQTT.js without a client certificate never gets a CONNACK", async () => {
    await using broker = await startBroker(tlsOptions(true));
    await assert.rejects(
      connectJs(broker.tlsUrl!, {
        protocolVersion: 5,
        clientId: "anonymous",
        ca: certs.ca,
        rejectUnauthorized: true,
      }),
    );
    assert.equal(broker.stats.clientsConnected, 0);
  });

  test("mosquitto_sub with and without the client certificate", {
    skip: "missing" in mosquittoSub ? mosquittoSub.missing : false,
  }, async () => {
    const sub = "path" in mosquittoSub ? mosquittoSub.path : "";
    const files = await certFiles();
    try {
      await using broker = await startBroker(tlsOptions(true));
      broker.broker.publish({ topic: "mtls/retained", payload: "kept", qos: 1, retain: true });
      const common = ["-h", "localhost", "-p", String(broker.tlsPort), "--cafile", files.ca];
      const output = await run(sub, [
        ...common,
        "--cert",
        files.cert,
        "--key",
        files.key,
        "-t",
        "mtls/#",
        "-C",
        "1",
        "-F",
        "%t %p",
      ]);
      assert.equal(output.trim(), "mtls/retained kept");
      const refused = await runProgram(sub, [...common, "-t", "mtls/#", "-C", "1"]);
      assert.notEqual(refused.code, 0, "refused without a client certificate");
    } finally {
      await rm(files.dir, { recursive: true, force: true });
    }
  });
});

const PAHO_TLS = `
import sys, paho.mqtt.client as mqtt
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
got = []
def on_connect(client, userdata, flags, rc, properties=None):
    client.subscribe("paho/#", qos=2)
def on_subscribe(client, userdata, mid, granted, properties=None):
    client.publish("paho/one", "first", qos=1)
    client.publish("paho/two", "second", qos=2)
def on_message(client, userdata, message):
    got.append("%s %s %d" % (message.topic, message.payload.decode(), message.qos))
    if len(got) == 2:
        client.disconnect()
client = mqtt.Client(client_id="paho-tls", protocol=mqtt.MQTTv5)
client.tls_set(ca_certs=ca, certfile=cert or None, keyfile=key or None)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("localhost", port)
client.loop_forever()
print("\\n".join(sorted(got)))
`;

describe("Python paho-mqtt over TLS", { skip: pahoReason ?? false }, () => {
  test("MQTT 5 QoS 1 and 2 over mqtts with a trusted authority", async () => {
    const files = await certFiles();
    try {
      await using broker = await startBroker(tlsOptions(false));
      const output = await run(PYTHON, ["-c", PAHO_TLS, String(broker.tlsPort), files.ca, "", ""]);
      assert.deepEqual(output.trim().split("\n"), ["paho/one first 1", "paho/two second 2"]);
      assert.deepEqual(broker.violations, []);
    } finally {
      await rm(files.dir, { recursive: true, force: true });
    }
  });

  test("mutual TLS: with the client certificate it works, without it the handshake fails", {
    skip: mutualMissing ?? false,
  }, async () => {
    const files = await certFiles();
    try {
      await using broker = await startBroker(tlsOptions(true));
      const port = String(broker.tlsPort);
      const output = await run(PYTHON, ["-c", PAHO_TLS, port, files.ca, files.cert, files.key]);
      assert.deepEqual(output.trim().split("\n"), ["paho/one first 1", "paho/two second 2"]);
      const refused = start(PYTHON, ["-c", PAHO_TLS, port, files.ca, "", ""]);
      const text = await refused.output;
      assert.notEqual(refused.child.exitCode, 0, `paho without a certificate: ${text}`);
      assert.equal(broker.stats.clientsConnected, 0);
    } finally {
      await rm(files.dir, { recursive: true, force: true });
    }
  });
});

/** A broker with a secure WebSocket listener (wss://) and no other TLS listener. */
function wssOptions(): StartBrokerOptions {
  return {
    port: 0,
    ws: { port: 0, path: "/mqtt", tls: { cert: certs.serverCert, key: certs.serverKey } },
  };
}

describe("secure WebSocket (wss)", () => {
  test("the WebSocket URL says wss", async () => {
    await using broker = await startBroker(wssOptions());
    assert.equal(broker.wsUrl, `wss://${new URL(broker.wsUrl!).host}/mqtt`);
    assert.equal(broker.tlsUrl, undefined);
  });

  for (const protocolVersion of [4, 5] as const) {
    test(`MQTT.js QoS 1 round trip over wss (MQTT ${protocolVersion === 5 ? "5.0" : "3.1.1"})`, async () => {
      await using broker = await startBroker(wssOptions());
      // "localhost" so the certificate's DNS name is checked, not only its authority.
      const url = `wss://localhost:${broker.wsPort}/mqtt`;
      await mqttJsRoundTrip(url, protocolVersion, "wss", [["a", "sealed socket", 1], [
        "b",
        "second",
        1,
      ]]);
      assert.deepEqual(broker.violations, []);
    });
  }

  test("MQTT.js that does not trust the broker's authority is refused over wss", async () => {
    await using broker = await startBroker(wssOptions());
    await assert.rejects(
      connectJs(`wss://localhost:${broker.wsPort}/mqtt`, {
        protocolVersion: 5,
        clientId: "naive-wss",
        rejectUnauthorized: true,
      }),
    );
    assert.equal(broker.stats.clientsConnected, 0);
  });

  test("Python paho-mqtt over wss: MQTT 5 QoS 1 and 2", {
    skip: pahoReason ?? false,
  }, async () => {
    const files = await certFiles();
    try {
      await using broker = await startBroker(wssOptions());
      const output = await run(PYTHON, ["-c", PAHO_WSS, String(broker.wsPort), files.ca]);
      assert.deepEqual(output.trim().split("\n"), ["paho/one first 1", "paho/two second 2"]);
      assert.deepEqual(broker.violations, []);
    } finally {
      await rm(files.dir, { recursive: true, force: true });
    }
  });
});

const PAHO_WSS = `
import sys, paho.mqtt.client as mqtt
port, ca = int(sys.argv[1]), sys.argv[2]
got = []
def on_connect(client, userdata, flags, rc, properties=None):
    client.subscribe("paho/#", qos=2)
def on_subscribe(client, userdata, mid, granted, properties=None):
    client.publish("paho/one", "first", qos=1)
    client.publish("paho/two", "second", qos=2)
def on_message(client, userdata, message):
    got.append("%s %s %d" % (message.topic, message.payload.decode(), message.qos))
    if len(got) == 2:
        client.disconnect()
client = mqtt.Client(client_id="paho-wss", protocol=mqtt.MQTTv5, transport="websockets")
client.ws_set_options(path="/mqtt")
client.tls_set(ca_certs=ca)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect("localhost", port)
client.loop_forever()
print("\\n".join(sorted(got)))
`;
