/**
 * A small command line flag parser for the `tern` subcommands: short flags (`-t x`), long
 * flags (`--topic x`, `--topic=x`), switches, repeatable flags, flags taking several
 * values (`-D publish user-property k v`), positionals and `--` to end the flags.
 *
 * Every mistake is a {@link UsageError} whose message reads as one line, like
 * "Cannot publish as '-q' must be 0, 1 or 2: current value is 3".
 *
 * @module
 */

/**
 * A mistake on the command line: an unknown flag, a missing or malformed value. The
 * command line prints its message and exits with status 2.
 *
 * @example Tell a usage error from other failures
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageError } from "./args.ts";
 * const error = new UsageError("Cannot publish as '-t' needs a value");
 * assert.ok(error instanceof TypeError);
 * assert.equal(error.name, "UsageError");
 * ```
 */
export class UsageError extends TypeError {
  /** Creates the error with its one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How one flag is spelled and how many values it takes. */
export interface FlagSpec {
  /** Where its values are kept in {@link ParsedArgs}. */
  key: string;
  /** One letter, used as `-x`. */
  short?: string;
  /** Long names, used as `--name` (the first one is shown in messages). */
  long?: string | readonly string[];
  /**
   * How many values follow the flag: 0 for a switch (default 1). A function decides from
   * the words after the flag (for flags like `-D publish user-property k v`).
   */
  values?: number | ((rest: readonly string[]) => number);
}

/**
 * The flags of a command line, parsed by {@link parseArgs}: each flag's occurrences (their
 * values) by key, and the positionals.
 *
 * @example Read parsed flags
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * const args = parseArgs(["-t", "a", "-t", "b", "-q", "1", "-r"], [
 *   { key: "topic", short: "t" },
 *   { key: "qos", short: "q" },
 *   { key: "retain", short: "r", values: 0 },
 * ], "publish");
 * assert.deepEqual(args.strings("topic"), ["a", "b"]);
 * assert.equal(args.integer("qos", 0, 2), 1);
 * assert.equal(args.has("retain"), true);
 * ```
 */
export class ParsedArgs {
  /** Words that are not flags, in order. */
  readonly positionals: string[] = [];
  readonly #occurrences = new Map<string, { flag: string; values: string[]; at: number }[]>();
  #count = 0;
  readonly #verb: string;

  /** An empty result; {@link parseArgs} fills it. `verb` goes in error messages. */
  constructor(verb: string) {
    this.#verb = verb;
  }

  /** Records one occurrence of a flag. */
  add(key: string, flag: string, values: string[]): void {
    let list = this.#occurrences.get(key);
    if (list === undefined) this.#occurrences.set(key, list = []);
    list.push({ flag, values, at: this.#count++ });
  }

  /** The occurrences of several flags, in command line order. */
  ordered(keys: readonly string[]): { key: string; flag: string; values: string[] }[] {
    return keys.flatMap((key) =>
      (this.#occurrences.get(key) ?? []).map((each) => ({ key, ...each }))
    ).sort((a, b) => a.at - b.at).map(({ key, flag, values }) => ({ key, flag, values }));
  }

  /** Whether the flag was given. */
  has(key: string): boolean {
    return this.#occurrences.has(key);
  }

  /** The flag as the user spelled it last (for messages), or undefined. */
  flag(key: string): string | undefined {
    return this.#occurrences.get(key)?.at(-1)?.flag;
  }

  /** Every occurrence's values, in order. */
  occurrences(key: string): string[][] {
    return (this.#occurrences.get(key) ?? []).map((each) => each.values);
  }

  /** The first value of every occurrence, in order. */
  strings(key: string): string[] {
    return this.occurrences(key).map((values) => values[0]!);
  }

  /** The value of the last occurrence, or undefined. */
  string(key: string): string | undefined {
    return this.strings(key).at(-1);
  }

  /**
   * The value of the last occurrence as an integer from `min` to `max`, or undefined
   * when the flag is absent. Throws a {@link UsageError} for anything else.
   */
  integer(key: string, min: number, max: number): number | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(
        `Cannot ${this.#verb} as '${
          this.flag(key)
        }' must be an integer from ${min} to ${max}: current value is ${text}`,
      );
    }
    return n;
  }

  /** Throws a {@link UsageError} naming `verb` (for checks made after parsing). */
  fail(message: string): never {
    throw new UsageError(`Cannot ${this.#verb} as ${message}`);
  }
}

/**
 * Parses `argv` against `specs`. `verb` completes "Cannot ... as" in error messages
 * ("publish", "subscribe"). Throws a {@link UsageError} for an unknown flag or a missing
 * value.
 *
 * @example Long flags, inline values and positionals
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs, UsageError } from "./args.ts";
 * const specs = [{ key: "json", long: "json", values: 0 }, { key: "junit", long: "junit" }];
 * const args = parseArgs(["broker", "--junit=out.xml", "--json", "--", "--v5"], specs, "run");
 * assert.deepEqual(args.positionals, ["broker", "--v5"]);
 * assert.equal(args.string("junit"), "out.xml");
 * assert.throws(() => parseArgs(["--nope"], specs, "run"), UsageError);
 * assert.throws(() => parseArgs(["--junit"], specs, "run"), /'--junit' needs a value/);
 * ```
 */
export function parseArgs(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  verb: string,
): ParsedArgs {
  const byName = new Map<string, FlagSpec>();
  for (const spec of specs) {
    if (spec.short !== undefined) byName.set(`-${spec.short}`, spec);
    const longs = typeof spec.long === "string" ? [spec.long] : spec.long ?? [];
    for (const long of longs) byName.set(`--${long}`, spec);
  }
  const parsed = new ParsedArgs(verb);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith("-") || word === "-") {
      parsed.positionals.push(word);
      continue;
    }
    let flag = word;
    let inline: string | undefined;
    const equals = word.indexOf("=");
    if (word.startsWith("--") && equals !== -1) {
      flag = word.slice(0, equals);
      inline = word.slice(equals + 1);
    }
    const spec = byName.get(flag);
    if (spec === undefined) {
      throw new UsageError(`Cannot ${verb} as '${flag}' is not a known flag (see --help)`);
    }
    const rest = argv.slice(i + 1);
    const count = typeof spec.values === "function"
      ? spec.values(inline === undefined ? rest : [inline, ...rest])
      : spec.values ?? 1;
    if (count === 0) {
      if (inline !== undefined) {
        throw new UsageError(
          `Cannot ${verb} as '${flag}' takes no value: current value is ${inline}`,
        );
      }
      parsed.add(spec.key, flag, []);
      continue;
    }
    const values = inline === undefined ? [] : [inline];
    while (values.length < count) {
      const next = argv[i + 1];
      if (next === undefined) {
        throw new UsageError(
          `Cannot ${verb} as '${flag}' needs ${count === 1 ? "a value" : `${count} values`}`,
        );
      }
      values.push(next);
      i++;
    }
    parsed.add(spec.key, flag, values);
  }
  return parsed;
}
