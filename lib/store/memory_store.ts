/**
 * {@link MemoryStore}: session snapshots kept in memory.
 *
 * @module
 */

import type { SessionSnapshot } from "../session/snapshot.ts";
import type { SessionStore } from "./types.ts";

/**
 * A {@link SessionStore} in memory: a session outlives one client object (a client
 * created later in the same process with the same store and `clean: false` takes over
 * its unfinished messages) but not the process. Snapshots are copied through JSON in
 * both directions, as a durable store would, so nobody shares them by reference.
 *
 * @example Hand a session over to a later client
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStore } from "./memory_store.ts";
 * const store = new MemoryStore();
 * await store.save("a", {
 *   format: 1, protocolVersion: 5, clientId: "a", nextPacketId: 1, nextId: 1,
 *   outgoing: [], incoming: [], subscriptions: [],
 * });
 * assert.equal((await store.load("a"))?.clientId, "a");
 * await store.delete("a");
 * assert.equal(await store.load("a"), undefined);
 * ```
 */
export class MemoryStore implements SessionStore {
  #snapshots = new Map<string, string>();

  /** The latest snapshot saved for `clientId`. */
  load(clientId: string): Promise<SessionSnapshot | undefined> {
    const text = this.#snapshots.get(clientId);
    return Promise.resolve(text === undefined ? undefined : JSON.parse(text));
  }

  /** Replaces the snapshot of `clientId`. */
  save(clientId: string, snapshot: SessionSnapshot): Promise<void> {
    this.#snapshots.set(clientId, JSON.stringify(snapshot));
    return Promise.resolve();
  }

  /** Forgets `clientId`'s snapshot. */
  delete(clientId: string): Promise<void> {
    this.#snapshots.delete(clientId);
    return Promise.resolve();
  }
}
