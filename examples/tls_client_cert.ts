/**
 * TLS with a client certificate (mutual TLS). Throwaway certificates come from
 * `generateTlsCerts()` (needs the `openssl` command): a private authority, a server
 * certificate for 127.0.0.1 and a client certificate. The client trusts only that
 * authority and proves who it is with its certificate; a client without one is refused.
 *
 * The embedded broker asks for client certificates (`tls.requestCert`); on Deno it does
 * so through a `node:tls` listener, since `Deno.listenTls` cannot ask for them.
 *
 * Run: `deno run -A examples/tls_client_cert.ts` or `bun examples/tls_client_cert.ts`.
 *
 * @module
 */
import { connect } from "../mod.ts";
import { startBroker } from "../broker/mod.ts";
import { generateTlsCerts } from "../testing/mod.ts";

const certs = await generateTlsCerts();
console.log("generated a private CA, a server certificate and a client certificate");

const server = { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey };
const broker = await startBroker({ port: 0, tls: { port: 0, ...server, requestCert: true } });
console.log(`embedded broker requires client certificates on ${broker.tlsUrl}`);
const url = broker.tlsUrl!;

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
      `connected over TLS with a client certificate: ${message.topic} = ${message.text()}`,
    );
    break;
  }
  await client.disconnect();

  // Without a certificate the server ends the TLS handshake (or the first read).
  {
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
  await broker.close();
}
