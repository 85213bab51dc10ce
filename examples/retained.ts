/**
 * Retained messages: the last value published with `retain: true` stays on the broker,
 * and a client that subscribes later gets it at once (with the RETAIN flag set).
 * Publishing an empty retained payload clears it.
 *
 * Run: `deno run -A examples/retained.ts` or `bun examples/retained.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

await using broker = await startBroker({ port: 0 });

await using sensor = await connect(broker.url, { clientId: "door-sensor" });
await sensor.publish("home/door/state", "closed", { qos: 1, retain: true });
await sensor.publish("home/door/state", "open", { qos: 1, retain: true });
console.log("door-sensor published 'closed' then 'open', both retained");

// A client that starts later still learns the current state straight away.
await using dashboard = await connect(broker.url, { clientId: "late-dashboard" });
await using door = await dashboard.subscribe("home/door/state", { qos: 1 });
for await (const message of door) {
  console.log(
    `late-dashboard got ${message.topic} = ${message.text()} (retain: ${message.retain})`,
  );
  break;
}

// An empty retained payload removes the retained message.
await sensor.publish("home/door/state", "", { qos: 1, retain: true });
await using another = await connect(broker.url, { clientId: "later-still" });
await using empty = await another.subscribe("home/door/state", { qos: 1 });
await sensor.publish("home/door/state", "closed", { qos: 1 }); // live, not retained
for await (const message of empty) {
  console.log(
    `later-still got ${message.text()} (retain: ${message.retain}): no retained message after clearing`,
  );
  break;
}
