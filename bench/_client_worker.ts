/**
 * Helper of client_bench.ts: one benchmark client process, tern or MQTT.js, run by Deno
 * or by Bun (whichever runs this file).
 *
 * ```sh
 * <runtime> bench/_client_worker.ts LIBRARY sub PORT TOPIC QOS COUNT
 * <runtime> bench/_client_worker.ts LIBRARY pub PORT TOPIC QOS COUNT WINDOW PAYLOAD_BYTES
 * <runtime> bench/_client_worker.ts LIBRARY rtt PORT TOPIC 1 COUNT 1 PAYLOAD_BYTES
 * ```
 *
 * LIBRARY is `tern` or `mqttjs`; every client speaks MQTT 3.1.1, clean session, keep
 * alive 0, no reconnect.
 *
 * - sub: subscribes to TOPIC at QOS, prints "ready", then one JSON line
 *   {"received", "first", "last", "cpu"} once COUNT messages arrived or none came for 3 s.
 * - pub: keeps at most WINDOW publishes unsettled (QoS 0: not yet written, QoS 1: no
 *   PUBACK, QoS 2: no PUBCOMP), prints one JSON line {"published", "first", "last", "cpu"}.
 * - rtt: publishes one QoS 1 message at a time and times publish -> PUBACK (the publish
 *   call to its settlement), after 10% unmeasured warm-up rounds; prints
 *   {"samples": [microseconds...]}.
 *
 * Times are wall-clock milliseconds with sub-millisecond precision (comparable across
 * processes). `cpu` is the process's user + system CPU time in microseconds
 * (`process.cpuUsage()`) spent between the start of the measured interval (sub: the
 * SUBACK; pub: just before the first publish) and its end.
 *
 * @module
 */

import process from "node:process";
import { connect } from "../mod.ts";
import { cpuNow, now, report, subscriberCount, workerArgs } from "./_worker_common.ts";

const { library, role, port, topic, qos, count, windowSize, payload } = workerArgs(
  process.argv.slice(2),
);

/** Set once the result is out: errors of the closing connection no longer matter. */
let finishing = false;

/** What each library must offer the roles below. */
interface BenchClient {
  /** Subscribes; `onMessage` runs for every message; resolves on SUBACK. */
  subscribe(onMessage: () => void): Promise<void>;
  /** Publishes; `done` runs once settled for its QoS. */
  publish(done: (error?: unknown) => void): void;
  close(): Promise<void>;
}

async function ternClient(): Promise<BenchClient> {
  const client = await connect(`mqtt://127.0.0.1:${port}`, {
    clientId: `bench-tern-${role}-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    keepalive: 0,
    reconnect: false,
  });
  const options = { qos };
  return {
    async subscribe(onMessage) {
      const subscription = await client.subscribe(topic!, { qos });
      (async () => {
        for await (const _message of subscription) onMessage();
      })().catch((error) => {
        if (finishing) return;
        console.error(`tern ${role}: ${(error as Error).message}`);
        process.exit(1);
      });
    },
    publish(done) {
      client.publish(topic!, payload, options).then(() => done(), done);
    },
    close: () => client.disconnect(),
  };
}

async function mqttjsClient(): Promise<BenchClient> {
  const mqtt = (await import("mqtt")).default;
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: `bench-mqttjs-${role}-${process.pid}`,
    protocolVersion: 4,
    clean: true,
    keepalive: 0,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  client.on("error", (error: Error) => {
    if (finishing) return;
    console.error(`mqttjs ${role}: ${error.message}`);
    process.exit(1);
  });
  const buffer = Buffer.from(payload);
  const options = { qos };
  return {
    async subscribe(onMessage) {
      client.on("message", onMessage);
      await client.subscribeAsync(topic!, { qos });
    },
    publish(done) {
      client.publish(topic!, buffer, options, done);
    },
    close: () => client.endAsync(),
  };
}

async function finish(client: BenchClient, result: Record<string, unknown>): Promise<never> {
  finishing = true;
  report(result);
  const timer = setTimeout(() => process.exit(0), 5000);
  await client.close().catch(() => {});
  clearTimeout(timer);
  process.exit(0);
}

const client = library === "tern"
  ? await ternClient()
  : library === "mqttjs"
  ? await mqttjsClient()
  : (() => {
    console.error(`unknown library ${library}`);
    process.exit(2);
  })();

if (role === "sub") {
  const counter = subscriberCount(count, (result) => void finish(client, result));
  await client.subscribe(counter.onMessage);
  counter.start();
} else if (role === "pub") {
  let sent = 0;
  let settled = 0;
  let failure: unknown;
  const first = now();
  const cpuStart = cpuNow();
  const onSettled = (error?: unknown) => {
    if (error) failure ??= error;
    settled++;
    if (settled === count) {
      if (failure) {
        console.error(`${library} pub: ${(failure as Error).message ?? failure}`);
        process.exit(1);
      }
      void finish(client, { published: settled, first, last: now(), cpu: cpuNow() - cpuStart });
    } else {
      pump();
    }
  };
  const pump = () => {
    while (sent < count && sent - settled < windowSize) {
      sent++;
      client.publish(onSettled);
    }
  };
  pump();
} else if (role === "rtt") {
  const warmup = Math.ceil(count / 10);
  const samples: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    const start = performance.now();
    await new Promise<void>((resolve, reject) =>
      client.publish((error) => error ? reject(error) : resolve())
    );
    if (i >= warmup) samples.push(Math.round((performance.now() - start) * 1000));
  }
  await finish(client, { samples });
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
