/**
 * Internal: splits a byte stream into MQTT frames, decoding each one when it can, and a
 * small packet connection for harness code (replay) that reads whole packets.
 *
 * @module
 */

import { ProtocolError } from "../lib/errors.ts";
import { decodeFrame, frameLength } from "../lib/packet/decode.ts";
import { encodePacket } from "../lib/packet/encode.ts";
import type { Packet, ProtocolVersion } from "../lib/packet/types.ts";
import type { Transport } from "../lib/transport/types.ts";

/** The largest frame the splitter accepts: the wire maximum. */
const WIRE_MAXIMUM = 268_435_460;

/** One frame from a stream: its bytes, and the packet when it decoded. */
export interface Frame {
  /** The frame exactly as it was on the wire (or the raw rest of the stream). */
  readonly bytes: Uint8Array;
  /** The decoded packet; undefined for bytes that are not a well-formed packet. */
  readonly packet: Packet | undefined;
}

/**
 * Cuts chunks into frames at the protocol level it is told (a CONNECT sets it). Bytes
 * that cannot be framed or decoded switch it to pass-through: from then on every chunk
 * comes out as one undecoded frame, so malformed input still reaches the other side.
 */
export class FrameSplitter {
  /** The protocol level frames are decoded at. */
  protocolVersion: ProtocolVersion;
  #carry: Uint8Array | undefined = undefined;
  #passThrough = false;

  constructor(protocolVersion: ProtocolVersion = 4) {
    this.protocolVersion = protocolVersion;
  }

  /** Whether a malformed frame switched the splitter to pass-through. */
  get passThrough(): boolean {
    return this.#passThrough;
  }

  /** Bytes held back as the start of an incomplete frame. */
  get pending(): Uint8Array | undefined {
    return this.#carry;
  }

  /** The complete frames `chunk` finishes. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#passThrough) return chunk.length === 0 ? [] : [{ bytes: chunk, packet: undefined }];
    let bytes = chunk;
    if (this.#carry !== undefined) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      let packet: Packet;
      let length: number;
      try {
        length = frameLength(bytes, offset, bytes.length, this.protocolVersion, WIRE_MAXIMUM);
        if (length < 0 || offset + length > bytes.length) break;
        packet = decodeFrame(bytes, offset, length, this.protocolVersion);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#passThrough = true;
        frames.push({ bytes: bytes.slice(offset), packet: undefined });
        return frames;
      }
      if (packet.type === "connect") this.protocolVersion = packet.protocolVersion;
      frames.push({ bytes: bytes.slice(offset, offset + length), packet });
      offset += length;
    }
    if (offset < bytes.length) this.#carry = bytes.slice(offset);
    return frames;
  }
}

/**
 * Packets over a transport for harness code: `send` encodes, `next` waits for the next
 * packet from the peer, `ended` settles when the peer closes.
 */
export class PacketConnection implements AsyncDisposable {
  #transport: Transport;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #splitter: FrameSplitter;
  #packets: Packet[] = [];
  #wake: (() => void) | undefined = undefined;
  #ended = false;
  /** Resolves once the peer closed the connection (or it failed). */
  readonly ended: Promise<void>;

  constructor(transport: Transport, protocolVersion: ProtocolVersion = 4) {
    this.#transport = transport;
    this.#splitter = new FrameSplitter(protocolVersion);
    this.#writer = transport.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.ended = this.#read();
  }

  /** Whether the peer closed the connection. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /** Packets received and not yet taken with {@link next}. */
  get received(): readonly Packet[] {
    return this.#packets;
  }

  /** Encodes and writes `packet` (a CONNECT sets the protocol level of both directions). */
  async send(packet: Packet): Promise<void> {
    if (packet.type === "connect") this.#splitter.protocolVersion = packet.protocolVersion;
    await this.#writer.write(encodePacket(packet, this.#splitter.protocolVersion));
  }

  /** Writes bytes as they are. */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** The next packet from the peer; undefined when the connection ended or time ran out. */
  async next(timeout: number): Promise<Packet | undefined> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const packet = this.#packets.shift();
      if (packet !== undefined) return packet;
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#wake = wake;
        function done() {
          resolve();
        }
      });
      this.#wake = undefined;
    }
  }

  /** Closes the transport and waits for the reader to stop. */
  async close(): Promise<void> {
    await this.#transport.close().catch(() => {});
    await this.ended;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #read(): Promise<void> {
    const reader = this.#transport.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of this.#splitter.push(value)) {
          if (frame.packet !== undefined) this.#packets.push(frame.packet);
        }
        this.#wake?.();
      }
    } catch {
      // A reset ends the connection like a close.
    } finally {
      this.#ended = true;
      reader.releaseLock();
      this.#wake?.();
    }
  }
}
