/**
 * Codec benchmark: tern's PUBLISH encoder and decoder side by side with npm `mqtt-packet`,
 * in the same process.
 *
 * ```sh
 * deno run -A bench/codec_bench.ts [--json] [--time=MS] [--runs=N] [--filter=TEXT]
 * bun run bench/codec_bench.ts [--json] [--time=MS] [--runs=N] [--filter=TEXT]
 * ```
 *
 * Cases: PUBLISH to "sensors/room1/temperature" with payloads of 16 B, 256 B and 4 KiB, at
 * QoS 0 and QoS 1, in MQTT 3.1.1 and in MQTT 5.0 with two properties (a message expiry
 * interval and a user property).
 *
 * - encode: packets/s encoding one packet object over and over. Both codecs get the same
 *   pre-built object on every iteration (no per-iteration allocation on either side); each
 *   encoded buffer is consumed (its length and a byte are summed) so it cannot be dropped.
 * - decode: packets/s decoding a ~4 MiB stream of back-to-back packets (the same bytes for
 *   both codecs) delivered in 64 KiB chunks, as a socket would. tern runs a loop over the
 *   chunks calling `decodePacket` on each packet (a `subarray` view per packet) and
 *   carrying a partial packet over to the next chunk in a buffer of its exact size, as
 *   `PacketDecoderStream` does; mqtt-packet runs `parser.parse(chunk)` with a "packet"
 *   listener. Every decoded packet is consumed (payload length and packet id summed) and
 *   the packet count is checked.
 * - decode-stream: the same stream written through tern's `PacketDecoderStream` (a
 *   `TransformStream`) and read back; mqtt-packet's figure is the same parser loop.
 *
 * Each measurement is warmed up, then timed for `--time` ms (default 500); tern and
 * mqtt-packet runs alternate, `--runs` times each (default 5). The table gives each
 * side's median packets/s and the median of the per-pair ratios (a pair runs back to
 * back, so a slow spell on a shared machine hits both sides of it alike).
 *
 * @module
 */

import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { loadavg } from "node:os";
import { decodePacket, encodePacket, PacketDecoderStream } from "../lib/packet/mod.ts";
import { frameLength } from "../lib/packet/decode.ts";
import type { Packet, ProtocolVersion, PublishPacket } from "../lib/packet/types.ts";

// ---------------------------------------------------------------------------------------
// options

interface Options {
  json: boolean;
  timeMs: number;
  runs: number;
  filter: string | undefined;
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = { json: false, timeMs: 500, runs: 5, filter: undefined };
  for (const arg of args) {
    if (arg === "--json") options.json = true;
    else if (arg.startsWith("--time=")) options.timeMs = positiveInteger(arg, "--time");
    else if (arg.startsWith("--runs=")) options.runs = positiveInteger(arg, "--runs");
    else if (arg.startsWith("--filter=")) options.filter = arg.slice("--filter=".length);
    else {
      throw new TypeError(
        `Cannot run the codec bench as argument '${arg}' is unknown: ` +
          "expected --json, --time=MS, --runs=N or --filter=TEXT",
      );
    }
  }
  return options;
}

function positiveInteger(arg: string, name: string): number {
  const value = Number(arg.slice(name.length + 1));
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot run the codec bench as '${name}' must be a positive integer: current value is ${
        arg.slice(name.length + 1)
      }`,
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// cases

const TOPIC = "sensors/room1/temperature";
const PAYLOAD_SIZES = [16, 256, 4096] as const;
const QOS_LEVELS = [0, 1] as const;
const VERSIONS = [4, 5] as const;
const STREAM_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** Ratio tern/mqtt-packet a case must reach. */
function targetFor(op: Op, payloadSize: number): number {
  if (op === "encode") return 4;
  return payloadSize >= 4096 ? 2.5 : 4;
}

type Op = "encode" | "decode" | "decode-stream";

interface Case {
  name: string;
  op: Op;
  payloadSize: number;
  qos: 0 | 1;
  protocolVersion: 4 | 5;
  target: number;
}

function versionLabel(version: ProtocolVersion): string {
  return version === 5 ? "5.0" : version === 4 ? "3.1.1" : "3.1";
}

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024}KiB` : `${size}B`;
}

function allCases(): Case[] {
  const cases: Case[] = [];
  for (const op of ["encode", "decode", "decode-stream"] as const) {
    for (const protocolVersion of VERSIONS) {
      for (const qos of QOS_LEVELS) {
        for (const payloadSize of PAYLOAD_SIZES) {
          cases.push({
            name: `${op} ${sizeLabel(payloadSize)} qos${qos} v${versionLabel(protocolVersion)}`,
            op,
            payloadSize,
            qos,
            protocolVersion,
            target: targetFor(op, payloadSize),
          });
        }
      }
    }
  }
  return cases;
}

function payloadOf(size: number): Uint8Array {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

/** The tern packet for a case. */
function ternPacket(c: Case, packetId: number): PublishPacket {
  const packet: PublishPacket = {
    type: "publish",
    topic: TOPIC,
    payload: payloadOf(c.payloadSize),
    qos: c.qos,
    retain: false,
    dup: false,
  };
  if (c.qos > 0) packet.packetId = packetId;
  if (c.protocolVersion === 5) {
    packet.properties = {
      messageExpiryInterval: 3600,
      userProperties: [["unit", "celsius"]],
    };
  }
  return packet;
}

/** The same packet in mqtt-packet's shape (its payload must be a Buffer). */
// deno-lint-ignore no-explicit-any
function peerPacket(c: Case, packetId: number): any {
  // deno-lint-ignore no-explicit-any
  const packet: any = {
    cmd: "publish",
    topic: TOPIC,
    payload: Buffer.from(payloadOf(c.payloadSize)),
    qos: c.qos,
    retain: false,
    dup: false,
  };
  if (c.qos > 0) packet.messageId = packetId;
  if (c.protocolVersion === 5) {
    packet.properties = {
      messageExpiryInterval: 3600,
      userProperties: { unit: "celsius" },
    };
  }
  return packet;
}

// ---------------------------------------------------------------------------------------
// measurement

/** Work done in one timed batch: returns how many packets it handled. */
type Batch = () => number;

/** Sink that every benchmark feeds, printed at the end so no result is dead code. */
let sink = 0;

/** Runs `batch` until `ms` have passed; returns packets per second. */
function measure(batch: Batch, ms: number): number {
  let packets = 0;
  const start = performance.now();
  let now = start;
  do {
    packets += batch();
    now = performance.now();
  } while (now - start < ms);
  return packets / ((now - start) / 1000);
}

/** Like {@link measure} for a batch that returns a promise (the web stream). */
async function measureAsync(batch: () => Promise<number>, ms: number): Promise<number> {
  let packets = 0;
  const start = performance.now();
  let now = start;
  do {
    packets += await batch();
    now = performance.now();
  } while (now - start < ms);
  return packets / ((now - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------
// encode

const ENCODE_BATCH = 1000;

function ternEncodeBatch(c: Case): Batch {
  const packet = ternPacket(c, 4242);
  const version = c.protocolVersion;
  return () => {
    let acc = 0;
    for (let i = 0; i < ENCODE_BATCH; i++) {
      const bytes = encodePacket(packet, version);
      acc += bytes.length + bytes[bytes.length - 1]!;
    }
    sink += acc;
    return ENCODE_BATCH;
  };
}

function peerEncodeBatch(c: Case): Batch {
  const packet = peerPacket(c, 4242);
  const opts = { protocolVersion: c.protocolVersion };
  return () => {
    let acc = 0;
    for (let i = 0; i < ENCODE_BATCH; i++) {
      const bytes = mqttPacket.generate(packet, opts);
      acc += bytes.length + bytes[bytes.length - 1]!;
    }
    sink += acc;
    return ENCODE_BATCH;
  };
}

// ---------------------------------------------------------------------------------------
// decode

interface Stream {
  /** The stream cut into 64 KiB views (tern). */
  chunks: Uint8Array[];
  /** The same views as Buffers over the same memory (mqtt-packet). */
  buffers: Buffer[];
  packets: number;
  /** Sum of payload lengths and packet ids: what a correct decode must add up to. */
  checksum: number;
}

/** ~4 MiB of back-to-back packets with varying packet ids, encoded by mqtt-packet. */
function buildStream(c: Case): Stream {
  const parts: Uint8Array[] = [];
  let total = 0;
  let packets = 0;
  let checksum = 0;
  while (total < STREAM_BYTES) {
    const packetId = (packets % 65535) + 1;
    const bytes = mqttPacket.generate(peerPacket(c, packetId), {
      protocolVersion: c.protocolVersion,
    });
    parts.push(bytes);
    total += bytes.length;
    packets++;
    checksum += c.payloadSize + (c.qos > 0 ? packetId : 0);
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  const chunks: Uint8Array[] = [];
  const buffers: Buffer[] = [];
  for (let at = 0; at < total; at += CHUNK_BYTES) {
    const length = Math.min(CHUNK_BYTES, total - at);
    chunks.push(all.subarray(at, at + length));
    buffers.push(Buffer.from(all.buffer, all.byteOffset + at, length));
  }
  return { chunks, buffers, packets, checksum };
}

function consume(packet: Packet): number {
  if (packet.type !== "publish") throw new Error(`Decoded a ${packet.type}, not a publish`);
  return packet.payload.length + (packet.packetId ?? 0);
}

function checkPass(name: string, stream: Stream, packets: number, checksum: number): void {
  if (packets !== stream.packets || checksum !== stream.checksum) {
    throw new Error(
      `${name} decoded ${packets} packets (checksum ${checksum}), ` +
        `expected ${stream.packets} (checksum ${stream.checksum})`,
    );
  }
}

/**
 * tern: `decodePacket` on each packet inside a chunk; a packet cut by the chunk's end is
 * carried over in a fresh buffer of the packet's exact size (sized with `frameLength`,
 * the stream's own helper; the stream itself cuts such buffers from a shared slab) filled
 * from the next chunk(s), then
 * decoded. A fixed header cut by the chunk's end is joined to the next chunk's first bytes.
 */
function ternDecodeBatch(c: Case, stream: Stream): Batch {
  const version = c.protocolVersion;
  const options = { protocolVersion: version };
  return () => {
    let packets = 0;
    let checksum = 0;
    let partial: Uint8Array | undefined;
    let filled = 0;
    let head: Uint8Array | undefined;
    for (const chunk of stream.chunks) {
      let offset = 0;
      if (head !== undefined) {
        const joined = new Uint8Array(head.length + Math.min(5, chunk.length));
        joined.set(head);
        joined.set(chunk.subarray(0, joined.length - head.length), head.length);
        const length = frameLength(joined, 0, joined.length, version, Infinity);
        if (length < 0) throw new Error("A fixed header spans three chunks");
        partial = new Uint8Array(length);
        partial.set(head);
        filled = head.length;
        head = undefined;
      }
      if (partial !== undefined) {
        const count = Math.min(partial.length - filled, chunk.length);
        partial.set(chunk.subarray(0, count), filled);
        filled += count;
        offset = count;
        if (filled < partial.length) continue;
        const result = decodePacket(partial, options)!;
        checksum += consume(result.packet);
        packets++;
        partial = undefined;
      }
      while (offset < chunk.length) {
        const result = decodePacket(offset === 0 ? chunk : chunk.subarray(offset), options);
        if (result === undefined) {
          const length = frameLength(chunk, offset, chunk.length, version, Infinity);
          if (length < 0) {
            head = chunk.slice(offset);
          } else {
            partial = new Uint8Array(length);
            partial.set(chunk.subarray(offset));
            filled = chunk.length - offset;
          }
          break;
        }
        checksum += consume(result.packet);
        packets++;
        offset += result.bytesRead;
      }
    }
    checkPass("tern", stream, packets, checksum);
    sink += checksum;
    return packets;
  };
}

/** tern: the chunks written through PacketDecoderStream and read back. */
function ternStreamBatch(c: Case, stream: Stream): () => Promise<number> {
  return async () => {
    let packets = 0;
    let checksum = 0;
    const decoded = ReadableStream.from(stream.chunks).pipeThrough(
      new PacketDecoderStream({ protocolVersion: c.protocolVersion }),
    );
    for await (const packet of decoded) {
      checksum += consume(packet);
      packets++;
    }
    checkPass("tern stream", stream, packets, checksum);
    sink += checksum;
    return packets;
  };
}

/** mqtt-packet: parser.parse(chunk) with a "packet" listener. */
function peerDecodeBatch(c: Case, stream: Stream): Batch {
  return () => {
    let packets = 0;
    let checksum = 0;
    const parser = mqttPacket.parser({ protocolVersion: c.protocolVersion });
    parser.on("packet", (packet) => {
      checksum += packet.cmd === "publish"
        ? packet.payload.length + (packet.messageId ?? 0)
        : Number.NaN;
      packets++;
    });
    parser.on("error", (error) => {
      throw error;
    });
    for (const buffer of stream.buffers) parser.parse(buffer);
    checkPass("mqtt-packet", stream, packets, checksum);
    sink += checksum;
    return packets;
  };
}

// ---------------------------------------------------------------------------------------
// running

interface Result {
  case: string;
  op: Op;
  payloadSize: number;
  qos: 0 | 1;
  protocolVersion: 4 | 5;
  /** Packets per second, median of the runs. */
  tern: number;
  mqttPacket: number;
  /** Packets per second of every run, in order. */
  ternRuns: number[];
  mqttPacketRuns: number[];
  ratio: number;
  target: number;
  pass: boolean;
}

/** Checks once that tern reads what mqtt-packet writes and the other way round. */
function crossCheck(c: Case): void {
  const packet = ternPacket(c, 7);
  const ours = encodePacket(packet, c.protocolVersion);
  const theirs = mqttPacket.generate(peerPacket(c, 7), { protocolVersion: c.protocolVersion });
  const back = decodePacket(theirs, { protocolVersion: c.protocolVersion });
  if (
    back === undefined || back.bytesRead !== theirs.length ||
    consume(back.packet) !== c.payloadSize + (c.qos > 0 ? 7 : 0)
  ) {
    throw new Error(`tern cannot decode mqtt-packet's ${c.name}`);
  }
  let seen = 0;
  const parser = mqttPacket.parser({ protocolVersion: c.protocolVersion });
  parser.on("packet", (p) => {
    if (p.cmd === "publish" && p.topic === TOPIC && p.payload.length === c.payloadSize) seen++;
  });
  parser.parse(Buffer.from(ours.buffer, ours.byteOffset, ours.length));
  if (seen !== 1 || ours.length !== theirs.length) {
    throw new Error(`mqtt-packet cannot decode tern's ${c.name}`);
  }
}

async function runCase(c: Case, options: Options): Promise<Result> {
  crossCheck(c);
  let tern: (ms?: number) => Promise<number>;
  let peer: (ms?: number) => Promise<number>;
  const warmMs = Math.max(100, options.timeMs / 2);
  if (c.op === "encode") {
    const t = ternEncodeBatch(c);
    const p = peerEncodeBatch(c);
    tern = (ms = options.timeMs) => Promise.resolve(measure(t, ms));
    peer = (ms = options.timeMs) => Promise.resolve(measure(p, ms));
  } else {
    const stream = buildStream(c);
    const p = peerDecodeBatch(c, stream);
    peer = (ms = options.timeMs) => Promise.resolve(measure(p, ms));
    if (c.op === "decode") {
      const t = ternDecodeBatch(c, stream);
      tern = (ms = options.timeMs) => Promise.resolve(measure(t, ms));
    } else {
      const t = ternStreamBatch(c, stream);
      tern = (ms = options.timeMs) => measureAsync(t, ms);
    }
  }
  await warm(tern, warmMs);
  await warm(peer, warmMs);
  const ternRuns: number[] = [];
  const peerRuns: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    // Alternate which codec goes first, so neither always runs right after the other's
    // garbage or in the same slot of a noisy neighbour's cycle.
    if (run % 2 === 0) {
      ternRuns.push(await tern());
      peerRuns.push(await peer());
    } else {
      peerRuns.push(await peer());
      ternRuns.push(await tern());
    }
  }
  const ternRate = median(ternRuns);
  const peerRate = median(peerRuns);
  // The ratio is the median of each run pair's ratio: a pair runs back to back, so a
  // slow spell on a shared machine slows both sides of it alike.
  const ratio = median(ternRuns.map((rate, run) => rate / peerRuns[run]!));
  return {
    case: c.name,
    op: c.op,
    payloadSize: c.payloadSize,
    qos: c.qos,
    protocolVersion: c.protocolVersion,
    tern: Math.round(ternRate),
    mqttPacket: Math.round(peerRate),
    ternRuns: ternRuns.map(Math.round),
    mqttPacketRuns: peerRuns.map(Math.round),
    ratio: Math.round(ratio * 100) / 100,
    target: c.target,
    pass: ratio >= c.target,
  };
}

async function warm(run: (ms?: number) => Promise<number>, ms: number): Promise<void> {
  await run(ms);
}

function rate(value: number): string {
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M` : `${(value / 1e3).toFixed(1)} k`;
}

function table(results: Result[]): string {
  const head = ["case", "tern pkt/s", "mqtt-packet pkt/s", "tern/mqtt-packet", "target", "result"];
  const rows = results.map((r) => [
    r.case,
    rate(r.tern),
    rate(r.mqttPacket),
    `${r.ratio.toFixed(2)}x`,
    `>= ${r.target}x`,
    r.pass ? "PASS" : "MISS",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ").trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function runtimeName(): string {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return "unknown runtime";
}

async function main(args: readonly string[]): Promise<void> {
  const options = parseOptions(args);
  const cases = allCases().filter((c) =>
    options.filter === undefined || c.name.includes(options.filter)
  );
  const loadBefore = loadavg()[0]!;
  const results: Result[] = [];
  for (const c of cases) {
    const result = await runCase(c, options);
    results.push(result);
    if (!options.json) {
      // progress on stderr keeps stdout a clean table
      console.error(`  ${result.case}: ${result.ratio.toFixed(2)}x`);
    }
  }
  const passed = results.filter((r) => r.pass).length;
  const load = `load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`;
  if (options.json) {
    console.log(JSON.stringify(
      {
        runtime: runtimeName(),
        timeMs: options.timeMs,
        runs: options.runs,
        loadAverage: [loadBefore, loadavg()[0]],
        encodeInput: "same packet object every iteration, for both codecs",
        decodeInput: `${STREAM_BYTES} byte stream in ${CHUNK_BYTES} byte chunks`,
        passed,
        total: results.length,
        results,
        sink,
      },
      null,
      2,
    ));
  } else {
    console.log(
      `codec bench on ${runtimeName()}: median of ${options.runs} x ${options.timeMs} ms, ${load}`,
    );
    console.log(table(results));
    console.log(`${passed}/${results.length} cases meet their target (sink ${sink % 1000})`);
  }
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = g.Deno ? g.Deno.args : g.process.argv.slice(2);
await main(argv);
