import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type DirectTransport, isDirectTransport } from "../lib/transport/direct.ts";
import { listen, type Listener } from "./listener.ts";
import { openTransport } from "../lib/transport/open.ts";
import type { Transport } from "../lib/transport/types.ts";

/**
 * A TCP listener and one connection, both ends direct transports: `server` is the end
 * under test (the accepted one, or with `side: "client"` the one `openTransport` opened),
 * `client` the other end, used through its streams.
 */
async function pair(side: "server" | "client" = "server"): Promise<
  {
    listener: Listener;
    server: DirectTransport;
    client: Transport;
    [Symbol.asyncDispose](): Promise<void>;
  }
> {
  const accepted = Promise.withResolvers<Transport>();
  const listener = await listen({ kind: "tcp", hostname: "127.0.0.1", port: 0 }, accepted.resolve);
  const opened = await openTransport(listener.url);
  const acceptedTransport = await accepted.promise;
  assert.ok(
    isDirectTransport(acceptedTransport),
    "the broker's TCP listener hands over direct transports",
  );
  assert.ok(isDirectTransport(opened), "openTransport opens direct transports over TCP");
  const server = side === "server" ? acceptedTransport : opened;
  const client = side === "server" ? opened : acceptedTransport;
  return {
    listener,
    server,
    client,
    async [Symbol.asyncDispose]() {
      await client.close().catch(() => {});
      await server.close().catch(() => {});
      await listener.close();
    },
  };
}

/** Reads with readChunk until `total` bytes arrived; returns them joined. */
async function readBytes(server: DirectTransport, total: number): Promise<Uint8Array> {
  const out = new Uint8Array(total);
  let at = 0;
  while (at < total) {
    const chunk = await server.readChunk();
    assert.ok(chunk !== undefined, `the connection ended after ${at} of ${total} bytes`);
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

for (const side of ["server", "client"] as const) {
  describe(`direct transports: the ${side} end`, () => {
    test("bytes go both ways without streams; the peer closing ends reads with undefined", async () => {
      await using p = await pair(side);
      const writer = p.client.writable.getWriter();
      await writer.write(new Uint8Array([1, 2, 3]));
      assert.deepEqual(await readBytes(p.server, 3), new Uint8Array([1, 2, 3]));
      await p.server.writeChunk(new Uint8Array([4, 5]));
      const reader = p.client.readable.getReader();
      const got: number[] = [];
      while (got.length < 2) got.push(...(await reader.read()).value!);
      assert.deepEqual(got, [4, 5]);
      reader.releaseLock();
      writer.releaseLock();
      await p.client.close();
      assert.equal(await p.server.readChunk(), undefined);
      await p.server.closed;
    });

    test("a 4 MiB write completes (the rest follows as the socket drains) and arrives whole", async () => {
      await using p = await pair(side);
      const size = 4 * 1024 * 1024;
      const sent = pattern(size);
      const reading = (async () => {
        const reader = p.client.readable.getReader();
        const received = new Uint8Array(size);
        let at = 0;
        while (at < size) {
          const { value, done } = await reader.read();
          assert.equal(done, false);
          received.set(value!, at);
          at += value!.length;
        }
        reader.releaseLock();
        return received;
      })();
      await p.server.writeChunk(sent);
      assert.deepEqual(await reading, sent);
    });

    test("bytes sent while nobody reads are kept in order (reading pauses, then resumes)", async () => {
      await using p = await pair(side);
      const size = 1024 * 1024;
      const sent = pattern(size);
      const writer = p.client.writable.getWriter();
      const writing = writer.write(sent);
      // Nothing reads for a while: the server side must hold or pause, not drop.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await readBytes(p.server, size), sent);
      await writing;
      writer.releaseLock();
    });

    test("close() ends a pending read with undefined, resolves closed, and refuses writes", async () => {
      await using p = await pair(side);
      const pending = p.server.readChunk();
      await p.server.close();
      assert.equal(await pending, undefined);
      await p.server.closed;
      await assert.rejects(async () => await p.server.writeChunk(new Uint8Array([1])));
      // The client sees the end of the stream.
      const reader = p.client.readable.getReader();
      assert.equal((await reader.read()).done, true);
      reader.releaseLock();
    });

    test("readable and writable are built on demand for callers that want streams", async () => {
      await using p = await pair(side);
      const clientWriter = p.client.writable.getWriter();
      await clientWriter.write(new Uint8Array([9, 8]));
      const serverReader = p.server.readable.getReader();
      const got: number[] = [];
      while (got.length < 2) got.push(...(await serverReader.read()).value!);
      assert.deepEqual(got, [9, 8]);
      serverReader.releaseLock();
      const serverWriter = p.server.writable.getWriter();
      await serverWriter.write(new Uint8Array([7]));
      serverWriter.releaseLock();
      const clientReader = p.client.readable.getReader();
      assert.deepEqual((await clientReader.read()).value, new Uint8Array([7]));
      clientReader.releaseLock();
      clientWriter.releaseLock();
    });
  });
}
