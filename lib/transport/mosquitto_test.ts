import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Mosquitto, startMosquitto } from "../../testing/mosquitto.ts";
import { generateTlsCerts, type TlsCerts } from "../../testing/tls_certs.ts";
import { openTransport } from "./open.ts";
import type { Transport } from "./types.ts";
import { connectWebSocket } from "./websocket.ts";
import { CONNACK_ACCEPTED, connect311, CONNECTORS, drain, readExactly } from "./_test_helpers.ts";

/** Sends an MQTT 3.1.1 CONNECT and expects CONNACK 20 02 00 00, then DISCONNECTs. */
async function handshake(transport: Transport, clientId: string): Promise<void> {
  const writer = transport.writable.getWriter();
  const reader = transport.readable.getReader();
  await writer.write(connect311(clientId));
  assert.deepEqual(await readExactly(reader, 4), CONNACK_ACCEPTED);
  await writer.write(new Uint8Array([0xe0, 0x00])); // DISCONNECT
  assert.equal(await drain(reader), 0, "Mosquitto closes after DISCONNECT");
  await transport.closed;
}

describe("transports against Mosquitto", () => {
  let mosquitto: Mosquitto;
  let certs: TlsCerts;

  before(async () => {
    certs = await generateTlsCerts();
    mosquitto = await startMosquitto({
      tls: { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey, requireCertificate: true },
      websockets: true,
    });
  });

  after(async () => {
    await mosquitto?.stop();
  });

  for (const connector of CONNECTORS) {
    test(`${connector.name}: CONNECT over TCP gets CONNACK`, { skip: connector.skip }, async () => {
      await using transport = await connector.connect({
        hostname: "127.0.0.1",
        port: mosquitto.port,
      });
      await handshake(transport, `tern-${connector.name}-tcp`);
    });

    test(
      `${connector.name}: CONNECT over mutual TLS gets CONNACK`,
      { skip: connector.skip },
      async () => {
        await using transport = await connector.connect({
          hostname: "127.0.0.1",
          port: mosquitto.tlsPort!,
          tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
        });
        await handshake(transport, `tern-${connector.name}-tls`);
      },
    );

    test(`${connector.name}: without a client certificate Mosquitto refuses TLS`, {
      skip: connector.skip,
    }, async () => {
      const outcome = await connector.connect({
        hostname: "127.0.0.1",
        port: mosquitto.tlsPort!,
        tls: { ca: certs.ca },
      })
        .then(async (transport) => {
          await using _ = transport;
          // TLS 1.3: the client finishes its handshake before the server checks it, so
          // the refusal shows on the first read.
          const writer = transport.writable.getWriter();
          await writer.write(connect311("tern-no-cert")).catch(() => {});
          const received = await drain(transport.readable.getReader());
          return received === 0 ? "closed" : "answered";
        }, () => "rejected")
        .catch(() => "errored");
      assert.notEqual(outcome, "answered");
    });
  }

  test("websocket: CONNECT over WebSocket gets CONNACK", async () => {
    await using transport = await connectWebSocket({
      hostname: "127.0.0.1",
      port: mosquitto.wsPort!,
      ws: { path: "/mqtt" },
    });
    await handshake(transport, "tern-ws");
  });

  test("openTransport: every Mosquitto URL", async () => {
    const cases: [string, Parameters<typeof openTransport>[1]][] = [
      [mosquitto.url, {}],
      [mosquitto.tlsUrl!, { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }],
      [mosquitto.wsUrl!, {}],
    ];
    for (const [url, options] of cases) {
      await using transport = await openTransport(url, options);
      await handshake(transport, `tern-open-${new URL(url).protocol.slice(0, -1)}`);
    }
  });
});
