/**
 * A fault-injecting TCP proxy for tests: it sits between any MQTT client and any broker,
 * parses the packets passing each way, and drops, delays, duplicates, reorders or cuts
 * the connection at the packets its rules pick ("cut after the 3rd PUBREC from the
 * server"). It can also stall one direction until told to resume.
 *
 * @module
 */

import { listen, type Listener } from "../broker/listener.ts";
import type { Packet, PacketType } from "../lib/packet/types.ts";
import { openTransport, type OpenTransportOptions } from "../lib/transport/open.ts";
import type { Transport } from "../lib/transport/types.ts";
import { type Frame, FrameSplitter } from "./_frames.ts";

/**
 * Which way a packet travels through the proxy.
 *
 * @example Match the broker's packets
 * ```ts
 * import type { ProxyDirection } from "./fault_proxy.ts";
 * const direction: ProxyDirection = "server-to-client";
 * ```
 */
export type ProxyDirection = "client-to-server" | "server-to-client";

/**
 * What a rule does to the packet it picks:
 * - `"pass"`: forwards it (useful to count packets);
 * - `"drop"`: does not forward it;
 * - `"delay"`: forwards it after `ms`, holding the packets behind it in that direction;
 * - `"duplicate"`: forwards it `copies` times (default 2);
 * - `"reorder"`: holds it until `after` more packets (default 1) went the same way;
 * - `"cut-before"`: closes both sides of the connection without forwarding it;
 * - `"cut-after"`: forwards it, then closes both sides;
 * - `"stall"`: holds it and everything after it in that direction (every connection)
 *   until {@link FaultProxy.resume}, or for `ms` when given.
 *
 * @example Pick an action
 * ```ts
 * import type { FaultAction } from "./fault_proxy.ts";
 * const action: FaultAction = "cut-after";
 * ```
 */
export type FaultAction =
  | "pass"
  | "drop"
  | "delay"
  | "duplicate"
  | "reorder"
  | "cut-before"
  | "cut-after"
  | "stall";

/**
 * The actions a rule can take, for checks and listings.
 *
 * @example Every action
 * ```ts
 * import assert from "node:assert/strict";
 * import { FAULT_ACTIONS } from "./fault_proxy.ts";
 * assert.ok(FAULT_ACTIONS.includes("drop"));
 * ```
 */
export const FAULT_ACTIONS = [
  "pass",
  "drop",
  "delay",
  "duplicate",
  "reorder",
  "cut-before",
  "cut-after",
  "stall",
] as const satisfies readonly FaultAction[];

/**
 * Which packets a rule counts. Every field narrows the match; `nth` then picks one of
 * the matching packets (counted across all connections) instead of all of them.
 *
 * @example The 3rd PUBREC the server sends
 * ```ts
 * import type { PacketMatcher } from "./fault_proxy.ts";
 * const matcher: PacketMatcher = { direction: "server-to-client", type: "pubrec", nth: 3 };
 * ```
 */
export interface PacketMatcher {
  /** Only packets going this way. */
  direction?: ProxyDirection;
  /** Only packets of this type (or of one of these types). */
  type?: PacketType | readonly PacketType[];
  /** Act on the nth matching packet only (1-based); default: every matching packet. */
  nth?: number;
  /** Only packets of the nth connection the proxy accepted (1-based). */
  connection?: number;
  /** Only packets for which this returns true (e.g. a topic or a QoS). */
  where?: (packet: Packet) => boolean;
}

/**
 * Parameters of the actions that take some.
 *
 * @example Hold a packet for half a second
 * ```ts
 * import type { FaultOptions } from "./fault_proxy.ts";
 * const options: FaultOptions = { ms: 500 };
 * ```
 */
export interface FaultOptions {
  /** `"delay"`: milliseconds to hold the packet; `"stall"`: milliseconds before resuming. */
  ms?: number;
  /** `"duplicate"`: how many times the packet is sent (default 2). */
  copies?: number;
  /** `"reorder"`: how many later packets overtake it (default 1). */
  after?: number;
}

/**
 * A rule added with {@link FaultProxy.on}: its counts show what it saw and did.
 *
 * @example Count the PUBLISH packets a client sends
 * ```ts
 * import assert from "node:assert/strict";
 * import { startFaultProxy } from "./fault_proxy.ts";
 * await using proxy = await startFaultProxy({ upstream: "mqtt://127.0.0.1:1" });
 * const rule = proxy.on({ direction: "client-to-server", type: "publish" }, "pass");
 * assert.equal(rule.matched, 0);
 * rule.remove();
 * ```
 */
export interface FaultRule {
  /** What the rule matches. */
  readonly matcher: Readonly<PacketMatcher>;
  /** What it does. */
  readonly action: FaultAction;
  /** Packets that matched its filter (direction, type, connection, where). */
  readonly matched: number;
  /** Times its action was taken (the nth match only, when `nth` is set). */
  readonly applied: number;
  /** Resolves once the action was taken `count` times (default 1); rejects after `timeout` ms. */
  untilApplied(count?: number, timeout?: number): Promise<void>;
  /** Stops the rule from matching anything. */
  remove(): void;
}

/**
 * What the proxy reports to observers: a packet forwarded (after faults: a dropped
 * packet never shows, a duplicated one shows twice), or a connection opening or closing.
 *
 * @example An observed packet
 * ```ts
 * import type { ProxyEvent } from "./fault_proxy.ts";
 * const event: ProxyEvent = {
 *   kind: "packet", connection: 1, direction: "server-to-client", time: Date.now(),
 *   protocolVersion: 4, packet: { type: "pingresp" }, bytes: new Uint8Array([0xd0, 0]),
 * };
 * ```
 */
export type ProxyEvent =
  | {
    kind: "packet";
    /** The connection (1-based, in accept order). */
    connection: number;
    direction: ProxyDirection;
    /** Date.now() when it was written. */
    time: number;
    /** The protocol level it was decoded at. */
    protocolVersion: 3 | 4 | 5;
    /** The packet; undefined for bytes that did not decode (sent on as they were). */
    packet: Packet | undefined;
    /** The bytes as written. */
    bytes: Uint8Array;
  }
  | { kind: "open"; connection: number; time: number }
  | {
    kind: "close";
    connection: number;
    time: number;
    /** Who ended it: the client, the server, or the proxy (a cut, or the proxy closing). */
    by: "client" | "server" | "proxy";
  };

/**
 * Options of {@link startFaultProxy}.
 *
 * @example In front of a TLS broker
 * ```ts
 * import type { FaultProxyOptions } from "./fault_proxy.ts";
 * const options: FaultProxyOptions = {
 *   upstream: "mqtts://broker.example:8883",
 *   upstreamOptions: { tls: { serverName: "broker.example" } },
 * };
 * ```
 */
export interface FaultProxyOptions {
  /** The broker to forward to: mqtt://, mqtts://, ws:// or wss:// URL. */
  upstream: string | URL;
  /** Options for the upstream connections (TLS material, WebSocket path...). */
  upstreamOptions?: OpenTransportOptions;
  /** Address to listen on (default "127.0.0.1"). */
  hostname?: string;
  /** Port to listen on (default 0: a free port). */
  port?: number;
}

/**
 * Starts a proxy listening on plain TCP that opens one upstream connection per client it
 * accepts and applies its rules to the packets passing through.
 *
 * @example Cut the connection after the broker's CONNACK
 * ```ts
 * import assert from "node:assert/strict";
 * import { startFaultProxy } from "./fault_proxy.ts";
 * await using proxy = await startFaultProxy({ upstream: "mqtt://127.0.0.1:1883" });
 * const rule = proxy.on({ direction: "server-to-client", type: "connack" }, "cut-after");
 * assert.match(proxy.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
 * assert.equal(rule.action, "cut-after");
 * ```
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.listen();
  return proxy;
}

class Rule implements FaultRule {
  readonly matcher: Readonly<PacketMatcher>;
  readonly action: FaultAction;
  readonly options: FaultOptions;
  matched = 0;
  applied = 0;
  removed = false;
  #waiters: Array<{ count: number; resolve: () => void }> = [];
  #onRemove: (rule: Rule) => void;

  constructor(
    matcher: PacketMatcher,
    action: FaultAction,
    options: FaultOptions,
    onRemove: (rule: Rule) => void,
  ) {
    this.matcher = { ...matcher };
    this.action = action;
    this.options = { ...options };
    this.#onRemove = onRemove;
  }

  /** Counts `packet` and says whether the action applies to it. */
  consider(packet: Packet, direction: ProxyDirection, connection: number): boolean {
    const m = this.matcher;
    if (this.removed) return false;
    if (m.direction !== undefined && m.direction !== direction) return false;
    if (m.connection !== undefined && m.connection !== connection) return false;
    if (m.type !== undefined) {
      const types: readonly PacketType[] = typeof m.type === "string" ? [m.type] : m.type;
      if (!types.includes(packet.type)) return false;
    }
    if (m.where !== undefined && !m.where(packet)) return false;
    this.matched++;
    return m.nth === undefined || this.matched === m.nth;
  }

  markApplied(): void {
    this.applied++;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.applied < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  untilApplied(count = 1, timeout = 10_000): Promise<void> {
    if (this.applied >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        reject(
          new Error(
            `The "${this.action}" rule was applied ${this.applied} of ${count} times within ${timeout} ms`,
          ),
        );
      }, timeout);
      const entry = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.push(entry);
    });
  }

  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.#onRemove(this);
  }
}

/** A gate per direction: open, or closed until resumed. */
class Gate {
  #closed: PromiseWithResolvers<void> | undefined = undefined;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;

  get stalled(): boolean {
    return this.#closed !== undefined;
  }

  close(ms?: number): void {
    this.#closed ??= Promise.withResolvers<void>();
    if (ms !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.open(), ms);
    }
  }

  open(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const closed = this.#closed;
    this.#closed = undefined;
    closed?.resolve();
  }

  async pass(): Promise<void> {
    while (this.#closed !== undefined) await this.#closed.promise;
  }
}

/**
 * A running fault-injecting proxy; start one with {@link startFaultProxy}, dispose it
 * with `await using` (or {@link close}).
 *
 * @example Drop the first PUBACK from the broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { startFaultProxy } from "./fault_proxy.ts";
 * await using proxy = await startFaultProxy({ upstream: "mqtt://127.0.0.1:1883" });
 * const rule = proxy.on({ direction: "server-to-client", type: "puback", nth: 1 }, "drop");
 * assert.deepEqual(proxy.rules, [rule]);
 * assert.equal(proxy.connections, 0);
 * ```
 */
export class FaultProxy implements AsyncDisposable {
  /** Where the proxy forwards to. */
  readonly upstream: URL;
  #upstreamOptions: OpenTransportOptions;
  #listener: Listener | undefined = undefined;
  #rules: Rule[] = [];
  #observers = new Set<(event: ProxyEvent) => void>();
  #gates: Record<ProxyDirection, Gate> = {
    "client-to-server": new Gate(),
    "server-to-client": new Gate(),
  };
  #active = new Set<ProxiedConnection>();
  #finished = new Set<Promise<void>>();
  #accepted = 0;
  #closing: Promise<void> | undefined = undefined;

  #hostname: string;
  #port: number;

  /** A proxy that is not listening yet: call {@link listen} (or use {@link startFaultProxy}). */
  constructor(options: FaultProxyOptions) {
    this.upstream = new URL(String(options.upstream));
    this.#upstreamOptions = options.upstreamOptions ?? {};
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#port = options.port ?? 0;
  }

  /** "mqtt://HOST:PORT" clients connect to. */
  get url(): string {
    return this.#listenerOrThrow().url;
  }

  /** The port the proxy listens on. */
  get port(): number {
    return this.#listenerOrThrow().port;
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#accepted;
  }

  /** Connections open now. */
  get activeConnections(): number {
    return this.#active.size;
  }

  /** The rules in the order they are tried. */
  get rules(): readonly FaultRule[] {
    return [...this.#rules];
  }

  /**
   * Adds a rule: packets matching `matcher` get `action` (see {@link FaultAction}). Rules
   * are tried in the order they were added; every matching rule counts the packet, the
   * first one that applies decides what happens to it.
   */
  on(matcher: PacketMatcher, action: FaultAction, options: FaultOptions = {}): FaultRule {
    if (!(FAULT_ACTIONS as readonly string[]).includes(action)) {
      throw new TypeError(
        `Cannot add a proxy rule as 'action' must be one of ${
          FAULT_ACTIONS.join(", ")
        }: current value is ${JSON.stringify(action)}`,
      );
    }
    checkPositiveInteger("nth", matcher.nth);
    checkPositiveInteger("connection", matcher.connection);
    checkPositiveInteger("copies", options.copies);
    checkPositiveInteger("after", options.after);
    if (action === "delay" && options.ms === undefined) {
      throw new TypeError("Cannot add a proxy rule as a \"delay\" needs 'ms'");
    }
    if (options.ms !== undefined && !(Number.isFinite(options.ms) && options.ms >= 0)) {
      throw new RangeError(
        `Cannot add a proxy rule as 'ms' must be a non-negative number: current value is ${
          String(options.ms)
        }`,
      );
    }
    const rule = new Rule(matcher, action, options, (removed) => {
      this.#rules = this.#rules.filter((r) => r !== removed);
    });
    this.#rules.push(rule);
    return rule;
  }

  /** Removes every rule. */
  clearRules(): void {
    for (const rule of [...this.#rules]) rule.remove();
  }

  /**
   * Holds every packet going `direction` (on every connection) until {@link resume}, or
   * for `ms` when given. Packets already written are not affected.
   */
  stall(direction: ProxyDirection, ms?: number): void {
    this.#gate(direction).close(ms);
  }

  /** Lets packets going `direction` flow again. */
  resume(direction: ProxyDirection): void {
    this.#gate(direction).open();
  }

  /** Whether `direction` is stalled. */
  isStalled(direction: ProxyDirection): boolean {
    return this.#gate(direction).stalled;
  }

  /** Calls `observer` with every event; returns a function that stops it. */
  observe(observer: (event: ProxyEvent) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Resolves with the first event (from now on) that `predicate` accepts; rejects after
   * `timeout` ms (default 10,000).
   */
  waitFor(predicate: (event: ProxyEvent) => boolean, timeout = 10_000): Promise<ProxyEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`No matching proxy event within ${timeout} ms`));
      }, timeout);
      const stop = this.observe((event) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        stop();
        resolve(event);
      });
    });
  }

  /** Cuts every open connection (both sides closed at once). */
  async cutAll(): Promise<void> {
    await Promise.all([...this.#active].map((connection) => connection.cut()));
  }

  /** Stops listening, cuts every connection and waits for them. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopping = this.#listener?.close().catch(() => {});
      this.#gates["client-to-server"].open();
      this.#gates["server-to-client"].open();
      await this.cutAll();
      while (this.#finished.size > 0) await Promise.all([...this.#finished]);
      await stopping;
    })();
    return this.#closing;
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Starts listening (once; later calls do nothing). */
  async listen(): Promise<void> {
    if (this.#listener !== undefined) return;
    if (this.#closing !== undefined) throw new TypeError("Cannot listen as the proxy is closed");
    this.#listener = await listen(
      { kind: "tcp", hostname: this.#hostname, port: this.#port },
      (transport) => this.#handle(transport),
    );
  }

  /** Serves a client transport accepted by the listener. */
  #handle(client: Transport): void {
    if (this.#closing !== undefined) {
      void client.close().catch(() => {});
      return;
    }
    const connection = new ProxiedConnection(this.#accepted += 1, client, {
      emit: (event) => this.#emit(event),
      decide: (packet, direction, index) => this.#decide(packet, direction, index),
      gate: (direction) => this.#gate(direction),
    });
    this.#active.add(connection);
    const running = connection.run(this.upstream, this.#upstreamOptions);
    this.#finished.add(running);
    void running.finally(() => {
      this.#finished.delete(running);
      this.#active.delete(connection);
    });
  }

  #decide(packet: Packet, direction: ProxyDirection, connection: number): Rule | undefined {
    let decided: Rule | undefined;
    for (const rule of this.#rules) {
      if (rule.consider(packet, direction, connection) && decided === undefined) decided = rule;
    }
    return decided;
  }

  #gate(direction: ProxyDirection): Gate {
    const gate = this.#gates[direction];
    if (gate === undefined) {
      throw new TypeError(
        `Cannot stall as 'direction' must be "client-to-server" or "server-to-client": current value is ${
          JSON.stringify(direction)
        }`,
      );
    }
    return gate;
  }

  #emit(event: ProxyEvent): void {
    for (const observer of [...this.#observers]) {
      try {
        observer(event);
      } catch {
        // An observer's failure must not break the traffic.
      }
    }
  }

  #listenerOrThrow(): Listener {
    if (this.#listener === undefined) {
      throw new TypeError("Cannot read the address as the proxy is not listening");
    }
    return this.#listener;
  }
}

interface ProxyHooks {
  emit(event: ProxyEvent): void;
  decide(packet: Packet, direction: ProxyDirection, connection: number): Rule | undefined;
  gate(direction: ProxyDirection): Gate;
}

/** One client connection and its upstream twin, with a pipe each way. */
class ProxiedConnection {
  readonly index: number;
  #client: Transport;
  #server: Transport | undefined = undefined;
  #hooks: ProxyHooks;
  #ended = false;
  #cutting: Promise<void> | undefined = undefined;
  #clientSplitter = new FrameSplitter(4);
  #serverSplitter = new FrameSplitter(4);

  constructor(index: number, client: Transport, hooks: ProxyHooks) {
    this.index = index;
    this.#client = client;
    this.#hooks = hooks;
  }

  async run(upstream: URL, options: OpenTransportOptions): Promise<void> {
    try {
      this.#server = await openTransport(upstream, options);
    } catch {
      await this.#client.close().catch(() => {});
      return;
    }
    if (this.#ended) {
      await this.#server.close().catch(() => {});
      return;
    }
    this.#hooks.emit({ kind: "open", connection: this.index, time: Date.now() });
    const server = this.#server;
    await Promise.all([
      this.#pipe(this.#client, server, "client-to-server"),
      this.#pipe(server, this.#client, "server-to-client"),
    ]);
    await Promise.all([this.#client.closed, server.closed]);
  }

  /** Closes both sides now; packets held are lost. */
  cut(): Promise<void> {
    return this.#end("proxy");
  }

  #end(by: "client" | "server" | "proxy"): Promise<void> {
    if (this.#cutting !== undefined) return this.#cutting;
    this.#ended = true;
    if (this.#server !== undefined) {
      this.#hooks.emit({ kind: "close", connection: this.index, time: Date.now(), by });
    }
    this.#cutting = Promise.all([
      this.#client.close().catch(() => {}),
      this.#server?.close().catch(() => {}),
    ]).then(() => {});
    return this.#cutting;
  }

  async #pipe(from: Transport, to: Transport, direction: ProxyDirection): Promise<void> {
    const splitter = direction === "client-to-server" ? this.#clientSplitter : this.#serverSplitter;
    const reader = from.readable.getReader();
    const writer = to.writable.getWriter();
    writer.closed.catch(() => {});
    const gate = this.#hooks.gate(direction);
    const held: Array<{ frame: Frame; left: number; version: 3 | 4 | 5 }> = [];
    const writeOne = async (frame: Frame, version: 3 | 4 | 5) => {
      await gate.pass();
      if (this.#ended) return;
      await writer.write(frame.bytes);
      this.#hooks.emit({
        kind: "packet",
        connection: this.index,
        direction,
        time: Date.now(),
        protocolVersion: version,
        packet: frame.packet,
        bytes: frame.bytes,
      });
    };
    const write = async (frame: Frame, version: 3 | 4 | 5) => {
      await writeOne(frame, version);
      // Packets held for reordering go out once enough others overtook them.
      const due = held.filter((entry) => --entry.left <= 0);
      for (const entry of due) {
        held.splice(held.indexOf(entry), 1);
        await writeOne(entry.frame, entry.version);
      }
    };
    let endedBy: "client" | "server" | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#ended) break;
        const version = splitter.protocolVersion;
        for (const frame of splitter.push(value)) {
          if (this.#ended) break;
          const packet = frame.packet;
          if (packet?.type === "connect") {
            this.#serverSplitter.protocolVersion = packet.protocolVersion;
          }
          const frameVersion = packet?.type === "connect" ? packet.protocolVersion : version;
          const rule = packet === undefined
            ? undefined
            : this.#hooks.decide(packet, direction, this.index);
          if (rule === undefined) {
            await write(frame, frameVersion);
            continue;
          }
          rule.markApplied();
          const { ms, copies = 2, after = 1 } = rule.options;
          switch (rule.action) {
            case "pass":
              await write(frame, frameVersion);
              break;
            case "drop":
              break;
            case "delay":
              await new Promise((resolve) => setTimeout(resolve, ms));
              await write(frame, frameVersion);
              break;
            case "duplicate":
              for (let i = 0; i < copies; i++) await write(frame, frameVersion);
              break;
            case "reorder":
              held.push({ frame, left: after, version: frameVersion });
              break;
            case "cut-before":
              await this.#end("proxy");
              break;
            case "cut-after":
              await write(frame, frameVersion);
              await this.#end("proxy");
              break;
            case "stall":
              gate.close(ms);
              await write(frame, frameVersion);
              break;
          }
        }
      }
      if (!this.#ended) endedBy = direction === "client-to-server" ? "client" : "server";
    } catch {
      if (!this.#ended) endedBy = direction === "client-to-server" ? "client" : "server";
    } finally {
      reader.releaseLock();
    }
    if (endedBy !== undefined) {
      // The stream ended cleanly: packets still held for reordering go out last.
      try {
        for (const entry of held.splice(0)) await writeOne(entry.frame, entry.version);
      } catch {
        // The other side is gone too.
      }
      await this.#end(endedBy);
    }
    writer.releaseLock();
  }
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot add a proxy rule as '${name}' must be a positive integer: current value is ${
        String(value)
      }`,
    );
  }
}
