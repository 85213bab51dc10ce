/**
 * A packet recorder and a replay tool. {@link PacketRecorder} keeps every packet that
 * passes a {@link FaultProxy} both ways, timestamped, and writes them as JSON lines
 * (binary fields in base64). {@link replay} plays the client side of a recording against
 * a broker and compares the broker's answers with the recorded ones: packet types and key
 * fields, ignoring timing, packet ids and assigned client ids.
 *
 * @module
 */

import type { Packet, ProtocolVersion } from "../lib/packet/types.ts";
import { openTransport, type OpenTransportOptions } from "../lib/transport/open.ts";
import { PacketConnection } from "./_frames.ts";
import type { FaultProxy, ProxyDirection, ProxyEvent } from "./fault_proxy.ts";

/**
 * One line of a recording: a packet, or a connection opening or closing.
 *
 * @example A recorded PINGRESP
 * ```ts
 * import type { RecordedEntry } from "./recorder.ts";
 * const entry: RecordedEntry = {
 *   event: "packet", at: 12.5, time: "2026-01-01T00:00:00.000Z", connection: 1,
 *   direction: "server-to-client", protocolVersion: 4, packet: { type: "pingresp" },
 * };
 * ```
 */
export type RecordedEntry =
  | {
    event: "packet";
    /** Milliseconds since the recording started. */
    at: number;
    /** Wall-clock time, ISO 8601. */
    time: string;
    /** The connection (1-based, in the order the proxy accepted them). */
    connection: number;
    direction: ProxyDirection;
    /** The protocol level the packet was decoded at. */
    protocolVersion: ProtocolVersion;
    /** The packet; absent for bytes that did not decode (see `bytes`). */
    packet?: Packet;
    /** The raw bytes, base64, for bytes that did not decode. */
    bytes?: string;
  }
  | { event: "open"; at: number; time: string; connection: number }
  | {
    event: "close";
    at: number;
    time: string;
    connection: number;
    /** Who ended the connection. */
    by: "client" | "server" | "proxy";
  };

/** Packet fields that hold bytes: written as base64 strings in JSON lines. */
const BINARY_FIELDS = new Set(["payload", "password", "correlationData", "authenticationData"]);

/**
 * Records what passes through a proxy. Attach it with {@link attach} (or feed events to
 * {@link record}); read {@link entries} or {@link toJsonLines}.
 *
 * @example Record, write and read back
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketRecorder } from "./recorder.ts";
 * const recorder = new PacketRecorder();
 * recorder.record({
 *   kind: "packet", connection: 1, direction: "client-to-server", time: Date.now(), protocolVersion: 4,
 *   packet: { type: "publish", topic: "a", payload: new Uint8Array([1, 2]), qos: 0, retain: false, dup: false },
 *   bytes: new Uint8Array([0x30, 5, 0, 1, 0x61, 1, 2]),
 * });
 * const lines = recorder.toJsonLines();
 * assert.match(lines, /"payload":"AQI="/);
 * assert.deepEqual(PacketRecorder.parse(lines), recorder.entries);
 * ```
 */
export class PacketRecorder {
  #entries: RecordedEntry[] = [];
  #start: number | undefined = undefined;

  /** The entries recorded, oldest first. */
  get entries(): readonly RecordedEntry[] {
    return this.#entries;
  }

  /** Records every event of `proxy` from now on; returns a function that stops. */
  attach(proxy: FaultProxy): () => void {
    return proxy.observe((event) => this.record(event));
  }

  /** Records one proxy event. */
  record(event: ProxyEvent): void {
    this.#start ??= event.time;
    const at = event.time - this.#start;
    const time = new Date(event.time).toISOString();
    if (event.kind === "packet") {
      this.#entries.push({
        event: "packet",
        at,
        time,
        connection: event.connection,
        direction: event.direction,
        protocolVersion: event.protocolVersion,
        ...(event.packet === undefined
          ? { bytes: toBase64(event.bytes) }
          : { packet: copyPacket(event.packet) }),
      });
    } else if (event.kind === "open") {
      this.#entries.push({ event: "open", at, time, connection: event.connection });
    } else {
      this.#entries.push({ event: "close", at, time, connection: event.connection, by: event.by });
    }
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries = [];
    this.#start = undefined;
  }

  /** The recording as JSON lines: one entry per line, binary fields in base64. */
  toJsonLines(): string {
    return this.#entries.map((entry) => JSON.stringify(entry, binaryToBase64) + "\n").join("");
  }

  /**
   * Reads JSON lines written by {@link toJsonLines} (blank lines are skipped). Throws
   * TypeError naming the line that is not a recording entry.
   */
  static parse(jsonLines: string): RecordedEntry[] {
    const entries: RecordedEntry[] = [];
    const lines = jsonLines.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "") continue;
      let entry: unknown;
      try {
        entry = JSON.parse(line, base64ToBinary);
      } catch (error) {
        throw new TypeError(
          `Cannot parse the recording as line ${i + 1} is not JSON: ${(error as Error).message}`,
        );
      }
      if (!isEntry(entry)) {
        throw new TypeError(
          `Cannot parse the recording as line ${i + 1} is not a recording entry: current value is ${
            line.slice(0, 80)
          }`,
        );
      }
      entries.push(entry);
    }
    return entries;
  }
}

/**
 * Options of {@link replay}.
 *
 * @example Wait up to two seconds per answer
 * ```ts
 * import type { ReplayOptions } from "./recorder.ts";
 * const options: ReplayOptions = { timeout: 2_000 };
 * ```
 */
export interface ReplayOptions {
  /** Milliseconds to wait for each expected packet (default 5,000). */
  timeout?: number;
  /** Options for the transports to the broker (TLS material...). */
  transportOptions?: OpenTransportOptions;
}

/**
 * Where the broker's answer departed from the recording.
 *
 * @example A different reason code
 * ```ts
 * import type { ReplayMismatch } from "./recorder.ts";
 * const mismatch: ReplayMismatch = {
 *   connection: 1, index: 4, field: "reasonCode", expected: 0, actual: 135,
 *   message: "connection 1: SUBACK reasonCode expected 0, got 135",
 * };
 * ```
 */
export interface ReplayMismatch {
  /** The recorded connection. */
  connection: number;
  /** The entry's index in the recording. */
  index: number;
  /** The field that differs ("type" when the packet type does, "close" for the ending). */
  field: string;
  /** The recorded value. */
  expected: unknown;
  /** The broker's value. */
  actual: unknown;
  /** One line saying what differs. */
  message: string;
}

/**
 * What {@link replay} found.
 *
 * @example A clean replay
 * ```ts
 * import type { ReplayResult } from "./recorder.ts";
 * const result: ReplayResult = { ok: true, compared: 6, mismatches: [], unexpected: [] };
 * ```
 */
export interface ReplayResult {
  /** True when every recorded answer came and matched. */
  ok: boolean;
  /** Server packets compared. */
  compared: number;
  /** The differences, in recording order. */
  mismatches: ReplayMismatch[];
  /**
   * Packets the broker sent beyond the recording, per connection (informative: a
   * broker may legitimately send more, such as a PINGRESP).
   */
  unexpected: Array<{ connection: number; packet: Packet }>;
}

/**
 * Plays the client side of `recording` against the broker at `url`, in recorded order,
 * one connection per recorded connection, and compares each recorded server packet with
 * the packet the broker sends in its place on that connection. Compared: the packet type
 * and its key fields (CONNACK session present and reason code; PUBLISH topic, payload,
 * QoS, retain and the message properties; acknowledgement, SUBACK, UNSUBACK and
 * DISCONNECT reason codes); ignored: timing, packet ids (the client's acknowledgements
 * follow the ids the broker really used), assigned client ids and the properties a broker
 * announces about itself.
 *
 * Before sending a client packet, the replay waits for the server packets recorded
 * before it on the same connection, and for the answers (not the message deliveries)
 * recorded before it on the others: causes come first, while brokers remain free to
 * deliver messages a little earlier or later. A recorded server close is expected again;
 * a client close or proxy cut closes the replayed connection. Bytes that did not decode
 * are sent as they were.
 *
 * @example Replay a recording (here an empty one)
 * ```ts
 * import assert from "node:assert/strict";
 * import { replay } from "./recorder.ts";
 * const result = await replay([], "mqtt://127.0.0.1:1883");
 * assert.deepEqual(result, { ok: true, compared: 0, mismatches: [], unexpected: [] });
 * ```
 */
export async function replay(
  recording: readonly RecordedEntry[] | string,
  url: string | URL,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const entries = typeof recording === "string" ? PacketRecorder.parse(recording) : recording;
  const session = new ReplaySession(url, options);
  try {
    for (let i = 0; i < entries.length; i++) await session.play(entries[i]!, i);
    await session.settleAll();
  } finally {
    await session.close();
  }
  return session.result();
}

/** The state of one replay: connections, the server packets still expected, the findings. */
class ReplaySession {
  #url: string | URL;
  #options: ReplayOptions;
  #timeout: number;
  #connections = new Map<number, ReplayConnection>();
  #mismatches: ReplayMismatch[] = [];
  #compared = 0;

  constructor(url: string | URL, options: ReplayOptions) {
    this.#url = url;
    this.#options = options;
    this.#timeout = options.timeout ?? 5_000;
  }

  async play(entry: RecordedEntry, index: number): Promise<void> {
    const id = entry.connection;
    if (entry.event === "open") {
      await this.#open(id);
      return;
    }
    const connection = this.#connections.get(id) ?? await this.#open(id);
    if (entry.event === "close") {
      await this.#settle(connection, connection.expected.length);
      if (entry.by === "server" && !connection.packets.isEnded) {
        const closed = await Promise.race([
          connection.packets.ended.then(() => true),
          new Promise<false>((resolve) => {
            const timer = setTimeout(() => resolve(false), this.#timeout);
            void connection.packets.ended.then(() => clearTimeout(timer));
          }),
        ]);
        if (!closed) {
          this.#mismatches.push({
            connection: id,
            index,
            field: "close",
            expected: "closed by the server",
            actual: "still open",
            message:
              `connection ${id}: the broker did not close the connection within ${this.#timeout} ms`,
          });
        }
      }
      await connection.packets.close();
      return;
    }
    if (entry.direction === "server-to-client") {
      if (entry.packet !== undefined) connection.expected.push({ index, packet: entry.packet });
      return;
    }
    // Causes first: this connection's earlier answers, and the others' earlier answers.
    await this.#settle(connection, connection.expected.length);
    for (const other of this.#connections.values()) {
      if (other === connection) continue;
      let upTo = 0;
      other.expected.forEach((expected, at) => {
        if (expected.packet.type !== "publish" && expected.packet.type !== "pubrel") upTo = at + 1;
      });
      await this.#settle(other, upTo);
    }
    if (connection.packets.isEnded) return;
    try {
      if (entry.packet !== undefined) {
        await connection.packets.send(translateIds(entry.packet, connection.ids));
      } else if (entry.bytes !== undefined) {
        await connection.packets.sendRaw(fromBase64(entry.bytes));
      }
    } catch {
      // The broker closed the connection: the expectations left will say so.
    }
  }

  async settleAll(): Promise<void> {
    for (const connection of this.#connections.values()) {
      await this.#settle(connection, connection.expected.length);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((c) => c.packets.close()));
  }

  result(): ReplayResult {
    const unexpected: Array<{ connection: number; packet: Packet }> = [];
    for (const [id, connection] of this.#connections) {
      for (const packet of connection.packets.received) unexpected.push({ connection: id, packet });
    }
    return {
      ok: this.#mismatches.length === 0,
      compared: this.#compared,
      mismatches: this.#mismatches,
      unexpected,
    };
  }

  async #open(id: number): Promise<ReplayConnection> {
    let connection = this.#connections.get(id);
    if (connection === undefined) {
      const transport = await openTransport(this.#url, this.#options.transportOptions ?? {});
      connection = {
        id,
        packets: new PacketConnection(transport),
        expected: [],
        ids: new Map(),
        silent: false,
      };
      this.#connections.set(id, connection);
    }
    return connection;
  }

  /** Compares the first `count` expected packets of `connection` with what the broker sends. */
  async #settle(connection: ReplayConnection, count: number): Promise<void> {
    for (const { index, packet: expected } of connection.expected.splice(0, count)) {
      this.#compared++;
      const actual = await connection.packets.next(connection.silent ? 0 : this.#timeout);
      const id = connection.id;
      if (actual === undefined) {
        connection.silent = true;
        this.#mismatches.push({
          connection: id,
          index,
          field: "type",
          expected: expected.type,
          actual: undefined,
          message: `connection ${id}: expected ${expected.type.toUpperCase()}, got ${
            connection.packets.isEnded
              ? "the connection closed"
              : `nothing within ${this.#timeout} ms`
          }`,
        });
        continue;
      }
      if (
        (actual.type === "publish" || actual.type === "pubrel") && actual.type === expected.type &&
        actual.packetId !== undefined && expected.packetId !== undefined
      ) {
        connection.ids.set(expected.packetId, actual.packetId);
      }
      for (const difference of comparePackets(expected, actual)) {
        this.#mismatches.push({
          connection: id,
          index,
          ...difference,
          message: `connection ${id}: ${expected.type.toUpperCase()} ${difference.field} expected ${
            describe(difference.expected)
          }, got ${describe(difference.actual)}`,
        });
      }
    }
  }
}

interface ReplayConnection {
  id: number;
  packets: PacketConnection;
  /** Server packets recorded and not yet compared, in order. */
  expected: Array<{ index: number; packet: Packet }>;
  /** Packet ids of the broker's messages: recorded id to the id the broker used now. */
  ids: Map<number, number>;
  /** Set once an expected packet did not come: later ones are not waited for. */
  silent: boolean;
}

/** The client's acknowledgements of the broker's messages follow the broker's real ids. */
function translateIds(packet: Packet, ids: Map<number, number>): Packet {
  if (packet.type === "puback" || packet.type === "pubrec" || packet.type === "pubcomp") {
    const actual = ids.get(packet.packetId);
    if (actual !== undefined && actual !== packet.packetId) return { ...packet, packetId: actual };
  }
  return packet;
}

/**
 * The key fields where `actual` differs from `expected` (see {@link replay} for which
 * fields count); empty when they agree.
 *
 * @example Packet ids do not count, reason codes do
 * ```ts
 * import assert from "node:assert/strict";
 * import { comparePackets } from "./recorder.ts";
 * assert.deepEqual(comparePackets(
 *   { type: "puback", packetId: 1, reasonCode: 0 },
 *   { type: "puback", packetId: 7, reasonCode: 0 },
 * ), []);
 * assert.deepEqual(comparePackets(
 *   { type: "suback", packetId: 1, reasonCodes: [1] },
 *   { type: "suback", packetId: 1, reasonCodes: [0x80] },
 * ), [{ field: "reasonCodes", expected: [1], actual: [0x80] }]);
 * ```
 */
export function comparePackets(
  expected: Packet,
  actual: Packet,
): Array<{ field: string; expected: unknown; actual: unknown }> {
  if (expected.type !== actual.type) {
    return [{ field: "type", expected: expected.type, actual: actual.type }];
  }
  const differences: Array<{ field: string; expected: unknown; actual: unknown }> = [];
  const check = (field: string, a: unknown, b: unknown) => {
    if (!sameValue(a, b)) differences.push({ field, expected: a, actual: b });
  };
  const e = expected as unknown as Record<string, unknown>;
  const a = actual as unknown as Record<string, unknown>;
  const fields = KEY_FIELDS[expected.type] ?? [];
  for (const field of fields) check(field, e[field], a[field]);
  if (expected.type === "publish" && actual.type === "publish") {
    for (const name of MESSAGE_PROPERTIES) {
      check(`properties.${name}`, expected.properties?.[name], actual.properties?.[name]);
    }
  }
  return differences;
}

/** The fields compared per packet type; packet ids are left out on purpose. */
const KEY_FIELDS: Partial<Record<Packet["type"], readonly string[]>> = {
  connack: ["sessionPresent", "reasonCode"],
  publish: ["topic", "payload", "qos", "retain"],
  puback: ["reasonCode"],
  pubrec: ["reasonCode"],
  pubrel: ["reasonCode"],
  pubcomp: ["reasonCode"],
  suback: ["reasonCodes"],
  unsuback: ["reasonCodes"],
  disconnect: ["reasonCode"],
  auth: ["reasonCode"],
};

/** PUBLISH properties that belong to the message (not to the broker or the connection). */
const MESSAGE_PROPERTIES = [
  "payloadFormatIndicator",
  "contentType",
  "responseTopic",
  "correlationData",
  "userProperties",
] as const;

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  return false;
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `<${value.length} bytes: ${toBase64(value)}>`;
  return value === undefined ? "nothing" : JSON.stringify(value);
}

function copyPacket(packet: Packet): Packet {
  return structuredClone(packet);
}

function binaryToBase64(this: unknown, key: string, value: unknown): unknown {
  return BINARY_FIELDS.has(key) && value instanceof Uint8Array ? toBase64(value) : value;
}

function base64ToBinary(key: string, value: unknown): unknown {
  return BINARY_FIELDS.has(key) && typeof value === "string" ? fromBase64(value) : value;
}

function isEntry(value: unknown): value is RecordedEntry {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  if (typeof entry.connection !== "number" || typeof entry.at !== "number") return false;
  switch (entry.event) {
    case "open":
      return true;
    case "close":
      return entry.by === "client" || entry.by === "server" || entry.by === "proxy";
    case "packet":
      return (entry.direction === "client-to-server" || entry.direction === "server-to-client") &&
        (typeof entry.bytes === "string" ||
          (typeof entry.packet === "object" && entry.packet !== null &&
            typeof (entry.packet as { type?: unknown }).type === "string"));
    default:
      return false;
  }
}

/** Base64 of `bytes` (standard alphabet, padded). */
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
