/**
 * TLS with a client certificate (mutual TLS). Throwaway certificates come from
 * `generateTlsCerts()` (needs the `openssl` command): a private authority, a server
 * certificate for 127.0.0.1 and a client certificate. The client trusts only that
 * authority and proves who it is with its certificate; a client without one is refused.
 *
 * Under Bun the embedded broker asks for client certificates (`tls.requestCert`).
 * Deno's `Deno.listenTls` cannot ask for them, so under Deno the example uses Mosquitto
 * (`require_certificate true`) as the server when it is installed, and otherwise shows
 * the part Deno can do with the embedded broker: a TLS connection that verifies the
 * server against the private authority.
 *
 * Run: `deno run -A examples/tls_client_cert.ts` or `bun examples/tls_client_cert.ts`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";
import { generateTlsCerts, startMosquitto } from "../testing/mod.ts";

const certs = await generateTlsCerts();
console.log("generated a private CA, a server certificate and a client certificate");

const canRequestCert = process.versions.bun !== undefined;
const haveMosquitto = spawnSync("sh", ["-c", "command -v mosquitto || test -x /usr/sbin/mosquitto"])
  .status === 0;
const server = { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey };

let url: string;
let mutual = true;
let stop: () => Promise<void>;
if (canRequestCert) {
  const broker = await startBroker({ port: 0, tls: { port: 0, ...server, requestCert: true } });
  console.log(`embedded broker requires client certificates on ${broker.tlsUrl}`);
  url = broker.tlsUrl!;
  stop = () => broker.close();
} else if (haveMosquitto) {
  const mosquitto = await startMosquitto({ tls: { ...server, requireCertificate: true } });
  console.log(
    `Deno.listenTls cannot ask for client certificates: using Mosquitto on ${mosquitto.tlsUrl}`,
  );
  url = mosquitto.tlsUrl!;
  stop = () => mosquitto.stop();
} else {
  const broker = await startBroker({ port: 0, tls: { port: 0, ...server } });
  console.log("Deno.listenTls cannot ask for client certificates and Mosquitto is not installed:");
  console.log(`showing server-verified TLS only, on ${broker.tlsUrl}`);
  url = broker.tlsUrl!;
  mutual = false;
  stop = () => broker.close();
}

try {
  // Trust only the private authority, and present the client certificate.
  const client = await connect(url, {
    clientId: "tls-device",
    tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
  });
  await using inbox = await client.subscribe("secure/#", { qos: 1 });
  await client.publish("secure/hello", "over TLS", { qos: 1 });
  for await (const message of inbox) {
    console.log(
      `connected over TLS${
        mutual ? " with a client certificate" : ""
      }: ${message.topic} = ${message.text()}`,
    );
    break;
  }
  await client.disconnect();

  if (mutual) {
    // Without a certificate the server ends the TLS handshake (or the first read).
    try {
      const anonymous = await connect(url, {
        clientId: "no-cert",
        tls: { ca: certs.ca },
        reconnect: false,
        connectTimeout: 10_000,
      });
      await anonymous.disconnect();
      throw new Error("a client without a certificate was let in");
    } catch (error) {
      if ((error as Error).message === "a client without a certificate was let in") throw error;
      console.log(
        `without a client certificate: refused (${(error as Error).message.split("\n")[0]})`,
      );
    }
  }
} finally {
  await stop();
}
