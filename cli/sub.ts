/**
 * `tern sub`: subscribes to topic filters and prints the messages, like `mosquitto_sub`:
 * the payload alone, `topic payload` with `-v`, or one JSON object per line with
 * `--json`.
 *
 * @module
 */

import type { Message, MqttClient, SubscribeOptions } from "../mod.ts";
import type { Properties, QoS } from "../lib/packet/types.ts";
import { validateTopicFilter } from "../lib/topic.ts";
import { type FlagSpec, parseArgs, type ParsedArgs } from "./args.ts";
import { CONNECTION_FLAGS, CONNECTION_USAGE, openClient, planConnection } from "./connection.ts";
import { type CliIo, concat } from "./io.ts";

const SUB_FLAGS: readonly FlagSpec[] = [
  ...CONNECTION_FLAGS,
  { key: "topic", short: "t", long: "topic" },
  { key: "qos", short: "q", long: "qos" },
  { key: "verbose", short: "v", long: "verbose", values: 0 },
  { key: "count", short: "C", long: "count" },
  { key: "noRetained", short: "R", long: "no-retained", values: 0 },
  { key: "timeout", short: "W", long: "timeout" },
  { key: "noNewline", short: "N", long: "no-newline", values: 0 },
  { key: "json", long: "json", values: 0 },
  { key: "noLocal", long: ["nl", "no-local"], values: 0 },
  { key: "rap", long: ["rap", "retain-as-published"], values: 0 },
];

/**
 * The help text of `tern sub`.
 *
 * @example Show the synopsis
 * ```ts
 * import assert from "node:assert/strict";
 * import { SUB_USAGE } from "./sub.ts";
 * assert.match(SUB_USAGE, /^Usage: tern sub -t FILTER/);
 * ```
 */
export const SUB_USAGE = `Usage: tern sub -t FILTER... [-q QOS] [-v] [-C COUNT] [--json] [flags]

Subscribes and prints each message: its payload, "topic payload" with -v, or a JSON
object per line with --json. Runs until Ctrl-C, -C messages or -W seconds.
  -t, --topic FILTER     topic filter (repeatable)
  -q, --qos 0|1|2        maximum quality of service (default 0)
  -v, --verbose          print the topic before the payload
  -C, --count N          exit after N messages
  -R, --no-retained      skip retained messages
  -W, --timeout S        exit with status 1 if S seconds pass before the end
  -N, --no-newline       no newline after each payload
  --json                 one JSON object per message: topic, payload, qos, retain, properties
  --nl, --no-local       MQTT 5: not this client's own messages
  --rap                  MQTT 5: retain as published

${CONNECTION_USAGE}`;

const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

function toText(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function jsonProperties(properties: Readonly<Properties>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value === undefined) continue;
    if (value instanceof Uint8Array) {
      const text = toText(value);
      out[key] = text ?? { base64: base64(value) };
    } else out[key] = value;
  }
  return out;
}

/**
 * A message as one JSON line for `--json`: `topic`, `payload` (text when it is UTF-8,
 * else `payloadBase64`), `qos`, `retain`, and the MQTT 5 `properties` when there are any
 * (bytes such as Correlation Data as text when UTF-8, else `{ "base64": ... }`).
 *
 * @example A message with a user property
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message } from "../mod.ts";
 * import { messageJson } from "./sub.ts";
 * const message = new Message({
 *   topic: "a/b",
 *   payload: new TextEncoder().encode("hi"),
 *   qos: 1,
 *   retain: false,
 *   properties: { userProperties: [["k", "v"]] },
 * });
 * assert.deepEqual(JSON.parse(messageJson(message)), {
 *   topic: "a/b",
 *   payload: "hi",
 *   qos: 1,
 *   retain: false,
 *   properties: { userProperties: [["k", "v"]] },
 * });
 * ```
 */
export function messageJson(message: Message): string {
  const text = toText(message.payload);
  const record: Record<string, unknown> = { topic: message.topic };
  if (text !== undefined) record.payload = text;
  else record.payloadBase64 = base64(message.payload);
  record.qos = message.qos;
  record.retain = message.retain;
  const properties = jsonProperties(message.properties);
  if (Object.keys(properties).length > 0) record.properties = properties;
  return JSON.stringify(record);
}

/** How `tern sub` and `tern rr` print a message. */
export interface PrintOptions {
  /** One JSON object per line. */
  json?: boolean;
  /** The topic, a space, then the payload. */
  verbose?: boolean;
  /** No newline after the payload. */
  noNewline?: boolean;
}

/**
 * The bytes `tern sub` prints for a message.
 *
 * @example Verbose output
 * ```ts
 * import assert from "node:assert/strict";
 * import { Message } from "../mod.ts";
 * import { formatMessage } from "./sub.ts";
 * const message = new Message({ topic: "t", payload: new TextEncoder().encode("21.5"), qos: 0, retain: true });
 * assert.equal(new TextDecoder().decode(formatMessage(message, { verbose: true })), "t 21.5\n");
 * ```
 */
export function formatMessage(message: Message, options: PrintOptions): Uint8Array {
  if (options.json) return encoder.encode(`${messageJson(message)}\n`);
  const parts: Uint8Array[] = [];
  if (options.verbose) parts.push(encoder.encode(`${message.topic} `));
  parts.push(message.payload);
  if (!options.noNewline) parts.push(encoder.encode("\n"));
  return concat(parts);
}

/**
 * Runs `tern sub` with `argv` (the words after "sub"); resolves with the exit status.
 *
 * @example A bad topic filter is a usage error
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * import { runSub } from "./sub.ts";
 * await assert.rejects(runSub(["-t", "a/#/b"], memoryIo()), /'-t' is not a valid topic filter/);
 * ```
 */
export async function runSub(argv: readonly string[], io: CliIo): Promise<number> {
  const args: ParsedArgs = parseArgs(argv, SUB_FLAGS, "subscribe");
  if (args.has("help")) {
    await io.write(`${SUB_USAGE}\n`);
    return 0;
  }
  if (args.positionals.length > 0) {
    args.fail(`'${args.positionals[0]}' is not a flag (see --help)`);
  }
  const plan = await planConnection(args, "sub");
  const filters = args.strings("topic");
  if (filters.length === 0 && plan.topic !== undefined) filters.push(plan.topic);
  if (filters.length === 0) args.fail("'-t' must give at least one topic filter");
  for (const filter of filters) {
    try {
      validateTopicFilter(filter);
    } catch (error) {
      args.fail(
        `'${args.flag("topic") ?? "-L"}' is not a valid topic filter: ${(error as Error).message}`,
      );
    }
  }
  const qos = (args.integer("qos", 0, 2) ?? 0) as QoS;
  const count = args.integer("count", 1, Number.MAX_SAFE_INTEGER);
  const timeout = args.integer("timeout", 1, 2_147_483);
  const v5 = plan.options.protocolVersion === 5;
  const subscribeOptions: SubscribeOptions = { qos };
  for (const key of ["noLocal", "rap"] as const) {
    if (args.has(key)) {
      if (!v5) args.fail(`'${args.flag(key)}' needs MQTT 5 ('-V 5')`);
      if (key === "noLocal") subscribeOptions.noLocal = true;
      else subscribeOptions.retainAsPublished = true;
    }
  }
  const print: PrintOptions = {
    json: args.has("json"),
    verbose: args.has("verbose"),
    noNewline: args.has("noNewline"),
  };
  const skipRetained = args.has("noRetained");

  let timedOut = false;
  const stopping = new AbortController();
  const stop = () => {
    if (!stopping.signal.aborted) stopping.abort(new Error("Stopped"));
    client?.disconnect().catch(() => {});
  };
  const timer = timeout === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    stop();
  }, timeout * 1000);
  let client: MqttClient | undefined;
  io.signal.addEventListener("abort", stop, { once: true });
  try {
    client = await openClient(plan, io, { reconnect: {}, signal: stopping.signal });
    const subscription = await client.subscribe(filters, {
      ...subscribeOptions,
      signal: stopping.signal,
    });
    const refused = subscription.reasonCodes.findIndex((code) => code >= 0x80);
    if (refused !== -1) {
      const code = subscription.reasonCodes[refused]!;
      io.error(
        `tern sub: the server refused '${filters[refused]}' (0x${
          code.toString(16).padStart(2, "0")
        })\n`,
      );
    }
    let seen = 0;
    try {
      for await (const message of subscription) {
        if (skipRetained && message.retain) continue;
        await io.write(formatMessage(message, print));
        if (count !== undefined && ++seen >= count) break;
      }
    } catch (error) {
      if (!stopping.signal.aborted) throw error;
    }
    if (timedOut) throw new Error(`Timed out after ${timeout} s`);
    if (stopping.signal.aborted) return 0;
    if (count === undefined || seen < count) {
      throw new Error("The connection closed and cannot be taken up again");
    }
    await client.disconnect();
    return 0;
  } catch (error) {
    if (timedOut) throw new Error(`Timed out after ${timeout} s`);
    if (stopping.signal.aborted) return 0;
    throw error;
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener("abort", stop);
    await client?.[Symbol.asyncDispose]();
  }
}
