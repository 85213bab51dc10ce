/**
 * The building blocks of the broker conformance suite: what a {@link Scenario} is, the
 * {@link ScenarioContext} it runs with (unique client ids and topics, raw connections
 * that are closed for it, helpers for the usual exchanges) and {@link defineScenario},
 * which turns one check into a scenario per protocol version.
 *
 * @module
 */

import type {
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  PublishPacket,
  QoS,
  SubackPacket,
  Subscription,
} from "../../lib/packet/types.ts";
import type { TlsOptions } from "../../lib/transport/types.ts";
import { describePacket, RawClient } from "./_raw_client.ts";

/**
 * Protocol levels the suite covers: 4 is MQTT 3.1.1, 5 is MQTT 5.0.
 *
 * @example Both versions
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SuiteVersion } from "./scenario.ts";
 * const versions: SuiteVersion[] = [4, 5];
 * assert.equal(versions.length, 2);
 * ```
 */
export type SuiteVersion = 4 | 5;

/**
 * The areas scenarios are grouped by, in report order.
 *
 * @example List the areas
 * ```ts
 * import assert from "node:assert/strict";
 * import { AREAS } from "./scenario.ts";
 * assert.equal(AREAS[0], "connect");
 * assert.ok(AREAS.includes("malformed"));
 * ```
 */
export const AREAS = [
  "connect",
  "publish",
  "retained",
  "will",
  "sessions",
  "wildcards",
  "shared",
  "topic-alias",
  "flow-control",
  "expiry",
  "malformed",
] as const;

/**
 * One area of {@link AREAS}.
 *
 * @example An area
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Area } from "./scenario.ts";
 * const area: Area = "topic-alias";
 * assert.equal(area, "topic-alias");
 * ```
 */
export type Area = typeof AREAS[number];

/**
 * One check of broker behaviour at one protocol version.
 *
 * @example A scenario by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Scenario } from "./scenario.ts";
 * const ping: Scenario = {
 *   name: "connect.ping",
 *   id: "MQTT-3.12.4-1",
 *   title: "PINGREQ is answered with PINGRESP",
 *   area: "connect",
 *   version: 4,
 *   async run(ctx) {
 *     const client = await ctx.connect();
 *     await client.send({ type: "pingreq" });
 *     await client.expect("pingresp");
 *   },
 * };
 * assert.equal(ping.version, 4);
 * ```
 */
export interface Scenario {
  /** Unique key across versions' scenarios, like "connect.ping". */
  name: string;
  /** The spec statement(s) checked, like "MQTT-3.12.4-1" (several are comma separated). */
  id: string;
  /** What the broker must do, in one line. */
  title: string;
  /** The area the scenario belongs to. */
  area: Area;
  /** Protocol level the scenario speaks. */
  version: SuiteVersion;
  /** Milliseconds the scenario needs beyond its waits for packets (sleeps, expiry). */
  extraMs?: number;
  /** Throws to fail, calls `ctx.skip()` to skip, returns to pass. */
  run(ctx: ScenarioContext): Promise<void>;
}

/**
 * Thrown by {@link ScenarioContext.check} when the broker is wrong.
 *
 * @example Tell a failure from a skip
 * ```ts
 * import assert from "node:assert/strict";
 * import { ScenarioFailure, ScenarioSkip } from "./scenario.ts";
 * const failure = new ScenarioFailure("no PINGRESP");
 * assert.ok(!(failure instanceof ScenarioSkip));
 * assert.equal(failure.message, "no PINGRESP");
 * ```
 */
export class ScenarioFailure extends Error {
  /** Creates the failure with its detail. */
  constructor(detail: string) {
    super(detail);
    this.name = "ScenarioFailure";
  }
}

/**
 * Thrown by {@link ScenarioContext.skip}: the broker lacks an optional feature.
 *
 * @example Skip for a missing feature
 * ```ts
 * import assert from "node:assert/strict";
 * import { ScenarioSkip } from "./scenario.ts";
 * const skip = new ScenarioSkip("not supported: Shared Subscription Available is 0");
 * assert.match(skip.message, /^not supported/);
 * ```
 */
export class ScenarioSkip extends Error {
  /** Creates the skip with its reason. */
  constructor(reason: string) {
    super(reason);
    this.name = "ScenarioSkip";
  }
}

/**
 * What {@link ScenarioContext.connect} takes: CONNECT fields, all optional.
 *
 * @example A persistent MQTT 5 session
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ConnectOptions } from "./scenario.ts";
 * const options: ConnectOptions = { clean: false, properties: { sessionExpiryInterval: 60 } };
 * assert.equal(options.clean, false);
 * ```
 */
export type ConnectOptions = Partial<Omit<ConnectPacket, "type" | "protocolVersion">>;

/**
 * A connected raw client with the CONNACK it got.
 *
 * @example Read the CONNACK of a connection
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Connected } from "./scenario.ts";
 * function sessionPresent(client: Connected): boolean {
 *   return client.connack.sessionPresent;
 * }
 * assert.equal(typeof sessionPresent, "function");
 * ```
 */
export interface Connected extends RawClient {
  /** The CONNACK of the connection. */
  readonly connack: ConnackPacket;
}

/**
 * Options of {@link ScenarioContext.publish}.
 *
 * @example A retained QoS 1 message
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScenarioPublishOptions } from "./scenario.ts";
 * const options: ScenarioPublishOptions = { qos: 1, retain: true, properties: { contentType: "text/plain" } };
 * assert.equal(options.qos, 1);
 * ```
 */
export interface ScenarioPublishOptions {
  /** Quality of service (default 0). */
  qos?: QoS;
  /** Retain flag. */
  retain?: boolean;
  /** DUP flag. */
  dup?: boolean;
  /** MQTT 5 properties. */
  properties?: Properties;
}

/**
 * Options of the context: where and how to connect.
 *
 * @example Options of a context
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ContextOptions } from "./scenario.ts";
 * const options: ContextOptions = { url: "mqtt://127.0.0.1:1883", version: 4, timeoutMs: 2_500, runId: "r1", index: 0 };
 * assert.equal(options.version, 4);
 * ```
 */
export interface ContextOptions {
  /** Broker URL. */
  url: string;
  /** Protocol level of the scenario. */
  version: SuiteVersion;
  /** Milliseconds to wait for one answer of the broker. */
  timeoutMs: number;
  /** Prefix that makes client ids and topics unique to this run. */
  runId: string;
  /** Number of the scenario in this run, to keep ids unique between scenarios. */
  index: number;
  /** TLS settings for an `mqtts:` URL. */
  tls?: TlsOptions;
}

/**
 * Everything a scenario uses: unique names, connections that are closed after it, and
 * helpers for the common exchanges. Every helper waits at most `timeoutMs` per answer.
 *
 * @example Use a context outside the runner
 * ```ts
 * import assert from "node:assert/strict";
 * import { ScenarioContext } from "./scenario.ts";
 * const ctx = new ScenarioContext({ url: "mqtt://127.0.0.1:1", version: 5, timeoutMs: 500, runId: "r1", index: 3 });
 * assert.equal(ctx.topic("a"), "tern-cf/r1/3/a");
 * await ctx.cleanup();
 * ```
 */
export class ScenarioContext {
  /** Broker URL. */
  readonly url: string;
  /** Protocol level of the scenario. */
  readonly version: SuiteVersion;
  /** Milliseconds to wait for one answer of the broker. */
  readonly timeoutMs: number;
  #options: ContextOptions;
  #clients: RawClient[] = [];
  #deferred: (() => Promise<void>)[] = [];
  #ids = 0;
  #disposed = false;

  /** Creates a context; {@link ScenarioContext.cleanup} closes what it opened. */
  constructor(options: ContextOptions) {
    this.#options = options;
    this.url = options.url;
    this.version = options.version;
    this.timeoutMs = options.timeoutMs;
  }

  /** A client id unique to this run and scenario (at most 23 characters). */
  clientId(): string {
    return `cf${this.#options.runId}x${this.#options.index}x${this.#ids++}`.slice(0, 23);
  }

  /** A topic unique to this run and scenario, ending with `label`. */
  topic(label = "t"): string {
    return `tern-cf/${this.#options.runId}/${this.#options.index}/${label}`;
  }

  /** Opens a raw connection (closed after the scenario) without sending anything. */
  async open(): Promise<RawClient> {
    const client = await RawClient.open(this.url, {
      version: this.version,
      timeoutMs: this.timeoutMs,
      ...(this.#options.tls === undefined ? {} : { tls: this.#options.tls }),
    });
    if (this.#disposed) {
      await client.close();
      throw new Error("The scenario already ended");
    }
    this.#clients.push(client);
    return client;
  }

  /**
   * Connects with a fresh client id (unless given), clean and keep alive 0 by default,
   * and fails the scenario unless the CONNACK accepts the connection.
   */
  async connect(options: ConnectOptions = {}): Promise<Connected> {
    const [client, connack] = await this.tryConnect(options);
    this.check(
      connack.reasonCode === 0,
      `CONNACK refused the connection: ${describePacket(connack)}`,
    );
    return client;
  }

  /** Like {@link ScenarioContext.connect}, but returns a refusing CONNACK instead of failing. */
  async tryConnect(options: ConnectOptions = {}): Promise<[Connected, ConnackPacket]> {
    const client = await this.open();
    await client.send({
      type: "connect",
      protocolVersion: this.version,
      clientId: options.clientId ?? this.clientId(),
      clean: true,
      keepalive: 0,
      ...options,
    });
    const connack = await client.expect("connack");
    Object.defineProperty(client, "connack", { value: connack });
    return [client as Connected, connack];
  }

  /**
   * Subscribes and returns the SUBACK; fails the scenario if the SUBACK has another
   * packet id or another number of reason codes. Strings subscribe at `qos` (default 0).
   */
  async subscribe(
    client: RawClient,
    filters: string | Subscription | (string | Subscription)[],
    options: { qos?: QoS; properties?: Properties } = {},
  ): Promise<SubackPacket> {
    const list = (Array.isArray(filters) ? filters : [filters]).map((filter) =>
      typeof filter === "string" ? { topicFilter: filter, qos: options.qos ?? 0 } : filter
    );
    const subscriptions = list.map((s) =>
      this.version === 5
        ? { noLocal: false, retainAsPublished: false, retainHandling: 0 as const, ...s }
        : { topicFilter: s.topicFilter, qos: s.qos }
    );
    const packetId = client.packetId();
    await client.send({
      type: "subscribe",
      packetId,
      subscriptions,
      ...(options.properties === undefined ? {} : { properties: options.properties }),
    });
    const suback = await client.take<SubackPacket>(
      (p) => p.type === "suback" && p.packetId === packetId,
      this.timeoutMs,
      `SUBACK for packet id ${packetId}`,
    );
    this.check(
      suback.reasonCodes.length === subscriptions.length,
      `SUBACK has ${suback.reasonCodes.length} reason codes for ${subscriptions.length} filters`,
    );
    return suback;
  }

  /** Subscribes and fails the scenario unless every filter is granted. */
  async subscribeOk(
    client: RawClient,
    filters: string | Subscription | (string | Subscription)[],
    options: { qos?: QoS; properties?: Properties } = {},
  ): Promise<SubackPacket> {
    const suback = await this.subscribe(client, filters, options);
    this.check(
      suback.reasonCodes.every((code) => code < 0x80),
      `SUBACK refused a subscription: ${describePacket(suback)}`,
    );
    return suback;
  }

  /**
   * Publishes and, for QoS 1 and 2, completes the handshake (PUBACK, or PUBREC, PUBREL,
   * PUBCOMP); fails the scenario on an error reason code. Returns the packet id.
   */
  async publish(
    client: RawClient,
    topic: string,
    payload: string | Uint8Array,
    options: ScenarioPublishOptions = {},
  ): Promise<number | undefined> {
    const qos = options.qos ?? 0;
    const packetId = qos > 0 ? client.packetId() : undefined;
    const packet: PublishPacket = {
      type: "publish",
      topic,
      payload: typeof payload === "string" ? new TextEncoder().encode(payload) : payload,
      qos,
      retain: options.retain ?? false,
      dup: options.dup ?? false,
      ...(packetId === undefined ? {} : { packetId }),
      ...(options.properties === undefined ? {} : { properties: options.properties }),
    };
    await client.send(packet);
    if (qos === 1) {
      const puback = await this.#ack(client, "puback", packetId!);
      this.check((puback.reasonCode ?? 0) < 0x80, `PUBACK with error: ${describePacket(puback)}`);
    } else if (qos === 2) {
      const pubrec = await this.#ack(client, "pubrec", packetId!);
      this.check((pubrec.reasonCode ?? 0) < 0x80, `PUBREC with error: ${describePacket(pubrec)}`);
      await client.send({ type: "pubrel", packetId: packetId!, ...this.#success() });
      await this.#ack(client, "pubcomp", packetId!);
    }
    return packetId;
  }

  /** The next PUBLISH received by `client` (other packets stay queued). */
  receive(client: RawClient, what = "PUBLISH"): Promise<PublishPacket> {
    return client.take<PublishPacket>((p) => p.type === "publish", this.timeoutMs, what);
  }

  /** The next PUBLISH on `topic` received by `client`. */
  receiveOn(client: RawClient, topic: string): Promise<PublishPacket> {
    return client.take<PublishPacket>(
      (p) => p.type === "publish" && p.topic === topic,
      this.timeoutMs,
      `PUBLISH on ${topic}`,
    );
  }

  /** Acknowledges a received PUBLISH: PUBACK for QoS 1, PUBREC / PUBREL / PUBCOMP for QoS 2. */
  async ack(client: RawClient, publish: PublishPacket): Promise<void> {
    if (publish.qos === 1) {
      await client.send({ type: "puback", packetId: publish.packetId!, ...this.#success() });
    } else if (publish.qos === 2) {
      await client.send({ type: "pubrec", packetId: publish.packetId!, ...this.#success() });
      await this.#ack(client, "pubrel", publish.packetId!);
      await client.send({ type: "pubcomp", packetId: publish.packetId!, ...this.#success() });
    }
  }

  /**
   * Fails the scenario if `client` receives a PUBLISH (matching `match`, default any)
   * before a PINGREQ round trip and `quietMs` more (default 150) have passed.
   */
  async expectQuiet(
    client: RawClient,
    what: string,
    match: (publish: PublishPacket) => boolean = () => true,
    quietMs = 150,
  ): Promise<void> {
    await client.send({ type: "pingreq" });
    await client.take((p) => p.type === "pingresp", this.timeoutMs, "PINGRESP");
    await this.sleep(quietMs);
    const unwanted = client.pending.find((p) => p.type === "publish" && match(p));
    if (unwanted !== undefined) this.check(false, `${what}: got ${describePacket(unwanted)}`);
  }

  /**
   * Fails the scenario unless the broker closes the connection within `timeoutMs`;
   * returns the packets it sent before closing.
   */
  async expectClosed(client: RawClient, what: string): Promise<Packet[]> {
    const closed = await client.waitClosed(this.timeoutMs);
    const sent = client.pending.map(describePacket).join(", ");
    this.check(
      closed,
      `${what}: the broker kept the connection open for ${this.timeoutMs} ms${
        sent ? ` (it sent ${sent})` : ""
      }`,
    );
    return [...client.pending];
  }

  /**
   * Subscribes to `filter` and fails the scenario unless
   * the broker refuses it with a SUBACK failure code or closes the connection.
   */
  async expectRefused(filter: string): Promise<void> {
    const client = await this.connect();
    const packetId = client.packetId();
    await client.send({
      type: "subscribe",
      packetId,
      subscriptions: [
        this.version === 5
          ? {
            topicFilter: filter,
            qos: 0,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0,
          }
          : { topicFilter: filter, qos: 0 },
      ],
    });
    const answer = await Promise.race([
      client.take((p) => p.type === "suback", this.timeoutMs, "SUBACK").catch(() => undefined),
      client.waitClosed(this.timeoutMs).then(() => undefined),
    ]);
    if (answer === undefined) {
      this.check(client.isClosed, `"${filter}" was neither refused in SUBACK nor closed`);
      return;
    }
    this.check(
      answer.type === "suback" && answer.reasonCodes.every((code) => code >= 0x80),
      `"${filter}" was granted: ${describePacket(answer)}`,
    );
  }

  /** Fails the scenario with `detail` unless `condition` holds. */
  check(condition: unknown, detail: string): void {
    if (!condition) throw new ScenarioFailure(detail);
  }

  /** Ends the scenario as skipped: the broker lacks an optional feature. */
  skip(reason: string): never {
    throw new ScenarioSkip(reason);
  }

  /** Resolves after `ms` milliseconds (for expiry and keep alive, never for ordering). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Runs `fn` after the scenario, before its connections close (clean-up of broker state). */
  defer(fn: () => Promise<void>): void {
    this.#deferred.push(fn);
  }

  /** Runs the deferred clean-ups, then closes every connection opened. */
  async cleanup(): Promise<void> {
    for (const fn of this.#deferred.splice(0).reverse()) {
      await fn().catch(() => {});
    }
    this.#disposed = true;
    await Promise.all(this.#clients.splice(0).map((client) => client.close()));
  }

  /** Removes the retained message of `topic` with a fresh connection, after the scenario. */
  clearRetainedAfter(topic: string): void {
    this.defer(async () => {
      const client = await this.connect();
      await this.publish(client, topic, new Uint8Array(0), { qos: 1, retain: true });
      await client.close();
    });
  }

  /** Ends the session of `clientId` with a clean connection, after the scenario. */
  endSessionAfter(clientId: string): void {
    this.defer(async () => {
      const client = await this.connect({ clientId, clean: true });
      await client.send({ type: "disconnect", ...this.#success() });
      await client.waitClosed(this.timeoutMs);
    });
  }

  #success(): { reasonCode?: number } {
    return this.version === 5 ? { reasonCode: 0 } : {};
  }

  #ack<T extends "puback" | "pubrec" | "pubrel" | "pubcomp">(
    client: RawClient,
    type: T,
    packetId: number,
  ): Promise<Extract<Packet, { type: T }>> {
    return client.take<Extract<Packet, { type: T }>>(
      (p) => p.type === type && p.packetId === packetId,
      this.timeoutMs,
      `${type.toUpperCase()} for packet id ${packetId}`,
    );
  }
}

/**
 * A check written once, with the statement id it carries at each protocol version.
 *
 * @example A definition for MQTT 5 only
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScenarioDefinition } from "./scenario.ts";
 * const definition: ScenarioDefinition = {
 *   name: "connect.ping",
 *   ids: { 5: "MQTT-3.12.4-1" },
 *   title: "PINGREQ is answered with PINGRESP",
 *   area: "connect",
 *   async run(ctx) {
 *     const client = await ctx.connect();
 *     await client.send({ type: "pingreq" });
 *     await client.expect("pingresp");
 *   },
 * };
 * assert.deepEqual(Object.keys(definition.ids), ["5"]);
 * ```
 */
export interface ScenarioDefinition {
  /** Unique key, like "connect.ping". */
  name: string;
  /** Statement id(s) per version; the versions listed are the versions it runs at. */
  ids: { 4?: string; 5?: string };
  /** What the broker must do. */
  title: string;
  /** The area. */
  area: Area;
  /** Extra milliseconds the scenario needs (sleeps). */
  extraMs?: number;
  /** The check; `ctx.version` tells the version. */
  run(ctx: ScenarioContext): Promise<void>;
}

/**
 * One {@link Scenario} per version listed in `ids`.
 *
 * @example A scenario for MQTT 3.1.1 and 5.0
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineScenario } from "./scenario.ts";
 * const scenarios = defineScenario({
 *   name: "connect.ping",
 *   ids: { 4: "MQTT-3.12.4-1", 5: "MQTT-3.12.4-1" },
 *   title: "PINGREQ is answered with PINGRESP",
 *   area: "connect",
 *   async run(ctx) {
 *     const client = await ctx.connect();
 *     await client.send({ type: "pingreq" });
 *     await client.expect("pingresp");
 *   },
 * });
 * assert.deepEqual(scenarios.map((s) => s.version), [4, 5]);
 * ```
 */
export function defineScenario(definition: ScenarioDefinition): Scenario[] {
  const { ids, ...rest } = definition;
  const out: Scenario[] = [];
  for (const version of [4, 5] as const) {
    const id = ids[version];
    if (id !== undefined) out.push({ ...rest, id, version });
  }
  return out;
}

/**
 * UTF-8 bytes of `text`.
 *
 * @example Encode text
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8 } from "./scenario.ts";
 * assert.deepEqual(utf8("ab"), new Uint8Array([0x61, 0x62]));
 * ```
 */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * Text of UTF-8 bytes.
 *
 * @example Decode bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { text } from "./scenario.ts";
 * assert.equal(text(new Uint8Array([0x61])), "a");
 * ```
 */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * A raw packet: fixed header byte, remaining length (one or two bytes) and body.
 *
 * @example A PINGREQ
 * ```ts
 * import assert from "node:assert/strict";
 * import { rawPacket } from "./scenario.ts";
 * assert.deepEqual(rawPacket(0xc0, []), new Uint8Array([0xc0, 0]));
 * ```
 */
export function rawPacket(header: number, body: readonly number[]): Uint8Array {
  const length = body.length;
  const lengthBytes = length < 128 ? [length] : [(length & 0x7f) | 0x80, length >> 7];
  return Uint8Array.from([header, ...lengthBytes, ...body]);
}

/**
 * A length-prefixed UTF-8 string as bytes, for raw packets.
 *
 * @example A length-prefixed string
 * ```ts
 * import assert from "node:assert/strict";
 * import { rawString } from "./scenario.ts";
 * assert.deepEqual(rawString("a"), [0, 1, 0x61]);
 * ```
 */
export function rawString(value: string | readonly number[]): number[] {
  const bytes = typeof value === "string" ? [...utf8(value)] : [...value];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}
