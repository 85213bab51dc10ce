#!/usr/bin/env node
// Runs every test under Deno and then under Bun, streams their output, and ends with one
// line that sums both runners: "N passed, N failed, N skipped". Exits non-zero when either
// runner fails or runs no test at all. Plain JavaScript so that Node alone can start it.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const only = process.argv.slice(2); // optional file or folder filters, passed to both runners

for (const name of ["deno", "bun"]) {
  if (!existsSync(bin(name))) {
    console.error(`test_all: ${bin(name)} is missing; run 'npm ci' first.`);
    process.exit(2);
  }
}

const runners = [
  {
    name: "deno",
    args: ["test", "-A", "--quiet", "--doc", ...(only.length ? only : [])],
    parse(text) {
      // "ok | 12 passed (3 steps) | 0 failed | 1 ignored (2s)" or "FAILED | 3 passed | 1 failed ..."
      const line = [...text.matchAll(/^(?:ok|FAILED) \|.*$/gm)].pop()?.[0];
      if (!line) return undefined;
      const count = (word) => {
        const m = line.match(new RegExp(`(\\d+) ${word}(?: \\((\\d+) steps?\\))?`));
        return m ? Number(m[1]) + Number(m[2] ?? 0) : 0;
      };
      return { passed: count("passed"), failed: count("failed"), skipped: count("ignored") };
    },
  },
  {
    name: "bun",
    args: ["test", ...(only.length ? only : [])],
    parse(text) {
      const num = (word) => {
        const m = [...text.matchAll(new RegExp(`^\\s*(\\d+) ${word}$`, "gm"))].pop();
        return m ? Number(m[1]) : undefined;
      };
      const passed = num("pass");
      const failed = num("fail");
      if (passed === undefined && failed === undefined) return undefined;
      return {
        passed: passed ?? 0,
        failed: failed ?? 0,
        skipped: (num("skip") ?? 0) + (num("todo") ?? 0),
      };
    },
  },
];

function run(runner) {
  return new Promise((resolve) => {
    console.log(`\n=== ${runner.name} ${runner.args.join(" ")} ===`);
    const child = spawn(bin(runner.name), runner.args, {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    const keep = (chunk, out) => {
      out.write(chunk);
      // deno-lint-ignore no-control-regex -- strips ANSI colour codes before parsing
      text += chunk.toString().replace(/\x1b\[[0-9;]*m/g, "");
      if (text.length > 1_000_000) text = text.slice(-200_000);
    };
    child.stdout.on("data", (c) => keep(c, process.stdout));
    child.stderr.on("data", (c) => keep(c, process.stderr));
    child.on(
      "close",
      (code, signal) => resolve({ code: code ?? 1, signal, counts: runner.parse(text) }),
    );
  });
}

let total = { passed: 0, failed: 0, skipped: 0 };
let ok = true;
const summary = [];
for (const runner of runners) {
  const { code, signal, counts } = await run(runner);
  if (!counts) {
    ok = false;
    summary.push(
      `${runner.name}: no test summary found (exit ${code}${signal ? `, ${signal}` : ""})`,
    );
    total.failed += 1;
    continue;
  }
  if (code !== 0 || counts.failed > 0 || counts.passed === 0) ok = false;
  if (code !== 0 && counts.failed === 0) counts.failed = 1; // crashed after its summary
  summary.push(
    `${runner.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (exit ${code})`,
  );
  total = {
    passed: total.passed + counts.passed,
    failed: total.failed + counts.failed,
    skipped: total.skipped + counts.skipped,
  };
}
console.log("\n" + summary.join("\n"));
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(ok ? 0 : 1);
