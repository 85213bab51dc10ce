/**
 * A persistent session surviving a process restart. A worker process connects with
 * `clean: false`, a session expiry and a `FileStore`, subscribes, and exits. While it is
 * gone the broker queues the QoS 1 messages published for it. A second worker process,
 * started with the same client id and store directory, takes the session up again and
 * receives the backlog on `client.messages`.
 *
 * Run: `deno run -A examples/persistent_session.ts` or `bun examples/persistent_session.ts`.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect, FileStore } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

const worker = process.argv.indexOf("--worker");
if (worker !== -1) {
  const [run, url, dir] = process.argv.slice(worker + 1) as [string, string, string];
  const client = await connect(url, {
    clientId: "invoice-worker",
    clean: false, // take up the saved session instead of starting afresh
    sessionExpiryInterval: 300, // the broker keeps the session 5 minutes after we leave
    store: new FileStore(dir), // the client's half of the session, on disk
  });
  console.log(`worker run ${run}: connected, session present: ${client.sessionPresent}`);
  if (run === "1") {
    await client.subscribe("orders/#", { qos: 1 });
    console.log("worker run 1: subscribed to orders/# with QoS 1, exiting");
  } else {
    let count = 0;
    for await (const message of client.messages) {
      console.log(`worker run 2: backlog ${message.topic} = ${message.text()}`);
      if (++count === 3) break;
    }
  }
  await client.disconnect(); // saves the session to the store
} else {
  await using broker = await startBroker({ port: 0 });
  const dir = await mkdtemp(join(tmpdir(), "tern-session-"));
  try {
    await runWorker("1", broker.url, dir);
    const [file] = await readdir(dir);
    const saved = JSON.parse(await readFile(join(dir, file!), "utf8"));
    const filters = saved.subscriptions.map((s: { subscription: { topicFilter: string } }) =>
      s.subscription.topicFilter
    );
    console.log(`store file ${file} holds the subscriptions ${filters.join(", ")}`);

    await using shop = await connect(broker.url, { clientId: "shop" });
    for (const order of ["1001", "1002", "1003"]) {
      await shop.publish(`orders/${order}`, `order ${order}`, { qos: 1 });
    }
    console.log("shop published 3 orders while no worker was running");

    await runWorker("2", broker.url, dir);
    console.log("persistent session done: the restarted worker received all 3 orders");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs this file again as a worker process and prints its output. */
function runWorker(run: string, url: string, dir: string): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const args = [self, "--worker", run, url, dir];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      process.versions.bun ? args : ["run", "-A", "--no-check", ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        process.stdout.write(stdout);
        if (error) reject(new Error(`worker run ${run} failed: ${stderr || error.message}`));
        else resolve();
      },
    );
  });
}
