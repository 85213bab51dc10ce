/**
 * {@link FileStore}: session snapshots kept as JSON files, on Deno and Bun (and Node.js).
 *
 * @module
 */

import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { checkSnapshot, type SessionSnapshot } from "../session/snapshot.ts";
import type { SessionStore } from "./types.ts";

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /**
   * Flush every file to the disk (fsync) before it replaces the previous one, so that
   * snapshots survive a power loss, not only a crash of the process. Slower. Default
   * false.
   */
  fsync?: boolean;
}

/**
 * A durable {@link SessionStore}: one JSON file per Client Identifier in a directory
 * (created when missing). A save writes a temporary file and renames it over the old
 * one, so a process killed in the middle of a save leaves the previous snapshot whole.
 * Saves for one client are applied in the order they were made.
 *
 * @example Keep a session on disk
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtemp, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { FileStore } from "./file_store.ts";
 * const dir = await mkdtemp(join(tmpdir(), "tern-store-"));
 * const store = new FileStore(dir);
 * await store.save("sensor/1", {
 *   format: 1, protocolVersion: 5, clientId: "sensor/1", nextPacketId: 9, nextId: 4,
 *   outgoing: [], incoming: [], subscriptions: [],
 * });
 * assert.equal((await new FileStore(dir).load("sensor/1"))?.nextPacketId, 9);
 * await rm(dir, { recursive: true });
 * ```
 */
export class FileStore implements SessionStore {
  /** The directory that holds the files. */
  readonly directory: string;
  #fsync: boolean;
  #made: Promise<unknown> | undefined;
  #chains = new Map<string, Promise<void>>();
  #counter = 0;

  /**
   * A store in `directory`, created on the first save when missing. Throws a TypeError
   * for an empty directory name.
   */
  constructor(directory: string, options: FileStoreOptions = {}) {
    if (typeof directory !== "string" || directory === "") {
      throw new TypeError(
        `Cannot create a file store as 'directory' must be a non-empty string: current value is ${
          JSON.stringify(directory)
        }`,
      );
    }
    this.directory = directory;
    this.#fsync = options.fsync ?? false;
  }

  /** The file that holds `clientId`'s snapshot. */
  pathOf(clientId: string): string {
    return join(this.directory, `${encodeURIComponent(clientId)}.session.json`);
  }

  /**
   * The latest snapshot saved for `clientId`, or undefined when there is none. Throws a
   * TypeError when the file holds something that is not a snapshot.
   */
  async load(clientId: string): Promise<SessionSnapshot | undefined> {
    await this.#chains.get(clientId);
    let text: string;
    try {
      text = await readFile(this.pathOf(clientId), "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new TypeError(`Cannot load the session of '${clientId}' as its file is not JSON`, {
        cause: error,
      });
    }
    return checkSnapshot(value);
  }

  /** Replaces the snapshot of `clientId`, atomically. */
  save(clientId: string, snapshot: SessionSnapshot): Promise<void> {
    const text = JSON.stringify(snapshot);
    return this.#chain(clientId, () => this.#write(clientId, text));
  }

  /** Removes `clientId`'s file. */
  delete(clientId: string): Promise<void> {
    return this.#chain(clientId, () => rm(this.pathOf(clientId), { force: true }));
  }

  #chain(clientId: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(clientId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(task);
    const settled = next.catch(() => {});
    this.#chains.set(clientId, settled);
    settled.then(() => {
      if (this.#chains.get(clientId) === settled) this.#chains.delete(clientId);
    });
    return next;
  }

  async #write(clientId: string, text: string): Promise<void> {
    this.#made ??= mkdir(this.directory, { recursive: true });
    await this.#made;
    const path = this.pathOf(clientId);
    const temporary = `${path}.${this.#counter++}.tmp`;
    const file = await open(temporary, "w");
    try {
      await file.writeFile(text, "utf8");
      if (this.#fsync) await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  }
}
