/**
 * The client's protocol state with no I/O and no clock (sans-I/O): a
 * {@link ClientSession} takes packets and the current time and returns actions (send
 * this packet, deliver this message, settle that request, close the transport). The
 * client owns sockets, timers and promises and carries the actions out; tests drive the
 * session directly, in microseconds.
 *
 * @example Receive a QoS 2 message exactly once
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientSession } from "./mod.ts";
 *
 * const session = new ClientSession({ clientId: "sub" });
 * session.connectPacket();
 * session.handlePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * const publish = {
 *   type: "publish", topic: "t", payload: new Uint8Array([1]), qos: 2, retain: false,
 *   dup: false, packetId: 5,
 * } as const;
 * const first = session.handlePacket(publish, 1);
 * assert.deepEqual(first.map((a) => a.type), ["deliver", "send"]);
 * // the server re-sends it: acknowledged again, not delivered again
 * const again = session.handlePacket({ ...publish, dup: true }, 2);
 * assert.deepEqual(again, [{ type: "send", packet: { type: "pubrec", packetId: 5, reasonCode: 0 } }]);
 * const done = session.handlePacket({ type: "pubrel", packetId: 5, reasonCode: 0 }, 3);
 * assert.deepEqual(done, [{ type: "send", packet: { type: "pubcomp", packetId: 5, reasonCode: 0 } }]);
 * ```
 *
 * @module
 */

export * from "./actions.ts";
export * from "./client_session.ts";
export {
  AcknowledgementError,
  type AcknowledgementErrorOptions,
  ConnectionRefusedError,
  type ConnectionRefusedErrorOptions,
  KeepAliveTimeoutError,
  ServerLimitError,
  type ServerLimitErrorOptions,
} from "../errors.ts";
export * from "./keep_alive.ts";
export * from "./packet_ids.ts";
export * from "./packet_size.ts";
export * from "./server_limits.ts";
export * from "./snapshot.ts";
export * from "./topic_alias.ts";
