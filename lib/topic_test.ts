import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  isValidTopicFilter,
  isValidTopicName,
  parseSharedSubscription,
  topicMatches,
  validateTopicFilter,
  validateTopicName,
} from "./topic.ts";

// Statement ids: MQTT 3.1.1 and 5.0 number the wildcard rules differently. 3.1.1 has
// MQTT-4.7.1-1 (no wildcards in names), MQTT-4.7.1-2 ('#' placement), MQTT-4.7.1-3 ('+'
// placement); 5.0 has MQTT-4.7.0-1, MQTT-4.7.1-1 and MQTT-4.7.1-2 for the same rules. Test
// names give the 3.1.1 id first and the 5.0 id in parentheses where they differ.

/** A short label for assertion messages. */
function label(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

/** Asserts that the throwing and boolean forms agree that `topic` is a valid name. */
function assertValidName(topic: string): void {
  assert.equal(isValidTopicName(topic), true, `name ${label(topic)}`);
  validateTopicName(topic);
}

function assertInvalidName(topic: string, message: RegExp): void {
  assert.equal(isValidTopicName(topic), false, `name ${label(topic)}`);
  assert.throws(() => validateTopicName(topic), { name: "TypeError", message });
}

function assertValidFilter(filter: string): void {
  assert.equal(isValidTopicFilter(filter), true, `filter ${label(filter)}`);
  validateTopicFilter(filter);
}

function assertInvalidFilter(filter: string, message: RegExp): void {
  assert.equal(isValidTopicFilter(filter), false, `filter ${label(filter)}`);
  assert.throws(() => validateTopicFilter(filter), { name: "TypeError", message });
}

/** A plain second implementation of matching, by splitting: the oracle for random tests. */
function referenceMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe("topic names", () => {
  test("ordinary names, '/' alone and empty levels are valid", () => {
    for (
      const topic of [
        "sport/tennis/player1",
        "sport",
        "/",
        "//",
        "/finance",
        "finance/",
        "a//b",
        "$SYS/broker/uptime",
        "$",
        "Accounts payable",
        "ACCOUNTS",
        "caf\u00e9/\u6e29\u5ea6/\u{1f600}",
      ]
    ) assertValidName(topic);
  });

  test("[MQTT-4.7.3-1] a topic name must be at least one character long", () => {
    assertInvalidName("", /at least one character long/);
  });

  test("[MQTT-4.7.1-1] (5.0: MQTT-4.7.0-1, MQTT-3.3.2-2) a topic name must not contain wildcards", () => {
    for (const topic of ["+", "#", "sport/+", "sport/#", "sport/tennis/+/score", "a+b", "a#"]) {
      assertInvalidName(topic, /must not contain the wildcard/);
    }
    assert.throws(() => validateTopicName("sport/#"), {
      message: `Topic name must not contain the wildcard '#' (only topic filters may): ` +
        `current value is "sport/#"`,
    });
  });

  test("[MQTT-4.7.3-2] a topic name must not contain U+0000", () => {
    for (const topic of ["\u0000", "a\u0000", "\u0000/b", "a/b\u0000c"]) {
      assertInvalidName(topic, /null character U\+0000/);
    }
    assert.throws(() => validateTopicName("ab/\u0000"), {
      message: /found at index 3 of "ab\/\\u0000"/,
    });
  });

  test("[MQTT-4.7.3-3] a topic name must encode to at most 65535 UTF-8 bytes", () => {
    assertValidName("a".repeat(65_535));
    assertInvalidName("a".repeat(65_536), /at most 65535 UTF-8 bytes: current value is 65536/);
    // Two-byte characters: 32767 * 2 + 1 = 65535 bytes fits, 32768 * 2 does not.
    assertValidName("\u00e9".repeat(32_767) + "a");
    assertInvalidName("\u00e9".repeat(32_768), /current value is 65536 bytes/);
    // Three-byte characters: 21845 * 3 = 65535.
    assertValidName("\u6e29".repeat(21_845));
    assertInvalidName("\u6e29".repeat(21_845) + "a", /current value is 65536 bytes/);
    // Surrogate pairs are four bytes: 16383 * 4 + 3 = 65535.
    assertValidName("\u{1f600}".repeat(16_383) + "abc");
    assertInvalidName("\u{1f600}".repeat(16_384), /current value is 65536 bytes/);
  });

  test("[MQTT-1.5.4-1] a topic name with a lone surrogate cannot be sent as UTF-8", () => {
    for (const topic of ["\ud800", "a\ud800", "\ud800a", "\udc00", "a/\udc00\ud800"]) {
      assertInvalidName(topic, /lone surrogate/);
    }
  });

  test("a name that is not a string is rejected", () => {
    assert.equal(isValidTopicName(42 as unknown as string), false);
    assert.throws(() => validateTopicName(undefined as unknown as string), {
      name: "TypeError",
      message: "Topic name must be a string: current value is undefined",
    });
  });
});

describe("topic filters", () => {
  test("section 4.7.1 examples of valid filters", () => {
    for (
      const filter of [
        "sport/tennis/player1/#",
        "sport/tennis/#",
        "sport/#",
        "#",
        "+",
        "+/tennis/#",
        "sport/+/player1",
        "sport/tennis/+",
        "+/+",
        "/+",
        "/",
        "$SYS/#",
        "$SYS/monitor/+",
        "a//b",
        "+//+",
        "a/+/",
        "/#",
        "+/#",
        "$share/group/a",
      ]
    ) assertValidFilter(filter);
  });

  test("[MQTT-4.7.3-1] a topic filter must be at least one character long", () => {
    assertInvalidFilter("", /at least one character long/);
  });

  test("[MQTT-4.7.1-2] (5.0: MQTT-4.7.1-1) '#' must be alone in the last level", () => {
    for (
      const filter of ["sport/tennis#", "sport/tennis/#/ranking", "#/", "##", "a/#b", "#a", "a#/b"]
    ) assertInvalidFilter(filter, /may use '#' only as its whole last level/);
  });

  test("[MQTT-4.7.1-3] (5.0: MQTT-4.7.1-2) '+' must occupy a whole level", () => {
    for (const filter of ["sport+", "+sport", "sport/+tennis", "a/b+", "++", "+a/b", "a/++/b"]) {
      assertInvalidFilter(filter, /may use '\+' only as a whole level/);
    }
  });

  test("[MQTT-4.7.3-2] a topic filter must not contain U+0000", () => {
    assertInvalidFilter("a/\u0000/#", /null character U\+0000/);
  });

  test("[MQTT-4.7.3-3] a topic filter must encode to at most 65535 UTF-8 bytes", () => {
    assertValidFilter("a/".repeat(32_767) + "#"); // 65535 bytes
    assertInvalidFilter("ab/" + "a/".repeat(32_766) + "#", /current value is 65536 bytes/);
  });

  test("the first problem is the one reported", () => {
    assert.throws(() => validateTopicFilter("a+/\u0000"), { message: /'\+'/ });
    assert.throws(() => validateTopicFilter("a\u0000/b+"), { message: /U\+0000/ });
  });

  test("long values are shortened in messages", () => {
    assert.throws(() => validateTopicFilter("x".repeat(200) + "#"), (error: Error) => {
      assert.ok(error.message.length < 250, error.message);
      assert.match(error.message, /\.\.\."$/);
      return true;
    });
  });
});

describe("topicMatches", () => {
  const cases: Array<[filter: string, topic: string, expected: boolean]> = [
    // 4.7.1.2 Multi-level wildcard
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
    ["sport/tennis/player1/#", "sport/tennis/player2", false],
    ["sport/tennis/player1/#", "sport/tennis", false],
    ["sport/#", "sport", true],
    ["sport/#", "sport/", true],
    ["sport/#", "sportx", false],
    ["sport/#", "sports/tennis", false],
    ["#", "sport/tennis/player1", true],
    ["#", "/", true],
    ["#", "/finance", true],
    ["sport/tennis/#", "sport/tennis", true],
    ["sport/tennis/#", "sport/tennisx", false],
    // 4.7.1.3 Single-level wildcard
    ["sport/tennis/+", "sport/tennis/player1", true],
    ["sport/tennis/+", "sport/tennis/player2", true],
    ["sport/tennis/+", "sport/tennis/player1/ranking", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["+", "sport", true],
    ["+/tennis/#", "sport/tennis/player1", true],
    ["+/tennis/#", "sport/tennis", true],
    ["+/tennis/#", "sport/golf", false],
    ["sport/+/player1", "sport/tennis/player1", true],
    ["sport/+/player1", "sport/golf/player1", true],
    ["sport/+/player1", "sport/tennis/player2", false],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["+/+", "a", false],
    ["+/+", "a/b/c", false],
    // Empty levels
    ["a//b", "a//b", true],
    ["a/+/b", "a//b", true],
    ["a/+/b", "a/b", false],
    ["/", "/", true],
    ["+/+", "/", true],
    ["+", "/", false],
    ["a/", "a/", true],
    ["a/", "a", false],
    ["a", "a/", false],
    ["a/+", "a/", true],
    // Literal levels compare whole levels
    ["sport/ten", "sport/tennis", false],
    ["sport/tennis", "sport/ten", false],
    ["Accounts payable", "Accounts payable", true],
    ["caf\u00e9/+", "caf\u00e9/\u{1f600}", true],
    // A '$' below the first level is an ordinary character
    ["a/+", "a/$b", true],
    ["a/#", "a/$SYS", true],
  ];
  for (const [filter, topic, expected] of cases) {
    test(
      `${JSON.stringify(filter)} ${expected ? "matches" : "does not match"} ${
        JSON.stringify(topic)
      }`,
      () => {
        assert.equal(topicMatches(filter, topic), expected);
        assert.equal(referenceMatches(filter, topic), expected, "reference implementation");
      },
    );
  }

  test("[MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with '$'", () => {
    assert.equal(topicMatches("#", "$SYS/monitor/Clients"), false);
    assert.equal(topicMatches("#", "$SYS"), false);
    assert.equal(topicMatches("+/monitor/Clients", "$SYS/monitor/Clients"), false);
    assert.equal(topicMatches("+", "$SYS"), false);
    assert.equal(topicMatches("+/#", "$SYS/a"), false);
    assert.equal(topicMatches("+/+", "$/a"), false);
    assert.equal(topicMatches("$SYS/#", "$SYS/monitor/Clients"), true);
    assert.equal(topicMatches("$SYS/#", "$SYS"), true);
    assert.equal(topicMatches("$SYS/monitor/+", "$SYS/monitor/Clients"), true);
    assert.equal(topicMatches("$SYS/monitor/Clients", "$SYS/monitor/Clients"), true);
    // To see both, a client subscribes to "#" and "$SYS/#".
    assert.equal(topicMatches("#", "sport/tennis"), true);
    assert.equal(topicMatches("$SYS/#", "sport/tennis"), false);
  });

  test("[MQTT-4.7.3-4] matching is exact: no case folding or Unicode normalization", () => {
    assert.equal(topicMatches("ACCOUNTS", "Accounts"), false);
    assert.equal(topicMatches("accounts/+", "Accounts/x"), false);
    // "e" + combining acute accent versus the precomposed "\u00e9"
    assert.equal(topicMatches("cafe\u0301", "caf\u00e9"), false);
    assert.equal(topicMatches("caf\u00e9", "caf\u00e9"), true);
    // U+FEFF is a character like any other (MQTT-1.5.4-3): never stripped
    assert.equal(topicMatches("\ufeffa", "a"), false);
    assert.equal(topicMatches("+", "\ufeffa"), true);
  });

  test("empty arguments never match", () => {
    assert.equal(topicMatches("", ""), false);
    assert.equal(topicMatches("#", ""), false);
    assert.equal(topicMatches("", "a"), false);
  });

  test("agrees with a split-based reference over random filters and topics", () => {
    const next = random(0x7e57);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const topicLevels = ["a", "b", "", "$SYS", "ab", "$"];
    const filterLevels = [...topicLevels, "+", "+", "#"];
    let matches = 0;
    for (let i = 0; i < 20_000; i++) {
      const filterParts: string[] = [];
      const filterDepth = 1 + Math.floor(next() * 4);
      for (let level = 0; level < filterDepth; level++) {
        const part = pick(filterLevels);
        filterParts.push(part);
        if (part === "#") break;
      }
      const topicParts: string[] = [];
      const topicDepth = 1 + Math.floor(next() * 4);
      for (let level = 0; level < topicDepth; level++) topicParts.push(pick(topicLevels));
      const filter = filterParts.join("/");
      const topic = topicParts.join("/");
      if (filter === "" || topic === "") continue;
      assert.ok(isValidTopicFilter(filter), filter);
      const expected = referenceMatches(filter, topic);
      assert.equal(topicMatches(filter, topic), expected, `${filter} vs ${topic}`);
      if (expected) matches++;
    }
    assert.ok(matches > 1000, `only ${matches} matches: the generator is too narrow`);
  });
});

describe("parseSharedSubscription", () => {
  test("splits $share/{ShareName}/{filter}", () => {
    assert.deepEqual(parseSharedSubscription("$share/consumer1/sport/tennis/+"), {
      group: "consumer1",
      filter: "sport/tennis/+",
    });
    assert.deepEqual(parseSharedSubscription("$share/consumer2/sport/tennis/+"), {
      group: "consumer2",
      filter: "sport/tennis/+",
    });
    assert.deepEqual(parseSharedSubscription("$share/g/#"), { group: "g", filter: "#" });
    assert.deepEqual(parseSharedSubscription("$share/g/$SYS/#"), { group: "g", filter: "$SYS/#" });
    assert.deepEqual(parseSharedSubscription("$share/g//"), { group: "g", filter: "/" });
    assert.deepEqual(parseSharedSubscription("$share/\u00e9quipe/a"), {
      group: "\u00e9quipe",
      filter: "a",
    });
  });

  test("a leading '/' in the inner filter is kept: $share/consumer1//finance is /finance", () => {
    const shared = parseSharedSubscription("$share/consumer1//finance");
    assert.deepEqual(shared, { group: "consumer1", filter: "/finance" });
    assert.equal(topicMatches(shared!.filter, "/finance"), true);
    assert.equal(topicMatches(shared!.filter, "finance"), false);
  });

  test("[MQTT-4.7.2-1] the '$' rule applies to the inner filter", () => {
    const shared = parseSharedSubscription("$share/g/#")!;
    assert.equal(topicMatches(shared.filter, "$SYS/uptime"), false);
    assert.equal(topicMatches(shared.filter, "sport"), true);
  });

  test("filters that do not start with $share/ are not shared", () => {
    for (
      const filter of [
        "sport/#",
        "#",
        "$SYS/#",
        "$SHARE/g/a",
        "$share",
        "$shared/g/a",
        "a/$share/g/b",
      ]
    ) {
      assert.equal(parseSharedSubscription(filter), undefined, filter);
    }
  });

  test("[MQTT-4.8.2-1] the ShareName must be at least one character long", () => {
    for (const filter of ["$share/", "$share//a", "$share//"]) {
      assert.throws(() => parseSharedSubscription(filter), {
        name: "TypeError",
        message: /group of at least one character/,
      }, filter);
    }
  });

  test("[MQTT-4.8.2-2] the ShareName must not contain '+' or '#'", () => {
    for (const filter of ["$share/+/a", "$share/#/a", "$share/a+b/a", "$share/g#/a", "$share/#"]) {
      assert.throws(() => parseSharedSubscription(filter), {
        name: "TypeError",
        message: /group must not contain '[+#]'/,
      }, filter);
    }
  });

  test("[MQTT-4.8.2-2] the ShareName must be followed by '/' and a topic filter", () => {
    for (const filter of ["$share/group", "$share/group/"]) {
      assert.throws(() => parseSharedSubscription(filter), {
        name: "TypeError",
        message: /"\/" and a topic filter after its group/,
      }, filter);
    }
  });

  test("[MQTT-4.7.1-2] the inner filter follows the topic filter rules", () => {
    for (
      const filter of ["$share/g/a/#/b", "$share/g/a+", "$share/g\u0000/a", "$share/g/a\u0000"]
    ) {
      assert.throws(() => parseSharedSubscription(filter), {
        name: "TypeError",
        message: /^Shared subscription is not a valid topic filter: Topic filter/,
      }, filter);
    }
  });

  test("[MQTT-4.7.3-3] the whole shared filter must fit in 65535 UTF-8 bytes", () => {
    const inner = "a/".repeat(32_761) + "#"; // 65523 bytes: valid on its own
    assert.ok(isValidTopicFilter(inner));
    assert.throws(() => parseSharedSubscription(`$share/group/${inner}`), {
      message: /current value is 65536 bytes/,
    });
  });
});
