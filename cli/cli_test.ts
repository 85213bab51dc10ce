/**
 * The `tern` command line run as a real child process (the same runtime as the tests)
 * against tern's broker, started here, and against Mosquitto when it is installed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type MqttClient } from "../mod.ts";
import { type RunningBroker, startBroker } from "../broker/start.ts";
import { type Mosquitto, startMosquitto } from "../testing/mosquitto.ts";
import { generateTlsCerts } from "../testing/tls_certs.ts";
import { haveMosquitto } from "../lib/testdata/child_script.ts";
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

/** Runs `tern ...args` and asserts it exits with status 0. */
async function runOk(
  args: readonly string[],
  options?: Parameters<typeof runCli>[1],
): Promise<CliResult> {
  const result = await runCli(args, options);
  assert.equal(result.code, 0, result.stderr);
  return result;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
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

  /**
   * Starts `tern sub` with a fresh client id and `subArgs`, waits for its subscription,
   * runs `tern pub` with `pubArgs`, and returns the subscriber's result; both must exit 0.
   */
  const subThenPub = async (
    subArgs: string[],
    pubArgs: string[],
    pubOptions?: Parameters<typeof runCli>[1],
  ): Promise<CliResult> => {
    const id = unique("sub");
    const sub = startCli(["sub", "-p", port, "-i", id, ...subArgs]);
    await subscribed(id);
    await runOk(["pub", "-p", port, ...pubArgs], pubOptions);
    const result = await sub.done;
    assert.equal(result.code, 0, result.stderr);
    return result;
  };

  test("pub -> sub round trip with -C 1 -v at QoS 1", async () => {
    const topic = unique("cli/rt");
    const result = await subThenPub(
      ["-t", `${topic}/#`, "-q", "1", "-C", "1", "-v"],
      ["-t", `${topic}/kitchen`, "-m", "21.5", "-q", "1"],
    );
    assert.equal(result.stdout, `${topic}/kitchen 21.5\n`);
  });

  test("retained message, read back with -C 1 and --json, under MQTT 3.1.1", async () => {
    const topic = unique("cli/retained");
    await runOk(["pub", "-p", port, "-t", topic, "-m", "online", "-r", "-q", "1", "-V", "311"]);
    const sub = await runOk(
      ["sub", "-p", port, "-t", topic, "-q", "1", "-C", "1", "--json", "-V", "mqttv311"],
    );
    assert.deepEqual(JSON.parse(sub.stdout), { topic, payload: "online", qos: 1, retain: true });
    // -R skips it: with -W the run ends by timing out.
    const skipped = await runCli(["sub", "-p", port, "-t", topic, "-R", "-C", "1", "-W", "1"]);
    assertOneLineError(skipped, /^tern sub: Timed out after 1 s$/, 1);
    assert.equal(skipped.stdout, "");
  });

  test("QoS 2 end to end, two filters, with --json output", async () => {
    const topic = unique("cli/qos2");
    const result = await subThenPub(
      ["-t", `${topic}/other`, "-t", topic, "-q", "2", "-C", "1", "--json"],
      ["-t", topic, "-m", "exactly once", "-q", "2"],
    );
    assert.deepEqual(JSON.parse(result.stdout), {
      topic,
      payload: "exactly once",
      qos: 2,
      retain: false,
    });
  });

  test("MQTT 5 user properties and other properties are visible in sub --json", async () => {
    const topic = unique("cli/props");
    const result = await subThenPub(["-t", topic, "-q", "1", "-C", "1", "--json"], [
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
    const result = await subThenPub(
      ["-t", topic, "-q", "1", "-C", "3"],
      ["-t", topic, "-q", "1", "--stdin-lines"],
      { stdin: "one\ntwo\r\nthree\n" },
    );
    assert.equal(result.stdout, "one\ntwo\nthree\n");
  });

  test("pub -f sends a file's bytes", async () => {
    await withTempDir("tern-cli-", async (dir) => {
      const file = join(dir, "payload.txt");
      await writeFile(file, "from a file");
      const url = `mqtt://127.0.0.1:${port}/${unique("cli/file")}`;
      await runOk(["pub", "-L", url, "-f", file, "-r"]);
      const sub = await runCli(["sub", "-L", url, "-C", "1"]);
      assert.equal(sub.stdout, "from a file\n");
    });
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
    await withTempDir("tern-cli-tls-", async (dir) => {
      const ca = join(dir, "ca.pem");
      await writeFile(ca, certs.ca);
      const topic = unique("cli/tls");
      const url = `mqtts://127.0.0.1:${secure.tlsPort}`;
      await runOk(["pub", "-L", url, "--cafile", ca, "-t", topic, "-m", "sealed", "-r"]);
      const tlsPort = String(secure.tlsPort);
      const sub = await runOk(["sub", "-p", tlsPort, "--cafile", ca, "-t", topic, "-C", "1"]);
      assert.equal(sub.stdout, "sealed\n");
      const nope = join(dir, "nope.pem");
      const missing = await runCli(["pub", "-L", url, "--cafile", nope, "-t", "a", "-m", "x"]);
      assertOneLineError(
        missing,
        /^tern pub: Cannot read '--cafile' file .*nope\.pem: no such file$/,
        2,
      );
    });
  });

  test("conformance runs the broker suite against a URL and writes JUnit XML", async () => {
    await withTempDir("tern-cli-conf-", async (dir) => {
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
    });
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

const HAVE_MOSQUITTO = haveMosquitto("cli_test");

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
    const url = mosquitto.url;
    await runOk(
      ["pub", "-L", url, "-t", topic, "-m", "v", "-r", "-q", "2", "--user-property", "origin=tern"],
    );
    const v5 = await runOk(["sub", "-L", url, "-t", topic, "-q", "2", "-C", "1", "--json"]);
    assert.deepEqual(JSON.parse(v5.stdout), {
      topic,
      payload: "v",
      qos: 2,
      retain: true,
      properties: { userProperties: [["origin", "tern"]] },
    });
    const v311 = await runOk(
      ["sub", "-L", url, "-t", topic, "-q", "2", "-C", "1", "-V", "311", "--json"],
    );
    assert.deepEqual(JSON.parse(v311.stdout), { topic, payload: "v", qos: 2, retain: true });
  });

  test("mutual TLS with --cafile, --cert and --key", async () => {
    const certs = await generateTlsCerts();
    await using secure = await startMosquitto({
      tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true },
    });
    await withTempDir("tern-cli-mtls-", async (dir) => {
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
    });
  });

  test("bench against Mosquitto", async () => {
    const result = await runCli(["bench", "-L", mosquitto.url, "-n", "200", "-q", "1", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).lost, 0);
  });
});
