/**
 * Throwaway TLS material for tests: a private certificate authority, a server
 * certificate for `localhost` / `127.0.0.1` and a client certificate, all signed by that
 * authority with X.509 v3 extensions (Deno's TLS refuses v1 certificates). Generated once
 * per process with the `openssl` command line tool, which must be on the PATH.
 *
 * @module
 */

import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM strings produced by {@link generateTlsCerts}. */
export interface TlsCerts {
  /** The certificate authority that signed both certificates below. */
  readonly ca: string;
  /** Server certificate: CN localhost, SAN DNS:localhost and IP:127.0.0.1, serverAuth. */
  readonly serverCert: string;
  /** Private key of `serverCert` (PKCS #8, P-256). */
  readonly serverKey: string;
  /** Client certificate: CN tern-test-client, clientAuth, for mutual TLS. */
  readonly clientCert: string;
  /** Private key of `clientCert` (PKCS #8, P-256). */
  readonly clientKey: string;
}

let cached: Promise<TlsCerts> | undefined;

/**
 * Returns a certificate authority, a server certificate and a client certificate as PEM
 * strings. The first call runs `openssl` in a temporary directory (removed afterwards);
 * later calls in the same process return the same certificates. A failed generation is
 * not cached, so the next call tries again.
 *
 * @example Serve TLS with a generated certificate
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateTlsCerts } from "./tls_certs.ts";
 *
 * const certs = await generateTlsCerts();
 * assert.match(certs.ca, /^-----BEGIN CERTIFICATE-----/);
 * assert.match(certs.serverKey, /^-----BEGIN PRIVATE KEY-----/);
 * assert.equal(await generateTlsCerts(), certs);
 * ```
 */
export function generateTlsCerts(): Promise<TlsCerts> {
  if (cached === undefined) {
    const pending = createCerts();
    cached = pending;
    pending.catch(() => {
      if (cached === pending) cached = undefined;
    });
  }
  return cached;
}

const LEAF_EXTENSIONS = "basicConstraints=critical,CA:FALSE\n" +
  "keyUsage=critical,digitalSignature,keyEncipherment\n" +
  "subjectKeyIdentifier=hash\n" +
  "authorityKeyIdentifier=keyid\n";

async function createCerts(): Promise<TlsCerts> {
  const dir = await mkdtemp(join(tmpdir(), "tern-tls-"));
  const at = (name: string) => join(dir, name);
  try {
    for (const name of ["ca", "server", "client"]) {
      await openssl([
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        at(`${name}.key`),
      ]);
    }
    await openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      at("ca.key"),
      "-out",
      at("ca.pem"),
      "-days",
      "3650",
      "-subj",
      "/CN=tern test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await writeFile(
      at("server.ext"),
      LEAF_EXTENSIONS + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    await writeFile(at("client.ext"), LEAF_EXTENSIONS + "extendedKeyUsage=clientAuth\n");
    const leaves = [["server", "/CN=localhost"], ["client", "/CN=tern-test-client"]] as const;
    for (const [name, subject] of leaves) {
      await openssl([
        "req",
        "-new",
        "-key",
        at(`${name}.key`),
        "-subj",
        subject,
        "-out",
        at(`${name}.csr`),
      ]);
      await openssl([
        "x509",
        "-req",
        "-in",
        at(`${name}.csr`),
        "-CA",
        at("ca.pem"),
        "-CAkey",
        at("ca.key"),
        "-set_serial",
        name === "server" ? "1001" : "1002",
        "-days",
        "3650",
        "-extfile",
        at(`${name}.ext`),
        "-out",
        at(`${name}.pem`),
      ]);
    }
    const read = (name: string) => readFile(at(name), "utf8");
    return {
      ca: await read("ca.pem"),
      serverCert: await read("server.pem"),
      serverKey: await read("server.key"),
      clientCert: await read("client.pem"),
      clientKey: await read("client.key"),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, (error, _stdout, stderr) => {
      if (error) {
        reject(
          new Error(`Cannot generate test certificates: openssl ${args[0]} failed: ${stderr}`, {
            cause: error,
          }),
        );
      } else {
        resolve();
      }
    });
  });
}
