/**
 * The pump encodes a QoS 0 message routed to many subscribers once per variant and
 * writes the same bytes to each (no per-delivery encode or copy), while subscribers that
 * need different bytes (another protocol level, a Subscription Identifier) get their own.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Broker } from "./broker.ts";
import { encodePacket } from "../lib/packet/encode.ts";
import { decodePacket } from "../lib/packet/decode.ts";
import type { Packet, ProtocolVersion } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";
import { eventually } from "./_test_client.ts";

/** An in-memory transport that records every written chunk as is (no copy). */
class RecordingTransport implements Transport {
  readonly remoteAddress = undefined;
  readonly writes: Uint8Array[] = [];
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  #input: ReadableStreamDefaultController<Uint8Array> | undefined;
  #closed = Promise.withResolvers<void>();

  constructor(readonly version: ProtocolVersion) {
    this.closed = this.#closed.promise;
    this.readable = new ReadableStream({ start: (controller) => void (this.#input = controller) });
    this.writable = new WritableStream({ write: (chunk) => void this.writes.push(chunk) });
  }

  send(packet: Packet): void {
    this.#input!.enqueue(encodePacket(packet, this.version));
  }

  /** The packets of every write so far. */
  packets(): Packet[] {
    const out: Packet[] = [];
    for (const chunk of this.writes) {
      for (let at = 0; at < chunk.length;) {
        const result = decodePacket(chunk.subarray(at), { protocolVersion: this.version })!;
        out.push(result.packet);
        at += result.bytesRead;
      }
    }
    return out;
  }

  close(): Promise<void> {
    try {
      this.#input?.close();
    } catch {
      // already closed
    }
    this.#closed.resolve();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function subscriber(
  broker: Broker,
  clientId: string,
  version: ProtocolVersion,
  subscriptionIdentifier?: number,
): Promise<RecordingTransport> {
  const transport = new RecordingTransport(version);
  void broker.accept(transport);
  transport.send({
    type: "connect",
    protocolVersion: version,
    clientId,
    clean: true,
    keepalive: 0,
  });
  transport.send({
    type: "subscribe",
    packetId: 1,
    subscriptions: [{ topicFilter: "fan/out", qos: 0 }],
    ...(subscriptionIdentifier === undefined
      ? {}
      : { properties: { subscriptionIdentifiers: [subscriptionIdentifier] } }),
  });
  await eventually(() => transport.packets().some((p) => p.type === "suback"));
  transport.writes.length = 0;
  return transport;
}

test("a QoS 0 message to many subscribers is encoded once per variant and its bytes shared", async () => {
  await using broker = new Broker();
  const plain = await Promise.all([1, 2, 3].map((i) => subscriber(broker, `v4-${i}`, 4)));
  const v5 = await Promise.all([1, 2].map((i) => subscriber(broker, `v5-${i}`, 5)));
  const withId = await subscriber(broker, "v5-id", 5, 7);
  const publisher = new RecordingTransport(4);
  void broker.accept(publisher);
  publisher.send({
    type: "connect",
    protocolVersion: 4,
    clientId: "pub",
    clean: true,
    keepalive: 0,
  });
  publisher.send({
    type: "publish",
    topic: "fan/out",
    payload: new Uint8Array([1, 2, 3]),
    qos: 0,
    retain: false,
    dup: false,
  });
  const all = [...plain, ...v5, withId];
  await eventually(() => all.every((t) => t.writes.length === 1));
  for (const transport of all) {
    const [packet] = transport.packets();
    assert.equal(packet?.type, "publish");
    assert.deepEqual(packet.type === "publish" && packet.payload, new Uint8Array([1, 2, 3]));
  }
  // The same bytes object for every subscriber of a variant.
  assert.equal(plain[0]!.writes[0], plain[1]!.writes[0]);
  assert.equal(plain[0]!.writes[0], plain[2]!.writes[0]);
  assert.equal(v5[0]!.writes[0], v5[1]!.writes[0]);
  // Other variants get their own bytes: MQTT 5 framing, a Subscription Identifier.
  assert.notEqual(plain[0]!.writes[0], v5[0]!.writes[0]);
  assert.notEqual(v5[0]!.writes[0], withId.writes[0]);
  const [withIdPacket] = withId.packets();
  assert.deepEqual(
    withIdPacket?.type === "publish" && withIdPacket.properties?.subscriptionIdentifiers,
    [7],
  );
  await broker.close();
});
