/**
 * {@link SessionStore}: where a client keeps its session state between connections and
 * between processes.
 *
 * @module
 */

import type { SessionSnapshot } from "../session/snapshot.ts";

/**
 * Keeps session snapshots by Client Identifier. The client loads the snapshot when it
 * starts, and saves a new one whenever the session changes, before it sends the packets
 * that follow from the change: a process killed at any moment and restarted with the
 * same store (and `clean: false`) neither loses a QoS 1/2 message nor delivers a QoS 2
 * message twice.
 *
 * Implementations must keep the latest saved snapshot whole: a `save` interrupted by a
 * crash leaves the previous snapshot, never a mix.
 *
 * @example A store that logs what it saves
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SessionStore } from "./types.ts";
 * import type { SessionSnapshot } from "../session/snapshot.ts";
 * const saved = new Map<string, SessionSnapshot>();
 * const store: SessionStore = {
 *   load: async (clientId) => saved.get(clientId),
 *   save: async (clientId, snapshot) => void saved.set(clientId, snapshot),
 *   delete: async (clientId) => void saved.delete(clientId),
 * };
 * assert.equal(await store.load("a"), undefined);
 * ```
 */
export interface SessionStore {
  /** The latest snapshot saved for `clientId`, or undefined when there is none. */
  load(clientId: string): Promise<SessionSnapshot | undefined>;
  /** Replaces the snapshot of `clientId`. The snapshot is plain JSON-able data. */
  save(clientId: string, snapshot: SessionSnapshot): Promise<void>;
  /** Forgets `clientId`'s snapshot. */
  delete(clientId: string): Promise<void>;
}
