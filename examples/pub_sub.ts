/**
 * Publish / subscribe: one client subscribes with a wildcard filter, another publishes
 * to three topics, and the subscriber prints what matched.
 *
 * Run: `deno run -A examples/pub_sub.ts` or `bun examples/pub_sub.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

await using broker = await startBroker({ port: 0 });
console.log(`broker listening on ${broker.url}`);

await using subscriber = await connect(broker.url, { clientId: "dashboard" });
await using publisher = await connect(broker.url, { clientId: "thermometer" });

// "+" matches exactly one topic level: kitchen and hall, but not garden/shed.
await using temperatures = await subscriber.subscribe("home/+/temp", { qos: 1 });
console.log(`dashboard subscribed to home/+/temp`);

await publisher.publish("home/kitchen/temp", "21.5", { qos: 1 });
await publisher.publish("home/garden/shed/temp", "9.0", { qos: 1 });
await publisher.publish("home/hall/temp", "19.0", { qos: 1 });
console.log("thermometer published 3 readings");

let received = 0;
for await (const message of temperatures) {
  console.log(`dashboard got ${message.topic} = ${message.text()} (QoS ${message.qos})`);
  if (++received === 2) break;
}
console.log("pub/sub done: 2 of 3 readings matched home/+/temp");
