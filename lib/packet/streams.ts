/**
 * Web streams over the codec: {@link PacketDecoderStream} turns a byte stream into
 * packets, {@link PacketEncoderStream} turns packets into bytes.
 *
 * @module
 */

import type { Packet, ProtocolVersion } from "./types.ts";
import { decodeFrame, frameLength } from "./decode.ts";
import { encodePacket } from "./encode.ts";
import { checkProtocolVersion, describeValue, malformed } from "./_wire.ts";

/** Size of the slabs spanning packets are assembled in; a larger packet gets its own buffer. */
const SLAB_BYTES = 16_384;
const EMPTY = new Uint8Array(0);

/** Options for {@link PacketDecoderStream}. */
export interface PacketDecoderStreamOptions {
  /** Protocol level of the connection: 3, 4 or 5. A CONNECT read from the stream changes it. */
  protocolVersion: ProtocolVersion;
  /**
   * Largest packet accepted, in bytes, counting the fixed header. A larger packet
   * errors the stream with ProtocolError 0x95 Packet Too Large as soon as its fixed
   * header is read, before its body is buffered.
   */
  maxPacketSize?: number;
}

/** Options for {@link PacketEncoderStream}. */
export interface PacketEncoderStreamOptions {
  /** Protocol level of the connection: 3, 4 or 5. A CONNECT written to the stream changes it. */
  protocolVersion: ProtocolVersion;
}

/**
 * Decodes a stream of byte chunks (from a socket, a WebSocket, a file) into packets.
 * Packets may span chunks and a chunk may hold many packets.
 *
 * A packet that lies entirely in one chunk is decoded in place: its payload and other
 * binary fields are views into that chunk, so the source must not reuse a chunk after
 * writing it (web streams never do). A packet that spans chunks is assembled in a
 * region of a shared slab (16 KiB) that is handed out once and never written again, so
 * a view handed out stays valid; a packet larger than the slab gets a buffer of its own.
 * At most one partial packet is held.
 *
 * When a CONNECT is decoded, `protocolVersion` switches to the level it carries, so a
 * server decodes the packets that follow it in the same chunk correctly; it can also be
 * set at any time. A malformed packet errors the stream with a ProtocolError, as does
 * the end of the input in the middle of a packet.
 *
 * @example Decode packets from chunks
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketDecoderStream } from "./streams.ts";
 * const bytes = ReadableStream.from([new Uint8Array([0xc0, 0, 0x40]), new Uint8Array([2, 0, 1])]);
 * const packets = await Array.fromAsync(bytes.pipeThrough(new PacketDecoderStream({ protocolVersion: 4 })));
 * assert.deepEqual(packets, [{ type: "pingreq" }, { type: "puback", packetId: 1 }]);
 * ```
 */
export class PacketDecoderStream extends TransformStream<Uint8Array, Packet> {
  #version: ProtocolVersion;
  #maxPacketSize: number;
  /** The partial packet, allocated at its full size once its fixed header is known. */
  #partial: Uint8Array | undefined;
  /**
   * Where spanning packets are assembled: bump-allocated, each region handed out once
   * and never written again after its packet is complete; replaced when used up.
   */
  #slab: Uint8Array = EMPTY;
  #slabUsed = 0;
  #filled = 0;
  /** A fixed header split across chunks (at most five bytes); never handed out. */
  #head = new Uint8Array(5);
  #headLength = 0;

  /**
   * Creates a decoder for a connection at `options.protocolVersion`.
   *
   * @example Limit the packet size
   * ```ts
   * import assert from "node:assert/strict";
   * import { PacketDecoderStream } from "./streams.ts";
   * const decoder = new PacketDecoderStream({ protocolVersion: 5, maxPacketSize: 1024 });
   * assert.equal(decoder.protocolVersion, 5);
   * ```
   */
  constructor(options: PacketDecoderStreamOptions) {
    super({
      transform: (chunk, controller) => this.#transform(chunk, controller),
      flush: () => this.#flush(),
    });
    checkProtocolVersion(options.protocolVersion, "create PacketDecoderStream");
    const max = options.maxPacketSize;
    if (max !== undefined && !(typeof max === "number" && max >= 2)) {
      throw new RangeError(
        `Cannot create PacketDecoderStream as 'maxPacketSize' must be a number of at least 2: current value is ${
          describeValue(max)
        }`,
      );
    }
    this.#version = options.protocolVersion;
    this.#maxPacketSize = max ?? Infinity;
  }

  /**
   * The protocol level used for the packets still to come.
   *
   * @example Switch after a CONNECT
   * ```ts
   * import assert from "node:assert/strict";
   * import { PacketDecoderStream } from "./streams.ts";
   * const decoder = new PacketDecoderStream({ protocolVersion: 4 });
   * decoder.protocolVersion = 5;
   * assert.equal(decoder.protocolVersion, 5);
   * ```
   */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  set protocolVersion(value: ProtocolVersion) {
    checkProtocolVersion(value, "set protocolVersion");
    this.#version = value;
  }

  /** A region of `length` bytes that no other packet has or will ever get. */
  #allocate(length: number): Uint8Array {
    if (length > SLAB_BYTES) return new Uint8Array(length);
    let used = this.#slabUsed;
    if (used + length > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB_BYTES);
      used = 0;
    }
    this.#slabUsed = used + length;
    return this.#slab.subarray(used, used + length);
  }

  #emit(packet: Packet, controller: TransformStreamDefaultController<Packet>): void {
    if (packet.type === "connect") this.#version = packet.protocolVersion;
    controller.enqueue(packet);
  }

  #transform(chunk: Uint8Array, controller: TransformStreamDefaultController<Packet>): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot decode packets as a chunk must be a Uint8Array: current value is ${
          describeValue(chunk)
        }`,
      );
    }
    const end = chunk.length;
    let offset = 0;
    if (this.#headLength > 0) {
      // Complete the fixed header byte by byte: it is at most five bytes long.
      const head = this.#head;
      let length = -1;
      while (offset < end) {
        head[this.#headLength++] = chunk[offset++]!;
        length = frameLength(head, 0, this.#headLength, this.#version, this.#maxPacketSize);
        if (length >= 0) break;
      }
      if (length < 0) return;
      const partial = this.#allocate(length);
      partial.set(head.subarray(0, this.#headLength));
      this.#partial = partial;
      this.#filled = this.#headLength;
      this.#headLength = 0;
    }
    const partial = this.#partial;
    if (partial !== undefined) {
      const count = Math.min(partial.length - this.#filled, end - offset);
      partial.set(chunk.subarray(offset, offset + count), this.#filled);
      this.#filled += count;
      offset += count;
      if (this.#filled < partial.length) return;
      this.#partial = undefined;
      this.#emit(decodeFrame(partial, 0, partial.length, this.#version), controller);
    }
    // The level only changes on a CONNECT, so the loop keeps it in a local.
    let version = this.#version;
    const maxPacketSize = this.#maxPacketSize;
    while (offset < end) {
      const length = frameLength(chunk, offset, end, version, maxPacketSize);
      if (length < 0) {
        this.#head.set(chunk.subarray(offset, end));
        this.#headLength = end - offset;
        return;
      }
      if (offset + length > end) {
        const partial = this.#allocate(length);
        partial.set(chunk.subarray(offset, end));
        this.#partial = partial;
        this.#filled = end - offset;
        return;
      }
      const packet = decodeFrame(chunk, offset, length, version);
      if (packet.type === "connect") this.#version = version = packet.protocolVersion;
      controller.enqueue(packet);
      offset += length;
    }
  }

  #flush(): void {
    if (this.#headLength > 0 || this.#partial !== undefined) {
      const held = this.#partial === undefined ? this.#headLength : this.#filled;
      malformed(`The stream ended inside a packet, after ${held} of its bytes`);
    }
  }
}

/**
 * Encodes a stream of packets into byte chunks, one chunk per packet, at the
 * connection's protocol level. A CONNECT is encoded at its own `protocolVersion` and
 * switches the stream to that level for the packets after it. Invalid packets error
 * the stream with the TypeError or RangeError of {@link encodePacket}.
 *
 * @example Encode packets
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketEncoderStream } from "./streams.ts";
 * const packets = ReadableStream.from([{ type: "pingreq" } as const]);
 * const chunks = await Array.fromAsync(packets.pipeThrough(new PacketEncoderStream({ protocolVersion: 4 })));
 * assert.deepEqual(chunks, [new Uint8Array([0xc0, 0])]);
 * ```
 */
export class PacketEncoderStream extends TransformStream<Packet, Uint8Array> {
  #version: ProtocolVersion;

  /**
   * Creates an encoder for a connection at `options.protocolVersion`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PacketEncoderStream } from "./streams.ts";
   * assert.equal(new PacketEncoderStream({ protocolVersion: 3 }).protocolVersion, 3);
   * ```
   */
  constructor(options: PacketEncoderStreamOptions) {
    super({
      transform: (packet, controller) => {
        controller.enqueue(encodePacket(packet, this.#version));
        if (packet.type === "connect") this.#version = packet.protocolVersion;
      },
    });
    checkProtocolVersion(options.protocolVersion, "create PacketEncoderStream");
    this.#version = options.protocolVersion;
  }

  /**
   * The protocol level used for the packets still to come.
   *
   * @example Switch level
   * ```ts
   * import assert from "node:assert/strict";
   * import { PacketEncoderStream } from "./streams.ts";
   * const encoder = new PacketEncoderStream({ protocolVersion: 5 });
   * encoder.protocolVersion = 4;
   * assert.equal(encoder.protocolVersion, 4);
   * ```
   */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  set protocolVersion(value: ProtocolVersion) {
    checkProtocolVersion(value, "set protocolVersion");
    this.#version = value;
  }
}
