/**
 * The `tern` command line run as a real child process (the same runtime as the tests)
 * against tern's broker, started here, and against Mosquitto when it is installed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type MqttClient } from "../mod.ts";
import { type RunningBroker, startBroker } from "../broker/start.ts";
import { type Mosquitto, startMosquitto } from "../testing/mosquitto.ts";
import { generateTlsCerts } from "../testing/tls_certs.ts";
import { type CliResult, runCli, startCli } from "./_test_cli.ts";

const WAIT = 20_000;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;

/** Resolves once `check()` holds, checking on a short interval, or rejects after WAIT. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One line on stderr, no stack trace. */
function assertOneLineError(result: CliResult, pattern: RegExp, code: number): void {
  assert.equal(result.code, code, `exit status: ${result.stdout}${result.stderr}`);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected: ${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe("tern against tern's broker", () => {
  let broker: RunningBroker;
  let port: string;
  before(async () => {
    broker = await startBroker({ port: 0, sysInterval: 0 });
    port = String(broker.port);
  });
  after(async () => {
    await broker.close();
  });

  const subscribed = (clientId: string) =>
    until(
      () => (broker.broker.session(clientId)?.subscriptions.size ?? 0) > 0,
      `${clientId} to subscribe`,
    );

  test("pub -> sub round trip with -C 1 -v at QoS 1", async () => {
    const topic = unique("cli/rt");
    const id = unique("sub");
    const sub = startCli([
      "sub",
      "-p",
      port,
      "-i",
      id,
      "-t",
      `${topic}/#`,
      "-q",
      "1",
      "-C",
      "1",
      "-v",
    ]);
    await subscribed(id);
    const pub = await runCli([
      "pub",
      "-p",
      port,
      "-t",
      `${topic}/kitchen`,
      "-m",
      "21.5",
      "-q",
      "1",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${topic}/kitchen 21.5\n`);
  });

  test("retained message, read back with -C 1 and --json, under MQTT 3.1.1", async () => {
    const topic = unique("cli/retained");
    const pub = await runCli([
      "pub",
      "-p",
      port,
      "-t",
      topic,
      "-m",
      "online",
      "-r",
      "-q",
      "1",
      "-V",
      "311",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const sub = await runCli([
      "sub",
      "-p",
      port,
      "-t",
      topic,
      "-q",
      "1",
      "-C",
      "1",
      "--json",
      "-V",
      "mqttv311",
    ]);
    assert.equal(sub.code, 0, sub.stderr);
    assert.deepEqual(JSON.parse(sub.stdout), { topic, payload: "online", qos: 1, retain: true });
    // -R skips it: with -W the run ends by timing out.
    const skipped = await runCli(["sub", "-p", port, "-t", topic, "-R", "-C", "1", "-W", "1"]);
    assertOneLineError(skipped, /^tern sub: Timed out after 1 s$/, 1);
    assert.equal(skipped.stdout, "");
  });

  test("QoS 2 end to end, two filters, with --json output", async () => {
    const topic = unique("cli/qos2");
    const id = unique("sub");
    const sub = startCli([
      "sub",
      "-p",
      port,
      "-i",
      id,
      "-t",
      `${topic}/other`,
      "-t",
      topic,
      "-q",
      "2",
      "-C",
      "1",
      "--json",
    ]);
    await subscribed(id);
    const pub = await runCli(["pub", "-p", port, "-t", topic, "-m", "exactly once", "-q", "2"]);
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      topic,
      payload: "exactly once",
      qos: 2,
      retain: false,
    });
  });

  test("MQTT 5 user properties and other properties are visible in sub --json", async () => {
    const topic = unique("cli/props");
    const id = unique("sub");
    const sub = startCli([
      "sub",
      "-p",
      port,
      "-i",
      id,
      "-t",
      topic,
      "-q",
      "1",
      "-C",
      "1",
      "--json",
    ]);
    await subscribed(id);
    const pub = await runCli([
      "pub",
      "-p",
      port,
      "-t",
      topic,
      "-m",
      "{}",
      "-q",
      "1",
      "--user-property",
      "unit=celsius",
      "-D",
      "publish",
      "user-property",
      "room",
      "kitchen",
      "--content-type",
      "application/json",
      "--correlation-data",
      "c-1",
      "--response-topic",
      "replies/here",
      "--expiry",
      "120",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    const message = JSON.parse(result.stdout);
    assert.equal(message.payload, "{}");
    assert.deepEqual(message.properties.userProperties, [["unit", "celsius"], ["room", "kitchen"]]);
    assert.equal(message.properties.contentType, "application/json");
    assert.equal(message.properties.correlationData, "c-1");
    assert.equal(message.properties.responseTopic, "replies/here");
    assert.ok(message.properties.messageExpiryInterval <= 120);
  });

  test("sub ends cleanly on Ctrl-C (SIGINT) and its session goes away", async () => {
    const id = unique("sub");
    const sub = startCli(["sub", "-p", port, "-i", id, "-t", unique("cli/int")]);
    await subscribed(id);
    sub.child.kill("SIGINT");
    const result = await sub.done;
    // Deno's node:child_process reports a child it signalled as killed (code null) even
    // when the child caught the signal and exited with status 0.
    assert.ok(result.code === 0 || ("Deno" in globalThis && result.code === null), result.stderr);
    assert.equal(result.stderr, "");
    await until(() => broker.broker.session(id) === undefined, "the session to end");
  });

  test("pub -l publishes one message per line of standard input", async () => {
    const topic = unique("cli/lines");
    const id = unique("sub");
    const sub = startCli(["sub", "-p", port, "-i", id, "-t", topic, "-q", "1", "-C", "3"]);
    await subscribed(id);
    const pub = await runCli(["pub", "-p", port, "-t", topic, "-q", "1", "--stdin-lines"], {
      stdin: "one\ntwo\r\nthree\n",
    });
    assert.equal(pub.code, 0, pub.stderr);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "one\ntwo\nthree\n");
  });

  test("pub -f sends a file's bytes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tern-cli-"));
    try {
      const file = join(dir, "payload.txt");
      await writeFile(file, "from a file");
      const topic = unique("cli/file");
      const pub = await runCli([
        "pub",
        "-L",
        `mqtt://127.0.0.1:${port}/${topic}`,
        "-f",
        file,
        "-r",
      ]);
      assert.equal(pub.code, 0, pub.stderr);
      const sub = await runCli(["sub", "-L", `mqtt://127.0.0.1:${port}/${topic}`, "-C", "1"]);
      assert.equal(sub.stdout, "from a file\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe("rr", () => {
    let responder: MqttClient;
    let service: string;
    before(async () => {
      service = unique("svc/echo");
      responder = await connect(broker.url, { clientId: unique("responder") });
      const requests = await responder.subscribe(service, { qos: 1 });
      (async () => {
        for await (const request of requests) {
          if (request.responseTopic === undefined) continue;
          await responder.publish(request.responseTopic, `pong:${request.text()}`, {
            qos: 1,
            properties: request.correlationData === undefined
              ? {}
              : { correlationData: request.correlationData },
          });
        }
      })().catch(() => {});
    });
    after(async () => {
      await responder.disconnect();
    });

    test("rr publishes a request and prints the one reply", async () => {
      const result = await runCli(["rr", "-p", port, "-t", service, "-m", "ping", "-W", "15"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "pong:ping\n");
    });

    test("rr -e waits on the given response topic; -v prints it", async () => {
      const inbox = unique("replies");
      const result = await runCli(["rr", "-p", port, "-t", service, "-e", inbox, "-m", "hi", "-v"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${inbox} pong:hi\n`);
    });

    test("rr with no responder times out with status 1", async () => {
      const result = await runCli(["rr", "-p", port, "-t", unique("nobody"), "-m", "x", "-W", "1"]);
      assertOneLineError(result, /^tern rr: No response to the request on '.*' within 1000 ms$/, 1);
    });
  });

  test("bench reports throughput and latency and loses nothing at QoS 1", async () => {
    const result = await runCli(["bench", "-p", port, "-n", "300", "-q", "1", "-s", "32"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /tern bench: 300 messages of 32 B at QoS 1/);
    assert.match(result.stdout, /received\s+300\s/);
    assert.match(result.stdout, /lost 0/);
    // Not a terminal: no progress bar.
    assert.equal(result.stderr, "");
    const json = await runCli(["bench", "-p", port, "-n", "100", "-q", "2", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.received, 100);
    assert.equal(report.lost, 0);
    assert.ok(report.latency.max >= report.latency.p50);
  });

  test("connection refused: the reason code name on one line, status 1", async () => {
    await using guarded = await startBroker({
      port: 0,
      sysInterval: 0,
      authenticate: ({ username }) => username === "alice",
    });
    const v5 = await runCli(["pub", "-p", String(guarded.port), "-t", "a", "-m", "x", "-u", "bob"]);
    assertOneLineError(
      v5,
      /^tern pub: Cannot connect to mqtt:\/\/127\.0\.0\.1:\d+: The server refused the connection: .+ \(0x8[67]\)/,
      1,
    );
    const v311 = await runCli(["sub", "-p", String(guarded.port), "-t", "a", "-V", "311"]);
    assertOneLineError(v311, /^tern sub: .*refused the connection: .+ \(0x0[45]\)/, 1);
  });

  test("mqtts with --cafile, and a bad TLS file", async () => {
    const certs = await generateTlsCerts();
    await using secure = await startBroker({
      port: 0,
      sysInterval: 0,
      tls: { port: 0, cert: certs.serverCert, key: certs.serverKey },
    });
    const dir = await mkdtemp(join(tmpdir(), "tern-cli-tls-"));
    try {
      const ca = join(dir, "ca.pem");
      await writeFile(ca, certs.ca);
      const topic = unique("cli/tls");
      const url = `mqtts://127.0.0.1:${secure.tlsPort}`;
      const pub = await runCli([
        "pub",
        "-L",
        url,
        "--cafile",
        ca,
        "-t",
        topic,
        "-m",
        "sealed",
        "-r",
      ]);
      assert.equal(pub.code, 0, pub.stderr);
      const sub = await runCli([
        "sub",
        "-p",
        String(secure.tlsPort),
        "--cafile",
        ca,
        "-t",
        topic,
        "-C",
        "1",
      ]);
      assert.equal(sub.code, 0, sub.stderr);
      assert.equal(sub.stdout, "sealed\n");
      const missing = await runCli([
        "pub",
        "-L",
        url,
        "--cafile",
        join(dir, "nope.pem"),
        "-t",
        "a",
        "-m",
        "x",
      ]);
      assertOneLineError(
        missing,
        /^tern pub: Cannot read '--cafile' file .*nope\.pem: no such file$/,
        2,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("conformance runs the broker suite against a URL and writes JUnit XML", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tern-cli-conf-"));
    try {
      const junit = join(dir, "report.xml");
      const result = await runCli(
        [
          "conformance",
          "broker",
          broker.url,
          "--v5",
          "--only",
          "MQTT-3.1.0-1",
          "--json",
          "--junit",
          junit,
        ],
        { timeout: 60_000 },
      );
      assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
      const report = JSON.parse(result.stdout);
      assert.ok(report.summary.total > 0);
      assert.equal(report.summary.failed, 0);
      assert.match(await readFile(junit, "utf8"), /<testsuite/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test("tern broker runs the broker until SIGTERM", async () => {
  const server = startCli(["broker", "--port", "0", "--sys-interval", "0"]);
  const banner = await server.waitForOutput(/listening on mqtt:\/\/127\.0\.0\.1:(\d+)/);
  const url = /listening on (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!;
  const topic = unique("cli/broker");
  const pub = await runCli(["pub", "-L", url, "-t", topic, "-m", "kept", "-r"]);
  assert.equal(pub.code, 0, pub.stderr);
  const sub = await runCli(["sub", "-L", url, "-t", topic, "-C", "1", "-v"]);
  assert.equal(sub.stdout, `${topic} kept\n`);
  server.child.kill("SIGTERM");
  const result = await server.done;
  // Deno's node:child_process reports a child it sent a signal to as killed by it (code
  // null) even when the child caught the signal and exited with status 0.
  assert.ok(result.code === 0 || ("Deno" in globalThis && result.code === null), result.stderr);
  assert.match(result.stdout, /shutting down\n$/);
  assert.equal(result.stderr, "");
});

describe("usage mistakes and help", () => {
  test("--help for tern and every subcommand", async () => {
    const commands = ["pub", "sub", "rr", "bench", "broker", "conformance"];
    const results = await Promise.all([
      runCli(["--help"]),
      ...commands.map((command) => runCli([command, "--help"])),
    ]);
    assert.equal(results[0]!.code, 0);
    assert.match(results[0]!.stdout, /^Usage: tern <command>/);
    commands.forEach((command, i) => {
      const result = results[i + 1]!;
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: tern ${command}`), command);
      assert.equal(result.stderr, "");
    });
  });

  test("bad flags: one line on stderr and status 2", async () => {
    const [unknown, qos, topic, filter, missing, noMessage, command, v3props] = await Promise.all([
      runCli(["pub", "-t", "a", "-m", "x", "--bogus"]),
      runCli(["pub", "-t", "a", "-m", "x", "-q", "3"]),
      runCli(["pub", "-t", "a/#", "-m", "x"]),
      runCli(["sub", "-t", "a/#/b"]),
      runCli(["sub", "-t"]),
      runCli(["pub", "-t", "a"]),
      runCli(["publish"]),
      runCli(["pub", "-t", "a", "-m", "x", "-V", "311", "--user-property", "k=v"]),
    ]);
    assertOneLineError(
      unknown,
      /^tern pub: Cannot publish as '--bogus' is not a known flag \(see --help\)$/,
      2,
    );
    assertOneLineError(
      qos,
      /^tern pub: Cannot publish as '-q' must be an integer from 0 to 2: current value is 3$/,
      2,
    );
    assertOneLineError(
      topic,
      /^tern pub: Cannot publish as '-t' is not a valid topic name: .*'#'/,
      2,
    );
    assertOneLineError(
      filter,
      /^tern sub: Cannot subscribe as '-t' is not a valid topic filter: .*'#'/,
      2,
    );
    assertOneLineError(missing, /^tern sub: Cannot subscribe as '-t' needs a value$/, 2);
    assertOneLineError(
      noMessage,
      /^tern pub: Cannot publish as one of '-m', '-f', '-n', '-s' or '-l' must give the message$/,
      2,
    );
    assertOneLineError(command, /^tern: 'publish' is not a command/, 2);
    assertOneLineError(v3props, /^tern pub: Cannot publish as '--user-property' needs MQTT 5/, 2);
  });

  test("nothing listening: the transport's reason on one line, status 1", async () => {
    const [pub, sub, conformance] = await Promise.all([
      runCli(["pub", "-p", "1", "-t", "a", "-m", "x"]),
      runCli(["sub", "-L", "mqtt://127.0.0.1:1", "-t", "a"]),
      runCli(["conformance", "broker", "mqtt://127.0.0.1:1", "--v5"]),
    ]);
    assertOneLineError(pub, /^tern pub: Cannot connect to 127\.0\.0\.1:1\b/, 1);
    assertOneLineError(sub, /^tern sub: Cannot connect to 127\.0\.0\.1:1\b/, 1);
    assertOneLineError(conformance, /^tern conformance: Cannot connect to 127\.0\.0\.1:1\b/, 1);
    assert.equal(conformance.stdout, "");
  });
});

const HAVE_MOSQUITTO =
  ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
  spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;

describe("tern against Mosquitto", { skip: !HAVE_MOSQUITTO }, () => {
  let mosquitto: Mosquitto;
  before(async () => {
    mosquitto = await startMosquitto();
  });
  after(async () => {
    await mosquitto?.stop();
  });

  test("pub -> sub round trip with -C 1 -v", async () => {
    const topic = unique("cli/mosq");
    const sub = startCli(["sub", "-L", mosquitto.url, "-t", topic, "-q", "1", "-C", "1", "-v"]);
    // Mosquitto has no API to tell when the subscription is in place: publish until the
    // subscriber has its message and exits.
    let exited = false;
    sub.done.then(() => exited = true);
    while (!exited) {
      const pub = await runCli(["pub", "-L", mosquitto.url, "-t", topic, "-m", "hello", "-q", "1"]);
      assert.equal(pub.code, 0, pub.stderr);
    }
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${topic} hello\n`);
  });

  test("retained at QoS 2 with MQTT 3.1.1, and user properties with MQTT 5", async () => {
    const topic = unique("cli/mosq-retained");
    const pub = await runCli([
      "pub",
      "-L",
      mosquitto.url,
      "-t",
      topic,
      "-m",
      "v",
      "-r",
      "-q",
      "2",
      "--user-property",
      "origin=tern",
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const v5 = await runCli([
      "sub",
      "-L",
      mosquitto.url,
      "-t",
      topic,
      "-q",
      "2",
      "-C",
      "1",
      "--json",
    ]);
    assert.equal(v5.code, 0, v5.stderr);
    assert.deepEqual(JSON.parse(v5.stdout), {
      topic,
      payload: "v",
      qos: 2,
      retain: true,
      properties: { userProperties: [["origin", "tern"]] },
    });
    const v311 = await runCli([
      "sub",
      "-L",
      mosquitto.url,
      "-t",
      topic,
      "-q",
      "2",
      "-C",
      "1",
      "-V",
      "311",
      "--json",
    ]);
    assert.equal(v311.code, 0, v311.stderr);
    assert.deepEqual(JSON.parse(v311.stdout), { topic, payload: "v", qos: 2, retain: true });
  });

  test("mutual TLS with --cafile, --cert and --key", async () => {
    const certs = await generateTlsCerts();
    await using secure = await startMosquitto({
      tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true },
    });
    const dir = await mkdtemp(join(tmpdir(), "tern-cli-mtls-"));
    try {
      const files = { ca: join(dir, "ca.pem"), cert: join(dir, "c.pem"), key: join(dir, "c.key") };
      await writeFile(files.ca, certs.ca);
      await writeFile(files.cert, certs.clientCert);
      await writeFile(files.key, certs.clientKey);
      const tls = ["--cafile", files.ca, "--cert", files.cert, "--key", files.key];
      const topic = unique("cli/mtls");
      const pub = await runCli(["pub", "-L", secure.tlsUrl!, ...tls, "-t", topic, "-m", "m", "-r"]);
      assert.equal(pub.code, 0, pub.stderr);
      const sub = await runCli(["sub", "-L", secure.tlsUrl!, ...tls, "-t", topic, "-C", "1"]);
      assert.equal(sub.code, 0, sub.stderr);
      assert.equal(sub.stdout, "m\n");
      const lonely = await runCli(["sub", "-L", secure.tlsUrl!, "--cert", files.cert, "-t", topic]);
      assertOneLineError(lonely, /'--cert' and '--key' must be given together/, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("bench against Mosquitto", async () => {
    const result = await runCli(["bench", "-L", mosquitto.url, "-n", "200", "-q", "1", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).lost, 0);
  });
});
