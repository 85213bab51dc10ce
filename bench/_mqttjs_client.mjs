#!/usr/bin/env node
// Helper of broker_bench.ts (run by Node): one MQTT.js client, publisher or subscriber.
//
//   node bench/_mqttjs_client.mjs sub URL TOPIC QOS COUNT
//   node bench/_mqttjs_client.mjs pub URL TOPIC QOS COUNT WINDOW PAYLOAD_BYTES
//
// The subscriber prints "ready" once its SUBACK arrived, then one JSON line
// {"received", "first", "last", "cpuMs"} when COUNT messages arrived or none came for 3 s.
// The publisher keeps at most WINDOW publishes unacknowledged (QoS 0: not yet written)
// and prints one JSON line {"published", "first", "last", "cpuMs"}. Times are wall-clock
// milliseconds with sub-millisecond precision, comparable across processes.

import mqtt from "mqtt";
import process from "node:process";

const [role, url, topic, qosText, countText, windowText, sizeText] = process.argv.slice(2);
const qos = Number(qosText);
const count = Number(countText);
const now = () => performance.timeOrigin + performance.now();
const IDLE_MS = 3000;
let cpuStart;

const client = mqtt.connect(url, {
  clientId: `bench-${role}-${process.pid}`,
  clean: true,
  protocolVersion: 4,
  keepalive: 0,
  reconnectPeriod: 0,
});
client.on("error", (error) => {
  console.error(`${role}: ${error.message}`);
  process.exit(1);
});

function finish(result) {
  // The client's own CPU time, to tell whether the clients or the broker bound the rate.
  // Counted from "ready" (subscriber) or the first publish (publisher): start-up excluded.
  const cpu = process.cpuUsage(cpuStart);
  result.cpuMs = (cpu.user + cpu.system) / 1000;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Not forced: a publisher's last QoS 0 packets may still sit in the socket's buffer.
  client.end(role === "sub", () => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}

if (role === "sub") {
  let received = 0;
  let first = 0;
  let last = 0;
  let idle;
  const done = () => finish({ received, first, last });
  client.on("message", () => {
    last = now();
    if (received++ === 0) first = last;
    if (received === count) {
      clearTimeout(idle);
      done();
    } else if ((received & 1023) === 0) {
      idle.refresh();
    }
  });
  client.on("connect", () => {
    client.subscribe(topic, { qos }, (error) => {
      if (error) throw error;
      idle = setTimeout(function check() {
        // No message in IDLE_MS: report what arrived (QoS 0 may lose messages).
        if (received > 0 && now() - last >= IDLE_MS) done();
        else idle = setTimeout(check, IDLE_MS);
      }, IDLE_MS * 10);
      cpuStart = process.cpuUsage();
      process.stdout.write("ready\n");
    });
  });
} else if (role === "pub") {
  const window = Number(windowText);
  const payload = Buffer.alloc(Number(sizeText), 0x61);
  let sent = 0;
  let settled = 0;
  let first = 0;
  const pump = () => {
    while (sent < count && sent - settled < window) {
      sent++;
      client.publish(topic, payload, { qos }, onSettled);
    }
  };
  const onSettled = (error) => {
    if (error) throw error;
    settled++;
    if (settled === count) finish({ published: settled, first, last: now() });
    else pump();
  };
  client.on("connect", () => {
    cpuStart = process.cpuUsage();
    first = now();
    pump();
  });
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
