/**
 * Access control for the command line broker: a user list for `authenticate` and an ACL
 * file for `authorize`, both as plain text.
 *
 * ACL file format: rules grouped under a `user NAME`, `client ID` or `any` line; each
 * rule is `publish FILTER`, `subscribe FILTER` or `both FILTER`. Blank lines and `#`
 * comments (a `#` at the start of a line) are ignored. A publish is allowed when a rule
 * of the client's user, its client id or `any` matches the topic; a subscription when such
 * a rule's filter covers every topic the requested filter can match. Without a matching
 * rule the request is denied.
 *
 * ```text
 * any
 *   subscribe public/#
 * user alice
 *   both sensors/#
 * client dashboard
 *   subscribe sensors/+/temp
 * ```
 *
 * @module
 */

import { isValidTopicFilter, topicMatches } from "../lib/topic.ts";
import type { Authenticate, Authorize } from "./options.ts";

/** One ACL rule. */
export interface AclRule {
  /** Whose rule: a user name, a client id, or everyone. */
  who: { user: string } | { client: string } | "any";
  /** What it allows. */
  action: "publish" | "subscribe" | "both";
  /** Where: the topic filter it covers. */
  filter: string;
}

/**
 * Parses ACL text into rules. Throws a TypeError naming the line of a mistake.
 *
 * @example Parse rules
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAcl } from "./acl.ts";
 * assert.deepEqual(parseAcl("user alice\n  publish sensors/#\n"), [
 *   { who: { user: "alice" }, action: "publish", filter: "sensors/#" },
 * ]);
 * ```
 */
export function parseAcl(text: string): AclRule[] {
  const rules: AclRule[] = [];
  let who: AclRule["who"] | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [keyword, ...rest] = line.split(/\s+/);
    const value = rest.join(" ");
    const where = `line ${index + 1}`;
    switch (keyword) {
      case "any":
        if (value !== "") {
          throw new TypeError(`Cannot read the ACL as 'any' takes no name (${where})`);
        }
        who = "any";
        break;
      case "user":
      case "client":
        if (value === "") {
          throw new TypeError(`Cannot read the ACL as '${keyword}' needs a name (${where})`);
        }
        who = keyword === "user" ? { user: value } : { client: value };
        break;
      case "publish":
      case "subscribe":
      case "both":
        if (who === undefined) {
          throw new TypeError(
            `Cannot read the ACL as a rule must follow a 'user', 'client' or 'any' line (${where})`,
          );
        }
        if (!isValidTopicFilter(value)) {
          throw new TypeError(
            `Cannot read the ACL as ${
              JSON.stringify(value)
            } is not a valid topic filter (${where})`,
          );
        }
        rules.push({ who, action: keyword, filter: value });
        break;
      default:
        throw new TypeError(
          `Cannot read the ACL as '${keyword}' is not one of any, user, client, publish, subscribe, both (${where})`,
        );
    }
  }
  return rules;
}

/**
 * Whether every topic that `requested` matches is also matched by `granted`.
 *
 * @example Filters covering filters
 * ```ts
 * import assert from "node:assert/strict";
 * import { filterCovers } from "./acl.ts";
 * assert.equal(filterCovers("sensors/#", "sensors/+/temp"), true);
 * assert.equal(filterCovers("sensors/+/temp", "sensors/#"), false);
 * assert.equal(filterCovers("+/temp", "kitchen/temp"), true);
 * ```
 */
export function filterCovers(granted: string, requested: string): boolean {
  const g = granted.split("/");
  const r = requested.split("/");
  // "$" topics are only covered by a granted filter that spells out the "$" level.
  if (requested.startsWith("$") !== granted.startsWith("$") && (g[0] === "#" || g[0] === "+")) {
    return false;
  }
  for (let i = 0; i < g.length; i++) {
    const level = g[i]!;
    if (level === "#") return true;
    const wanted = r[i];
    if (wanted === undefined) return false;
    if (wanted === "#") return false;
    if (level === "+") continue;
    if (wanted === "+" || wanted !== level) return false;
  }
  return g.length === r.length;
}

/**
 * An `authorize` hook enforcing `rules`.
 *
 * @example Allow by user
 * ```ts
 * import assert from "node:assert/strict";
 * import { aclAuthorizer, parseAcl } from "./acl.ts";
 * const authorize = aclAuthorizer(parseAcl("user alice\n publish sensors/#\nany\n subscribe #"));
 * assert.equal(authorize({ action: "publish", clientId: "c", username: "alice", topic: "sensors/1" }), true);
 * assert.equal(authorize({ action: "publish", clientId: "c", topic: "sensors/1" }), false);
 * assert.equal(authorize({ action: "subscribe", clientId: "c", topic: "a/+" }), true);
 * ```
 */
export function aclAuthorizer(rules: readonly AclRule[]): Authorize {
  return ({ action, clientId, username, topic }) =>
    rules.some((rule) => {
      if (rule.action !== "both" && rule.action !== action) return false;
      const who = rule.who;
      const applies = who === "any" ||
        ("user" in who ? username !== undefined && who.user === username : who.client === clientId);
      if (!applies) return false;
      return action === "publish"
        ? topicMatches(rule.filter, topic)
        : filterCovers(rule.filter, topic);
    });
}

/**
 * An `authenticate` hook accepting the given "name:password" pairs (the password is
 * everything after the first colon). Clients without a matching user name and password
 * are refused.
 *
 * @example Check users
 * ```ts
 * import assert from "node:assert/strict";
 * import { passwordAuthenticator } from "./acl.ts";
 * const authenticate = passwordAuthenticator(["alice:s3cret:x"]);
 * const password = new TextEncoder().encode("s3cret:x");
 * assert.equal(authenticate({ clientId: "c", protocolVersion: 4, clean: true, username: "alice", password }), true);
 * assert.equal(authenticate({ clientId: "c", protocolVersion: 4, clean: true, username: "alice" }), false);
 * ```
 */
export function passwordAuthenticator(users: readonly string[]): Authenticate {
  const passwords = new Map<string, string>();
  for (const user of users) {
    const colon = user.indexOf(":");
    if (colon <= 0) {
      throw new TypeError(
        `Cannot add the user as it must be written name:password: current value is ${
          JSON.stringify(user)
        }`,
      );
    }
    passwords.set(user.slice(0, colon), user.slice(colon + 1));
  }
  const decoder = new TextDecoder();
  return ({ username, password }) =>
    username !== undefined && password !== undefined &&
    passwords.get(username) === decoder.decode(password);
}
