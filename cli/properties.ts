/**
 * MQTT 5 PUBLISH properties from the command line, both as Mosquitto spells them
 * (`-D publish user-property key value`, `-D publish content-type text/plain`) and as
 * plain long flags (`--user-property key=value`, `--content-type`, `--expiry`,
 * `--response-topic`, `--correlation-data`).
 *
 * @module
 */

import type { Properties, ProtocolVersion } from "../lib/packet/types.ts";
import { validateTopicName } from "../lib/topic.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";

/**
 * Flags of the MQTT 5 message properties, for {@link parseArgs}.
 *
 * @example Parse a Mosquitto-style property
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { PROPERTY_FLAGS } from "./properties.ts";
 * const args = parseArgs(["-D", "publish", "user-property", "k", "v"], PROPERTY_FLAGS, "publish");
 * assert.deepEqual(args.occurrences("property"), [["publish", "user-property", "k", "v"]]);
 * ```
 */
export const PROPERTY_FLAGS: readonly FlagSpec[] = [
  {
    key: "property",
    short: "D",
    long: "property",
    values: (rest) => rest[1] === "user-property" ? 4 : 3,
  },
  { key: "userProperty", long: "user-property" },
  { key: "contentType", long: "content-type" },
  { key: "expiry", long: ["expiry", "message-expiry-interval"] },
  { key: "responseTopic", long: "response-topic" },
  { key: "correlationData", long: "correlation-data" },
  { key: "payloadFormat", long: "payload-format-indicator" },
];

/** Help lines for {@link PROPERTY_FLAGS}. */
export const PROPERTY_USAGE = `MQTT 5 message properties:
  --user-property K=V    a user property (repeatable)
  --content-type TYPE    content type, e.g. application/json
  --expiry S             message expiry interval in seconds
  --response-topic T     response topic        --correlation-data TEXT
  --payload-format-indicator 0|1   1: the payload is UTF-8 text
  -D publish PROPERTY VALUE   Mosquitto's spelling: user-property K V, content-type,
                         message-expiry-interval, response-topic, correlation-data,
                         payload-format-indicator`;

const LONG_FLAG: Record<string, string> = {
  "content-type": "contentType",
  "message-expiry-interval": "expiry",
  "response-topic": "responseTopic",
  "correlation-data": "correlationData",
  "payload-format-indicator": "payloadFormat",
};

/**
 * The PUBLISH properties the flags ask for, or undefined when none. Throws a
 * `UsageError` for a malformed value, and when properties are asked for before MQTT 5.
 * `allowed` lists the properties the command lets the user set (default: all), among
 * contentType, expiry, responseTopic, correlationData and payloadFormat.
 *
 * @example Properties from long flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { PROPERTY_FLAGS, publishProperties } from "./properties.ts";
 * const args = parseArgs(
 *   ["--user-property", "unit=celsius", "--content-type", "text/plain", "--expiry", "60"],
 *   PROPERTY_FLAGS,
 *   "publish",
 * );
 * assert.deepEqual(publishProperties(args, 5), {
 *   userProperties: [["unit", "celsius"]],
 *   contentType: "text/plain",
 *   messageExpiryInterval: 60,
 * });
 * assert.throws(() => publishProperties(args, 4), /needs MQTT 5/);
 * ```
 */
export function publishProperties(
  args: ParsedArgs,
  version: ProtocolVersion,
  allowed?: readonly string[],
): Properties | undefined {
  const properties: Properties = {};
  const values = new Map<string, { flag: string; value: string }>();
  const userProperties: [string, string][] = [];
  const keys = ["contentType", "expiry", "responseTopic", "correlationData", "payloadFormat"]
    .filter((key) => allowed === undefined || allowed.includes(key));
  const given = args.ordered(["property", "userProperty", ...keys]);
  for (const { key, flag, values: words } of given) {
    if (key === "property") {
      const [command, name, first, second] = words;
      if (command !== "publish") {
        args.fail(`'-D' sets only publish properties here: current value is ${command}`);
      }
      if (name === "user-property") userProperties.push([first!, second!]);
      else if (name! in LONG_FLAG) {
        const longKey = LONG_FLAG[name!]!;
        if (!keys.includes(longKey)) args.fail(`'-D publish ${name}' is set by the command itself`);
        values.set(longKey, { flag: `-D publish ${name}`, value: first! });
      } else {
        args.fail(
          `'-D publish' must name user-property, content-type, message-expiry-interval, response-topic, correlation-data or payload-format-indicator: current value is ${name}`,
        );
      }
    } else if (key === "userProperty") {
      const text = words[0]!;
      const equals = text.indexOf("=");
      if (equals <= 0) {
        args.fail(`'--user-property' must be written key=value: current value is ${text}`);
      }
      userProperties.push([text.slice(0, equals), text.slice(equals + 1)]);
    } else values.set(key, { flag, value: words[0]! });
  }
  if (given.length === 0) return undefined;
  if (version !== 5) {
    const first = given[0]!;
    args.fail(
      `'${
        first.key === "property" ? `-D ${first.values[0]} ${first.values[1]}` : first.flag
      }' needs MQTT 5 ('-V 5')`,
    );
  }
  if (userProperties.length > 0) properties.userProperties = userProperties;
  for (const [key, { flag, value }] of values) {
    switch (key) {
      case "contentType":
        properties.contentType = value;
        break;
      case "expiry": {
        const n = Number(value);
        if (value.trim() === "" || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
          args.fail(
            `'${flag}' must be a number of seconds from 0 to 4294967295: current value is ${value}`,
          );
        }
        properties.messageExpiryInterval = n;
        break;
      }
      case "responseTopic":
        try {
          validateTopicName(value);
        } catch (error) {
          args.fail(`'${flag}' is not a valid topic name: ${(error as Error).message}`);
        }
        properties.responseTopic = value;
        break;
      case "correlationData":
        properties.correlationData = new TextEncoder().encode(value);
        break;
      case "payloadFormat":
        if (value !== "0" && value !== "1") {
          args.fail(`'${flag}' must be 0 or 1: current value is ${value}`);
        }
        properties.payloadFormatIndicator = Number(value);
        break;
    }
  }
  return properties;
}
