/**
 * `tern conformance`: runs the broker conformance suite of `testing/conformance/`
 * against any broker URL and prints the table, JSON or JUnit XML.
 *
 * @module
 */

import { openTransport } from "../lib/transport/open.ts";
import { UsageError } from "./args.ts";
import { oneLine } from "./connection.ts";
import type { CliIo } from "./io.ts";

/**
 * Runs `tern conformance` with `argv` (the words after "conformance"), e.g.
 * `["broker", "mqtt://127.0.0.1:1883", "--v5", "--junit", "out.xml"]`. Resolves with the
 * exit status: 0 when every scenario passed or was skipped, 1 when one failed. A usage
 * mistake rejects with a `UsageError`, a broker that cannot be reached with an Error.
 *
 * @example A usage mistake
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * import { runConformance } from "./conformance.ts";
 * await assert.rejects(runConformance(["client"], memoryIo()), /suites are: broker/);
 * ```
 */
export async function runConformance(argv: readonly string[], io: CliIo): Promise<number> {
  const suite = await import("../testing/conformance/main.ts");
  if (argv.includes("--help") || argv.includes("-h")) {
    await io.write(`${suite.USAGE.replace(/^Usage: conformance/, "Usage: tern conformance")}\n`);
    return 0;
  }
  try {
    suite.parseArgs(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // A broker that cannot be reached fails every scenario: say so once instead.
  try {
    const probe = await openTransport(argv[1]!, { signal: io.signal });
    await probe.close();
  } catch (error) {
    throw new Error(oneLine(error));
  }
  const printed: string[] = [];
  const status = await suite.main(argv, { out: (text: string) => void printed.push(text) });
  if (status === 2) {
    // The flags were fine (checked above), so the suite could not start: one line.
    throw new Error(printed.join(" ").replace(/\s*\n\s*/g, " ").trim());
  }
  for (const text of printed) await io.write(`${text}\n`);
  return status;
}
