/**
 * `tern broker`: runs tern's conformance broker in the foreground with the flags of
 * `broker/main.ts` (`--port`, `--tls-port`, `--strict`, `--user`, ...) until Ctrl-C.
 *
 * @module
 */

import { runBroker as startFromFlags, USAGE } from "../broker/main.ts";
import type { CliIo } from "./io.ts";

/**
 * The help text of `tern broker`.
 *
 * @example Show the synopsis
 * ```ts
 * import assert from "node:assert/strict";
 * import { BROKER_USAGE } from "./broker.ts";
 * assert.match(BROKER_USAGE, /^Usage: tern broker \[flags\]/);
 * ```
 */
export const BROKER_USAGE: string = USAGE.replace(/^Usage: broker/, "Usage: tern broker");

/**
 * Runs `tern broker` with `argv` (the words after "broker"): starts the broker, prints
 * where it listens, and closes it when `io.signal` aborts (Ctrl-C, SIGTERM). Resolves
 * with the exit status; a bad flag rejects with a TypeError or RangeError.
 *
 * @example Start and stop a broker on a free port
 * ```ts
 * import assert from "node:assert/strict";
 * import { runBroker } from "./broker.ts";
 * import { memoryIo } from "./io.ts";
 * const io = memoryIo();
 * const running = runBroker(["--port", "0", "--sys-interval", "0"], io);
 * while (!io.out().includes("listening")) await new Promise((r) => setTimeout(r, 10));
 * io.abort();
 * assert.equal(await running, 0);
 * assert.match(io.out(), /tern broker listening on mqtt:\/\/127\.0\.0\.1:\d+/);
 * ```
 */
export async function runBroker(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    await io.write(`${BROKER_USAGE}\n`);
    return 0;
  }
  const broker = await startFromFlags(argv, (line) => {
    io.write(`${line}\n`).catch(() => {});
  });
  if (broker === undefined) return 0;
  const signal = io.signal;
  if (!signal.aborted) {
    await new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true })
    );
  }
  await io.write("shutting down\n");
  await broker.close();
  return 0;
}
