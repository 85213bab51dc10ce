/**
 * `tern rr`: MQTT 5 request / response from the command line, like `mosquitto_rr`:
 * publishes a request with a Response Topic and Correlation Data, waits for one reply,
 * prints it and exits.
 *
 * @module
 */

import type { Message, PublishOptions } from "../mod.ts";
import type { QoS } from "../lib/packet/types.ts";
import { type FlagSpec, parseArgs, type ParsedArgs } from "./args.ts";
import { CONNECTION_FLAGS, CONNECTION_USAGE, openClient, planConnection } from "./connection.ts";
import type { CliIo } from "./io.ts";
import { PROPERTY_FLAGS, publishProperties } from "./properties.ts";
import { checkTopicName, MESSAGE_FLAGS, payloads } from "./pub.ts";
import { formatMessage } from "./sub.ts";

const RR_FLAGS: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  ...MESSAGE_FLAGS,
  // --response-topic is -e here.
  ...PROPERTY_FLAGS.filter((spec) => spec.key !== "responseTopic"),
  { key: "topic", short: "t", long: "topic" },
  { key: "responseTopic", short: "e", long: "response-topic" },
  { key: "qos", short: "q", long: "qos" },
  { key: "timeout", short: "W", long: "timeout" },
  { key: "verbose", short: "v", long: "verbose", values: 0 },
  { key: "json", long: "json", values: 0 },
];

/**
 * The help text of `tern rr`.
 *
 * @example Show the synopsis
 * ```ts
 * import assert from "node:assert/strict";
 * import { RR_USAGE } from "./rr.ts";
 * assert.match(RR_USAGE, /^Usage: tern rr -t TOPIC/);
 * ```
 */
export const RR_USAGE =
  `Usage: tern rr -t TOPIC (-m MSG | -f FILE | -n | -s) [-e RESPONSE_TOPIC] [flags]

MQTT 5 request / response: publishes the request with a Response Topic and Correlation
Data, prints the first reply and exits (status 1 when none comes within -W seconds).
  -t, --topic TOPIC      topic of the request
  -e, --response-topic T where replies go (default: a fresh topic of this client)
  -m, -f, -n, -s         the request's payload, as for tern pub
  -q, --qos 0|1|2        quality of service of the request (default 1)
  -W, --timeout S        seconds to wait for the reply (default 30)
  -v, --verbose          print the reply's topic before its payload
  --json                 print the reply as a JSON object
  --user-property K=V, --content-type T, --expiry S, -D publish ...   request properties

${CONNECTION_USAGE}`;

/**
 * Runs `tern rr` with `argv` (the words after "rr"); resolves with the exit status.
 *
 * @example Request / response needs MQTT 5
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * import { runRr } from "./rr.ts";
 * await assert.rejects(runRr(["-t", "svc", "-m", "x", "-V", "311"], memoryIo()), /needs MQTT 5/);
 * ```
 */
export async function runRr(argv: readonly string[], io: CliIo): Promise<number> {
  const args: ParsedArgs = parseArgs(argv, RR_FLAGS, "send a request");
  if (args.has("help")) {
    await io.write(`${RR_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) {
    args.fail(`'${args.positionals[0]}' is not a flag (see --help)`);
  }
  const plan = await planConnection(args, "rr");
  if (plan.options.protocolVersion !== 5) {
    args.fail(
      `it needs MQTT 5 (Response Topic, Correlation Data): '-V' is ${args.string("protocol")}`,
    );
  }
  const topic = args.string("topic") ?? plan.topic;
  if (topic === undefined) args.fail("'-t' must give the topic of the request");
  checkTopicName(args, topic, `'${args.flag("topic") ?? "-L"}'`);
  if (args.has("stdinLines")) args.fail("'-l' does not apply: a request is one message");
  const responseTopic = args.string("responseTopic");
  if (responseTopic !== undefined) {
    checkTopicName(args, responseTopic, `'${args.flag("responseTopic")}'`);
  }
  const qos = (args.integer("qos", 0, 2) ?? 1) as QoS;
  const timeout = args.integer("timeout", 1, 2_147_483) ?? 30;
  const properties = publishProperties(args, 5, [
    "contentType",
    "expiry",
    "payloadFormat",
    ...(responseTopic === undefined ? [] : ["correlationData"]),
  ]);
  let payload: string | Uint8Array = new Uint8Array();
  for await (const each of await payloads(args, io)) payload = each;
  await using client = await openClient(plan, io);
  let reply: Message;
  if (responseTopic === undefined) {
    reply = await client.request(topic, payload, {
      qos,
      timeout: timeout * 1000,
      signal: io.signal,
      ...(properties === undefined ? {} : { properties }),
    });
  } else {
    // A response topic of the user's: subscribe to it, send, take the first reply whose
    // Correlation Data matches (or that has none, as some responders drop it).
    await using inbox = await client.subscribe(responseTopic, { qos: 1, signal: io.signal });
    const correlationData = properties?.correlationData ??
      crypto.getRandomValues(new Uint8Array(16));
    const options: PublishOptions = {
      qos,
      signal: io.signal,
      properties: { ...properties, responseTopic, correlationData },
    };
    const same = (data: Uint8Array | undefined) =>
      data === undefined ||
      (data.length === correlationData.length && data.every((b, i) => b === correlationData[i]));
    const waiting = (async () => {
      for await (const message of inbox) {
        if (same(message.correlationData)) return message;
      }
      throw new Error("The connection closed before the reply came");
    })();
    waiting.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`No response to the request on '${topic}' within ${timeout * 1000} ms`)),
        timeout * 1000,
      );
    });
    try {
      await Promise.race([client.publish(topic, payload, options), late]);
      reply = await Promise.race([waiting, late]);
    } finally {
      clearTimeout(timer);
    }
  }
  await io.write(formatMessage(reply, { json: args.has("json"), verbose: args.has("verbose") }));
  await client.disconnect();
  return 0;
}
