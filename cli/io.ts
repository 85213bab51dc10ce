/**
 * What a `tern` subcommand needs from the outside world, behind one small interface so
 * the commands run the same under Deno and Bun (through `node:process`, which both
 * provide) and can be driven in memory.
 *
 * @module
 */

import process from "node:process";

/** The streams and signals a subcommand works with. */
export interface CliIo {
  /** Writes to standard output; resolves once the bytes were handed over. */
  write(data: string | Uint8Array): Promise<void>;
  /** Writes to standard error (messages, progress). */
  error(text: string): void;
  /** Standard input, as chunks of bytes. */
  stdin(): AsyncIterable<Uint8Array>;
  /** Whether standard error is a terminal (progress bars go there only then). */
  readonly stderrIsTTY: boolean;
  /** Aborts on Ctrl-C (SIGINT) and SIGTERM. */
  readonly signal: AbortSignal;
}

/**
 * The process's own standard streams and signals.
 *
 * @example Write a line to standard output
 * ```ts
 * import assert from "node:assert/strict";
 * import { processIo } from "./io.ts";
 * const io = processIo();
 * await io.write("");
 * assert.equal(io.signal.aborted, false);
 * ```
 */
export function processIo(): CliIo {
  const controller = new AbortController();
  let listening = false;
  const onSignal = () => {
    // The first signal asks the command to finish cleanly; a second one ends the process.
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error("Interrupted"));
  };
  return {
    write(data) {
      return new Promise((resolve, reject) => {
        process.stdout.write(data, (error) => error ? reject(error) : resolve());
      });
    },
    error(text) {
      process.stderr.write(text);
    },
    async *stdin() {
      for await (const chunk of process.stdin) {
        yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk as Uint8Array;
      }
    },
    stderrIsTTY: process.stderr.isTTY === true,
    get signal() {
      if (!listening) {
        listening = true;
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
      }
      return controller.signal;
    },
  };
}

/**
 * An in-memory {@link CliIo} for tests and embedding: standard input is `input`, and
 * what the command writes collects in `out` and `err`. `abort()` plays Ctrl-C.
 *
 * @example Capture what a command prints
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo } from "./io.ts";
 * const io = memoryIo("line 1\n");
 * await io.write("hello\n");
 * io.error("warning\n");
 * assert.equal(io.out(), "hello\n");
 * assert.equal(io.err(), "warning\n");
 * ```
 */
export function memoryIo(input: string | Uint8Array = ""): CliIo & {
  out(): string;
  err(): string;
  abort(): void;
} {
  const controller = new AbortController();
  const out: Uint8Array[] = [];
  let err = "";
  const encoder = new TextEncoder();
  return {
    write(data) {
      out.push(typeof data === "string" ? encoder.encode(data) : data.slice());
      return Promise.resolve();
    },
    error(text) {
      err += text;
    },
    async *stdin() {
      yield typeof input === "string" ? encoder.encode(input) : input;
    },
    stderrIsTTY: false,
    signal: controller.signal,
    out: () => new TextDecoder().decode(concat(out)),
    err: () => err,
    abort: () => controller.abort(new Error("Interrupted")),
  };
}

/** Joins byte chunks into one array. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * Reads all of a byte stream.
 *
 * @example Read standard input in memory
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryIo, readAll } from "./io.ts";
 * const bytes = await readAll(memoryIo("abc").stdin());
 * assert.deepEqual([...bytes], [97, 98, 99]);
 * ```
 */
export async function readAll(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return concat(chunks);
}

/**
 * Splits a byte stream into lines (without their "\n" or "\r\n"); a last line without a
 * newline counts, an empty one at the very end does not.
 *
 * @example Split standard input into lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { lines, memoryIo } from "./io.ts";
 * const seen: string[] = [];
 * for await (const line of lines(memoryIo("a\r\nb\n\nc").stdin())) seen.push(line);
 * assert.deepEqual(seen, ["a", "b", "", "c"]);
 * ```
 */
export async function* lines(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of source) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
    }
  }
  buffered += decoder.decode();
  if (buffered !== "") yield buffered.endsWith("\r") ? buffered.slice(0, -1) : buffered;
}
