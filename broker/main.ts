/**
 * The broker's command line: `deno run -A broker/main.ts [flags]` or
 * `bun broker/main.ts [flags]`. Starts the broker in the foreground, prints where it
 * listens (and, in strict mode or with --verbose, each violation as it happens) and shuts
 * down cleanly on Ctrl-C.
 *
 * ```text
 * --host HOST          address to bind (default 127.0.0.1)
 * --port N             MQTT over TCP (default 1883)
 * --tls-port N         MQTT over TLS, with --cert and --key (PEM files)
 * --cert FILE, --key FILE, --ca FILE
 * --ws-port N          MQTT over WebSocket (wss with --cert and --key)
 * --ws-path PATH       WebSocket path (default /mqtt)
 * --strict             strict mode (see BrokerOptions.strict)
 * --user NAME:PASS     accept this user (repeatable); with any, anonymous clients are refused
 * --acl FILE           access control list (format in acl.ts)
 * --max-keep-alive S   largest Keep Alive; MQTT 5 clients get Server Keep Alive
 * --max-queued N       QoS 1 and 2 messages queued per session beyond those in flight
 * --require-cert       TLS clients must present a certificate signed by --ca
 * --sys-interval S     seconds between $SYS/broker/... updates (default 10; 0: none)
 * --queue-qos0         queue QoS 0 messages for offline persistent sessions too
 * --verbose            print violations in lenient mode too
 * ```
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import process from "node:process";
import { aclAuthorizer, parseAcl, passwordAuthenticator } from "./acl.ts";
import { type RunningBroker, startBroker, type StartBrokerOptions } from "./start.ts";
import type { Violation } from "./violations.ts";

/** The command line flags, parsed. */
export interface BrokerArgs {
  host: string;
  port: number;
  tlsPort: number | undefined;
  cert: string | undefined;
  key: string | undefined;
  ca: string | undefined;
  wsPort: number | undefined;
  wsPath: string;
  strict: boolean;
  users: string[];
  acl: string | undefined;
  maxKeepAlive: number | undefined;
  maxQueued: number | undefined;
  requireCert: boolean;
  sysInterval: number;
  queueQos0: boolean;
  verbose: boolean;
  help: boolean;
}

/** The help text. */
export const USAGE = `Usage: broker [flags]
  --host HOST          address to bind (default 127.0.0.1)
  --port N             MQTT over TCP (default 1883)
  --tls-port N         MQTT over TLS (needs --cert and --key)
  --cert FILE          server certificate (PEM)
  --key FILE           private key of the certificate (PEM)
  --ca FILE            authority for client certificates (PEM)
  --ws-port N          MQTT over WebSocket (wss when --cert and --key are given)
  --ws-path PATH       WebSocket path (default /mqtt)
  --strict             refuse what a lenient broker tolerates; print each violation
  --user NAME:PASS     accept this user (repeatable); anonymous clients are then refused
  --acl FILE           who may publish and subscribe where (see broker/acl.ts)
  --max-keep-alive S   largest Keep Alive in seconds
  --max-queued N       messages queued per session beyond those in flight (default 1000)
  --require-cert       TLS clients must present a certificate signed by --ca
  --sys-interval S     seconds between $SYS/broker/... updates (default 10; 0: none)
  --queue-qos0         queue QoS 0 messages for offline persistent sessions too
  --verbose            print violations in lenient mode too
  --help               this text`;

/**
 * Parses the command line flags. Throws a TypeError for an unknown flag or a bad value.
 *
 * @example Parse flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBrokerArgs } from "./main.ts";
 * const args = parseBrokerArgs(["--port", "0", "--strict", "--user", "a:b", "--user=c:d"]);
 * assert.equal(args.port, 0);
 * assert.equal(args.strict, true);
 * assert.deepEqual(args.users, ["a:b", "c:d"]);
 * assert.throws(() => parseBrokerArgs(["--nope"]), TypeError);
 * ```
 */
export function parseBrokerArgs(argv: readonly string[]): BrokerArgs {
  const args: BrokerArgs = {
    host: "127.0.0.1",
    port: 1883,
    tlsPort: undefined,
    cert: undefined,
    key: undefined,
    ca: undefined,
    wsPort: undefined,
    wsPath: "/mqtt",
    strict: false,
    users: [],
    acl: undefined,
    maxKeepAlive: undefined,
    maxQueued: undefined,
    requireCert: false,
    sysInterval: 10,
    queueQos0: false,
    verbose: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let inline: string | undefined;
    const equals = flag.indexOf("=");
    if (flag.startsWith("--") && equals !== -1) {
      inline = flag.slice(equals + 1);
      flag = flag.slice(0, equals);
    }
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) {
        throw new TypeError(`Cannot start the broker as '${flag}' needs a value`);
      }
      return next;
    };
    const port = (): number => {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 65535 || text.trim() === "") {
        throw new RangeError(
          `Cannot start the broker as '${flag}' must be a port from 0 to 65535: current value is ${text}`,
        );
      }
      return n;
    };
    switch (flag) {
      case "--host":
        args.host = value();
        break;
      case "--port":
        args.port = port();
        break;
      case "--tls-port":
        args.tlsPort = port();
        break;
      case "--cert":
        args.cert = value();
        break;
      case "--key":
        args.key = value();
        break;
      case "--ca":
        args.ca = value();
        break;
      case "--ws-port":
        args.wsPort = port();
        break;
      case "--ws-path":
        args.wsPath = value();
        break;
      case "--strict":
        args.strict = true;
        break;
      case "--user":
        args.users.push(value());
        break;
      case "--acl":
        args.acl = value();
        break;
      case "--max-keep-alive":
        args.maxKeepAlive = port();
        break;
      case "--max-queued": {
        const text = value();
        const n = Number(text);
        if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1 || text.trim() === "") {
          throw new RangeError(
            `Cannot start the broker as '--max-queued' must be an integer from 0 to 2147483647: current value is ${text}`,
          );
        }
        args.maxQueued = n;
        break;
      }
      case "--require-cert":
        args.requireCert = true;
        break;
      case "--sys-interval": {
        const text = value();
        const n = Number(text);
        if (!Number.isInteger(n) || n < 0 || n > 2_147_483 || text.trim() === "") {
          throw new RangeError(
            `Cannot start the broker as '${flag}' must be a number of seconds from 0 to 2147483: current value is ${text}`,
          );
        }
        args.sysInterval = n;
        break;
      }
      case "--queue-qos0":
        args.queueQos0 = true;
        break;
      case "--verbose":
        args.verbose = true;
        break;
      case "--help":
      case "-h":
        args.help = true;
        break;
      default:
        throw new TypeError(
          `Cannot start the broker as '${flag}' is not a known flag (see --help)`,
        );
    }
  }
  if (args.tlsPort !== undefined && (args.cert === undefined || args.key === undefined)) {
    throw new TypeError("Cannot start the broker as '--tls-port' needs '--cert' and '--key'");
  }
  if (args.requireCert && (args.tlsPort === undefined || args.ca === undefined)) {
    throw new TypeError(
      "Cannot start the broker as '--require-cert' needs '--tls-port' and '--ca'",
    );
  }
  return args;
}

/** One line describing a violation, for the console. */
export function formatViolation(violation: Violation): string {
  const who = violation.clientId ?? violation.remoteAddress ?? "?";
  const statement = violation.statement === undefined ? "" : ` [${violation.statement}]`;
  const code = `0x${violation.reasonCode.toString(16).padStart(2, "0")}`;
  return `violation by ${who}${statement} (${code}): ${violation.message}`;
}

/**
 * Starts the broker as the flags say, printing with `log`. Returns the running broker.
 */
export async function runBroker(
  argv: readonly string[],
  log: (line: string) => void = console.log,
): Promise<RunningBroker | undefined> {
  const args = parseBrokerArgs(argv);
  if (args.help) {
    log(USAGE);
    return undefined;
  }
  const read = (file: string) => readFile(file, "utf8");
  const cert = args.cert === undefined ? undefined : await read(args.cert);
  const key = args.key === undefined ? undefined : await read(args.key);
  const ca = args.ca === undefined ? undefined : await read(args.ca);
  const options: StartBrokerOptions = {
    hostname: args.host,
    port: args.port,
    strict: args.strict,
    sysInterval: args.sysInterval,
    queueQos0: args.queueQos0,
  };
  if (args.tlsPort !== undefined) {
    options.tls = {
      port: args.tlsPort,
      cert: cert!,
      key: key!,
      ...(ca === undefined ? {} : { ca }),
      ...(args.requireCert ? { requestCert: true } : {}),
    };
  }
  if (args.wsPort !== undefined) {
    options.ws = {
      port: args.wsPort,
      path: args.wsPath,
      ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    };
  }
  if (args.users.length > 0) options.authenticate = passwordAuthenticator(args.users);
  if (args.acl !== undefined) options.authorize = aclAuthorizer(parseAcl(await read(args.acl)));
  if (args.maxKeepAlive !== undefined) options.maxKeepAlive = args.maxKeepAlive;
  if (args.maxQueued !== undefined) options.maxQueuedMessages = args.maxQueued;
  if (args.strict || args.verbose) {
    options.onViolation = (violation) => log(formatViolation(violation));
  }
  const broker = await startBroker(options);
  log(
    `tern broker listening on ${
      [broker.url, broker.tlsUrl, broker.wsUrl].filter(Boolean).join(" ")
    }${args.strict ? " (strict)" : ""}`,
  );
  return broker;
}

if (import.meta.main) {
  try {
    const broker = await runBroker(process.argv.slice(2));
    if (broker !== undefined) {
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        console.log("shutting down");
        await broker.close();
        process.exit(0);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    }
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}
