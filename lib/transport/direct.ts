/**
 * {@link DirectTransport}: a {@link Transport} with a stream-free fast path, two plain
 * methods to read and write chunks. The TCP and TLS transports of Deno and Bun are direct
 * transports, on both sides: the client reads and writes through them, and so does the
 * broker's transport pump for the connections its listeners accept. Web streams cost a
 * promise hop and a few objects per chunk (microseconds per socket read on a busy
 * client), and a broker holds thousands of mostly idle connections for which two
 * streams, a reader and a writer cost several KiB each. The streams of a direct
 * transport are only built if someone asks for them.
 *
 * @module
 */

import type { Transport } from "./types.ts";

/**
 * A transport with a stream-free fast path: {@link readChunk} and {@link writeChunk}.
 * Use one or the other, not both: `readable` and `writable` are built from them.
 *
 * @example A direct transport over an in-memory list of chunks
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DirectTransport, directReadable, directWritable } from "./direct.ts";
 *
 * const incoming = [new Uint8Array([1]), new Uint8Array([2, 3])];
 * const written: Uint8Array[] = [];
 * const transport: DirectTransport = {
 *   remoteAddress: undefined,
 *   closed: Promise.resolve(),
 *   readChunk: () => Promise.resolve(incoming.shift()),
 *   writeChunk: (chunk) => void written.push(chunk),
 *   get readable() { return directReadable(this); },
 *   get writable() { return directWritable(this); },
 *   close: () => Promise.resolve(),
 *   [Symbol.asyncDispose]() { return this.close(); },
 * };
 * assert.deepEqual(await transport.readChunk(), new Uint8Array([1]));
 * transport.writeChunk(new Uint8Array([9]));
 * assert.deepEqual(written, [new Uint8Array([9])]);
 * ```
 */
export interface DirectTransport extends Transport {
  /**
   * The next bytes from the peer; undefined once the connection ended (also when this
   * side closed it). Rejects when the transport failed.
   */
  readChunk(): Promise<Uint8Array | undefined>;
  /**
   * Writes `chunk`: undefined when the runtime took it all at once, else a promise that
   * resolves when it has. Rejects (or throws) when the transport is closed or failed.
   * The caller must not reuse `chunk` until then.
   */
  writeChunk(chunk: Uint8Array): Promise<void> | undefined | void;
}

/**
 * Whether `transport` offers the {@link DirectTransport} fast path.
 *
 * @example Tell a direct transport from a plain one
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDirectTransport } from "./direct.ts";
 * const plain = new TransformStream<Uint8Array, Uint8Array>();
 * assert.equal(
 *   isDirectTransport({
 *     readable: plain.readable, writable: plain.writable, closed: Promise.resolve(),
 *     remoteAddress: undefined, close: () => Promise.resolve(),
 *     [Symbol.asyncDispose]: () => Promise.resolve(),
 *   }),
 *   false,
 * );
 * ```
 */
export function isDirectTransport(transport: Transport): transport is DirectTransport {
  return typeof (transport as Partial<DirectTransport>).readChunk === "function" &&
    typeof (transport as Partial<DirectTransport>).writeChunk === "function";
}

/**
 * A ReadableStream over `transport.readChunk()`, for callers that want the stream API.
 *
 * @example Read a direct transport as a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { directReadable } from "./direct.ts";
 * const chunks = [new Uint8Array([7])];
 * const readable = directReadable({
 *   readChunk: () => Promise.resolve(chunks.shift()),
 *   close: () => Promise.resolve(),
 * });
 * const reader = readable.getReader();
 * assert.deepEqual((await reader.read()).value, new Uint8Array([7]));
 * assert.equal((await reader.read()).done, true);
 * ```
 */
export function directReadable(
  transport: Pick<DirectTransport, "readChunk" | "close">,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const chunk = await transport.readChunk();
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => transport.close(),
  }, { highWaterMark: 0 });
}

/**
 * A WritableStream over `transport.writeChunk()`, for callers that want the stream API.
 *
 * @example Write to a direct transport as a stream
 * ```ts
 * import assert from "node:assert/strict";
 * import { directWritable } from "./direct.ts";
 * const written: number[] = [];
 * const writable = directWritable({
 *   writeChunk: (chunk) => void written.push(...chunk),
 *   close: () => Promise.resolve(),
 * });
 * const writer = writable.getWriter();
 * await writer.write(new Uint8Array([1, 2]));
 * await writer.close();
 * assert.deepEqual(written, [1, 2]);
 * ```
 */
export function directWritable(
  transport: Pick<DirectTransport, "writeChunk" | "close">,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write: (chunk) => transport.writeChunk(chunk) ?? undefined,
    close: () => transport.close(),
    abort: () => transport.close(),
  });
}
