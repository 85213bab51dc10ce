/**
 * An `MqttClient`'s session and its `store`: {@link loadSession} makes the session a
 * client starts with (restored from the store, or fresh); {@link ClientPersistence}
 * decides when it is saved: a version counter bumped by every change
 * ({@link ClientPersistence.dirty}) and saves that catch the store up with it, one at a
 * time ({@link ClientPersistence.persist}).
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { type ConnectOptions, sessionOptionsOf } from "./client_options.ts";
import { ClientSession } from "./session/client_session.ts";
import type { SessionStore } from "./store/types.ts";

/**
 * The session a client starts with, from `connect()`'s options: with a `store` and
 * `clean: false`, the saved one when there is one; with `clean: true`, a saved one is
 * deleted. Throws a TypeError for malformed options (a `store` needs a `clientId`).
 *
 * @example Taking up a saved session, and starting clean
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadSession } from "./client_persistence.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * import { MemoryStore } from "./store/memory_store.ts";
 * const store = new MemoryStore();
 * const saved = new ClientSession({ clientId: "a" });
 * saved.publish({ topic: "t", payload: new Uint8Array([1]), qos: 1 }, 0); // queued offline
 * await store.save("a", saved.snapshot());
 * const resumed = await loadSession({ clientId: "a", clean: false, store });
 * assert.equal(resumed.queued, 1);
 * const fresh = await loadSession({ clientId: "a", clean: true, store });
 * assert.equal(fresh.queued, 0);
 * assert.equal(await store.load("a"), undefined);
 * await assert.rejects(loadSession({ store }), {
 *   name: "TypeError",
 *   message: "Cannot connect with a 'store' as 'clientId' must be a non-empty string",
 * });
 * ```
 */
export async function loadSession(options: ConnectOptions): Promise<ClientSession> {
  const sessionOptions = sessionOptionsOf(options);
  let session: ClientSession | undefined;
  const store = options.store;
  if (store !== undefined) {
    if (!options.clientId) {
      throw new TypeError("Cannot connect with a 'store' as 'clientId' must be a non-empty string");
    }
    if (options.clean === false) {
      const snapshot = await store.load(options.clientId);
      if (snapshot !== undefined) session = ClientSession.restore(snapshot, sessionOptions);
    } else {
      await store.delete(options.clientId);
    }
  }
  session ??= new ClientSession(sessionOptions);
  return session;
}

/**
 * The saving of one client's session to its store (none: every call is a no-op).
 *
 * @example Changes reach the store on persist()
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientPersistence } from "./client_persistence.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * import { MemoryStore } from "./store/memory_store.ts";
 * const store = new MemoryStore();
 * const session = new ClientSession({ clientId: "a" });
 * const persistence = new ClientPersistence(store, "a", session);
 * assert.ok(persistence.enabled);
 * await persistence.persist(); // nothing changed: nothing saved
 * assert.equal(await store.load("a"), undefined);
 * session.publish({ topic: "t", payload: new Uint8Array([1]), qos: 1 }, 0);
 * persistence.dirty();
 * await persistence.persist();
 * assert.equal((await store.load("a"))?.outgoing.length, 1);
 * ```
 */
export class ClientPersistence {
  #store: SessionStore | undefined;
  #key: string;
  #session: ClientSession;
  #version = 0;
  #savedVersion = 0;
  #saving: Promise<void> | undefined;

  /** Saves `session` to `store` under `key` (the client id). */
  constructor(store: SessionStore | undefined, key: string, session: ClientSession) {
    this.#store = store;
    this.#key = key;
    this.#session = session;
  }

  /** Whether a store is set. */
  get enabled(): boolean {
    return this.#store !== undefined;
  }

  /** The server assigned `clientId`: the key to save under, when none was given. */
  assigned(clientId: string): void {
    if (this.#key === "") this.#key = clientId;
  }

  /** Notes that the session changed since it was last saved. */
  dirty(): void {
    if (this.#store) this.#version++;
  }

  /** Saves the session (when a store is set) so that the store knows every change made so far. */
  async persist(): Promise<void> {
    const store = this.#store;
    if (store === undefined) return;
    const target = this.#version;
    while (this.#savedVersion < target) {
      if (this.#saving) {
        await this.#saving;
        continue;
      }
      const version = this.#version;
      const saving = store.save(this.#key, this.#session.snapshot()).then(() => {
        this.#savedVersion = Math.max(this.#savedVersion, version);
      });
      this.#saving = saving;
      try {
        await saving;
      } finally {
        if (this.#saving === saving) this.#saving = undefined;
      }
    }
  }
}
