/**
 * Packet Identifier allocation for the packets a client starts: PUBLISH (QoS 1 and 2),
 * SUBSCRIBE and UNSUBSCRIBE share one space of 1 to 65535 (MQTT-2.2.1-3).
 *
 * @module
 */

/** The largest Packet Identifier. */
export const MAX_PACKET_ID = 65535;

/**
 * Hands out Packet Identifiers that are not in use, counting upwards and wrapping from
 * 65535 to 1, so that a freed identifier is reused as late as possible (a late
 * acknowledgement for an old exchange then cannot be taken for a new one).
 *
 * @example Allocate, wrap and reuse
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacketIdAllocator } from "./packet_ids.ts";
 * const ids = new PacketIdAllocator(65534);
 * assert.equal(ids.allocate(), 65534);
 * assert.equal(ids.allocate(), 65535);
 * assert.equal(ids.allocate(), 1);
 * ids.release(65535);
 * assert.equal(ids.allocate(), 2);
 * assert.equal(ids.inUse(65534), true);
 * ```
 */
export class PacketIdAllocator {
  #next: number;
  #used: Set<number> = new Set();

  /**
   * Creates an allocator with no identifier in use.
   *
   * @param next the first identifier to try, 1 to 65535 (default 1).
   */
  constructor(next = 1) {
    if (!Number.isInteger(next) || next < 1 || next > MAX_PACKET_ID) {
      throw new RangeError(
        `Cannot create a packet id allocator as 'next' must be an integer from 1 to 65535: current value is ${next}`,
      );
    }
    this.#next = next;
  }

  /** The identifier the next allocation tries first (for snapshots). */
  get next(): number {
    return this.#next;
  }

  /** How many identifiers are in use. */
  get size(): number {
    return this.#used.size;
  }

  /**
   * An unused identifier, now marked in use, or `undefined` when all 65535 are in use
   * (the caller waits for a release).
   */
  allocate(): number | undefined {
    if (this.#used.size >= MAX_PACKET_ID) return undefined;
    let id = this.#next;
    while (this.#used.has(id)) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#used.add(id);
    this.#next = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }

  /**
   * Marks a known identifier in use (when restoring a session). Throws a RangeError if it
   * is out of range or already in use.
   */
  claim(id: number): void {
    if (!Number.isInteger(id) || id < 1 || id > MAX_PACKET_ID) {
      throw new RangeError(
        `Cannot claim packet id as it must be an integer from 1 to 65535: current value is ${id}`,
      );
    }
    if (this.#used.has(id)) {
      throw new RangeError(`Cannot claim packet id ${id} as it is already in use`);
    }
    this.#used.add(id);
  }

  /** Frees an identifier. Freeing one that is not in use does nothing. */
  release(id: number): void {
    this.#used.delete(id);
  }

  /** Whether an identifier is in use. */
  inUse(id: number): boolean {
    return this.#used.has(id);
  }
}
