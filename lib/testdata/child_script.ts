/**
 * Test helpers for tests that run a script in a child process with the runtime running
 * the test, read what it prints line by line and kill it (SIGKILL) to simulate a crash.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";

/** Whether a `mosquitto` program is installed; warns, naming `testName`, when it is not. */
export function haveMosquitto(testName: string): boolean {
  const found = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
    .some((path) => existsSync(path)) ||
    spawnSync("sh", ["-c", "command -v mosquitto"]).status === 0;
  if (!found) {
    console.warn(`${testName}: mosquitto is not installed, skipping (apt-get install mosquitto)`);
  }
  return found;
}

/** A running child script and the lines it printed so far. */
export interface ChildScript {
  /** The child process. */
  process: ChildProcess;
  /** Complete lines of its standard output, in order. */
  lines: string[];
  /** Resolves once a line matches `line`; rejects after `wait` milliseconds. */
  waitFor(line: RegExp): Promise<void>;
}

/** Runs `script` with `args` under the runtime running this test (Deno or Bun). */
export function spawnScript(script: string, args: string[], wait = 20_000): ChildScript {
  const argv = "Bun" in globalThis
    ? ["run", script, ...args]
    : ["run", "-A", "--no-check", script, ...args];
  const proc = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  let errors = "";
  const watchers: { line: RegExp; resolve: () => void }[] = [];
  proc.stdout!.on("data", (chunk: Uint8Array) => {
    partial += new TextDecoder().decode(chunk);
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const watcher of [...watchers]) {
        if (watcher.line.test(line)) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve();
        }
      }
    }
  });
  proc.stderr!.on("data", (chunk: Uint8Array) => void (errors += new TextDecoder().decode(chunk)));
  const waitFor = (line: RegExp) =>
    new Promise<void>((resolve, reject) => {
      if (lines.some((l) => line.test(l))) return resolve();
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `child printed no ${line} within ${wait} ms; stdout: ${lines}; stderr: ${errors}`,
            ),
          ),
        wait,
      );
      watchers.push({ line, resolve: () => (clearTimeout(timer), resolve()) });
    });
  return { process: proc, lines, waitFor };
}

/** Kills `proc` with SIGKILL (unless it already ended) and resolves once it exited. */
export function killed(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGKILL");
  });
}
