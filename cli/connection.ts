/**
 * The connection flags every client subcommand shares, spelled as Mosquitto's clients
 * spell them (`-h`, `-p`, `-L`, `-i`, `-u`, `-P`, `-V`, `-k`, `-c`, `-x`, `--cafile`,
 * `--cert`, `--key`), and the step from parsed flags to a connected client.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { connect, type ConnectOptions, type MqttClient } from "../mod.ts";
import type { ProtocolVersion } from "../lib/packet/types.ts";
import { type FlagSpec, type ParsedArgs, UsageError } from "./args.ts";
import type { CliIo } from "./io.ts";

/**
 * Flags of the connection, for {@link parseArgs}.
 *
 * @example Parse connection flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { CONNECTION_FLAGS } from "./connection.ts";
 * const args = parseArgs(["-h", "broker.lan", "-p", "1884", "-V", "311"], CONNECTION_FLAGS, "publish");
 * assert.equal(args.string("host"), "broker.lan");
 * ```
 */
export const CONNECTION_FLAGS: readonly FlagSpec[] = [
  { key: "host", short: "h", long: "host" },
  { key: "port", short: "p", long: "port" },
  { key: "url", short: "L", long: "url" },
  { key: "id", short: "i", long: "id" },
  { key: "username", short: "u", long: "username" },
  { key: "password", short: "P", long: "pw" },
  { key: "protocol", short: "V", long: "protocol-version" },
  { key: "keepalive", short: "k", long: "keepalive" },
  { key: "noClean", short: "c", long: "disable-clean-session", values: 0 },
  { key: "sessionExpiry", short: "x", long: "session-expiry-interval" },
  { key: "cafile", long: "cafile" },
  { key: "cert", long: "cert" },
  { key: "key", long: "key" },
  { key: "tlsServerName", long: "tls-server-name" },
  { key: "debug", short: "d", long: "debug", values: 0 },
  { key: "help", long: "help", values: 0 },
];

/** Help lines for {@link CONNECTION_FLAGS}. */
export const CONNECTION_USAGE = `Connection:
  -h, --host HOST        broker host (default 127.0.0.1)
  -p, --port N           broker port (default 1883, 8883 with TLS)
  -L, --url URL          mqtt[s]://[user[:password]@]host[:port][/topic], ws[s]://host:port/path
  -i, --id ID            client identifier (default tern-<command>-<random>)
  -u, --username NAME    user name          -P, --pw PASSWORD  password
  -V, --protocol-version 5 | 311 | 31 (also mqttv5, mqttv311, mqttv31; default 5)
  -k, --keepalive S      keep alive in seconds (default 60)
  -c, --disable-clean-session   resume the session of -i (needs -x with MQTT 5)
  -x, --session-expiry-interval S   MQTT 5 session expiry
  --cafile FILE          trust this authority (PEM); turns on TLS
  --cert FILE, --key FILE   client certificate and its key (PEM); turns on TLS
  --tls-server-name NAME name to verify the server certificate against
  -d, --debug            print the client's log on stderr
  --help                 this text`;

/** Where to connect and how, from the connection flags. */
export interface ConnectionPlan {
  /** The broker URL (without user name and password). */
  url: string;
  /** Options for `connect()`. */
  options: ConnectOptions;
  /** The topic in the path of an `mqtt://` `-L` URL, as mosquitto_pub/sub read it. */
  topic: string | undefined;
}

const VERSIONS: Record<string, ProtocolVersion> = {
  "5": 5,
  "mqttv5": 5,
  "311": 4,
  "mqttv311": 4,
  "31": 3,
  "mqttv31": 3,
};

async function readPem(args: ParsedArgs, key: string): Promise<string | undefined> {
  const file = args.string(key);
  if (file === undefined) return undefined;
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
      ? "permission denied"
      : code === "EISDIR"
      ? "it is a directory"
      : oneLine(error);
    throw new UsageError(`Cannot read '${args.flag(key)}' file ${file}: ${why}`);
  }
}

/**
 * Turns the connection flags into a URL and `connect()` options, reading the TLS files.
 * `command` names the client identifier ("tern-pub-1a2b3c4d"); `verb` completes error
 * messages. Throws a {@link UsageError} for a bad flag or an unreadable file.
 *
 * @example From flags to a plan
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * import { CONNECTION_FLAGS, planConnection } from "./connection.ts";
 * const args = parseArgs(["-L", "mqtt://ann:pw@broker.lan:1884/a/b", "-V", "311"], CONNECTION_FLAGS, "publish");
 * const plan = await planConnection(args, "pub");
 * assert.equal(plan.url, "mqtt://broker.lan:1884");
 * assert.equal(plan.topic, "a/b");
 * assert.equal(plan.options.protocolVersion, 4);
 * assert.equal(plan.options.username, "ann");
 * ```
 */
export async function planConnection(args: ParsedArgs, command: string): Promise<ConnectionPlan> {
  const cafile = await readPem(args, "cafile");
  const cert = await readPem(args, "cert");
  const key = await readPem(args, "key");
  if ((cert === undefined) !== (key === undefined)) {
    args.fail("'--cert' and '--key' must be given together");
  }
  const tlsWanted = cafile !== undefined || cert !== undefined;
  const options: ConnectOptions = { clientId: "" };
  let topic: string | undefined;
  let url: URL;
  const link = args.string("url");
  if (link !== undefined) {
    if (args.has("host") || args.has("port")) {
      args.fail("'-L' cannot be combined with '-h' or '-p'");
    }
    try {
      url = new URL(link);
    } catch {
      args.fail(`'-L' must be a URL like mqtt://host:1883/topic: current value is ${link}`);
    }
    const scheme = url.protocol.slice(0, -1);
    if (!["mqtt", "mqtts", "tcp", "ssl", "ws", "wss"].includes(scheme)) {
      args.fail(
        `'-L' must use mqtt, mqtts, tcp, ssl, ws or wss: current value is ${link}`,
      );
    }
    if (url.username !== "") options.username = decodeURIComponent(url.username);
    if (url.password !== "") options.password = decodeURIComponent(url.password);
    url.username = "";
    url.password = "";
    if (scheme !== "ws" && scheme !== "wss") {
      const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
      if (path !== "") topic = path;
      url.pathname = "";
    }
  } else {
    const host = args.string("host") ?? "127.0.0.1";
    const port = args.integer("port", 1, 65535) ?? (tlsWanted ? 8883 : 1883);
    const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    try {
      url = new URL(`${tlsWanted ? "mqtts" : "mqtt"}://${hostPart}:${port}`);
    } catch {
      args.fail(`'-h' must be a host name or address: current value is ${host}`);
    }
  }
  const protocol = args.string("protocol");
  if (protocol !== undefined) {
    const version = VERSIONS[protocol.toLowerCase()];
    if (version === undefined) {
      args.fail(`'${args.flag("protocol")}' must be 5, 311 or 31: current value is ${protocol}`);
    }
    options.protocolVersion = version;
  } else {
    options.protocolVersion = 5;
  }
  const id = args.string("id");
  if (id !== undefined) options.clientId = id;
  else {
    const random = Array.from(crypto.getRandomValues(new Uint8Array(4)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    options.clientId = `tern-${command}-${random}`;
  }
  const username = args.string("username");
  if (username !== undefined) options.username = username;
  const password = args.string("password");
  if (password !== undefined) options.password = password;
  const keepalive = args.integer("keepalive", 0, 65535);
  if (keepalive !== undefined) options.keepalive = keepalive;
  if (args.has("noClean")) {
    if (id === undefined) args.fail("'-c' needs a client identifier ('-i')");
    options.clean = false;
  }
  const expiry = args.integer("sessionExpiry", 0, 0xffffffff);
  if (expiry !== undefined) {
    if (options.protocolVersion !== 5) args.fail("'-x' needs MQTT 5 ('-V 5')");
    options.sessionExpiryInterval = expiry;
  }
  const serverName = args.string("tlsServerName");
  if (tlsWanted || serverName !== undefined) {
    options.tls = {};
    if (cafile !== undefined) options.tls.ca = cafile;
    if (cert !== undefined) options.tls.cert = cert;
    if (key !== undefined) options.tls.key = key;
    if (serverName !== undefined) options.tls.serverName = serverName;
  }
  if (args.has("debug")) {
    options.logger = {
      debug: (message: string) => console.error(`debug: ${message}`),
      info: (message: string) => console.error(`info: ${message}`),
      warn: (message: string) => console.error(`warn: ${message}`),
      error: (message: string) => console.error(`error: ${message}`),
    };
  }
  return { url: url.href.replace(/\/$/, ""), options, topic };
}

/**
 * Connects as the plan says, failing with one readable line: the reason code name when
 * the server refuses, the transport's reason when it cannot be reached.
 *
 * @example A broker that is not there
 * ```ts
 * import assert from "node:assert/strict";
 * import { openClient } from "./connection.ts";
 * import { memoryIo } from "./io.ts";
 * await assert.rejects(
 *   openClient({ url: "mqtt://127.0.0.1:1", options: {}, topic: undefined }, memoryIo()),
 *   /^Error: Cannot connect to 127\.0\.0\.1:1/,
 * );
 * ```
 */
export async function openClient(
  plan: ConnectionPlan,
  io: CliIo,
  extra: ConnectOptions = {},
): Promise<MqttClient> {
  try {
    return await connect(plan.url, {
      reconnect: false,
      connectTimeout: 15_000,
      ...plan.options,
      ...extra,
      signal: extra.signal ?? io.signal,
    });
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw error;
    const message = oneLine(error);
    throw new Error(
      message.startsWith("Cannot connect") ? message : `Cannot connect to ${plan.url}: ${message}`,
      { cause: error },
    );
  }
}

/**
 * An error's message on one line.
 *
 * @example Collapse a multi-line message
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneLine } from "./connection.ts";
 * assert.equal(oneLine(new Error("a\n  b")), "a b");
 * assert.equal(oneLine("plain"), "plain");
 * ```
 */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, " ").trim();
}
