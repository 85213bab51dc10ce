/**
 * {@link ClientConnector}: where, when and how an `MqttClient` tries to connect: the
 * first connection over each URL in turn (following a server's redirects), and, after a
 * connection that was up is lost, the reconnection loop with backoff, URL rotation and
 * redirects, until an attempt succeeds or a failure cannot heal (`./reconnect_policy.ts`).
 * Each attempt runs the `credentials` hook and the `auth` method's first step, opens the
 * transport, and hands it to the client (`ClientHost.open`), all within `connectTimeout`.
 *
 * Internal to the client: not exported from mod.ts.
 *
 * @module
 */

import { Backoff } from "./backoff.ts";
import { sleep } from "./client_checks.ts";
import type { ClientHost } from "./client_host.ts";
import {
  type ConnectOptions,
  type Credentials,
  DEFAULT_CONNECT_TIMEOUT,
  type ReconnectOptions,
  type TransportOpener,
  type TransportOpenOptions,
} from "./client_options.ts";
import { MqttError } from "./errors.ts";
import { ConnectFailedEvent } from "./events.ts";
import type { ConnectedAction } from "./session/actions.ts";
import { canHeal, MAX_REDIRECTS, redirectOf } from "./reconnect_policy.ts";
import type { Transport } from "./transport/types.ts";

/**
 * The connection attempts of one client: which URL, how long to wait, when to give up.
 *
 * @example The first connection follows a redirect, and stops at bad credentials
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientConnector } from "./client_connector.ts";
 * import type { ClientHost } from "./client_host.ts";
 * import { ConnectionRefusedError } from "./errors.ts";
 * import { ClientSession } from "./session/client_session.ts";
 * import type { Transport } from "./transport/types.ts";
 *
 * const tried: string[] = [];
 * let shutdownWith: unknown;
 * const host = {
 *   session: new ClientSession(), state: () => "connecting", log() {},
 *   shutdown: (error) => void (shutdownWith = error),
 *   open: (url) => {
 *     tried.push(url.href);
 *     return Promise.reject(url.host === "a.example"
 *       ? new ConnectionRefusedError({ reasonCode: 0x9c, serverReference: "b.example" })
 *       : new ConnectionRefusedError({ reasonCode: 0x86 }));
 *   },
 * } as Partial<ClientHost> as ClientHost;
 * const connector = new ClientConnector(host, [new URL("mqtt://a.example")], {
 *   transport: async () => ({}) as Transport, // the host's `open` does the rest
 * });
 * await assert.rejects(connector.start(undefined, new AbortController().signal), {
 *   reasonCode: 0x86,
 * });
 * assert.deepEqual(tried, ["mqtt://a.example", "mqtt://b.example"]);
 * assert.equal((shutdownWith as ConnectionRefusedError).reasonCode, 0x86);
 * ```
 */
export class ClientConnector {
  #host: ClientHost;
  #urls: URL[];
  #urlIndex = 0;
  /** Where the next attempt goes, when a server named another one (Server Reference). */
  #redirect: URL | undefined;
  #reconnect: ReconnectOptions | false;
  #backoff: Backoff;
  #options: ConnectOptions;
  #opener: TransportOpener;
  #connectTimeout: number;

  /** Attempts of the client `host` to `urls`, as the client's `options` say. */
  constructor(
    host: ClientHost,
    urls: URL[],
    options: ConnectOptions & { transport: TransportOpener },
  ) {
    this.#host = host;
    this.#urls = urls;
    this.#reconnect = options.reconnect ?? {};
    this.#backoff = new Backoff(this.#reconnect === false ? {} : this.#reconnect);
    this.#options = options;
    this.#opener = options.transport;
    this.#connectTimeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  }

  /** The URL the last attempt went to, or the next one goes to (redirects aside). */
  get url(): URL {
    return this.#urls[this.#urlIndex]!;
  }

  /** A connection is up: the next reconnection starts with the shortest delay again. */
  connected(): void {
    this.#backoff.reset();
  }

  /** Whether to reconnect after `error` ended a connection that was up. */
  willRetry(error: unknown): boolean {
    return this.#reconnect !== false &&
      canHeal(error, this.#host.session.protocolVersion, this.#reconnect.retryRefused ?? false);
  }

  /** A server that ended the connection from `url` with `error` may have named another one. */
  redirectAfter(error: unknown, url: URL): void {
    this.#redirect = redirectOf(error, url);
  }

  /**
   * The first connection: each URL in turn until one accepts. When none does, the
   * client shuts down and this rejects with the last error (or `signal.reason`).
   */
  async start(signal: AbortSignal | undefined, lifetime: AbortSignal): Promise<void> {
    const host = this.#host;
    const combined = signal ? AbortSignal.any([signal, lifetime]) : lifetime;
    let lastError: unknown;
    let redirects = 0;
    for (let i = 0; i < this.#urls.length;) {
      this.#urlIndex = i;
      const url = this.#redirect ?? this.#urls[i]!;
      this.#redirect = undefined;
      try {
        await this.#attempt(url, 1, combined);
        return;
      } catch (error) {
        lastError = error;
        if (signal?.aborted || host.state() === "closed") break;
        this.#redirect = redirectOf(error, url);
        if (this.#redirect !== undefined && ++redirects <= MAX_REDIRECTS) {
          host.log("info", `Redirected from ${url.href} to ${this.#redirect.href}`);
          continue;
        }
        this.#redirect = undefined;
        if (!canHeal(error, host.session.protocolVersion, false)) break;
        i++;
      }
    }
    host.shutdown(lastError);
    throw signal?.aborted ? signal.reason : lastError;
  }

  /**
   * Reconnects while the client is `"reconnecting"`: waits the backoff delay, tries the
   * next URL (or the one a server redirected to), and shuts the client down when a
   * failure cannot heal. Ends when `lifetime` aborts.
   */
  async reconnect(lifetime: AbortSignal): Promise<void> {
    const host = this.#host;
    const retryRefused = this.#reconnect !== false && (this.#reconnect.retryRefused ?? false);
    let delay = this.#backoff.next();
    for (let attempt = 1; host.state() === "reconnecting"; attempt++) {
      try {
        await sleep(delay, lifetime);
      } catch {
        return; // disconnect() while waiting
      }
      if (host.state() !== "reconnecting") return;
      const url = this.#redirect ?? this.#urls[this.#urlIndex]!;
      this.#redirect = undefined;
      try {
        await this.#attempt(url, attempt, lifetime);
        return; // the client's `connected` did the rest
      } catch (error) {
        if (host.state() !== "reconnecting") return;
        const retry = canHeal(error, host.session.protocolVersion, retryRefused);
        this.#redirect = redirectOf(error, url);
        if (this.#redirect === undefined) this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
        delay = this.#backoff.next();
        host.log(
          retry ? "warn" : "error",
          `Reconnection attempt ${attempt} to ${url.href} failed: ${
            (error as Error)?.message ?? error
          }`,
          error,
        );
        host.dispatch(
          new ConnectFailedEvent({
            url: url.href,
            error: error as Error,
            attempt,
            retryIn: retry ? delay : undefined,
          }),
        );
        if (!retry) {
          host.shutdown(error);
          return;
        }
      }
    }
  }

  /** Opens a transport, sends CONNECT, resolves on an accepting CONNACK. */
  async #attempt(url: URL, attempt: number, signal: AbortSignal): Promise<ConnectedAction> {
    signal.throwIfAborted();
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.#connectTimeout);
    const both = AbortSignal.any([signal, timeout.signal]);
    const reason = () =>
      signal.aborted ? signal.reason : new MqttError(
        `Cannot connect to ${url.href} as no CONNACK came within ${this.#connectTimeout} ms`,
      );
    try {
      return await this.#connectOnce(url, attempt, both, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  async #connectOnce(
    url: URL,
    attempt: number,
    both: AbortSignal,
    reason: () => unknown,
  ): Promise<ConnectedAction> {
    let credentials: Credentials | undefined;
    if (this.#options.credentials) {
      credentials = await this.#options.credentials({ url, attempt });
      if (both.aborted) throw reason();
    }
    const auth = this.#options.auth;
    let authData: Uint8Array | undefined;
    if (auth?.start) {
      authData = await auth.start({ method: auth.method, round: 1, reauthenticate: false });
      if (both.aborted) throw reason();
    }
    let transport: Transport;
    try {
      transport = await this.#opener(url, this.#transportOptions(both));
    } catch (error) {
      throw both.aborted ? reason() : error;
    }
    return await this.#host.open(url, transport, credentials, authData, both, reason);
  }

  #transportOptions(signal: AbortSignal): TransportOpenOptions {
    const options: TransportOpenOptions = { signal };
    if (this.#options.tls) options.tls = this.#options.tls;
    if (this.#options.ws) options.ws = this.#options.ws;
    return options;
  }
}
