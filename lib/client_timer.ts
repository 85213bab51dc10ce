/**
 * {@link SessionTimer}: the one timer of an `MqttClient`, armed for the session's next
 * deadline (keep-alive, ping timeout, retries); when it fires, the client polls the
 * session.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { now } from "./client_checks.ts";
import type { ClientSession } from "./session/client_session.ts";

/**
 * A timer that follows `session.nextDeadline()`; it calls `fire` when the deadline passes.
 *
 * @example Fires when keep-alive wants a PINGREQ
 * ```ts
 * import assert from "node:assert/strict";
 * import { now } from "./client_checks.ts";
 * import { SessionTimer } from "./client_timer.ts";
 * import { ClientSession } from "./session/client_session.ts";
 *
 * const session = new ClientSession({ keepalive: 1 });
 * const fired = Promise.withResolvers<void>();
 * const timer = new SessionTimer(session, () => fired.resolve());
 * timer.arm(); // offline: no deadline, no timer
 * session.connectPacket();
 * session.handleConnack({ type: "connack", sessionPresent: false, reasonCode: 0 }, now());
 * const armedAt = now();
 * timer.arm();
 * await fired.promise;
 * assert.ok(now() - armedAt >= 900);
 * const actions = session.poll(now());
 * assert.equal(actions[0]?.type === "send" && actions[0].packet.type, "pingreq");
 * timer.clear();
 * ```
 */
export class SessionTimer {
  #session: ClientSession;
  #fire: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** A timer for `session`'s deadlines; `fire` polls the session (and arms the timer again). */
  constructor(session: ClientSession, fire: () => void) {
    this.#session = session;
    this.#fire = fire;
  }

  /** Arms the timer for the session's next deadline, or clears it when there is none. */
  arm(): void {
    const deadline = this.#session.nextDeadline();
    if (deadline === undefined) {
      this.clear();
      return;
    }
    // An earlier timer stays: when it fires, it polls and arms the next one.
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#fire();
    }, Math.max(0, Math.ceil(deadline - now())));
  }

  /** Clears the timer. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
