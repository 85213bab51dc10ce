/**
 * Helpers for the interop tests (not exported from the package): finding and running
 * peer programs (Mosquitto's command line clients, Python paho-mqtt), and MQTT.js
 * clients that fail fast.
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import type { RunningBroker } from "./start.ts";
import { eventually } from "./_test_client.ts";

/** Milliseconds any one step of an interop test may take. */
export const TIMEOUT = 10_000;

/** The Python that has paho-mqtt (Debian's python3-paho-mqtt). */
export const PYTHON = "/usr/bin/python3";

/** The path of `name` on PATH (or the usual places), or why it is missing. */
export function findProgram(name: string): { path: string } | { missing: string } {
  const dirs = [...(globalThis.process?.env?.PATH ?? "").split(":"), "/usr/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (dir !== "" && existsSync(join(dir, name))) return { path: join(dir, name) };
  }
  return { missing: `${name} is not installed (Debian: apt-get install mosquitto-clients)` };
}

/**
 * The paths of `mosquitto_sub` and `mosquitto_pub` (empty when missing) and why they
 * cannot be used, or undefined as `missing` when both are installed.
 */
export function mosquittoClients(): { sub: string; pub: string; missing: string | undefined } {
  const sub = findProgram("mosquitto_sub");
  const pub = findProgram("mosquitto_pub");
  return {
    sub: "path" in sub ? sub.path : "",
    pub: "path" in pub ? pub.path : "",
    missing: "missing" in sub ? sub.missing : "missing" in pub ? pub.missing : undefined,
  };
}

/** Why paho-mqtt cannot be used, or undefined when it can. */
export function pahoMissing(): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (!existsSync(PYTHON)) return resolve(`${PYTHON} is not installed`);
    execFile(PYTHON, ["-c", "import paho.mqtt.client"], (error) =>
      resolve(
        error
          ? "paho-mqtt is not installed for /usr/bin/python3 (Debian: apt-get install python3-paho-mqtt)"
          : undefined,
      ));
  });
}

/** The outcome of a program run to completion. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after `timeout`); never rejects on an exit code. */
export function runProgram(program: string, args: string[], timeout = TIMEOUT): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs a program; rejects on a non-zero exit. Resolves with its standard output. */
export async function run(program: string, args: string[], timeout = TIMEOUT): Promise<string> {
  const result = await runProgram(program, args, timeout);
  if (result.code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} exited with ${result.code}: ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** Starts a long-running program; `output` resolves with its stdout when it exits. */
export function start(
  program: string,
  args: string[],
): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const output = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${program} did not finish in time: ${stdout} ${stderr}`));
    }, TIMEOUT);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(stdout + stderr);
    });
  });
  return { child, output };
}

/** Waits until the broker holds `count` subscriptions (a subscriber is ready). */
export function subscribed(broker: RunningBroker, count: number): Promise<void> {
  return eventually(() => broker.stats.subscriptions >= count, TIMEOUT, `${count} subscriptions`);
}

/** Collects `count` messages from an MQTT.js client. */
export function collect(
  client: mqtt.MqttClient,
  count: number,
): Promise<Array<[string, string, mqtt.IPublishPacket]>> {
  return new Promise((resolve, reject) => {
    const got: Array<[string, string, mqtt.IPublishPacket]> = [];
    const timer = setTimeout(
      () => reject(new Error(`got ${got.length} of ${count} messages`)),
      TIMEOUT,
    );
    const onMessage = (topic: string, payload: Uint8Array, packet: mqtt.IPublishPacket) => {
      got.push([topic, new TextDecoder().decode(payload), packet]);
      if (got.length === count) {
        clearTimeout(timer);
        client.off("message", onMessage);
        resolve(got);
      }
    };
    client.on("message", onMessage);
  });
}

/**
 * Connects an MQTT.js client without reconnecting; rejects if the connection fails or
 * closes before CONNACK. `setup` sees the client before it connects (e.g. to set
 * `handleAuth`).
 */
export function connectJs(
  url: string,
  options: mqtt.IClientOptions,
  setup?: (client: mqtt.MqttClient) => void,
): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: TIMEOUT, ...options });
    setup?.(client);
    const fail = (error: Error | undefined) => {
      client.off("connect", ok);
      client.end(true);
      reject(error ?? new Error("The connection closed before CONNACK"));
    };
    const onClose = () => fail(undefined);
    const ok = () => {
      client.off("error", fail);
      client.off("close", onClose);
      resolve(client);
    };
    client.once("connect", ok);
    client.once("error", fail);
    client.once("close", onClose);
  });
}
