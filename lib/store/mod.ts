/**
 * Session stores: where a client keeps its session (unfinished QoS 1/2 messages, QoS 2
 * receipts, packet identifiers, subscriptions) so that another client object, or another
 * process, can take it over. Pass one as the `store` option of `connect()`.
 *
 * - {@link MemoryStore}: in memory, for handing a session to a later client in the same
 *   process.
 * - {@link FileStore}: JSON files in a directory, durable across restarts.
 *
 * @example Choose a store
 * ```ts
 * import assert from "node:assert/strict";
 * import { FileStore, MemoryStore, type SessionStore } from "./mod.ts";
 * function storeFor(directory: string | undefined): SessionStore {
 *   return directory === undefined ? new MemoryStore() : new FileStore(directory);
 * }
 * const store = storeFor(undefined);
 * assert.ok(store instanceof MemoryStore);
 * assert.equal(typeof store.save, "function");
 * ```
 *
 * @module
 */

export type { SessionStore } from "./types.ts";
export { MemoryStore } from "./memory_store.ts";
export { FileStore, type FileStoreOptions } from "./file_store.ts";
