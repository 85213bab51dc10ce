#!/usr/bin/env node
// Runs every benchmark under Deno and under Bun and prints each one's output under a
// runtime header. Usage: node scripts/bench_all.mjs [NAME...] [bench args...]: names
// (codec, broker, client) pick benches, default all; the other arguments, e.g. `--quick`,
// go to the chosen benches, so pick one bench when a flag is its own. Exits non-zero if
// any bench fails to run.
//
// To add a bench, add one entry to BENCHES: a name and the command for each runtime,
// relative to the repository root.

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const DENO = join(root, "node_modules/.bin/deno");
const BUN = join(root, "node_modules/.bin/bun");

const BENCHES = [
  {
    name: "codec",
    deno: [DENO, "run", "-A", "bench/codec_bench.ts"],
    bun: [BUN, "run", "bench/codec_bench.ts"],
  },
  {
    // One run measures tern's broker on both runtimes (as child processes) beside the peers.
    name: "broker",
    bun: [BUN, "run", "bench/broker_bench.ts"],
  },
  {
    // Each runtime's pass measures its own clients (tern and MQTT.js) against one Mosquitto.
    name: "client",
    deno: [DENO, "run", "-A", "bench/client_bench.ts", "--runtimes=deno"],
    bun: [BUN, "run", "bench/client_bench.ts", "--runtimes=bun"],
  },
];

const names = new Set(BENCHES.map((bench) => bench.name));
const chosen = process.argv.slice(2).filter((arg) => names.has(arg));
const extra = process.argv.slice(2).filter((arg) => !names.has(arg));
let failures = 0;
for (const bench of BENCHES) {
  if (chosen.length > 0 && !chosen.includes(bench.name)) continue;
  for (const runtime of ["deno", "bun"]) {
    if (bench[runtime] === undefined) continue;
    const [command, ...args] = bench[runtime];
    console.log(`\n=== ${bench.name} bench on ${runtime} ===\n`);
    const result = spawnSync(command, [...args, ...extra], { cwd: root, stdio: "inherit" });
    if (result.error !== undefined || result.status !== 0) {
      failures++;
      console.log(
        `!!! ${bench.name} bench on ${runtime} failed: ${
          result.error?.message ?? `exit ${result.status}`
        }`,
      );
    }
  }
}
process.exit(failures === 0 ? 0 : 1);
