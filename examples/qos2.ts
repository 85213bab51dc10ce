/**
 * QoS 2, exactly once, even when the connection breaks mid-handshake: a fault proxy
 * sits between the publisher and the broker and cuts the connection right after the
 * broker's first PUBREC. The publisher reconnects, resumes the session, re-sends the
 * PUBREL, and the subscriber still receives every message exactly once.
 *
 * Run: `deno run -A examples/qos2.ts` or `bun examples/qos2.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";
import { startFaultProxy } from "../testing/mod.ts";

await using broker = await startBroker({ port: 0 });
await using proxy = await startFaultProxy({ upstream: broker.url });

// Print the QoS 2 handshake as the proxy sees it.
proxy.observe((event) => {
  if (event.kind === "packet" && event.packet !== undefined) {
    const { packet } = event;
    if (packet.type === "publish" || packet.type.startsWith("pub")) {
      const arrow = event.direction === "client-to-server"
        ? "publisher -> broker"
        : "broker -> publisher";
      const id = "packetId" in packet ? ` id ${packet.packetId}` : "";
      const dup = packet.type === "publish" && packet.dup ? " (DUP)" : "";
      console.log(
        `  [connection ${event.connection}] ${arrow}: ${packet.type.toUpperCase()}${id}${dup}`,
      );
    }
  } else if (event.kind === "close" && event.by === "proxy") {
    console.log(`  [connection ${event.connection}] cut by the fault proxy`);
  }
});
const cut = proxy.on({ direction: "server-to-client", type: "pubrec", nth: 1 }, "cut-after");

await using subscriber = await connect(broker.url, { clientId: "ledger" });
await using payments = await subscriber.subscribe("bank/payments", { qos: 2 });

// A persistent session (clean: false, session expiry) lets the handshake resume.
await using publisher = await connect(proxy.url, {
  clientId: "till-7",
  clean: false,
  sessionExpiryInterval: 60,
  reconnect: { minDelay: 50, maxDelay: 200 },
});
publisher.addEventListener("connect", (event) => {
  if (event.sessionPresent) console.log("  publisher reconnected, session present");
});

console.log("publishing 3 payments with QoS 2:");
for (const amount of ["10.00", "25.50", "7.25"]) {
  await publisher.publish("bank/payments", amount, { qos: 2 });
  console.log(`publish(${amount}) resolved: PUBCOMP received`);
}
await cut.untilApplied();

const seen: string[] = [];
for await (const message of payments) {
  seen.push(message.text());
  if (seen.length === 3) break;
}
console.log(`ledger received ${seen.join(", ")}`);
// Messages from one publisher arrive in order, so a duplicate would come before this marker.
await publisher.publish("bank/payments", "end", { qos: 2 });
for await (const message of payments) {
  if (message.text() === "end") break;
  seen.push(message.text());
}
console.log(`exactly once: ${seen.length} payments received for 3 published`);
if (seen.length !== 3) throw new Error(`expected 3 payments, got ${seen.length}`);
