/**
 * The `tern` command line: `deno run -A jsr:@tern/mqtt/cli <command> [flags]`, or
 * `deno run -A cli.ts` / `bun cli.ts` in a checkout.
 *
 * ```text
 * tern pub -t TOPIC -m MSG [-q QOS] [-r]       publish a message
 * tern sub -t FILTER... [-v] [-C N] [--json]   print messages
 * tern rr -t TOPIC -m MSG                      MQTT 5 request / response
 * tern bench [-n N] [-q QOS] [-s SIZE]         throughput and latency
 * tern broker [--port N] [--strict] ...        run tern's broker
 * tern conformance broker URL [--v5] [--json|--junit FILE]
 * ```
 *
 * Flags follow mosquitto_pub and mosquitto_sub (`-h`, `-p`, `-t`, `-m`, `-q`, `-r`, `-C`,
 * `-v`, `-i`, `-u`, `-P`, `-V`, `--cafile`, `--cert`, `--key`, `-L URL`); `--help` after
 * any command explains it. A mistake prints one line on standard error and exits with
 * status 2, a failure (refused connection, timeout) with status 1.
 *
 * @module
 */

import process from "node:process";
import { UsageError } from "./cli/args.ts";
import { runBench } from "./cli/bench.ts";
import { runBroker } from "./cli/broker.ts";
import { runConformance } from "./cli/conformance.ts";
import { oneLine } from "./cli/connection.ts";
import { type CliIo, processIo } from "./cli/io.ts";
import { runPub } from "./cli/pub.ts";
import { runRr } from "./cli/rr.ts";
import { runSub } from "./cli/sub.ts";

export { type CliIo, memoryIo, processIo } from "./cli/io.ts";

/**
 * The help text of `tern`.
 *
 * @example Show the commands
 * ```ts
 * import assert from "node:assert/strict";
 * import { USAGE } from "./cli.ts";
 * assert.match(USAGE, /^  pub  /m);
 * ```
 */
export const USAGE = `Usage: tern <command> [flags]

Commands:
  pub          publish a message (or one per line of standard input)
  sub          subscribe and print messages
  rr           MQTT 5 request / response: publish, wait for one reply
  bench        throughput and latency against a broker
  broker       run tern's broker
  conformance  run the broker conformance suite against a broker URL

Run "tern <command> --help" for the flags of a command.`;

const COMMANDS: Record<string, (argv: readonly string[], io: CliIo) => Promise<number>> = {
  pub: runPub,
  sub: runSub,
  rr: runRr,
  bench: runBench,
  broker: runBroker,
  conformance: runConformance,
};

/**
 * Runs the command line `argv` (without the program name) and resolves with the exit
 * status: 0 success, 1 failure, 2 usage mistake, 130 interrupted. Errors are printed as
 * one line "tern <command>: <message>" on `io`'s standard error; a stack trace only with
 * the environment variable TERN_DEBUG set.
 *
 * @example An unknown command
 * ```ts
 * import assert from "node:assert/strict";
 * import { main, memoryIo } from "./cli.ts";
 * const io = memoryIo();
 * assert.equal(await main(["publish"], io), 2);
 * assert.equal(io.err(), "tern: 'publish' is not a command (pub, sub, rr, bench, broker, conformance)\n");
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    if (topic !== undefined && topic in COMMANDS) return main([topic, "--help"], io);
    await io.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined || !Object.hasOwn(COMMANDS, command)) {
    io.error(`tern: '${command}' is not a command (${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  // Take over Ctrl-C and SIGTERM from here on: commands finish cleanly when it aborts.
  const interrupted = io.signal;
  try {
    return await run(rest, io);
  } catch (error) {
    if (interrupted.aborted && !(error instanceof TypeError || error instanceof RangeError)) {
      io.error(`tern ${command}: interrupted\n`);
      return 130;
    }
    io.error(`tern ${command}: ${oneLine(error)}\n`);
    if (debugging() && error instanceof Error && error.stack) {
      io.error(`${error.stack}\n`);
    }
    return error instanceof UsageError || error instanceof TypeError ||
        error instanceof RangeError
      ? 2
      : 1;
  }
}

function debugging(): boolean {
  try {
    return Boolean(process.env.TERN_DEBUG);
  } catch {
    return false; // Deno without --allow-env
  }
}

if (import.meta.main) {
  const status = await main(process.argv.slice(2));
  // Let standard output drain before leaving: a pipe may still hold the last lines.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(status);
}
