/**
 * A synchronous packet framer: byte chunks in, packets out, with no stream and no promise
 * per packet. The client reads its transport with it so that every packet of one socket
 * read is handled in the same turn, and the answers they cause leave in one write.
 *
 * @module
 */

import { decodeFrame, frameLength } from "../packet/decode.ts";
import type { Packet, ProtocolVersion } from "../packet/types.ts";
import { malformed } from "../packet/_wire.ts";

/** Fixed header bytes at most: type byte and a four-byte Remaining Length. */
const MAX_HEAD = 5;

/**
 * Cuts a byte stream, fed in chunks of any size, into decoded packets. Packets that lie
 * whole in a chunk are decoded in place (their payloads are views of the chunk, which the
 * caller must not change afterwards); one split across chunks is gathered first.
 *
 * Raises the codec's ProtocolError for a malformed packet, and one with reason code 0x81
 * from {@link end} when the stream ends inside a packet.
 *
 * @example Packets split across chunks
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketReader } from "./packet_reader.ts";
 *
 * const reader = new PacketReader(4);
 * // PUBACK for id 7, then the first byte of a PINGRESP.
 * reader.push(new Uint8Array([0x40, 0x02, 0x00, 0x07, 0xd0]));
 * assert.deepEqual(reader.next(), { type: "puback", packetId: 7 });
 * assert.equal(reader.next(), undefined);
 * reader.push(new Uint8Array([0x00]));
 * assert.deepEqual(reader.next(), { type: "pingresp" });
 * assert.equal(reader.next(), undefined);
 * reader.end();
 * ```
 */
export class PacketReader {
  /** Protocol level the packets are decoded at. */
  protocolVersion: ProtocolVersion;
  #maxPacketSize: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #head = new Uint8Array(MAX_HEAD);
  #headLength = 0;
  #partial: Uint8Array | undefined;
  #filled = 0;

  /**
   * @param protocolVersion the protocol level to decode at
   * @param maxPacketSize larger packets raise 0x95 Packet Too Large (default: no limit)
   */
  constructor(protocolVersion: ProtocolVersion, maxPacketSize = Infinity) {
    this.protocolVersion = protocolVersion;
    this.#maxPacketSize = maxPacketSize;
  }

  /** Whether bytes of an incomplete packet are held. */
  get pending(): boolean {
    return this.#offset < this.#chunk.length || this.#headLength > 0 ||
      this.#partial !== undefined;
  }

  /**
   * Adds the next chunk, normally once {@link next} returned `undefined`; bytes of the
   * previous chunk not read yet come first.
   */
  push(chunk: Uint8Array): void {
    const previous = this.#chunk;
    if (this.#offset < previous.length) {
      const rest = previous.length - this.#offset;
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(previous.subarray(this.#offset));
      joined.set(chunk, rest);
      chunk = joined;
    }
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /** The next whole packet, or `undefined` when more bytes are needed. */
  next(): Packet | undefined {
    const chunk = this.#chunk;
    const end = chunk.length;
    if (this.#headLength > 0 || this.#partial !== undefined) {
      if (this.#offset >= end) return undefined;
      const rest = chunk.subarray(this.#offset);
      this.#offset = end;
      return this.#hold(rest);
    }
    const offset = this.#offset;
    if (offset >= end) return undefined;
    const length = frameLength(chunk, offset, end, this.protocolVersion, this.#maxPacketSize);
    if (length < 0 || offset + length > end) {
      this.#offset = end;
      return this.#hold(chunk.subarray(offset));
    }
    this.#offset = offset + length;
    return decodeFrame(chunk, offset, length, this.protocolVersion);
  }

  /** Raises a ProtocolError (0x81) when the stream ended inside a packet. */
  end(): void {
    if (!this.pending) return;
    const held = this.#partial !== undefined
      ? this.#filled
      : this.#headLength + this.#chunk.length - this.#offset;
    malformed(`The stream ended inside a packet, after ${held} of its bytes`);
  }

  /** Gathers the bytes of a packet that is not whole yet; returns it once it is. */
  #hold(bytes: Uint8Array): Packet | undefined {
    let offset = 0;
    if (this.#partial === undefined) {
      const head = this.#head;
      let length = -1;
      while (offset < bytes.length) {
        head[this.#headLength++] = bytes[offset++]!;
        length = frameLength(head, 0, this.#headLength, this.protocolVersion, this.#maxPacketSize);
        if (length >= 0) break;
      }
      if (length < 0) return undefined;
      const partial = new Uint8Array(length);
      partial.set(head.subarray(0, this.#headLength));
      this.#partial = partial;
      this.#filled = this.#headLength;
      this.#headLength = 0;
    }
    const partial = this.#partial!;
    const count = Math.min(partial.length - this.#filled, bytes.length - offset);
    partial.set(bytes.subarray(offset, offset + count), this.#filled);
    this.#filled += count;
    offset += count;
    if (offset < bytes.length) {
      // More than this packet: what follows stays for next().
      this.#chunk = bytes;
      this.#offset = offset;
    }
    if (this.#filled < partial.length) return undefined;
    this.#partial = undefined;
    return decodeFrame(partial, 0, partial.length, this.protocolVersion);
  }
}
