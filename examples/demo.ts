/**
 * The README's demo: starts tern's embedded broker (strict mode) and walks through the
 * headline features with tern's client, printing what happens at each step:
 *
 * 1. connect, and subscribe with a wildcard filter
 * 2. publish with QoS 0, 1 and 2
 * 3. a retained message reaching a late subscriber
 * 4. the last will, published when a connection ends abnormally
 * 5. MQTT 5 request / response with user properties
 * 6. a misbehaving raw client caught by strict mode, with the spec statement it broke
 * 7. a glimpse of the codec: a packet as bytes and back
 *
 * Run: `npm run demo`, `deno run -A examples/demo.ts` or `bun examples/demo.ts`.
 *
 * @module
 */
import { connect, type Message, reasonCodeName, type Subscription } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";
import { startFaultProxy } from "../testing/mod.ts";
import { openTransport } from "../lib/transport/open.ts";
import { decodePacket, encodePacket, type Packet, PacketDecoderStream } from "../lib/packet/mod.ts";

const step = (title: string) => console.log(`\n== ${title}`);
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

/** The next message of a subscription, or an error after a few seconds. */
async function next(subscription: Subscription): Promise<Message> {
  const iterator = subscription[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no message within 5 s")), 5_000);
  });
  try {
    const result = await Promise.race([iterator.next(), timeout]);
    if (result.done) throw new Error("the subscription ended");
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

console.log("tern demo: an MQTT client and broker for Deno and Bun, with no dependencies");

await using broker = await startBroker({ port: 0, strict: true });
console.log(`embedded broker (strict mode) listening on ${broker.url}`);

// 1 ------------------------------------------------------------------------------
step("1. connect and subscribe with a wildcard");
await using dashboard = await connect(broker.url, { clientId: "dashboard", protocolVersion: 5 });
await using sensor = await connect(broker.url, { clientId: "sensor", protocolVersion: 5 });
console.log(`dashboard and sensor connected with MQTT ${dashboard.protocolVersion}`);
await using temperatures = await dashboard.subscribe("home/+/temp", { qos: 2 });
console.log("dashboard subscribed to home/+/temp (+ matches one level)");

// 2 ------------------------------------------------------------------------------
step("2. publish with QoS 0, 1 and 2");
for (const [room, qos] of [["kitchen", 0], ["hall", 1], ["attic", 2]] as const) {
  const result = await sensor.publish(`home/${room}/temp`, `${20 + qos}.5`, { qos });
  const done = ["written to the socket", "PUBACK received", "PUBREC, PUBREL, PUBCOMP done"][qos];
  const message = await next(temperatures);
  console.log(
    `QoS ${qos}: publish resolved (${done}, reason ${reasonCodeName(result.reasonCode)}); ` +
      `dashboard got ${message.topic} = ${message.text()}`,
  );
}

// 3 ------------------------------------------------------------------------------
step("3. a retained message for a late subscriber");
await sensor.publish("home/door/state", "open", { qos: 1, retain: true });
console.log("sensor published home/door/state = open with retain");
await using late = await connect(broker.url, { clientId: "late-phone" });
await using door = await late.subscribe("home/door/#", { qos: 1 });
const retained = await next(door);
console.log(
  `late-phone subscribed afterwards and got ${retained.topic} = ${retained.text()} (retain: ${retained.retain})`,
);

// 4 ------------------------------------------------------------------------------
step("4. the last will, on an abnormal close");
await using proxy = await startFaultProxy({ upstream: broker.url });
await using statuses = await dashboard.subscribe("devices/+/status", { qos: 1 });
const pump = await connect(proxy.url, {
  clientId: "pump",
  will: { topic: "devices/pump/status", payload: "offline (lost)", qos: 1 },
  reconnect: false,
});
console.log("pump connected through a fault proxy with a Will on devices/pump/status");
// The proxy cuts the connection when the pump's next packet passes: no DISCONNECT.
proxy.on({ direction: "client-to-server", type: "publish" }, "cut-before");
pump.publishAndForget("devices/pump/heartbeat", "1");
await pump.closed;
console.log(`the proxy cut the pump's connection; pump client is ${pump.state}`);
const will = await next(statuses);
console.log(`dashboard got the will: ${will.topic} = ${will.text()}`);

// 5 ------------------------------------------------------------------------------
step("5. MQTT 5 request / response with user properties");
await using service = await connect(broker.url, { clientId: "price-service", protocolVersion: 5 });
await using requests = await service.subscribe("service/price", { qos: 1 });
void (async () => {
  for await (const request of requests) {
    const currency = request.userProperties.find(([key]) => key === "currency")?.[1];
    await service.publish(request.responseTopic!, `apples cost 0.50 ${currency}`, {
      qos: 1,
      properties: {
        correlationData: request.correlationData,
        userProperties: [["served-by", "price-service"]],
      },
    });
  }
})();
const response = await dashboard.request("service/price", "apple", {
  timeout: 5_000,
  properties: { userProperties: [["currency", "EUR"]] },
});
console.log(`request "apple" with user property currency=EUR`);
console.log(
  `response "${response.text()}", user properties ${JSON.stringify(response.userProperties)}`,
);

// 6 ------------------------------------------------------------------------------
step("6. strict mode catches a misbehaving client");
const raw = await openTransport(broker.url);
const writer = raw.writable.getWriter();
const fromBroker = raw.readable.pipeThrough(new PacketDecoderStream({ protocolVersion: 5 }));
await writer.write(
  encodePacket({
    type: "connect",
    protocolVersion: 5,
    clientId: "rogue",
    clean: true,
    keepalive: 0,
  }, 5),
);
// A PUBACK for a message the broker never sent: a lenient broker ignores it, a strict one does not.
await writer.write(encodePacket({ type: "puback", packetId: 7, reasonCode: 0 }, 5));
console.log(
  "rogue client (a bare connection speaking through the codec) sent CONNECT, then PUBACK id 7 for a message never sent to it",
);
const answers: Packet[] = [];
for await (const packet of fromBroker) answers.push(packet);
await raw.close();
const disconnect = answers.find((packet) => packet.type === "disconnect");
if (disconnect?.type === "disconnect") {
  console.log(
    `broker answered with DISCONNECT ${
      reasonCodeName(disconnect.reasonCode ?? 0)
    } and closed the connection`,
  );
}
const violation = broker.violations.find((v) => v.clientId === "rogue");
if (violation === undefined) throw new Error("the broker recorded no violation");
console.log(
  `broker.violations: ${violation.statement}, "${violation.message}" by ${violation.clientId}`,
);

// 7 ------------------------------------------------------------------------------
step("7. the codec: a packet as bytes and back");
const packet: Packet = {
  type: "publish",
  topic: "home/attic/temp",
  payload: new TextEncoder().encode("22.5"),
  qos: 1,
  retain: false,
  dup: false,
  packetId: 3,
  properties: { contentType: "text/plain", userProperties: [["unit", "C"]] },
};
const bytes = encodePacket(packet, 5);
console.log(`PUBLISH QoS 1 with properties, MQTT 5: ${bytes.length} bytes`);
console.log(`  ${hex(bytes)}`);
const decoded = decodePacket(bytes, { protocolVersion: 5 });
if (decoded?.packet.type === "publish") {
  const { topic, packetId, properties } = decoded.packet;
  console.log(
    `  decodes back to PUBLISH ${topic} id ${packetId}, content type ${properties?.contentType}`,
  );
}

console.log(
  `\ndemo done in ${
    (performance.now() / 1000).toFixed(1)
  } s, no violations by tern's own clients: ${
    broker.violations.every((v) => v.clientId === "rogue")
  }`,
);
