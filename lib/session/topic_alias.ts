/**
 * MQTT 5 Topic Aliases, both directions. Each direction has its own limit (the peer
 * announces how many aliases it accepts) and its own mapping, which lives only as long
 * as one Network Connection (MQTT-3.3.2-7).
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { ReasonCode } from "../packet/reason_codes.ts";

/** How an outgoing PUBLISH names its topic: see {@link OutboundTopicAliases.assign}. */
export interface AliasAssignment {
  /** The Topic Alias to put in the PUBLISH properties. */
  alias: number;
  /**
   * True when the alias is new (or newly re-pointed) so the PUBLISH must carry the topic
   * name as well; false when the PUBLISH carries an empty topic name and the alias alone.
   */
  withTopic: boolean;
}

/**
 * Outgoing Topic Aliases: gives each topic an alias up to the server's Topic Alias
 * Maximum and, once all are taken, re-points the least recently used alias to the new
 * topic (an LRU cache). The first PUBLISH with an alias carries topic and alias; later
 * ones carry the alias and an empty topic.
 *
 * Sends must reach the server in the order {@link assign} was called: a re-pointed alias
 * means the new topic from the packet that re-pointed it onwards.
 *
 * @example Assign, reuse and evict
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutboundTopicAliases } from "./topic_alias.ts";
 * const aliases = new OutboundTopicAliases(2);
 * assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: true });
 * assert.deepEqual(aliases.assign("b"), { alias: 2, withTopic: true });
 * assert.deepEqual(aliases.assign("a"), { alias: 1, withTopic: false });
 * // "b" is now the least recently used: "c" takes its alias
 * assert.deepEqual(aliases.assign("x", { peek: true }), { alias: 2, withTopic: true });
 * assert.deepEqual(aliases.assign("c"), { alias: 2, withTopic: true });
 * ```
 */
export class OutboundTopicAliases {
  #maximum: number;
  /** topic -> alias, least recently used first. */
  #aliases: Map<string, number> = new Map();

  /**
   * Creates an empty mapping.
   *
   * @param maximum the server's Topic Alias Maximum (0 disables aliases).
   */
  constructor(maximum = 0) {
    this.#maximum = checkMaximum(maximum);
  }

  /** The highest alias this mapping uses. */
  get maximum(): number {
    return this.#maximum;
  }

  /** Forgets every alias and sets a new maximum: call it for each new connection. */
  reset(maximum: number): void {
    this.#maximum = checkMaximum(maximum);
    this.#aliases.clear();
  }

  /**
   * The alias to use for `topic`, or `undefined` when aliases are disabled. With
   * `{ peek: true }` it only tells what the assignment would be and leaves the mapping
   * unchanged (to size a packet before deciding to send it).
   */
  assign(topic: string, options: { peek?: boolean } = {}): AliasAssignment | undefined {
    if (this.#maximum === 0) return undefined;
    const known = this.#aliases.get(topic);
    if (options.peek) {
      if (known !== undefined) return { alias: known, withTopic: false };
      const alias = this.#aliases.size < this.#maximum
        ? this.#aliases.size + 1
        : this.#aliases.values().next().value as number;
      return { alias, withTopic: true };
    }
    if (known !== undefined) {
      this.#aliases.delete(topic);
      this.#aliases.set(topic, known);
      return { alias: known, withTopic: false };
    }
    let alias: number;
    if (this.#aliases.size < this.#maximum) {
      alias = this.#aliases.size + 1;
    } else {
      const [oldest, oldAlias] = this.#aliases.entries().next().value as [string, number];
      this.#aliases.delete(oldest);
      alias = oldAlias;
    }
    this.#aliases.set(topic, alias);
    return { alias, withTopic: true };
  }
}

/**
 * Incoming Topic Aliases: resolves the topic of each PUBLISH the server sends, checking
 * the alias against the maximum we announced in CONNECT.
 *
 * @example Resolve aliases
 * ```ts
 * import assert from "node:assert/strict";
 * import { InboundTopicAliases } from "./topic_alias.ts";
 * const aliases = new InboundTopicAliases(10);
 * assert.equal(aliases.resolve("sensors/1", 3), "sensors/1");
 * assert.equal(aliases.resolve("", 3), "sensors/1");
 * assert.equal(aliases.resolve("plain", undefined), "plain");
 * assert.throws(() => aliases.resolve("", 4), /unknown Topic Alias 4/);
 * assert.throws(() => aliases.resolve("t", 11), /TopicAliasInvalid/);
 * ```
 */
export class InboundTopicAliases {
  #maximum: number;
  #topics: Map<number, string> = new Map();

  /**
   * Creates an empty mapping.
   *
   * @param maximum the Topic Alias Maximum we announced in CONNECT (0: none accepted).
   */
  constructor(maximum = 0) {
    this.#maximum = checkMaximum(maximum);
  }

  /** The highest alias accepted. */
  get maximum(): number {
    return this.#maximum;
  }

  /** Forgets every alias: call it for each new connection (MQTT-3.3.2-7). */
  reset(): void {
    this.#topics.clear();
  }

  /**
   * The topic of a PUBLISH with topic name `topic` and Topic Alias `alias`. A non-empty
   * topic with an alias (re)defines the alias. Throws a ProtocolError with 0x94 Topic Alias
   * invalid for alias 0 or an alias above the maximum, and 0x82 Protocol Error for an
   * empty topic whose alias is unknown or absent.
   */
  resolve(topic: string, alias: number | undefined): string {
    if (alias === undefined) {
      if (topic === "") {
        throw new ProtocolError("PUBLISH has an empty topic name and no Topic Alias", {
          reasonCode: ReasonCode.ProtocolError,
          statement: "MQTT-4.7.3-1",
        });
      }
      return topic;
    }
    if (alias === 0) {
      throw new ProtocolError("PUBLISH has Topic Alias 0", {
        reasonCode: ReasonCode.TopicAliasInvalid,
        statement: "MQTT-3.3.2-8",
      });
    }
    if (alias > this.#maximum) {
      throw new ProtocolError(
        `PUBLISH has Topic Alias ${alias}, above the Topic Alias Maximum ${this.#maximum} we announced`,
        { reasonCode: ReasonCode.TopicAliasInvalid, statement: "MQTT-3.3.2-11" },
      );
    }
    if (topic === "") {
      const known = this.#topics.get(alias);
      if (known === undefined) {
        throw new ProtocolError(
          `PUBLISH has an empty topic name and an unknown Topic Alias ${alias}`,
          { reasonCode: ReasonCode.ProtocolError },
        );
      }
      return known;
    }
    this.#topics.set(alias, topic);
    return topic;
  }
}

function checkMaximum(maximum: number): number {
  if (!Number.isInteger(maximum) || maximum < 0 || maximum > 65535) {
    throw new RangeError(
      `Cannot use topic aliases as 'maximum' must be an integer from 0 to 65535: current value is ${maximum}`,
    );
  }
  return maximum;
}
