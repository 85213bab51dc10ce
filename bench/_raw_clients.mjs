#!/usr/bin/env node
// Helper of broker_bench.ts (run by Node): many light MQTT 3.1.1 clients on raw sockets,
// written by hand so that the client side costs little next to the broker.
//
//   node bench/_raw_clients.mjs idle PORT N
//     opens N connections, each sends CONNECT (keep alive 0) and waits for its CONNACK;
//     prints "ready N" once all are connected, then holds them until stdin closes.
//   node bench/_raw_clients.mjs fanout PORT N TOPIC EXPECTED_PER_CLIENT
//     opens N connections that each subscribe to TOPIC at QoS 0; prints "ready N" once
//     every SUBACK arrived, then one JSON line {"received", "first", "last"} when every
//     client got EXPECTED_PER_CLIENT PUBLISH packets or none came for 3 s.

import { connect } from "node:net";
import process from "node:process";

const [mode, portText, countText, topic, expectedText] = process.argv.slice(2);
const port = Number(portText);
const total = Number(countText);
const CONCURRENT_CONNECTS = 100;
const IDLE_MS = 3000;
const now = () => performance.timeOrigin + performance.now();

function utf8Field(text) {
  const bytes = Buffer.from(text, "utf8");
  const field = Buffer.alloc(2 + bytes.length);
  field.writeUInt16BE(bytes.length, 0);
  bytes.copy(field, 2);
  return field;
}

function frame(firstByte, body) {
  const length = [];
  let n = body.length;
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    length.push(digit);
  } while (n > 0);
  return Buffer.concat([Buffer.from([firstByte, ...length]), body]);
}

function connectPacket(clientId) {
  // Protocol name "MQTT", level 4, clean session, keep alive 0.
  return frame(
    0x10,
    Buffer.concat([utf8Field("MQTT"), Buffer.from([4, 0x02, 0, 0]), utf8Field(clientId)]),
  );
}

function subscribePacket(filter) {
  return frame(0x82, Buffer.concat([Buffer.from([0, 1]), utf8Field(filter), Buffer.from([0])]));
}

/** Calls onPacket(type) for every complete packet in a byte stream fed in chunks. */
function packetCounter(onPacket) {
  let skip = 0;
  let header = -1;
  let length = 0;
  let multiplier = 1;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      if (header < 0) {
        header = chunk[i++];
        length = 0;
        multiplier = 1;
        continue;
      }
      const digit = chunk[i++];
      length += (digit & 0x7f) * multiplier;
      multiplier *= 128;
      if ((digit & 0x80) === 0) {
        onPacket(header >> 4);
        skip = length;
        header = -1;
      }
    }
  };
}

const sockets = [];
let received = 0;
let first = 0;
let last = 0;
const expected = Number(expectedText ?? 0) * total;

function open(index) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    sockets.push(socket);
    socket.on("error", reject);
    socket.on("connect", () => {
      socket.write(connectPacket(`bench-${mode}-${process.pid}-${index}`));
    });
    socket.on(
      "data",
      packetCounter((type) => {
        if (type === 2) {
          if (mode === "idle") resolve();
          else socket.write(subscribePacket(topic));
        } else if (type === 9) {
          resolve();
        } else if (type === 3) {
          last = now();
          if (received++ === 0) first = last;
          if (received === expected) report();
        }
      }),
    );
  });
}

let reported = false;
function report() {
  if (reported) return;
  reported = true;
  process.stdout.write(`${JSON.stringify({ received, first, last })}\n`);
  for (const socket of sockets) socket.destroy();
  process.exit(0);
}

let next = 0;
async function worker() {
  while (next < total) await open(next++);
}
try {
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_CONNECTS, total) }, worker));
} catch (error) {
  console.error(`${mode}: connection ${sockets.length} failed: ${error.message}`);
  process.exit(1);
}
process.stdout.write(`ready ${total}\n`);
if (mode === "idle") {
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
} else {
  let seen = -1;
  setInterval(() => {
    if (received > 0 && received === seen && now() - last >= IDLE_MS) report();
    seen = received;
  }, IDLE_MS).unref();
  setTimeout(report, 120_000).unref();
  process.stdin.resume();
}
