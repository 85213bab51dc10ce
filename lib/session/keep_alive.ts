/**
 * Keep-alive deadlines for a client connection, as plain arithmetic on the times it is
 * told about: no timers, no clock.
 *
 * @module
 */

/** What {@link KeepAlive.poll} asks the caller to do. */
export type KeepAliveDue = "pingreq" | "dead";

/**
 * Tracks when a client must send PINGREQ and when its connection is dead.
 *
 * - PINGREQ is due one keep-alive interval after the last packet the client sent
 *   (MQTT-3.1.2-20 in MQTT 5, MQTT-3.1.2-23 in 3.1.1), and also one interval after the
 *   last packet it received, so that a client that only sends still notices a silent
 *   server.
 * - The connection is dead when, after a PINGREQ, nothing at all arrives for `timeout`
 *   milliseconds (any packet proves the server alive and pushes the deadline back).
 *
 * @example Ping after an idle interval, then give up
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeepAlive } from "./keep_alive.ts";
 * const keepAlive = new KeepAlive(10_000, 5_000);
 * keepAlive.start(0);
 * assert.equal(keepAlive.deadline(), 10_000);
 * assert.equal(keepAlive.poll(9_999), undefined);
 * assert.equal(keepAlive.poll(10_000), "pingreq");
 * keepAlive.sent(10_000, true);
 * assert.equal(keepAlive.deadline(), 15_000);
 * assert.equal(keepAlive.poll(15_000), "dead");
 * ```
 */
export class KeepAlive {
  #interval: number;
  #timeout: number;
  #lastSent = 0;
  #lastReceived = 0;
  #pingSentAt: number | undefined;
  #running = false;

  /**
   * Creates a tracker; call {@link start} when the connection is accepted.
   *
   * @param interval keep-alive interval in milliseconds; 0 turns keep-alive off.
   * @param timeout how long to wait after a PINGREQ before declaring the connection dead,
   *   in milliseconds (default: the interval).
   */
  constructor(interval: number, timeout: number = interval) {
    this.#interval = checkTime("interval", interval);
    this.#timeout = checkTime("timeout", timeout);
  }

  /** The keep-alive interval in milliseconds (0: off). */
  get interval(): number {
    return this.#interval;
  }

  /** The PINGRESP timeout in milliseconds. */
  get timeout(): number {
    return this.#timeout;
  }

  /** Whether a PINGREQ is waiting for its PINGRESP. */
  get pingOutstanding(): boolean {
    return this.#pingSentAt !== undefined;
  }

  /**
   * Starts tracking a connection at `now`, optionally with a new interval and timeout
   * (a server may impose its own Keep Alive, MQTT-3.2.2-21); a new interval without a
   * timeout sets the timeout to the interval.
   */
  start(now: number, interval?: number, timeout?: number): void {
    if (interval !== undefined) {
      this.#interval = checkTime("interval", interval);
      this.#timeout = checkTime("timeout", timeout ?? interval);
    } else if (timeout !== undefined) {
      this.#timeout = checkTime("timeout", timeout);
    }
    this.#lastSent = now;
    this.#lastReceived = now;
    this.#pingSentAt = undefined;
    this.#running = true;
  }

  /** Stops tracking (the connection is gone). */
  stop(): void {
    this.#running = false;
    this.#pingSentAt = undefined;
  }

  /** Records that a packet was sent at `now`; `ping` says it was a PINGREQ. */
  sent(now: number, ping = false): void {
    this.#lastSent = now;
    if (ping && this.#pingSentAt === undefined) this.#pingSentAt = now;
  }

  /** Records that a packet arrived at `now`; `pong` says it was a PINGRESP. */
  received(now: number, pong = false): void {
    this.#lastReceived = now;
    if (pong) this.#pingSentAt = undefined;
  }

  /** The next time {@link poll} has something to say, or `undefined` when never. */
  deadline(): number | undefined {
    if (!this.#running || this.#interval === 0) return undefined;
    const ping = Math.min(this.#lastSent, this.#lastReceived) + this.#interval;
    if (this.#pingSentAt === undefined) return ping;
    // While a PINGREQ is unanswered, another one is still due an interval after the last
    // send (the server's own keep-alive must not expire), and death comes at the timeout.
    const dead = Math.max(this.#pingSentAt, this.#lastReceived) + this.#timeout;
    return Math.min(dead, this.#lastSent + this.#interval);
  }

  /** What is due at `now`: send a PINGREQ, give up on the connection, or nothing. */
  poll(now: number): KeepAliveDue | undefined {
    if (!this.#running || this.#interval === 0) return undefined;
    if (this.#pingSentAt !== undefined) {
      if (now >= Math.max(this.#pingSentAt, this.#lastReceived) + this.#timeout) return "dead";
      return now >= this.#lastSent + this.#interval ? "pingreq" : undefined;
    }
    return now >= Math.min(this.#lastSent, this.#lastReceived) + this.#interval
      ? "pingreq"
      : undefined;
  }
}

function checkTime(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot track keep-alive as '${name}' must be a non-negative number of milliseconds: current value is ${value}`,
    );
  }
  return value;
}
