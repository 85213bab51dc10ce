/**
 * Last will: a device process connects with a Will, then dies without sending
 * DISCONNECT (it is killed with SIGKILL). The broker notices the closed connection and
 * publishes the Will, so the monitor learns the device went offline. A polite
 * `disconnect()` would have discarded the Will instead.
 *
 * Run: `deno run -A examples/will.ts` or `bun examples/will.ts`.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

if (process.argv.includes("--device")) {
  // The device: connect with a Will, announce "online", then wait to be killed.
  const url = process.argv[process.argv.indexOf("--device") + 1]!;
  const device = await connect(url, {
    clientId: "pump-3",
    will: {
      topic: "devices/pump-3/status",
      payload: "offline (connection lost)",
      qos: 1,
      retain: true,
    },
  });
  await device.publish("devices/pump-3/status", "online", { qos: 1, retain: true });
  console.log("ready");
  setInterval(() => {}, 60_000); // stay alive until killed
} else {
  await using broker = await startBroker({ port: 0 });
  await using monitor = await connect(broker.url, { clientId: "monitor" });
  await using status = await monitor.subscribe("devices/+/status", { qos: 1 });

  const self = fileURLToPath(import.meta.url);
  const args = process.versions.bun
    ? [self, "--device", broker.url]
    : ["run", "-A", "--no-check", self, "--device", broker.url];
  const device = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => device.once("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    let output = "";
    device.stdout!.on("data", (chunk) => {
      output += String(chunk);
      if (output.includes("ready")) resolve();
    });
    device.once("exit", (code) => reject(new Error(`the device process exited early (${code})`)));
  });
  console.log(`device process ${device.pid} connected with a Will on devices/pump-3/status`);

  let killed = false;
  for await (const message of status) {
    console.log(`monitor: ${message.topic} = ${message.text()}`);
    if (!killed) {
      killed = true;
      device.kill("SIGKILL");
      await exited;
      console.log("device process killed (no DISCONNECT sent)");
    } else {
      break;
    }
  }
}
