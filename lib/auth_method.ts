/**
 * {@link AuthMethod}: a pluggable MQTT 5 enhanced authentication method (section 4.12)
 * for the client's `auth` option, such as SCRAM or Kerberos. The client runs the
 * exchange around it: CONNECT with the Authentication Method and the data of
 * {@link AuthMethod.start}, AUTH 0x18 rounds answered by {@link AuthMethod.onChallenge},
 * then CONNACK; and re-authentication (`client.reauthenticate()`), the same rounds
 * started with AUTH 0x19 and ended by AUTH 0x00.
 *
 * @module
 */

/**
 * Where an exchange stands, passed to each call of an {@link AuthMethod}.
 *
 * @example The first round of a connection's authentication
 * ```ts
 * import type { AuthExchange } from "./auth_method.ts";
 * const exchange: AuthExchange = { method: "SCRAM-SHA-1", round: 1, reauthenticate: false };
 * ```
 */
export interface AuthExchange {
  /** The Authentication Method, as named by the {@link AuthMethod}. */
  readonly method: string;
  /**
   * 1 for {@link AuthMethod.start}, then 2, 3... for each challenge; the final
   * {@link AuthMethod.onSuccess} gets the round after the last challenge.
   */
  readonly round: number;
  /** True for an exchange `client.reauthenticate()` started, false for CONNECT's. */
  readonly reauthenticate: boolean;
}

/**
 * An enhanced authentication method. Each exchange (a connection, or a
 * re-authentication) calls {@link start}, then {@link onChallenge} for each AUTH 0x18
 * the server sends, then {@link onSuccess} with the server's final data. A method that
 * keeps state between rounds (a nonce, say) resets it in {@link start}.
 *
 * A throw or rejection in any of them ends the exchange: before CONNACK the connection
 * attempt fails with that error; during a re-authentication the client sends
 * DISCONNECT 0x87 Not authorized and `reauthenticate()` rejects with it.
 *
 * @example A challenge-response method
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AuthMethod } from "./auth_method.ts";
 * const text = new TextEncoder();
 * const secret: AuthMethod = {
 *   method: "x-secret",
 *   start: () => text.encode("hello"),
 *   onChallenge: (nonce) => text.encode(`${new TextDecoder().decode(nonce)}:s3cret`),
 * };
 * const exchange = { method: "x-secret", round: 2, reauthenticate: false };
 * const answer = await secret.onChallenge(text.encode("n0nce"), exchange);
 * assert.equal(new TextDecoder().decode(answer), "n0nce:s3cret");
 * ```
 */
export interface AuthMethod {
  /** The Authentication Method name sent in CONNECT and AUTH, like "SCRAM-SHA-1". */
  readonly method: string;
  /**
   * The Authentication Data of CONNECT (or of AUTH 0x19 for a re-authentication), or
   * undefined to send none.
   */
  start?(exchange: AuthExchange): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Answers the server's AUTH 0x18 Continue authentication: `data` is its
   * Authentication Data, the result goes back in the client's AUTH 0x18.
   */
  onChallenge(
    data: Uint8Array | undefined,
    exchange: AuthExchange,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * The server accepted (CONNACK 0x00, or AUTH 0x00 Success for a re-authentication):
   * `data` is its final Authentication Data. Throw to refuse the server, as SCRAM does
   * when the server's signature is wrong; the connection is then not used.
   */
  onSuccess?(data: Uint8Array | undefined, exchange: AuthExchange): void | Promise<void>;
}
