import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Message } from "../mod.ts";
import { main, memoryIo } from "../cli.ts";
import { parseArgs, UsageError } from "./args.ts";
import { latencySummary } from "./bench.ts";
import { CONNECTION_FLAGS, planConnection } from "./connection.ts";
import { lines } from "./io.ts";
import { PROPERTY_FLAGS, publishProperties } from "./properties.ts";
import { formatMessage, messageJson } from "./sub.ts";

const encoder = new TextEncoder();

describe("parseArgs", () => {
  const specs = [
    { key: "topic", short: "t", long: "topic" },
    { key: "retain", short: "r", long: "retain", values: 0 },
    { key: "pair", long: "pair", values: 2 },
  ];

  test("short, long, inline, repeated, switches, positionals and --", () => {
    const args = parseArgs(
      ["x", "-t", "a", "--topic=b", "-r", "--pair", "k", "v", "--", "-t"],
      specs,
      "publish",
    );
    assert.deepEqual(args.strings("topic"), ["a", "b"]);
    assert.equal(args.string("topic"), "b");
    assert.equal(args.flag("topic"), "--topic");
    assert.equal(args.has("retain"), true);
    assert.deepEqual(args.occurrences("pair"), [["k", "v"]]);
    assert.deepEqual(args.positionals, ["x", "-t"]);
  });

  test("a value may start with a dash; '-' alone is a positional", () => {
    const args = parseArgs(["-t", "-r", "-"], specs, "publish");
    assert.equal(args.string("topic"), "-r");
    assert.equal(args.has("retain"), false);
    assert.deepEqual(args.positionals, ["-"]);
  });

  test("mistakes are UsageErrors with one-line messages", () => {
    assert.throws(() => parseArgs(["-z"], specs, "publish"), {
      name: "UsageError",
      message: "Cannot publish as '-z' is not a known flag (see --help)",
    });
    assert.throws(() => parseArgs(["-t"], specs, "publish"), {
      message: "Cannot publish as '-t' needs a value",
    });
    assert.throws(() => parseArgs(["--pair", "k"], specs, "publish"), {
      message: "Cannot publish as '--pair' needs 2 values",
    });
    assert.throws(() => parseArgs(["--retain=yes"], specs, "publish"), {
      message: "Cannot publish as '--retain' takes no value: current value is yes",
    });
    const args = parseArgs(["-t", "1.5"], specs, "publish");
    assert.throws(() => args.integer("topic", 0, 2), {
      message: "Cannot publish as '-t' must be an integer from 0 to 2: current value is 1.5",
    });
    assert.ok(new UsageError("x") instanceof TypeError);
  });

  test("ordered() keeps command line order across flags", () => {
    const args = parseArgs(["--pair", "a", "b", "-t", "x", "--pair", "c", "d"], specs, "run");
    assert.deepEqual(args.ordered(["topic", "pair"]).map((o) => o.values), [
      ["a", "b"],
      ["x"],
      ["c", "d"],
    ]);
  });
});

describe("planConnection", () => {
  const plan = (argv: string[]) =>
    planConnection(parseArgs(argv, CONNECTION_FLAGS, "publish"), "pub");

  test("defaults: 127.0.0.1:1883, MQTT 5, a generated client id", async () => {
    const result = await plan([]);
    assert.equal(result.url, "mqtt://127.0.0.1:1883");
    assert.equal(result.options.protocolVersion, 5);
    assert.match(result.options.clientId!, /^tern-pub-[0-9a-f]{8}$/);
    assert.equal(result.options.tls, undefined);
  });

  test("-h -p -V -i -u -P -k", async () => {
    const result = await plan([
      "-h",
      "::1",
      "-p",
      "1884",
      "-V",
      "31",
      "-i",
      "me",
      "-u",
      "ann",
      "-P",
      "pw",
      "-k",
      "5",
    ]);
    assert.equal(result.url, "mqtt://[::1]:1884");
    assert.equal(result.options.protocolVersion, 3);
    assert.equal(result.options.clientId, "me");
    assert.equal(result.options.username, "ann");
    assert.equal(result.options.password, "pw");
    assert.equal(result.options.keepalive, 5);
  });

  test("-L with credentials, a topic and a WebSocket path", async () => {
    const mqtt = await plan(["-L", "mqtts://a%40b:p%3Aw@host:8884/x/y%20z"]);
    assert.equal(mqtt.url, "mqtts://host:8884");
    assert.equal(mqtt.topic, "x/y z");
    assert.equal(mqtt.options.username, "a@b");
    assert.equal(mqtt.options.password, "p:w");
    const ws = await plan(["-L", "ws://host:8080/mqtt"]);
    assert.equal(ws.url, "ws://host:8080/mqtt");
    assert.equal(ws.topic, undefined);
  });

  test("mistakes", async () => {
    await assert.rejects(plan(["-V", "6"]), /'-V' must be 5, 311 or 31: current value is 6/);
    await assert.rejects(plan(["-p", "70000"]), /'-p' must be an integer from 1 to 65535/);
    await assert.rejects(plan(["-L", "http://x"]), /'-L' must use mqtt/);
    await assert.rejects(plan(["-L", "mqtt://x", "-p", "1"]), /cannot be combined/);
    await assert.rejects(plan(["-c"]), /'-c' needs a client identifier/);
    await assert.rejects(plan(["-x", "10", "-V", "311"]), /'-x' needs MQTT 5/);
    await assert.rejects(plan(["--cafile", "/nonexistent/ca.pem"]), {
      name: "UsageError",
      message: "Cannot read '--cafile' file /nonexistent/ca.pem: no such file",
    });
  });
});

describe("publishProperties", () => {
  const parse = (argv: string[]) => parseArgs(argv, PROPERTY_FLAGS, "publish");

  test("none given: undefined, whatever the version", () => {
    assert.equal(publishProperties(parse([]), 4), undefined);
  });

  test("both spellings, user properties in command line order", () => {
    const args = parse([
      "-D",
      "publish",
      "user-property",
      "a",
      "1",
      "--user-property",
      "b=2=3",
      "-D",
      "publish",
      "message-expiry-interval",
      "30",
      "--payload-format-indicator",
      "1",
      "--response-topic",
      "r/t",
      "--correlation-data",
      "id-7",
    ]);
    assert.deepEqual(publishProperties(args, 5), {
      userProperties: [["a", "1"], ["b", "2=3"]],
      messageExpiryInterval: 30,
      payloadFormatIndicator: 1,
      responseTopic: "r/t",
      correlationData: encoder.encode("id-7"),
    });
  });

  test("mistakes", () => {
    assert.throws(() => publishProperties(parse(["--user-property", "novalue"]), 5), /key=value/);
    assert.throws(() => publishProperties(parse(["--expiry", "-1"]), 5), /number of seconds/);
    assert.throws(
      () => publishProperties(parse(["--response-topic", "a/+"]), 5),
      /valid topic name/,
    );
    assert.throws(() => publishProperties(parse(["-D", "connect", "x", "y"]), 5), /only publish/);
    assert.throws(() => publishProperties(parse(["-D", "publish", "nope", "y"]), 5), /must name/);
    assert.throws(() => publishProperties(parse(["--content-type", "x"]), 4), {
      message: "Cannot publish as '--content-type' needs MQTT 5 ('-V 5')",
    });
    assert.throws(
      () => publishProperties(parse(["-D", "publish", "response-topic", "x"]), 5, ["contentType"]),
      /set by the command itself/,
    );
  });
});

describe("output", () => {
  const message = (payload: Uint8Array, properties = {}) =>
    new Message({ topic: "t/1", payload, qos: 1, retain: false, properties });

  test("plain, verbose and no newline keep the payload's bytes", () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x41]);
    assert.deepEqual([...formatMessage(message(bytes), {})], [0xff, 0x00, 0x41, 0x0a]);
    assert.deepEqual(
      new TextDecoder().decode(formatMessage(message(encoder.encode("x")), { verbose: true })),
      "t/1 x\n",
    );
    assert.deepEqual([...formatMessage(message(bytes), { noNewline: true })], [0xff, 0x00, 0x41]);
  });

  test("--json: binary payloads and correlation data in base64", () => {
    const json = JSON.parse(messageJson(message(new Uint8Array([0xff, 0xfe]), {
      correlationData: new Uint8Array([0xc3]),
      subscriptionIdentifiers: [3],
    })));
    assert.deepEqual(json, {
      topic: "t/1",
      payloadBase64: "//4=",
      qos: 1,
      retain: false,
      properties: { correlationData: { base64: "ww==" }, subscriptionIdentifiers: [3] },
    });
  });

  test("lines() splits across chunks and decodes UTF-8 split in the middle", async () => {
    const bytes = encoder.encode("é1\nb");
    async function* chunks() {
      yield bytes.subarray(0, 1);
      yield bytes.subarray(1);
    }
    const seen: string[] = [];
    for await (const line of lines(chunks())) seen.push(line);
    assert.deepEqual(seen, ["é1", "b"]);
  });

  test("latency percentiles", () => {
    assert.deepEqual(latencySummary(new Float64Array()), {
      min: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      max: 0,
      mean: 0,
    });
    const hundred = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
    const summary = latencySummary(hundred);
    assert.equal(summary.p50, 50);
    assert.equal(summary.p99, 99);
    assert.equal(summary.max, 100);
  });
});

describe("main", () => {
  test("no command prints the usage and fails; help <command> shows its help", async () => {
    const none = memoryIo();
    assert.equal(await main([], none), 2);
    assert.match(none.out(), /^Usage: tern <command>/);
    const help = memoryIo();
    assert.equal(await main(["help", "sub"], help), 0);
    assert.match(help.out(), /^Usage: tern sub/);
  });

  test("a usage mistake in a command: one line, status 2", async () => {
    const io = memoryIo();
    assert.equal(await main(["sub", "-q", "1"], io), 2);
    assert.equal(
      io.err(),
      "tern sub: Cannot subscribe as '-t' must give at least one topic filter\n",
    );
    const stray = memoryIo();
    assert.equal(await main(["pub", "-t", "a", "-m", "x", "extra"], stray), 2);
    assert.match(stray.err(), /'extra' is not a flag/);
  });

  test("Object prototype names are not commands", async () => {
    const io = memoryIo();
    assert.equal(await main(["constructor"], io), 2);
    assert.match(io.err(), /is not a command/);
  });
});
