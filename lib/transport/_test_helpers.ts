/**
 * Helpers shared by the transport tests: which connect functions this runtime has, and
 * reading exact byte counts from a transport. Test-only.
 *
 * @module
 */

import { connectBunTcp } from "./bun_tcp.ts";
import { connectDenoTcp } from "./deno_tcp.ts";
import { connectNodeNet } from "./node_net.ts";
import type { Transport, TransportOptions } from "./types.ts";

/** A TCP/TLS connect function and whether this runtime can run it. */
export interface Connector {
  name: string;
  connect: (options: TransportOptions) => Promise<Transport>;
  skip: boolean;
}

/** Every TCP/TLS connect function; `skip` marks those of the other runtime. */
export const CONNECTORS: Connector[] = [
  { name: "deno_tcp", connect: connectDenoTcp, skip: !("Deno" in globalThis) },
  { name: "bun_tcp", connect: connectBunTcp, skip: !("Bun" in globalThis) },
  { name: "node_net", connect: connectNodeNet, skip: false },
];

/** Reads exactly `length` bytes (rejecting if the stream ends first). */
export async function readExactly(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The stream ended after ${offset} of ${length} bytes`);
    if (offset + value.length > length) {
      throw new Error(
        `Received ${offset + value.length - length} bytes more than the ${length} expected`,
      );
    }
    out.set(value, offset);
    offset += value.length;
  }
  return out;
}

/** Reads until the stream ends; returns the byte count. */
export async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<number> {
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return total;
    total += value.length;
  }
}

/** Deterministic bytes: byte i is (i * 31 + seed) & 0xff. */
export function pattern(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** An MQTT 3.1.1 CONNECT with clean session, keep alive 60 s and this client id. */
export function connect311(clientId: string): Uint8Array {
  const id = new TextEncoder().encode(clientId);
  const remaining = 10 + 2 + id.length;
  return new Uint8Array([
    0x10,
    remaining,
    0x00,
    0x04,
    0x4d,
    0x51,
    0x54,
    0x54, // "MQTT"
    0x04, // protocol level 4 (3.1.1)
    0x02, // clean session
    0x00,
    0x3c, // keep alive 60
    0x00,
    id.length,
    ...id,
  ]);
}

/** CONNACK: session present 0, return code 0 (accepted). */
export const CONNACK_ACCEPTED = new Uint8Array([0x20, 0x02, 0x00, 0x00]);
