/**
 * Helpers the benchmark scripts share: free ports, a TCP probe, a Mosquitto configuration
 * and the median of a run series. Bench-only: nothing in lib/ or broker/ imports this.
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import { connect as netConnect, createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the OS picks it for a throwaway
 * listener, which is then closed.
 *
 * @example Pick a port
 * ```ts
 * import assert from "node:assert/strict";
 * import { freePort } from "./_common.ts";
 * const port = await freePort();
 * assert.ok(port > 0 && port < 65536);
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Whether a TCP connection to 127.0.0.1:`port` opens now; the socket is closed at once.
 *
 * @example Probe a port nobody listens on
 * ```ts
 * import assert from "node:assert/strict";
 * import { canConnect, freePort } from "./_common.ts";
 * assert.equal(await canConnect(await freePort()), false);
 * ```
 */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Writes a Mosquitto configuration for the benches to `path`: one anonymous listener on
 * 127.0.0.1:`port`, no persistence, 100 messages in flight and no queue limit, then any
 * `extra` lines.
 *
 * @example Write a configuration
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, readFileSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { writeMosquittoConfig } from "./_common.ts";
 * const dir = mkdtempSync(join(tmpdir(), "bench-common-"));
 * writeMosquittoConfig(join(dir, "m.conf"), 1883, ["log_type none"]);
 * const text = readFileSync(join(dir, "m.conf"), "utf8");
 * rmSync(dir, { recursive: true });
 * assert.ok(text.startsWith("listener 1883 127.0.0.1\n"));
 * assert.ok(text.endsWith("log_type none\n"));
 * ```
 */
export function writeMosquittoConfig(
  path: string,
  port: number,
  extra: readonly string[] = [],
): void {
  writeFileSync(
    path,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence false",
      "max_inflight_messages 100",
      "max_queued_messages 0",
      ...extra,
      "",
    ].join("\n"),
  );
}

/**
 * The median of `values` (the mean of the two middle ones for an even count).
 *
 * @example Odd and even counts
 * ```ts
 * import assert from "node:assert/strict";
 * import { median } from "./_common.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 3, 2]), 2.5);
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
