/**
 * Test helper: runs the real `tern` command line (cli.ts) as a child process of the same
 * runtime (`deno run -A cli.ts ...` under Deno, `bun cli.ts ...` under Bun).
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** How a run of the command line ended. */
export interface CliResult {
  /** Exit status (null when killed by a signal). */
  code: number | null;
  /** Everything printed on standard output. */
  stdout: string;
  /** Everything printed on standard error. */
  stderr: string;
}

/** A running command line. */
export interface CliProcess {
  /** The child process. */
  readonly child: ChildProcess;
  /** Resolves when it exits, with what it printed. */
  readonly done: Promise<CliResult>;
  /** Resolves once standard output contains `pattern` (rejects if it exits first). */
  waitForOutput(pattern: RegExp): Promise<string>;
}

/**
 * Starts `tern ...args`. `stdin` is written to its standard input, which is then closed.
 * The process is killed after `timeout` milliseconds (default 30,000).
 *
 * @example Print the help
 * ```ts ignore
 * const { code, stdout } = await startCli(["--help"]).done;
 * ```
 */
export function startCli(
  args: readonly string[],
  options: { stdin?: string; timeout?: number } = {},
): CliProcess {
  const argv = "Deno" in globalThis ? ["run", "-A", "--no-lock", CLI, ...args] : [CLI, ...args];
  const child = spawn(process.execPath, argv, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", TERN_DEBUG: "" },
  });
  let stdout = "";
  let stderr = "";
  const watchers: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    stdout += chunk;
    for (const watcher of [...watchers]) {
      if (watcher.pattern.test(stdout)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(stdout);
      }
    }
  });
  child.stderr!.on("data", (chunk: string) => void (stderr += chunk));
  child.stdin!.on("error", () => {});
  child.stdin!.end(options.stdin ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 30_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitForOutput(pattern) {
      if (pattern.test(stdout)) return Promise.resolve(stdout);
      return new Promise((resolve, reject) => {
        watchers.push({ pattern, resolve });
        done.then((result) =>
          reject(
            new Error(
              `tern exited (${result.code}) before printing ${pattern}: ${result.stdout}${result.stderr}`,
            ),
          )
        );
      });
    },
  };
}

/** Runs `tern ...args` to the end. */
export function runCli(
  args: readonly string[],
  options: { stdin?: string; timeout?: number } = {},
): Promise<CliResult> {
  return startCli(args, options).done;
}
