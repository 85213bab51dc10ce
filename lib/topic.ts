/**
 * Topic names and topic filters (MQTT 3.1.1 and 5.0, section 4.7): validation, matching
 * and shared-subscription parsing. The client and the broker both use this file.
 *
 * A topic is split into levels by "/". Levels may be empty ("a//b", "/a" and "a/" are
 * three distinct topics), and nothing is normalized or case-folded (MQTT-4.7.3-4).
 * Topic filters add two wildcards: "+" stands for exactly one level, "#" for any number of
 * trailing levels, including none ("sport/#" matches "sport").
 *
 * The boolean forms ({@link isValidTopicName}, {@link isValidTopicFilter}) are for hot
 * paths that only need a yes or no; the `validate*` forms throw a `TypeError` that says
 * what is wrong, for mistakes made by the caller.
 *
 * @example Validate and match
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidTopicFilter, topicMatches, validateTopicName } from "./topic.ts";
 * validateTopicName("sensors/kitchen/temp");
 * assert.ok(isValidTopicFilter("sensors/+/temp"));
 * assert.ok(topicMatches("sensors/+/temp", "sensors/kitchen/temp"));
 * ```
 *
 * @module
 */

/** Largest topic in UTF-8 bytes: the length prefix of a UTF-8 Encoded String is 16 bits. */
const MAX_TOPIC_BYTES = 65_535;

/** Character codes the scanners look at. */
const Char = {
  Null: 0x00,
  Hash: 0x23,
  Dollar: 0x24,
  Plus: 0x2b,
  Slash: 0x2f,
} as const;

/** What is wrong with a topic name or filter; `None` means it is valid. */
const Problem = {
  None: 0,
  Empty: 1,
  NullCharacter: 2,
  LoneSurrogate: 3,
  TooLong: 4,
  WildcardInName: 5,
  MisplacedHash: 6,
  MisplacedPlus: 7,
} as const;
type Problem = typeof Problem[keyof typeof Problem];

const SHARE_PREFIX = "$share/";

/**
 * Scans `topic` once and reports its first problem. Wildcards are checked as filter
 * syntax when `isFilter`, and rejected outright otherwise. Counting UTF-8 bytes rides on
 * the same loop: 1, 2 or 3 bytes per code unit, 2 per half of a surrogate pair (4 bytes).
 */
function findProblem(topic: string, isFilter: boolean): Problem {
  const length = topic.length;
  if (length === 0) return Problem.Empty;
  let bytes = 0;
  for (let i = 0; i < length; i++) {
    const code = topic.charCodeAt(i);
    if (code < 0x80) {
      bytes += 1;
      if (code === Char.Null) return Problem.NullCharacter;
      if (code === Char.Plus) {
        if (!isFilter) return Problem.WildcardInName;
        const startsLevel = i === 0 || topic.charCodeAt(i - 1) === Char.Slash;
        const endsLevel = i + 1 === length || topic.charCodeAt(i + 1) === Char.Slash;
        if (!startsLevel || !endsLevel) return Problem.MisplacedPlus;
      } else if (code === Char.Hash) {
        if (!isFilter) return Problem.WildcardInName;
        const startsLevel = i === 0 || topic.charCodeAt(i - 1) === Char.Slash;
        if (!startsLevel || i + 1 !== length) return Problem.MisplacedHash;
      }
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      // A high surrogate must be followed by a low one; a low one alone is an error too.
      if (code >= 0xdc00) return Problem.LoneSurrogate;
      const next = topic.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return Problem.LoneSurrogate;
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
  }
  return bytes > MAX_TOPIC_BYTES ? Problem.TooLong : Problem.None;
}

/** Counts UTF-8 bytes of a well-formed string (used only to word an error message). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Quotes a topic for an error message, escaping control characters and keeping it short. */
function quote(topic: string): string {
  const shown = topic.length > 80 ? `${topic.slice(0, 77)}...` : topic;
  return JSON.stringify(shown);
}

function describe(kind: "topic name" | "topic filter", topic: string, problem: Problem): string {
  const what = kind === "topic name" ? "Topic name" : "Topic filter";
  switch (problem) {
    case Problem.Empty:
      return `${what} must be at least one character long: current value is ""`;
    case Problem.NullCharacter:
      return `${what} must not contain the null character U+0000: found at index ${
        topic.indexOf("\u0000")
      } of ${quote(topic)}`;
    case Problem.LoneSurrogate:
      return `${what} must be well-formed Unicode to be sent as UTF-8: current value ${
        quote(topic)
      } contains a lone surrogate`;
    case Problem.TooLong:
      return `${what} must encode to at most ${MAX_TOPIC_BYTES} UTF-8 bytes: current value is ${
        utf8Length(topic)
      } bytes long`;
    case Problem.WildcardInName: {
      const at = topic.search(/[+#]/);
      return `${what} must not contain the wildcard '${topic[at]}' (only topic filters may): ` +
        `current value is ${quote(topic)}`;
    }
    case Problem.MisplacedHash:
      return `${what} may use '#' only as its whole last level, as in "a/#" or "#": ` +
        `current value is ${quote(topic)}`;
    case Problem.MisplacedPlus:
      return `${what} may use '+' only as a whole level, as in "a/+/b" or "+": ` +
        `current value is ${quote(topic)}`;
    default:
      return `${what} is invalid: current value is ${quote(topic)}`;
  }
}

/**
 * Whether `topic` is a valid topic name, the kind a message is published to: at least one
 * character (MQTT-4.7.3-1), no wildcard "+" or "#" (MQTT-3.3.2-2), no U+0000
 * (MQTT-4.7.3-2), well-formed Unicode and at most 65535 bytes as UTF-8 (MQTT-4.7.3-3).
 * Never throws; names starting with "$" are valid here (a server may still refuse them).
 *
 * @example Check topic names without exceptions
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidTopicName } from "./topic.ts";
 * assert.equal(isValidTopicName("sport/tennis/player1"), true);
 * assert.equal(isValidTopicName("/"), true);
 * assert.equal(isValidTopicName("sport/+"), false);
 * assert.equal(isValidTopicName(""), false);
 * ```
 */
export function isValidTopicName(topic: string): boolean {
  return typeof topic === "string" && findProblem(topic, false) === Problem.None;
}

/**
 * Whether `filter` is a valid topic filter, the kind a subscription is made with: the
 * rules of {@link isValidTopicName}, except that "+" may stand as a whole level and "#" as
 * the whole last level. Shared subscriptions ("$share/group/filter") pass if their text is
 * valid as a plain filter; see {@link parseSharedSubscription} for their own rules.
 * Never throws.
 *
 * @example Check topic filters without exceptions
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidTopicFilter } from "./topic.ts";
 * assert.equal(isValidTopicFilter("sport/tennis/#"), true);
 * assert.equal(isValidTopicFilter("+/tennis/#"), true);
 * assert.equal(isValidTopicFilter("sport/tennis#"), false);
 * assert.equal(isValidTopicFilter("sport+"), false);
 * ```
 */
export function isValidTopicFilter(filter: string): boolean {
  return typeof filter === "string" && findProblem(filter, true) === Problem.None;
}

/**
 * Throws a `TypeError` saying what is wrong when `topic` is not a valid topic name (see
 * {@link isValidTopicName} for the rules).
 *
 * @example Reject a wildcard in a topic name
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopicName } from "./topic.ts";
 * validateTopicName("sport/tennis/player1");
 * assert.throws(() => validateTopicName("sport/#"), {
 *   name: "TypeError",
 *   message: `Topic name must not contain the wildcard '#' (only topic filters may): current value is "sport/#"`,
 * });
 * ```
 */
export function validateTopicName(topic: string): void {
  if (typeof topic !== "string") {
    throw new TypeError(`Topic name must be a string: current value is ${typeof topic}`);
  }
  const problem = findProblem(topic, false);
  if (problem !== Problem.None) throw new TypeError(describe("topic name", topic, problem));
}

/**
 * Throws a `TypeError` saying what is wrong when `filter` is not a valid topic filter (see
 * {@link isValidTopicFilter} for the rules).
 *
 * @example Reject a misplaced multi-level wildcard
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopicFilter } from "./topic.ts";
 * validateTopicFilter("sport/tennis/#");
 * assert.throws(() => validateTopicFilter("sport/tennis/#/ranking"), {
 *   name: "TypeError",
 *   message: /may use '#' only as its whole last level/,
 * });
 * ```
 */
export function validateTopicFilter(filter: string): void {
  if (typeof filter !== "string") {
    throw new TypeError(`Topic filter must be a string: current value is ${typeof filter}`);
  }
  const problem = findProblem(filter, true);
  if (problem !== Problem.None) throw new TypeError(describe("topic filter", filter, problem));
}

/**
 * Whether the topic name `topic` matches the topic filter `filter`.
 *
 * "+" matches exactly one level, which may be empty ("sport/+" matches "sport/" but not
 * "sport"); "#" matches any number of trailing levels, including the parent level itself
 * ("sport/#" matches "sport"). A filter whose first level is a wildcard does not match a
 * topic starting with "$" (MQTT-4.7.2-1), so "#" does not see "$SYS/uptime". Comparison is
 * exact: no case folding or normalization (MQTT-4.7.3-4).
 *
 * Both arguments are expected to be valid (see {@link isValidTopicFilter} and
 * {@link isValidTopicName}); otherwise the result is unspecified, but it never throws. A
 * shared subscription must be matched by its inner filter, from
 * {@link parseSharedSubscription}. The scan walks both strings once, without regular
 * expressions or allocation.
 *
 * @example Match with wildcards
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicMatches } from "./topic.ts";
 * assert.equal(topicMatches("sport/tennis/+", "sport/tennis/player1"), true);
 * assert.equal(topicMatches("sport/tennis/+", "sport/tennis/player1/ranking"), false);
 * assert.equal(topicMatches("sport/#", "sport"), true);
 * assert.equal(topicMatches("#", "$SYS/broker/uptime"), false);
 * assert.equal(topicMatches("$SYS/#", "$SYS/broker/uptime"), true);
 * ```
 */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLength = filter.length;
  const topicLength = topic.length;
  if (filterLength === 0 || topicLength === 0) return false;
  if (topic.charCodeAt(0) === Char.Dollar) {
    const first = filter.charCodeAt(0);
    if (first === Char.Plus || first === Char.Hash) return false;
  }
  // `f` and `t` point at the start of the current level of each string; a value past the
  // end (length + 1) means every level has been consumed. A level may be empty, so
  // `t === topicLength` is a real (empty) last level, as in "a/".
  let f = 0;
  let t = 0;
  while (f <= filterLength) {
    const code = filter.charCodeAt(f);
    const levelEnds = f + 1 === filterLength || filter.charCodeAt(f + 1) === Char.Slash;
    if (code === Char.Hash && f + 1 === filterLength) return true;
    if (t > topicLength) return false;
    if (code === Char.Plus && levelEnds) {
      const slash = topic.indexOf("/", t);
      t = slash === -1 ? topicLength + 1 : slash + 1;
      f += 2;
      continue;
    }
    // A literal level: compare code units up to the end of both levels.
    for (;;) {
      const filterDone = f === filterLength || filter.charCodeAt(f) === Char.Slash;
      const topicDone = t === topicLength || topic.charCodeAt(t) === Char.Slash;
      if (filterDone || topicDone) {
        if (filterDone !== topicDone) return false;
        break;
      }
      if (filter.charCodeAt(f) !== topic.charCodeAt(t)) return false;
      f++;
      t++;
    }
    f++;
    t++;
  }
  return t > topicLength;
}

/** A shared subscription split into its parts by {@link parseSharedSubscription}. */
export interface SharedSubscription {
  /** The ShareName: the group whose members take turns receiving each message. */
  group: string;
  /** The topic filter the group subscribes to, as matched against topic names. */
  filter: string;
}

/**
 * Splits an MQTT 5 shared subscription "$share/{ShareName}/{filter}" into its group and
 * filter, or returns `undefined` for any filter that does not start with "$share/"
 * (the prefix is case-sensitive, so "$SHARE/a/b" is an ordinary filter).
 *
 * Throws a `TypeError` when the text starts with "$share/" but breaks the shared
 * subscription rules: the ShareName must be at least one character (MQTT-4.8.2-1), must
 * not contain "/", "+" or "#", and must be followed by "/" and a topic filter
 * (MQTT-4.8.2-2); the whole text must be a valid topic filter as well.
 *
 * @example Split a shared subscription
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSharedSubscription } from "./topic.ts";
 * assert.deepEqual(parseSharedSubscription("$share/consumer1/sport/tennis/+"), {
 *   group: "consumer1",
 *   filter: "sport/tennis/+",
 * });
 * assert.equal(parseSharedSubscription("sport/tennis/+"), undefined);
 * assert.throws(() => parseSharedSubscription("$share/a+b/sport"), TypeError);
 * ```
 */
export function parseSharedSubscription(filter: string): SharedSubscription | undefined {
  if (typeof filter !== "string") {
    throw new TypeError(`Topic filter must be a string: current value is ${typeof filter}`);
  }
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const slash = filter.indexOf("/", SHARE_PREFIX.length);
  const group = filter.slice(SHARE_PREFIX.length, slash === -1 ? undefined : slash);
  if (group.length === 0) {
    throw new TypeError(
      `Shared subscription must name a group of at least one character after "$share/": ` +
        `current value is ${quote(filter)}`,
    );
  }
  const wildcard = group.search(/[+#]/);
  if (wildcard !== -1) {
    throw new TypeError(
      `Shared subscription group must not contain '${group[wildcard]}': ` +
        `current value is ${quote(filter)}`,
    );
  }
  if (slash === -1 || slash + 1 === filter.length) {
    throw new TypeError(
      `Shared subscription must have "/" and a topic filter after its group: ` +
        `current value is ${quote(filter)}`,
    );
  }
  const problem = findProblem(filter, true);
  if (problem !== Problem.None) {
    throw new TypeError(
      `Shared subscription is not a valid topic filter: ${
        describe("topic filter", filter, problem)
      }`,
    );
  }
  return { group, filter: filter.slice(slash + 1) };
}
