/**
 * A child process for file_store_kill_test.ts: a publisher whose session lives in a
 * FileStore. Run with: <url> <store directory> <client id> <topic> <count> <mode>.
 *
 * - mode "publish": connects, hands `count` QoS 2 messages ("0", "1", ...) to the client
 *   at once, prints "done N" as each completes, and "all done" at the end.
 * - mode "resume": connects with the same store and lets the restored session finish
 *   what was left; prints "resumed" once connected and "settled N" for each completion.
 *
 * Either way it runs until killed.
 */
import process from "node:process";
import { connect, FileStore } from "../../../mod.ts";

const [url, directory, clientId, topic, countText, mode] = process.argv.slice(2);
const client = await connect(url!, {
  clientId: clientId!,
  clean: false,
  sessionExpiryInterval: 600,
  store: new FileStore(directory!),
  reconnect: { minDelay: 10, maxDelay: 100 },
});
if (mode === "publish") {
  const count = Number(countText);
  const all = Array.from(
    { length: count },
    (_, i) => client.publish(topic!, String(i), { qos: 2 }).then(() => console.log(`done ${i}`)),
  );
  await Promise.all(all);
  console.log("all done");
} else {
  client.addEventListener("publish", (event) => console.log(`settled ${event.reasonCode}`));
  console.log("resumed");
}
setInterval(() => {}, 60_000);
