/**
 * The README's demo. Until the broker and client land, it walks through the codec:
 * packets of each protocol level turned into bytes and back, decoded as a socket would
 * deliver them (split at arbitrary points), and a malformed packet refused with its
 * reason code and spec statement.
 *
 * Run: `deno run -A examples/demo.ts` or `bun run examples/demo.ts`.
 */
import {
  decodePacket,
  encodePacket,
  type Packet,
  PacketDecoderStream,
  ProtocolError,
  reasonCodeName,
} from "../lib/packet/mod.ts";
import { topicMatches } from "../lib/topic.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
const text = new TextEncoder();

console.log("tern demo: the MQTT codec\n");

const packets: [string, Packet, 3 | 4 | 5][] = [
  ["CONNECT (MQTT 3.1.1)", {
    type: "connect",
    protocolVersion: 4,
    clientId: "demo-1",
    clean: true,
    keepalive: 30,
  }, 4],
  ["PUBLISH QoS 1 (MQTT 3.1.1)", {
    type: "publish",
    topic: "sensors/kitchen/temp",
    payload: text.encode("21.5"),
    qos: 1,
    retain: true,
    dup: false,
    packetId: 7,
  }, 4],
  ["PUBLISH QoS 2 with properties (MQTT 5)", {
    type: "publish",
    topic: "sensors/kitchen/temp",
    payload: text.encode('{"c":21.5}'),
    qos: 2,
    retain: false,
    dup: false,
    packetId: 8,
    properties: {
      contentType: "application/json",
      messageExpiryInterval: 60,
      userProperties: [["unit", "celsius"], ["unit", "kelvin-too"]],
    },
  }, 5],
  ["SUBSCRIBE with options (MQTT 5)", {
    type: "subscribe",
    packetId: 9,
    subscriptions: [{
      topicFilter: "sensors/+/temp",
      qos: 2,
      noLocal: true,
      retainAsPublished: true,
      retainHandling: 1,
    }],
  }, 5],
];

const wire: Uint8Array[] = [];
for (const [title, packet, version] of packets) {
  const bytes = encodePacket(packet, version);
  wire.push(bytes);
  const decoded = decodePacket(bytes, { protocolVersion: version });
  console.log(`${title}: ${bytes.length} bytes`);
  console.log(`  ${hex(bytes)}`);
  console.log(`  decodes back to a ${decoded?.packet.type} of ${decoded?.bytesRead} bytes\n`);
}

// A socket hands bytes over in arbitrary pieces: feed the MQTT 5 packets split into 3-byte chunks.
const all = new Uint8Array(wire.slice(2).reduce((n, b) => n + b.length, 0));
wire.slice(2).reduce((offset, b) => (all.set(b, offset), offset + b.length), 0);
const chunks = Array.from({ length: Math.ceil(all.length / 3) }, (_, i) => all.subarray(i * 3, i * 3 + 3));
const decoded: string[] = [];
await ReadableStream.from(chunks)
  .pipeThrough(new PacketDecoderStream({ protocolVersion: 5 }))
  .pipeTo(new WritableStream({ write: (packet) => void decoded.push(packet.type) }));
console.log(`${chunks.length} chunks of 3 bytes through PacketDecoderStream -> ${decoded.join(", ")}\n`);

// Bad input is refused with the reason code a server would send and the spec statement.
const qos3 = Uint8Array.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]);
try {
  decodePacket(qos3, { protocolVersion: 4 });
} catch (error) {
  if (!(error instanceof ProtocolError)) throw error;
  console.log(`PUBLISH with QoS 3 (${hex(qos3)}):`);
  console.log(`  ProtocolError ${reasonCodeName(error.reasonCode)} [${error.statement}]\n`);
}

for (const [filter, topic] of [["sensors/+/temp", "sensors/kitchen/temp"], ["#", "$SYS/uptime"]]) {
  console.log(`topicMatches(${JSON.stringify(filter)}, ${JSON.stringify(topic)}) = ${topicMatches(filter!, topic!)}`);
}
