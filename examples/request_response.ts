/**
 * MQTT 5 request / response. A responder subscribes to `service/price` and answers each
 * request on its Response Topic, echoing its Correlation Data; `client.request()` does
 * the requester's side (a private response inbox, unique correlation data, a timeout).
 * User properties travel both ways.
 *
 * Run: `deno run -A examples/request_response.ts` or `bun examples/request_response.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";

await using broker = await startBroker({ port: 0 });

// The responder: a price service.
await using service = await connect(broker.url, { clientId: "price-service", protocolVersion: 5 });
await using requests = await service.subscribe("service/price", { qos: 1 });
const prices: Record<string, number> = { apple: 0.5, pear: 0.75 };
const serving = (async () => {
  for await (const request of requests) {
    const item = request.text();
    const currency = request.userProperties.find(([key]) => key === "currency")?.[1] ?? "EUR";
    const found = item in prices;
    await service.publish(
      request.responseTopic!,
      found ? `${prices[item]} ${currency}` : "unknown item",
      {
        qos: 1,
        properties: {
          correlationData: request.correlationData,
          userProperties: [["status", found ? "ok" : "not-found"]],
        },
      },
    );
  }
})();

// The requester.
await using shop = await connect(broker.url, { clientId: "shop", protocolVersion: 5 });
for (const item of ["apple", "pear", "kiwi"]) {
  const response = await shop.request("service/price", item, {
    timeout: 5_000,
    properties: { userProperties: [["currency", "EUR"]] },
  });
  const status = response.userProperties.find(([key]) => key === "status")?.[1];
  console.log(`request ${item} -> response "${response.text()}" (status: ${status})`);
}

await requests.unsubscribe();
await serving;
console.log("request/response done");
