/**
 * Mosquitto as a test peer: {@link startMosquitto} runs the `mosquitto` broker binary
 * (which must be on the PATH, or in /usr/sbin) with a generated configuration on free
 * ports of 127.0.0.1 and stops it on `await using`. Never touches the system service.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options of {@link startMosquitto}. */
export interface MosquittoOptions {
  /** Adds a TLS listener with this server certificate (PEM strings). */
  tls?: {
    /** Authority that signed client certificates (and usually the server's). */
    ca: string;
    /** Server certificate. */
    cert: string;
    /** Private key of `cert`. */
    key: string;
    /** Reject clients without a certificate signed by `ca` (mutual TLS). */
    requireCertificate?: boolean;
  };
  /** Adds a WebSocket listener (`protocol websockets`). */
  websockets?: boolean;
  /**
   * Extra configuration lines for the global section, e.g. "max_inflight_messages 100".
   * Listener options do not belong here.
   */
  config?: string;
  /** Milliseconds to wait for Mosquitto to accept connections (default 10,000). */
  timeout?: number;
}

/** A running Mosquitto; dispose it (or call `stop()`) to end the process. */
export interface Mosquitto extends AsyncDisposable {
  /** Port of the plain MQTT listener. */
  readonly port: number;
  /** mqtt://127.0.0.1:PORT */
  readonly url: string;
  /** Port of the TLS listener, when `tls` was given. */
  readonly tlsPort: number | undefined;
  /** mqtts://127.0.0.1:PORT, when `tls` was given. */
  readonly tlsUrl: string | undefined;
  /** Port of the WebSocket listener, when `websockets` was set. */
  readonly wsPort: number | undefined;
  /** ws://127.0.0.1:PORT/mqtt, when `websockets` was set. */
  readonly wsUrl: string | undefined;
  /** Everything Mosquitto printed so far: useful in assertion messages. */
  readonly log: string;
  /** Stops the broker (SIGTERM) and removes its files. Idempotent. */
  stop(): Promise<void>;
}

const ATTEMPTS = 5;

/**
 * Starts Mosquitto on free ports and resolves once it accepts connections. Anonymous
 * access, no persistence. Ports are found by binding port 0 and releasing it, so another
 * process may take one first: Mosquitto then fails to bind and is started again on new
 * ports, up to 5 times.
 *
 * @example Run Mosquitto for a test
 * ```ts
 * import assert from "node:assert/strict";
 * import { startMosquitto } from "./mosquitto.ts";
 *
 * await using mosquitto = await startMosquitto();
 * assert.equal(mosquitto.url, `mqtt://127.0.0.1:${mosquitto.port}`);
 * ```
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const binary = mosquittoBinary();
  const dir = await mkdtemp(join(tmpdir(), "tern-mosquitto-"));
  try {
    // Started as root, Mosquitto drops to user "mosquitto" before it reads certificates.
    await chmod(dir, 0o755);
    if (options.tls) {
      const files: [string, string][] = [
        ["ca.pem", options.tls.ca],
        ["server.pem", options.tls.cert],
        ["server.key", options.tls.key],
      ];
      for (const [name, pem] of files) {
        await writeFile(join(dir, name), pem, { mode: 0o644 });
      }
    }
    let lastLog = "";
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const port = await freePort();
      const tlsPort = options.tls ? await freePort() : undefined;
      const wsPort = options.websockets ? await freePort() : undefined;
      const configFile = join(dir, "mosquitto.conf");
      await writeFile(configFile, config(dir, options, port, tlsPort, wsPort));
      const started = await launch(binary, configFile, options.timeout ?? 10_000);
      if ("running" in started) {
        return new RunningMosquitto(started.running, dir, port, tlsPort, wsPort);
      }
      lastLog = started.log;
      if (!/address already in use/i.test(lastLog)) break;
    }
    throw new Error(`Cannot start mosquitto: ${lastLog.trim() || "it exited without a message"}`);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function mosquittoBinary(): string {
  for (
    const candidate of [
      "/usr/sbin/mosquitto",
      "/usr/local/sbin/mosquitto",
      "/opt/homebrew/sbin/mosquitto",
    ]
  ) {
    if (existsSync(candidate)) return candidate;
  }
  return "mosquitto";
}

function config(
  dir: string,
  options: MosquittoOptions,
  port: number,
  tlsPort: number | undefined,
  wsPort: number | undefined,
): string {
  const lines = [
    "per_listener_settings false",
    "allow_anonymous true",
    "persistence false",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    options.config ?? "",
    `listener ${port} 127.0.0.1`,
  ];
  if (tlsPort !== undefined) {
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${join(dir, "ca.pem")}`,
      `certfile ${join(dir, "server.pem")}`,
      `keyfile ${join(dir, "server.key")}`,
      `require_certificate ${options.tls?.requireCertificate ? "true" : "false"}`,
    );
  }
  if (wsPort !== undefined) lines.push(`listener ${wsPort} 127.0.0.1`, "protocol websockets");
  return lines.join("\n") + "\n";
}

/** A port that was free a moment ago: bound on 127.0.0.1 with port 0, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A child process with its output collected, on whichever runtime runs the tests. */
interface Proc {
  /** Everything written to stdout and stderr so far. */
  readonly output: { text: string };
  /** Resolves when the process exited. */
  readonly exited: Promise<void>;
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

/**
 * Spawns with the runtime's own API: Deno's node:child_process sometimes misses the
 * "exit" event of a process it killed (Deno 2.9.5), so Deno uses Deno.Command and Bun
 * uses Bun.spawn; other runtimes use node:child_process.
 */
function spawnProcess(binary: string, args: string[], onOutput: () => void): Proc {
  const output = { text: "" };
  const collect = async (stream: ReadableStream<Uint8Array> | null | undefined) => {
    if (!stream) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        output.text += decoder.decode(chunk, { stream: true });
        onOutput();
      }
    } catch {
      // the process is gone
    }
  };
  if ("Deno" in globalThis) {
    const child = new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
    const exited = child.status.then(() => streams).then(() => {});
    return {
      output,
      exited,
      kill: (signal) => {
        try {
          child.kill(signal);
        } catch {
          // already exited
        }
      },
    };
  }
  if ("Bun" in globalThis) {
    const Bun = (globalThis as unknown as { Bun: BunSpawn }).Bun;
    const child = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const streams = Promise.all([collect(child.stdout), collect(child.stderr)]);
    const exited = child.exited.then(() => streams).then(() => {});
    return { output, exited, kill: (signal) => child.kill(signal) };
  }
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const onData = (chunk: Uint8Array) => {
    output.text += new TextDecoder().decode(chunk);
    onOutput();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      output.text += `${error.message}\n`;
      resolve();
    });
    child.once("close", () => resolve());
  });
  return { output, exited, kill: (signal) => child.kill(signal) };
}

/** The part of Bun.spawn used here. */
interface BunSpawn {
  spawn(
    command: string[],
    options: { stdin: "ignore"; stdout: "pipe"; stderr: "pipe" },
  ): {
    stdout: ReadableStream<Uint8Array>;
    stderr: ReadableStream<Uint8Array>;
    exited: Promise<number>;
    kill(signal?: string): void;
  };
}

type Launched = { running: Proc } | { log: string };

/** Starts the process; resolves once it logs that it runs, or with its log if it exits. */
function launch(binary: string, configFile: string, timeout: number): Promise<Launched> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let proc: Proc | undefined;
    const onOutput = () => {
      if (!settled && proc !== undefined && / running\b/.test(proc.output.text)) {
        settled = true;
        clearTimeout(timer);
        resolve({ running: proc });
      }
    };
    try {
      proc = spawnProcess(binary, ["-c", configFile], onOutput);
    } catch (error) {
      reject(new Error(`Cannot start mosquitto: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const started = proc;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      started.kill("SIGKILL");
      reject(
        new Error(
          `Cannot start mosquitto: not running after ${timeout} ms. Log:\n${started.output.text}`,
        ),
      );
    }, timeout);
    started.exited.then(() => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ log: started.output.text });
    });
    onOutput();
  });
}

class RunningMosquitto implements Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly tlsPort: number | undefined;
  readonly tlsUrl: string | undefined;
  readonly wsPort: number | undefined;
  readonly wsUrl: string | undefined;
  #proc: Proc;
  #dir: string;
  #stopped: Promise<void> | undefined;

  constructor(
    proc: Proc,
    dir: string,
    port: number,
    tlsPort: number | undefined,
    wsPort: number | undefined,
  ) {
    this.#proc = proc;
    this.#dir = dir;
    this.port = port;
    this.url = `mqtt://127.0.0.1:${port}`;
    this.tlsPort = tlsPort;
    this.tlsUrl = tlsPort === undefined ? undefined : `mqtts://127.0.0.1:${tlsPort}`;
    this.wsPort = wsPort;
    this.wsUrl = wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}/mqtt`;
  }

  get log(): string {
    return this.#proc.output.text;
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#proc.kill("SIGTERM");
      // Mosquitto exits at once on SIGTERM; SIGKILL if it does not within 5 s.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#proc.exited,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.#proc.kill("SIGKILL");
            resolve();
          }, 5_000);
        }),
      ]);
      clearTimeout(timer);
      await this.#proc.exited;
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
