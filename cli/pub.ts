/**
 * `tern pub`: publishes one message (or one per line of standard input) and exits once
 * each is done for its QoS, like `mosquitto_pub`.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import type { PublishOptions } from "../mod.ts";
import type { QoS } from "../lib/packet/types.ts";
import { validateTopicName } from "../lib/topic.ts";
import { type FlagSpec, parseArgs, type ParsedArgs } from "./args.ts";
import { CONNECTION_FLAGS, CONNECTION_USAGE, openClient, planConnection } from "./connection.ts";
import { type CliIo, lines, readAll } from "./io.ts";
import { PROPERTY_FLAGS, PROPERTY_USAGE, publishProperties } from "./properties.ts";

/**
 * Flags naming where a message's payload comes from: `-m`, `-f`, `-n`, `-s`, `-l`.
 *
 * @example Parse a message flag
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { MESSAGE_FLAGS } from "./pub.ts";
 * assert.equal(parseArgs(["-m", "hi"], MESSAGE_FLAGS, "publish").string("message"), "hi");
 * ```
 */
export const MESSAGE_FLAGS: readonly FlagSpec[] = [
  { key: "message", short: "m", long: "message" },
  { key: "file", short: "f", long: "file" },
  { key: "null", short: "n", long: "null-message", values: 0 },
  { key: "stdinFile", short: "s", long: "stdin-file", values: 0 },
  { key: "stdinLines", short: "l", long: "stdin-lines", values: 0 },
];

const PUB_FLAGS: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  ...MESSAGE_FLAGS,
  ...PROPERTY_FLAGS,
  { key: "topic", short: "t", long: "topic" },
  { key: "qos", short: "q", long: "qos" },
  { key: "retain", short: "r", long: "retain", values: 0 },
];

/**
 * The help text of `tern pub`.
 *
 * @example Show the synopsis
 * ```ts
 * import assert from "node:assert/strict";
 * import { PUB_USAGE } from "./pub.ts";
 * assert.match(PUB_USAGE, /^Usage: tern pub -t TOPIC/);
 * ```
 */
export const PUB_USAGE =
  `Usage: tern pub -t TOPIC (-m MSG | -f FILE | -n | -s | -l) [-q QOS] [-r] [flags]

Publishes a message and exits once it is done for its QoS.
  -t, --topic TOPIC      topic to publish to
  -m, --message MSG      the payload, as UTF-8 text
  -f, --file FILE        the payload, read from FILE
  -n, --null-message     an empty payload
  -s, --stdin-file       the payload, read from standard input
  -l, --stdin-lines      one message per line of standard input
  -q, --qos 0|1|2        quality of service (default 0)
  -r, --retain           retain the message

${PROPERTY_USAGE}

${CONNECTION_USAGE}`;

/**
 * Where the payloads come from, as the message flags say: one payload, or one per line
 * of standard input. Throws a `UsageError` unless exactly one source is given.
 *
 * @example Exactly one source
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { memoryIo } from "./io.ts";
 * import { MESSAGE_FLAGS, payloads } from "./pub.ts";
 * const io = memoryIo("a\nb\n");
 * const seen: string[] = [];
 * const args = parseArgs(["-l"], MESSAGE_FLAGS, "publish");
 * for await (const payload of await payloads(args, io)) seen.push(String(payload));
 * assert.deepEqual(seen, ["a", "b"]);
 * assert.throws(() => payloads(parseArgs([], MESSAGE_FLAGS, "publish"), io), /one of '-m'/);
 * ```
 */
export function payloads(
  args: ParsedArgs,
  io: CliIo,
): Promise<AsyncIterable<string | Uint8Array>> {
  const given = MESSAGE_FLAGS.filter((spec) => args.has(spec.key));
  if (given.length !== 1) {
    args.fail(
      given.length === 0
        ? "one of '-m', '-f', '-n', '-s' or '-l' must give the message"
        : `only one of '-m', '-f', '-n', '-s' or '-l' may give the message: current flags are ${
          given.map((spec) => args.flag(spec.key)).join(", ")
        }`,
    );
  }
  const one = (payload: string | Uint8Array) =>
    (async function* () {
      yield payload;
    })();
  switch (given[0]!.key) {
    case "message":
      return Promise.resolve(one(args.string("message")!));
    case "null":
      return Promise.resolve(one(new Uint8Array()));
    case "stdinFile":
      return readAll(io.stdin()).then(one);
    case "stdinLines":
      return Promise.resolve(lines(io.stdin()));
    default: {
      const file = args.string("file")!;
      return readFile(file).then(
        (bytes) => one(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
        (error) => {
          const code = (error as { code?: string }).code;
          args.fail(
            `'${args.flag("file")}' file ${file} cannot be read: ${
              code === "ENOENT" ? "no such file" : (error as Error).message
            }`,
          );
        },
      );
    }
  }
}

/**
 * Checks a topic name from the command line, failing with a `UsageError` that names it.
 *
 * @example A wildcard in a topic name
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { checkTopicName } from "./pub.ts";
 * const args = parseArgs([], [], "publish");
 * assert.throws(() => checkTopicName(args, "a/+", "'-t'"), /'-t' is not a valid topic name/);
 * ```
 */
export function checkTopicName(args: ParsedArgs, topic: string, flag: string): void {
  try {
    validateTopicName(topic);
  } catch (error) {
    args.fail(`${flag} is not a valid topic name: ${(error as Error).message}`);
  }
}

/**
 * Runs `tern pub` with `argv` (the words after "pub"); resolves with the exit status.
 *
 * @example Print the help
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * import { runPub } from "./pub.ts";
 * const io = memoryIo();
 * assert.equal(await runPub(["--help"], io), 0);
 * assert.match(io.out(), /Usage: tern pub/);
 * ```
 */
export async function runPub(argv: readonly string[], io: CliIo): Promise<number> {
  const args: ParsedArgs = parseArgs(argv, PUB_FLAGS, "publish");
  if (args.has("help")) {
    await io.write(`${PUB_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) {
    args.fail(`'${args.positionals[0]}' is not a flag (see --help)`);
  }
  const plan = await planConnection(args, "pub");
  const topic = args.string("topic") ?? plan.topic;
  if (topic === undefined) args.fail("'-t' must give the topic");
  checkTopicName(args, topic, `'${args.flag("topic") ?? "-L"}'`);
  const qos = (args.integer("qos", 0, 2) ?? 0) as QoS;
  const options: PublishOptions = { qos, retain: args.has("retain"), signal: io.signal };
  const properties = publishProperties(args, plan.options.protocolVersion ?? 5);
  if (properties !== undefined) options.properties = properties;
  const source = await payloads(args, io);
  await using client = await openClient(plan, io);
  const pending: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  for await (const payload of source) {
    if (failure !== undefined || io.signal.aborted) break;
    pending.push(
      client.publish(topic, payload, options).then(() => {}, (error) => {
        failure ??= { error };
      }),
    );
    // Bounded: wait for the oldest once many are in flight.
    if (pending.length >= 256) await pending.shift();
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure.error;
  await client.disconnect();
  return 0;
}
