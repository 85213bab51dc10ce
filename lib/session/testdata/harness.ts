/**
 * Helpers for the session tests: build packets tersely and pick actions apart.
 *
 * @module
 */

import type { ConnackPacket, Packet, Properties, PublishPacket, QoS } from "../../packet/types.ts";
import type { SessionAction, SettleAction } from "../actions.ts";
import { ClientSession, type ClientSessionOptions } from "../client_session.ts";

/** Bytes from numbers. */
export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** A CONNACK accepting the connection. */
export function connack(
  sessionPresent = false,
  properties?: Properties,
  reasonCode = 0,
): ConnackPacket {
  const packet: ConnackPacket = { type: "connack", sessionPresent, reasonCode };
  if (properties) packet.properties = properties;
  return packet;
}

/** A session after CONNECT and an accepting CONNACK at `now`. */
export function connected(
  options: ClientSessionOptions = {},
  properties?: Properties,
  now = 0,
): { session: ClientSession; actions: SessionAction[] } {
  const session = new ClientSession({ clientId: "test", ...options });
  session.connectPacket();
  const actions = session.handlePacket(connack(false, properties), now);
  if (actions[0]?.type !== "connected") {
    throw new Error(`expected a connected action, got ${JSON.stringify(actions)}`);
  }
  return { session, actions: actions.slice(1) };
}

/** Reconnects: connection lost, CONNECT, CONNACK with `sessionPresent`. */
export function reconnect(
  session: ClientSession,
  sessionPresent: boolean,
  properties?: Properties,
  now = 0,
): SessionAction[] {
  session.connectionLost();
  session.connectPacket();
  return session.handlePacket(connack(sessionPresent, properties), now);
}

/** The packets of the `send` actions, in order. */
export function sent(actions: SessionAction[]): Packet[] {
  return actions.flatMap((a) => (a.type === "send" ? [a.packet] : []));
}

/** The `settle` actions, in order. */
export function settles(actions: SessionAction[]): SettleAction[] {
  return actions.flatMap((a) => (a.type === "settle" ? [a] : []));
}

/** A one-line summary of each action, for order checks: "send publish 1", "deliver a/b"... */
export function summary(actions: SessionAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "send": {
        const p = a.packet;
        if (p.type === "publish") {
          return `send publish ${p.packetId ?? "-"}${p.dup ? " dup" : ""} ${p.topic}`;
        }
        if ("packetId" in p) return `send ${p.type} ${p.packetId}`;
        return `send ${p.type}`;
      }
      case "deliver":
        return `deliver ${a.message.topic}`;
      case "settle":
        return `settle ${a.id}${a.error ? " error" : ""}`;
      case "close":
        return `close ${a.error.name}`;
      default:
        return a.type;
    }
  });
}

/** A PUBLISH from the server. */
export function serverPublish(
  packetId: number | undefined,
  qos: QoS,
  topic = "t",
  options: { dup?: boolean; properties?: Properties; payload?: Uint8Array } = {},
): PublishPacket {
  const packet: PublishPacket = {
    type: "publish",
    topic,
    payload: options.payload ?? bytes(1),
    qos,
    retain: false,
    dup: options.dup ?? false,
  };
  if (packetId !== undefined) packet.packetId = packetId;
  if (options.properties) packet.properties = options.properties;
  return packet;
}
