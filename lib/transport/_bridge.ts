/**
 * The stream half every push-based transport shares: a byte-counting ReadableStream that
 * pauses its source while 64 KiB wait unread, a WritableStream, and the flags that say
 * how far each side has ended. Internal: not exported from the package.
 *
 * @module
 */

import { BYTE_STRATEGY, closedError } from "./_internal.ts";

/** What a {@link StreamBridge} calls back into its transport. */
export interface StreamBridgeHooks {
  /** Stops the source while the readable's queue is full; omitted when it cannot pause. */
  pause?: () => void;
  /** Restarts a paused source once the reader catches up. */
  resume?: () => void;
  /** Sends one chunk written to the writable. */
  write: (chunk: Uint8Array) => Promise<void> | void;
  /** The writable was closed or aborted by its writer. */
  finish: () => Promise<void>;
  /** The readable was cancelled by its reader. */
  cancel: () => Promise<void>;
}

/**
 * A ReadableStream / WritableStream pair over a callback-based source, with the state
 * a transport needs to end each side once: `readDone` (the readable is closed or
 * errored), `closing` (the writable no longer takes writes) and `ended` (the source
 * reported its close; a paused source is no longer resumed).
 *
 * @example Push chunks and end both sides
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamBridge } from "./_bridge.ts";
 *
 * const written: Uint8Array[] = [];
 * const bridge = new StreamBridge({
 *   write: (chunk) => void written.push(chunk),
 *   finish: () => Promise.resolve(),
 *   cancel: () => Promise.resolve(),
 * });
 * bridge.push(new Uint8Array([1, 2]));
 * bridge.endReadable();
 * const reader = bridge.readable.getReader();
 * assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
 * assert.equal((await reader.read()).done, true);
 * const writer = bridge.writable.getWriter();
 * await writer.write(new Uint8Array([3]));
 * assert.deepEqual(written, [new Uint8Array([3])]);
 * assert.equal(bridge.beginClosing(), true);
 * assert.equal(bridge.beginClosing(), false);
 * ```
 */
export class StreamBridge {
  /** What the peer sent, chunk by chunk. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What goes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  #hooks: StreamBridgeHooks;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #paused = false;
  #readDone = false;
  #closing = false;
  #ended = false;

  /** Builds both streams; `hooks` are called only after the constructor returned. */
  constructor(hooks: StreamBridgeHooks) {
    this.#hooks = hooks;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: () => {
        if (this.#paused && !this.#ended) {
          this.#paused = false;
          this.#hooks.resume?.();
        }
      },
      cancel: () => this.#hooks.cancel(),
    }, BYTE_STRATEGY);
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#hooks.write(chunk),
      close: () => this.#hooks.finish(),
      abort: () => this.#hooks.finish(),
    });
  }

  /** Whether the source is paused for backpressure. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the readable is closed or errored. */
  get readDone(): boolean {
    return this.#readDone;
  }

  /** Whether the writable no longer takes writes. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Whether the source reported its close. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queues a received chunk (dropped once the readable ended); pauses the source when full. */
  push(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.#readController.enqueue(chunk);
    if (
      this.#hooks.pause !== undefined && !this.#paused &&
      (this.#readController.desiredSize ?? 0) <= 0
    ) {
      this.#paused = true;
      this.#hooks.pause();
    }
  }

  /** Ends the readable once: closes it, or errors it with `failure` when given. */
  endReadable(failure?: unknown): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (failure === undefined) this.#readController.close();
    else this.#readController.error(failure);
  }

  /** Marks the writable closing; false when it already was. */
  beginClosing(): boolean {
    if (this.#closing) return false;
    this.#closing = true;
    return true;
  }

  /**
   * Starts closing from this side: marks the writable closing, closes the readable and,
   * when `errorWritable`, errors the writable with the transport-closed error. False,
   * doing nothing, when the writable already was closing.
   */
  beginShutdown(errorWritable: boolean): boolean {
    if (!this.beginClosing()) return false;
    this.endReadable();
    if (errorWritable) this.errorWritable(closedError());
    return true;
  }

  /** Errors the writable, so pending and later writes reject with `error`. */
  errorWritable(error: unknown): void {
    this.#writeController.error(error);
  }

  /** Records that the source closed; false when it already had. */
  markEnded(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }
}
