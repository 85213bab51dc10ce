/**
 * Reconnect delays: exponential backoff with full jitter above a floor.
 *
 * @module
 */

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /**
   * The shortest delay, in milliseconds (default 1000). The first delay is drawn from
   * `minDelay` to twice that; each later ceiling doubles, up to `maxDelay`.
   */
  minDelay?: number;
  /** The longest delay, in milliseconds (default 60000). */
  maxDelay?: number;
  /** How much the ceiling grows per attempt (default 2). */
  factor?: number;
  /** Source of randomness in [0, 1) (default `Math.random`); tests pass a fixed one. */
  random?: () => number;
}

/**
 * Delays between reconnect attempts: attempt `n` (from 0) waits a time drawn uniformly
 * from `minDelay` to `min(maxDelay, minDelay * factor ** (n + 1))`. Spreading every
 * delay over the whole range ("full jitter") keeps a fleet of clients that lost the same
 * broker from coming back at the same instant, and the floor keeps a client from
 * hammering a broker that refuses it.
 *
 * @example Delays grow, stay in range, and start over after a success
 * ```ts
 * import assert from "node:assert/strict";
 * import { Backoff } from "./backoff.ts";
 * const backoff = new Backoff({ minDelay: 100, maxDelay: 1000, random: () => 0.5 });
 * assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [150, 250, 450, 550, 550]);
 * backoff.reset();
 * assert.equal(backoff.attempt, 0);
 * assert.equal(backoff.next(), 150);
 * ```
 */
export class Backoff {
  #minDelay: number;
  #maxDelay: number;
  #factor: number;
  #random: () => number;
  #attempt = 0;

  /** Throws a RangeError / TypeError for bad options. */
  constructor(options: BackoffOptions = {}) {
    const { minDelay = 1000, maxDelay = 60_000, factor = 2, random = Math.random } = options;
    if (!Number.isFinite(minDelay) || minDelay < 0) {
      throw new RangeError(
        `Cannot create a backoff as 'minDelay' must be a non-negative number: current value is ${minDelay}`,
      );
    }
    if (!Number.isFinite(maxDelay) || maxDelay < minDelay) {
      throw new RangeError(
        `Cannot create a backoff as 'maxDelay' must be a number no smaller than 'minDelay' (${minDelay}): current value is ${maxDelay}`,
      );
    }
    if (!Number.isFinite(factor) || factor < 1) {
      throw new RangeError(
        `Cannot create a backoff as 'factor' must be a number of at least 1: current value is ${factor}`,
      );
    }
    if (typeof random !== "function") {
      throw new TypeError(
        `Cannot create a backoff as 'random' must be a function: current value is ${typeof random}`,
      );
    }
    this.#minDelay = minDelay;
    this.#maxDelay = maxDelay;
    this.#factor = factor;
    this.#random = random;
  }

  /** How many delays were handed out since the last {@link reset}. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in milliseconds (whole numbers). */
  next(): number {
    const ceiling = Math.min(this.#maxDelay, this.#minDelay * this.#factor ** (this.#attempt + 1));
    this.#attempt++;
    return Math.round(this.#minDelay + this.#random() * (ceiling - this.#minDelay));
  }

  /** Starts over from the shortest delays (after a successful connection). */
  reset(): void {
    this.#attempt = 0;
  }
}
