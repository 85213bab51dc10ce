/**
 * Helper of client_bench.ts: the "floor" client, a minimal hand-written MQTT 3.1.1 client
 * on the runtime's own socket API, to show what a message costs when a client does
 * nothing but the unavoidable work. Same command line, "ready" line and JSON output as
 * bench/_client_worker.ts (LIBRARY is `floor`):
 *
 * ```sh
 * <runtime> bench/_floor_worker.ts floor sub PORT TOPIC QOS COUNT
 * <runtime> bench/_floor_worker.ts floor pub PORT TOPIC QOS COUNT WINDOW PAYLOAD_BYTES
 * <runtime> bench/_floor_worker.ts floor rtt PORT TOPIC 1 COUNT 1 PAYLOAD_BYTES
 * ```
 *
 * What it does, and no more:
 * - Deno: `Deno.connect` with `setNoDelay(true)`; `conn.read` into one reused 64 KiB
 *   buffer (grown only if a single packet does not fit); a partial packet at the end of a
 *   read moves to the front of the buffer and the next read fills in after it. The
 *   batch's write is awaited before the next read (a quick test on a loaded 2-core machine
 *   found that 5-15% cheaper than reading on while the write is in flight).
 * - Bun: `Bun.connect` with socket handlers; a partial packet at the end of a `data`
 *   chunk is kept (copied) and joined with the next chunk.
 * - Frames are cut by hand (fixed header byte + remaining length). Every packet one read
 *   batch causes (PUBACK or PUBREC for a received PUBLISH, PUBCOMP for PUBREL, PUBREL for
 *   PUBREC, and the publisher's next publishes) is appended to one output buffer that is
 *   written with one write per batch: `conn.write` on Deno (writes never overlap: bytes
 *   added while one is in flight go out with the next), `socket.write` on Bun (a partial
 *   write leaves the rest in the buffer and `drain` finishes it).
 * - CONNECT (3.1.1, clean session, keep alive 0), SUBSCRIBE and PUBLISH are encoded by
 *   hand; a publish copies one pre-encoded PUBLISH (fixed header, topic, payload) into the
 *   output buffer and sets its packet id (1..65535, wrapping).
 * - For every received message the topic is decoded to a string (`TextDecoder`) and the
 *   payload is copied out of the read buffer, as a client must hand the application its
 *   own bytes. No validation beyond CONNACK / SUBACK return codes, no events, no session
 *   state beyond counting settlements.
 *
 * Measurement points (first / last / cpu, the idle timeout, the rtt warm-up) are those of
 * bench/_client_worker.ts, so the figures compare one to one.
 *
 * @module
 */

import process from "node:process";
import type { BunRuntime, BunSocket } from "../lib/transport/_bun_api.ts";
import { cpuNow, now, report, subscriberCount, workerArgs } from "./_worker_common.ts";

const { library, role, port, topic, qos, count, windowSize, payload } = workerArgs(
  process.argv.slice(2),
);
const READ_BUFFER_BYTES = 64 * 1024;

if (library !== "floor") {
  console.error(`unknown library ${library}`);
  process.exit(2);
}

/** MQTT 3.1.1 control packet types (the high nibble of the first byte). */
const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** Set once the result is out: the closing connection no longer matters. */
let finishing = false;

function fail(message: string): never {
  console.error(`floor ${role}: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------
// encoding

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes of a remaining length (variable byte integer). */
function remainingLength(length: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 128;
    bytes.push(byte);
  } while (length > 0);
  return bytes;
}

/** A whole packet: first byte, remaining length, then `body`. */
function frame(first: number, body: readonly number[] | Uint8Array): Uint8Array {
  return Uint8Array.from([first, ...remainingLength(body.length), ...body]);
}

/** A length-prefixed UTF-8 string. */
function utf8(text: string): number[] {
  const bytes = encoder.encode(text);
  return [bytes.length >> 8, bytes.length & 255, ...bytes];
}

function connectPacket(clientId: string): Uint8Array {
  // Protocol name "MQTT", level 4, flags: clean session only, keep alive 0.
  return frame(PacketType.CONNECT << 4, [...utf8("MQTT"), 4, 0x02, 0, 0, ...utf8(clientId)]);
}

function subscribePacket(packetId: number, filter: string, maxQos: number): Uint8Array {
  return frame(PacketType.SUBSCRIBE << 4 | 0x02, [
    packetId >> 8,
    packetId & 255,
    ...utf8(filter),
    maxQos,
  ]);
}

/** The PUBLISH this process sends, and where its packet id goes (-1 at QoS 0). */
function publishTemplate(): { bytes: Uint8Array; idOffset: number } {
  const head = [...utf8(topic), ...(qos > 0 ? [0, 0] : [])];
  const body = new Uint8Array(head.length + payload.length);
  body.set(head);
  body.set(payload, head.length);
  const bytes = frame(PacketType.PUBLISH << 4 | qos << 1, body);
  const idOffset = qos > 0 ? bytes.length - payload.length - 2 : -1;
  return { bytes, idOffset };
}

/**
 * The bytes waiting to be written: `bytes[start..end)`. Appends go after `end`, also
 * while a write of an earlier range is in flight; both ends return to 0 once all is out.
 */
class Outbox {
  bytes = new Uint8Array(16 * 1024);
  start = 0;
  end = 0;

  /** Makes room for `length` more bytes and returns where they go. */
  reserve(length: number): number {
    const at = this.end;
    if (at + length > this.bytes.length) {
      // A write in flight may still read the old array: copy, never move.
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, at + length));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
    }
    this.end = at + length;
    return at;
  }

  /** Appends a four-byte acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP). */
  ack(first: number, high: number, low: number): void {
    const at = this.reserve(4);
    const bytes = this.bytes;
    bytes[at] = first;
    bytes[at + 1] = 2;
    bytes[at + 2] = high;
    bytes[at + 3] = low;
  }

  append(packet: Uint8Array): void {
    this.bytes.set(packet, this.reserve(packet.length));
  }

  get pending(): number {
    return this.end - this.start;
  }
}

// ---------------------------------------------------------------------------------------
// protocol

/** The protocol side of the floor client: parses read batches, fills the outbox. */
class FloorClient {
  readonly out = new Outbox();
  /** Runs for every received message, with its own topic string and payload bytes. */
  onMessage: (topic: string, payload: Uint8Array) => void = () => {};
  /** Runs for every PUBACK (QoS 1) or PUBCOMP (QoS 2). */
  onSettled: () => void = () => {};
  readonly connected = Promise.withResolvers<void>();
  readonly subscribed = Promise.withResolvers<void>();
  #nextId = 0;
  #template = publishTemplate();

  /** Appends one PUBLISH with the next packet id. */
  publish(): void {
    const { bytes, idOffset } = this.#template;
    const at = this.out.reserve(bytes.length);
    const out = this.out.bytes;
    out.set(bytes, at);
    if (idOffset >= 0) {
      const id = this.#nextId = this.#nextId === 65535 ? 1 : this.#nextId + 1;
      out[at + idOffset] = id >> 8;
      out[at + idOffset + 1] = id & 255;
    }
  }

  /** Handles every whole packet in `data[0..end)`; returns how many bytes they took. */
  parse(data: Uint8Array, end: number): number {
    let offset = 0;
    while (end - offset >= 2) {
      let position = offset + 1;
      let length = 0;
      let multiplier = 1;
      let byte: number;
      do {
        if (position === end) return offset;
        byte = data[position++]!;
        length += (byte & 127) * multiplier;
        multiplier *= 128;
      } while (byte & 128);
      const bodyEnd = position + length;
      if (bodyEnd > end) return offset;
      this.#packet(data[offset]!, data, position, bodyEnd);
      offset = bodyEnd;
    }
    return offset;
  }

  #packet(first: number, data: Uint8Array, start: number, end: number): void {
    switch (first >> 4) {
      case PacketType.PUBLISH: {
        const packetQos = (first >> 1) & 3;
        const topicEnd = start + 2 + (data[start]! << 8 | data[start + 1]!);
        const topic = decoder.decode(data.subarray(start + 2, topicEnd));
        if (packetQos === 0) {
          this.onMessage(topic, data.slice(topicEnd, end));
          return;
        }
        const high = data[topicEnd]!;
        const low = data[topicEnd + 1]!;
        this.onMessage(topic, data.slice(topicEnd + 2, end));
        this.out.ack(packetQos === 1 ? PacketType.PUBACK << 4 : PacketType.PUBREC << 4, high, low);
        return;
      }
      case PacketType.PUBACK:
      case PacketType.PUBCOMP:
        this.onSettled();
        return;
      case PacketType.PUBREC:
        this.out.ack(PacketType.PUBREL << 4 | 0x02, data[start]!, data[start + 1]!);
        return;
      case PacketType.PUBREL:
        this.out.ack(PacketType.PUBCOMP << 4, data[start]!, data[start + 1]!);
        return;
      case PacketType.CONNACK:
        if (data[start + 1] === 0) this.connected.resolve();
        else fail(`CONNACK return code ${data[start + 1]}`);
        return;
      case PacketType.SUBACK:
        if (data[start + 2] !== 0x80) this.subscribed.resolve();
        else fail("SUBACK refused the subscription");
        return;
      case PacketType.PINGRESP:
        return;
      default:
        fail(`unexpected packet type ${first >> 4}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// sockets

/** The I/O side: writes the outbox, feeds read batches to the client. */
interface Driver {
  /** Starts writing what the outbox holds, unless a write is already going. */
  flush(): void;
  /** Resolves once the outbox is empty. */
  drained(): Promise<void>;
  close(): void;
}

function onClosed(error?: unknown): void {
  if (finishing) return;
  fail(`connection closed${error ? `: ${(error as Error).message ?? error}` : ""}`);
}

async function openDeno(client: FloorClient): Promise<Driver> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const out = client.out;
  let writing = false;
  let waiters: (() => void)[] = [];
  const writeAll = async () => {
    writing = true;
    try {
      while (out.end > out.start) {
        out.start += await conn.write(out.bytes.subarray(out.start, out.end));
      }
      out.start = out.end = 0;
    } finally {
      writing = false;
    }
    const resolved = waiters;
    waiters = [];
    for (const resolve of resolved) resolve();
  };
  const flush = () => {
    if (!writing && out.end > out.start) writeAll().catch(onClosed);
  };
  const drained = () =>
    !writing && out.pending === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push(resolve));
  (async () => {
    let buffer = new Uint8Array(READ_BUFFER_BYTES);
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        const grown = new Uint8Array(buffer.length * 2);
        grown.set(buffer);
        buffer = grown;
      }
      const read = await conn.read(buffer.subarray(filled));
      if (read === null) return onClosed();
      filled += read;
      const used = client.parse(buffer, filled);
      if (used < filled) buffer.copyWithin(0, used, filled);
      filled -= used;
      // This batch's packets in one write, done before the next read (a write started
      // elsewhere and still in flight takes them along).
      if (out.pending > 0) await (writing ? drained() : writeAll());
    }
  })().catch(onClosed);
  return { flush, drained, close: () => conn.close() };
}

async function openBun(client: FloorClient): Promise<Driver> {
  const out = client.out;
  let backlogged = false;
  let rest: Uint8Array | undefined;
  let waiters: (() => void)[] = [];
  const flush = () => {
    if (backlogged || out.end === out.start) return;
    const written = socket.write(out.bytes, out.start, out.end - out.start);
    if (written < 0) return onClosed();
    out.start += written;
    if (out.start < out.end) {
      backlogged = true;
      return;
    }
    out.start = out.end = 0;
    if (waiters.length > 0) {
      const resolved = waiters;
      waiters = [];
      for (const resolve of resolved) resolve();
    }
  };
  const bun = (globalThis as unknown as { Bun: BunRuntime }).Bun;
  // The handlers run only once the broker answers what is written after this resolves.
  const socket: BunSocket<undefined> = await bun.connect<undefined>({
    hostname: "127.0.0.1",
    port,
    data: undefined,
    socket: {
      binaryType: "uint8array",
      data(_socket, chunk) {
        let data = chunk;
        if (rest !== undefined) {
          data = new Uint8Array(rest.length + chunk.length);
          data.set(rest);
          data.set(chunk, rest.length);
        }
        const used = client.parse(data, data.length);
        rest = used < data.length ? data.slice(used) : undefined;
        flush();
      },
      drain() {
        backlogged = false;
        flush();
      },
      close(_socket, error) {
        onClosed(error);
      },
      error(_socket, error) {
        onClosed(error);
      },
    },
  });
  socket.setNoDelay(true);
  return {
    flush,
    drained: () =>
      out.pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)),
    close: () => socket.end(),
  };
}

// ---------------------------------------------------------------------------------------
// roles

async function finish(result: Record<string, unknown>): Promise<never> {
  finishing = true;
  report(result);
  const timer = setTimeout(() => process.exit(0), 5000);
  client.out.append(Uint8Array.of(PacketType.DISCONNECT << 4, 0));
  driver.flush();
  await driver.drained();
  driver.close();
  clearTimeout(timer);
  process.exit(0);
}

const client = new FloorClient();
const driver = "Bun" in globalThis ? await openBun(client) : await openDeno(client);
client.out.append(connectPacket(`bench-floor-${role}-${process.pid}`));
driver.flush();
await client.connected.promise;

if (role === "sub") {
  const counter = subscriberCount(count, (result) => void finish(result));
  client.onMessage = counter.onMessage;
  client.out.append(subscribePacket(1, topic, qos));
  driver.flush();
  await client.subscribed.promise;
  counter.start();
} else if (role === "pub") {
  let sent = 0;
  let settled = 0;
  /** Appends publishes up to the window; the caller (or the read batch) flushes. */
  const pump = () => {
    while (sent < count && sent - settled < windowSize) {
      sent++;
      client.publish();
    }
  };
  const first = now();
  const cpuStart = cpuNow();
  if (qos === 0) {
    // Settled once written: one write per window of publishes.
    while (settled < count) {
      pump();
      driver.flush();
      await driver.drained();
      settled = sent;
    }
    await finish({ published: settled, first, last: now(), cpu: cpuNow() - cpuStart });
  } else {
    client.onSettled = () => {
      if (++settled === count) {
        void finish({ published: settled, first, last: now(), cpu: cpuNow() - cpuStart });
      } else {
        pump();
      }
    };
    pump();
    driver.flush();
  }
} else if (role === "rtt") {
  const warmup = Math.ceil(count / 10);
  const samples: number[] = [];
  let settle = () => {};
  client.onSettled = () => settle();
  for (let i = 0; i < warmup + count; i++) {
    const start = performance.now();
    const settled = new Promise<void>((resolve) => settle = resolve);
    client.publish();
    driver.flush();
    await settled;
    if (i >= warmup) samples.push(Math.round((performance.now() - start) * 1000));
  }
  await finish({ samples });
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
