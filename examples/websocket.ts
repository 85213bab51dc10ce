/**
 * MQTT over WebSocket: the broker listens on TCP and on WebSocket (path /mqtt,
 * subprotocol "mqtt"); a client on each transport talks to the other. A `ws://` URL is
 * all it takes; browsers and proxies that only pass HTTP work the same way.
 *
 * Run: `deno run -A examples/websocket.ts` or `bun examples/websocket.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

await using broker = await startBroker({ port: 0, ws: { port: 0, path: "/mqtt" } });
console.log(`broker on ${broker.url} and ${broker.wsUrl}`);

await using browser = await connect(broker.wsUrl!, { clientId: "web-dashboard" });
await using device = await connect(broker.url, { clientId: "tcp-device" });
console.log(
  `web-dashboard connected over ${browser.url.protocol} and tcp-device over ${device.url.protocol}`,
);

await using fromDevice = await browser.subscribe("plant/line-1/#", { qos: 1 });
await using fromBrowser = await device.subscribe("plant/commands/line-1", { qos: 1 });

await device.publish("plant/line-1/speed", "120 rpm", { qos: 1 });
for await (const message of fromDevice) {
  console.log(`over WebSocket, web-dashboard got ${message.topic} = ${message.text()}`);
  break;
}
await browser.publish("plant/commands/line-1", "slow down", { qos: 1 });
for await (const message of fromBrowser) {
  console.log(`over TCP, tcp-device got ${message.topic} = ${message.text()}`);
  break;
}
