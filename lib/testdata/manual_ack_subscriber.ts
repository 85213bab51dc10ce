/**
 * A child process for client_manual_ack_test.ts: a QoS 2 subscriber with `ack: "manual"`
 * whose session lives in a FileStore. Run with: <url> <store directory> <client id>
 * <topic> <mode>.
 *
 * It prints "ready" once subscribed and "got TEXT" for each message. In mode "hold" it
 * never acknowledges; in mode "ack" it acknowledges each message and prints
 * "acked TEXT" once `ack()` resolved. Either way it runs until killed.
 */
import process from "node:process";
import { connect, FileStore, type Message } from "../../mod.ts";

const [url, directory, clientId, topic, mode] = process.argv.slice(2);
const client = await connect(url!, {
  clientId: clientId!,
  clean: false,
  sessionExpiryInterval: 600,
  store: new FileStore(directory!),
  reconnect: { minDelay: 10, maxDelay: 100 },
  ack: "manual",
});

async function consume(source: AsyncIterable<Message>): Promise<void> {
  for await (const message of source) {
    console.log(`got ${message.text()}`);
    if (mode === "ack") {
      await message.ack();
      console.log(`acked ${message.text()}`);
    }
  }
}

// A resumed session may deliver before the SUBSCRIBE: those come through client.messages.
consume(client.messages).catch((error) => console.error(error));
const subscription = await client.subscribe(topic!, { qos: 2 });
console.log("ready");
consume(subscription).catch((error) => console.error(error));
setInterval(() => {}, 60_000);
