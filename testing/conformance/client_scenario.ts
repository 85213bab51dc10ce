/**
 * The building blocks of the client conformance suite: a {@link ClientScenario} and the
 * {@link ClientScenarioContext} it runs with. The context listens on a free port and
 * plays the server packet by packet: it accepts the client's connections as raw
 * connections, answers CONNECT with the CONNACK a scenario asks for, and lets the scenario
 * read what the client sent and write what a server would, including behaviour a real
 * broker rarely produces (cut connections, re-sent QoS 2 PUBLISH, topic aliases, small
 * limits in CONNACK).
 *
 * @module
 */

import { listen, type Listener } from "../../broker/listener.ts";
import type { ConnackPacket, ConnectPacket, Packet, Properties } from "../../lib/packet/types.ts";
import { describePacket, RawClient } from "./_raw_client.ts";
import type {
  AdapterClient,
  AdapterConnectOptions,
  ClientAdapter,
  DisconnectInfo,
  ReceivedMessage,
} from "./client_adapter.ts";
import { type Area, ScenarioFailure, ScenarioSkip, type SuiteVersion } from "./scenario.ts";

/**
 * One check of client behaviour at one protocol version.
 *
 * @example A scenario by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientScenario } from "./client_scenario.ts";
 * const connects: ClientScenario = {
 *   name: "connect.first", id: "MQTT-3.1.0-1", title: "The first packet is CONNECT",
 *   area: "connect", version: 4,
 *   async run(ctx) {
 *     const { connect } = await ctx.connect();
 *     ctx.check(connect.protocolVersion === 4, "not MQTT 3.1.1");
 *   },
 * };
 * assert.equal(connects.area, "connect");
 * ```
 */
export interface ClientScenario {
  /** Unique key across versions' scenarios, like "publish.dup-resend". */
  name: string;
  /** The spec statement(s) checked. */
  id: string;
  /** What the client must do, in one line. */
  title: string;
  /** The area the scenario belongs to. */
  area: Area;
  /** Protocol level the scenario speaks. */
  version: SuiteVersion;
  /** Milliseconds the scenario needs beyond its waits for packets (keep alive). */
  extraMs?: number;
  /** Throws to fail, calls `ctx.skip()` to skip, returns to pass. */
  run(ctx: ClientScenarioContext): Promise<void>;
}

/**
 * Options of {@link ClientScenarioContext}.
 *
 * @example Options of a context
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientContextOptions } from "./client_scenario.ts";
 * import { ternAdapter } from "./adapters/tern.ts";
 * const options: ClientContextOptions = { adapter: ternAdapter, version: 5, timeoutMs: 2_000, runId: "r", index: 0 };
 * assert.equal(options.version, 5);
 * ```
 */
export interface ClientContextOptions {
  /** The client under test. */
  adapter: ClientAdapter;
  /** Protocol level of the scenario. */
  version: SuiteVersion;
  /** Milliseconds to wait for one packet or reaction of the client. */
  timeoutMs: number;
  /** Prefix that makes client ids unique to this run. */
  runId: string;
  /** Number of the scenario in this run. */
  index: number;
}

/**
 * The client under test with what it delivered and reported, and the server side of its
 * first connection.
 *
 * @example Count what a client delivered
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClientUnderTest } from "./client_scenario.ts";
 * const delivered = (c: ClientUnderTest) => c.messages.length;
 * assert.equal(typeof delivered, "function");
 * ```
 */
export interface ClientUnderTest {
  /** The adapter's client. */
  client: AdapterClient;
  /** The server side of the first connection. */
  server: RawClient;
  /** The CONNECT the client sent. */
  connect: ConnectPacket;
  /** Messages delivered to the application, in order. */
  messages: ReceivedMessage[];
  /** Disconnections the client reported, in order. */
  disconnects: DisconnectInfo[];
}

/** What {@link ClientScenarioContext.connect} takes: adapter options and the CONNACK to send. */
export type ClientConnectOptions = Partial<Omit<AdapterConnectOptions, "version">> & {
  /** Session Present of the CONNACK (default false). */
  sessionPresent?: boolean;
  /** MQTT 5 properties of the CONNACK. */
  connackProperties?: Properties;
};

/**
 * Everything a client scenario uses: a scripted server on a free port, the client under
 * test, and helpers that wait at most `timeoutMs` each. {@link ClientScenarioContext.cleanup}
 * closes the client, every accepted connection and the listener.
 *
 * @example Play the server for one connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientScenarioContext } from "./client_scenario.ts";
 * import { ternAdapter } from "./adapters/tern.ts";
 * const ctx = new ClientScenarioContext({ adapter: ternAdapter, version: 4, timeoutMs: 2_000, runId: "r", index: 0 });
 * try {
 *   const { connect } = await ctx.connect();
 *   assert.equal(connect.protocolVersion, 4);
 * } finally {
 *   await ctx.cleanup();
 * }
 * ```
 */
export class ClientScenarioContext {
  /** Protocol level of the scenario. */
  readonly version: SuiteVersion;
  /** Milliseconds to wait for one packet or reaction of the client. */
  readonly timeoutMs: number;
  #options: ClientContextOptions;
  #listener: Listener | undefined;
  #accepted: RawClient[] = [];
  #taken = 0;
  #wake: (() => void)[] = [];
  #clients: AdapterClient[] = [];
  #ids = 0;
  #disposed = false;

  /** Creates a context; the listener opens on the first {@link ClientScenarioContext.connect}. */
  constructor(options: ClientContextOptions) {
    this.#options = options;
    this.version = options.version;
    this.timeoutMs = options.timeoutMs;
  }

  /** A client id unique to this run and scenario (at most 23 characters). */
  clientId(): string {
    return `cc${this.#options.runId}x${this.#options.index}x${this.#ids++}`.slice(0, 23);
  }

  /** The scripted server's URL (opens the listener on a free port if needed). */
  async url(): Promise<string> {
    if (this.#listener === undefined) {
      if (this.#disposed) throw new Error("The scenario already ended");
      this.#listener = await listen({ kind: "tcp", hostname: "127.0.0.1", port: 0 }, (t) => {
        const conn = RawClient.accept(t, { version: this.version, timeoutMs: this.timeoutMs });
        if (this.#disposed) void conn.close();
        this.#accepted.push(conn);
        for (const wake of this.#wake.splice(0)) wake();
      });
    }
    return this.#listener.url;
  }

  /** The next connection the client opens, within `timeoutMs`. */
  async accept(what = "connection from the client"): Promise<RawClient> {
    const deadline = Date.now() + this.timeoutMs;
    while (this.#accepted.length <= this.#taken) {
      const left = deadline - Date.now();
      if (left <= 0) throw new ScenarioFailure(`No ${what} within ${this.timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake.push(done);
      });
    }
    return this.#accepted[this.#taken++]!;
  }

  /**
   * Accepts a connection, takes its CONNECT (failing unless it is the first packet) and
   * answers with a successful CONNACK carrying `sessionPresent` and `properties`.
   */
  async answerConnect(
    options: { sessionPresent?: boolean; properties?: Properties; what?: string } = {},
  ): Promise<[RawClient, ConnectPacket]> {
    const server = await this.accept(options.what);
    const first = await this.packet(server, () => true, "CONNECT");
    this.check(
      first.type === "connect",
      `The first packet of a connection was ${describePacket(first)}, not CONNECT`,
    );
    const connack: ConnackPacket = {
      type: "connack",
      sessionPresent: options.sessionPresent ?? false,
      reasonCode: 0,
      ...(this.version === 5 && options.properties !== undefined
        ? { properties: options.properties }
        : {}),
    };
    await server.send(connack);
    return [server, first as ConnectPacket];
  }

  /** Connects the client under test to the scripted server, answering its CONNECT. */
  async connect(options: ClientConnectOptions = {}): Promise<ClientUnderTest> {
    const { sessionPresent, connackProperties, ...adapterOptions } = options;
    const url = await this.url();
    const connecting = this.#options.adapter.connect(url, {
      version: this.version,
      clientId: this.clientId(),
      clean: true,
      keepalive: 0,
      ...adapterOptions,
    });
    connecting.then((client) => {
      if (this.#disposed) void client.close();
      else this.#clients.push(client);
    }, () => {});
    const answered = this.answerConnect({
      ...(sessionPresent === undefined ? {} : { sessionPresent }),
      ...(connackProperties === undefined ? {} : { properties: connackProperties }),
    });
    // Report whichever fails first: the adapter (refused) or the server side (no CONNECT).
    const [client, [server, connect]] = await Promise.all([connecting, answered]);
    const messages: ReceivedMessage[] = [];
    const disconnects: DisconnectInfo[] = [];
    client.onMessage((message) => messages.push(message));
    client.onDisconnect((info) => disconnects.push(info));
    return { client, server, connect, messages, disconnects };
  }

  /**
   * Connects the client under test to another server (such as a strict broker); the
   * client is closed after the scenario like the others.
   */
  async connectTo(
    url: string,
    options: Partial<Omit<AdapterConnectOptions, "version">> = {},
  ): Promise<Omit<ClientUnderTest, "server" | "connect">> {
    if (this.#disposed) throw new Error("The scenario already ended");
    const client = await this.#options.adapter.connect(url, {
      version: this.version,
      clientId: this.clientId(),
      clean: true,
      keepalive: 0,
      ...options,
    });
    if (this.#disposed) void client.close();
    else this.#clients.push(client);
    const messages: ReceivedMessage[] = [];
    const disconnects: DisconnectInfo[] = [];
    client.onMessage((message) => messages.push(message));
    client.onDisconnect((info) => disconnects.push(info));
    return { client, messages, disconnects };
  }

  /** The oldest packet from the client matching `match`, within `timeoutMs`. */
  async packet<P extends Packet = Packet>(
    server: RawClient,
    match: (packet: Packet) => boolean,
    what: string,
    timeoutMs = this.timeoutMs,
  ): Promise<P> {
    try {
      return await server.take<P>(match, timeoutMs, what);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new ScenarioFailure(
        message.replace("from the broker", "from the client").replace(
          "The broker closed",
          "The client closed",
        ),
      );
    }
  }

  /**
   * Waits `quietMs` (default 300) and returns the packets the client sent meanwhile and
   * before, leaving them queued: for checks that the client does NOT send something.
   */
  async quiet(server: RawClient, quietMs = 300): Promise<readonly Packet[]> {
    await this.sleep(quietMs);
    return server.pending;
  }

  /** Polls `condition` until it holds, failing with `what` after `timeoutMs`. */
  async until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new ScenarioFailure(`${what} within ${this.timeoutMs} ms`);
      await this.sleep(10);
    }
  }

  /** Settles `promise` within `timeoutMs`: its value, or the error it rejected with. */
  async settle<T>(promise: Promise<T>, what: string): Promise<{ value?: T; error?: unknown }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ScenarioFailure(`${what} did not settle within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return { value: await Promise.race([promise, timeout]) };
    } catch (error) {
      if (error instanceof ScenarioFailure) throw error;
      return { error };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fails the scenario with `detail` unless `condition` holds. */
  check(condition: unknown, detail: string): void {
    if (!condition) throw new ScenarioFailure(detail);
  }

  /** Ends the scenario as skipped. */
  skip(reason: string): never {
    throw new ScenarioSkip(reason);
  }

  /** Resolves after `ms` milliseconds (quiet periods and keep alive, never for ordering). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Closes the client under test, every accepted connection and the listener. */
  async cleanup(): Promise<void> {
    this.#disposed = true;
    await Promise.all(this.#clients.splice(0).map((client) => client.close().catch(() => {})));
    await Promise.all(this.#accepted.map((conn) => conn.close()));
    await this.#listener?.close();
  }
}
