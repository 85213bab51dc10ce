/**
 * One client connection's protocol handling, without I/O: fed decoded packets and the
 * time, it checks them against the spec, updates the session, hands messages to the
 * broker for routing and queues the packets to send back. The transport pump
 * (transport_pump.ts) does the reading, decoding and writing around it.
 *
 * @module
 */

import type { ProtocolError } from "../lib/errors.ts";
import { ReasonCode, VALID_REASON_CODES } from "../lib/packet/reason_codes.ts";
import type {
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PacketType,
  Properties,
  ProtocolVersion,
  PubackPacket,
  PublishPacket,
  PubrecPacket,
  QoS,
  SubscribePacket,
  UnsubscribePacket,
  Will,
} from "../lib/packet/types.ts";
import { publishPacketSize } from "../lib/session/packet_size.ts";
import { OutboundTopicAliases } from "../lib/session/topic_alias.ts";
import { isValidTopicFilter, isValidTopicName, parseSharedSubscription } from "../lib/topic.ts";
import { type AuthHandler, type AuthResult, runAuthHandler } from "./enhanced_auth.ts";
import { type BrokerMessage, messageFromPublish, secondsLeft } from "./message.ts";
import type { AuthorizeRequest, ResolvedBrokerOptions } from "./options.ts";
import type { RetainedStore } from "./retained.ts";
import type { ScheduledTask, Scheduler } from "./scheduler.ts";
import {
  type Delivery,
  NEVER_EXPIRES,
  ServerSession,
  type SessionConnection,
  type SubscriptionEntry,
} from "./sessions.ts";
import type { Violation } from "./violations.ts";

/** Largest packet the MQTT wire format can carry: 1 + 4 + 268,435,455 bytes. */
const WIRE_MAXIMUM_PACKET_SIZE = 268_435_460;

/** Longest Reason String put in a DISCONNECT. */
const MAX_REASON_STRING = 200;

/** The verdict of the `authenticate` hook on a CONNECT. */
export type ConnectVerdict = boolean | number;

/**
 * The result of the authentication and authorization hooks for one packet, computed by
 * the I/O side before the packet is handed over (hooks may be asynchronous):
 * a {@link ConnectVerdict} for CONNECT, a boolean for PUBLISH, one boolean per topic
 * filter for SUBSCRIBE. Undefined means allowed.
 */
export type PacketVerdict = ConnectVerdict | boolean[] | undefined;

/**
 * What a connection needs from the broker: shared state and the routing of messages.
 * The broker implements it; tests may too.
 */
export interface BrokerContext {
  readonly options: ResolvedBrokerOptions;
  readonly scheduler: Scheduler;
  readonly retained: RetainedStore;
  /** Sessions by client id. */
  readonly sessions: Map<string, ServerSession>;
  /** Records a violation. */
  recordViolation(violation: Violation): void;
  /** Routes a message to every matching subscription; returns how many got a copy. */
  route(message: BrokerMessage, now: number): number;
  /** Applies a retained PUBLISH: stores, replaces or clears. */
  retain(message: BrokerMessage): void;
  /** Adds a subscription to the subscription tree (it is in the session already). */
  addSubscription(entry: SubscriptionEntry): void;
  /** Removes a subscription from the subscription tree. */
  removeSubscription(entry: SubscriptionEntry): void;
  /** Ends a session: removes its subscriptions and forgets it. */
  discardSession(session: ServerSession, now: number): void;
  /** A client id no session uses. */
  assignClientId(): string;
  /** The connection is open (CONNACK sent) or has closed. */
  connectionStateChanged(connection: Connection): void;
  /** Counts a message dropped on its way out. */
  countDrop(session: ServerSession | undefined): void;
  /** Counts a PUBLISH sent to a client. */
  countSent(): void;
  /** Counts a PUBLISH received from a client. */
  countReceived(): void;
  /**
   * Asks the `authorize` hook (a throw counts as a denial); absent when there is none.
   * Used for wills, which are checked when they are published.
   */
  authorize?(request: AuthorizeRequest): boolean | Promise<boolean>;
}

/** An enhanced authentication exchange in progress (MQTT 5 section 4.12). */
interface AuthExchange {
  readonly method: string;
  readonly handler: AuthHandler;
  readonly state: Record<string, unknown>;
  /** The CONNECT being authenticated; undefined for a re-authentication. */
  readonly connect: { packet: ConnectPacket; clientId: string; assigned: boolean } | undefined;
  round: number;
  /** The handler has not answered yet: the client must wait. */
  busy: boolean;
}

/** Where a connection signals that it has output to send or has closed. */
export interface ConnectionSink {
  /** Packets were queued or the connection closed: take the output soon. */
  wake(): void;
}

/** The states of a connection. */
export type ConnectionState = "awaiting-connect" | "connected" | "closed";

/** How a close treats the will. */
type WillAction = "publish" | "discard";

/**
 * One client connection's protocol state machine. Feed it with {@link receive} (and
 * {@link malformed}, {@link transportClosed}); collect what to send with
 * {@link takeOutput}; close the transport once {@link closed} is true and the output is
 * written.
 *
 * @example Connect and ping, without a socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { Broker } from "./broker.ts";
 * await using broker = new Broker();
 * const connection = broker.createConnection();
 * connection.receive({ type: "connect", protocolVersion: 4, clientId: "a", clean: true, keepalive: 0 }, 0);
 * connection.receive({ type: "pingreq" }, 0);
 * assert.deepEqual(connection.takeOutput(), [
 *   { type: "connack", sessionPresent: false, reasonCode: 0 },
 *   { type: "pingresp" },
 * ]);
 * ```
 */
export class Connection implements SessionConnection {
  #ctx: BrokerContext;
  #sink: ConnectionSink | undefined;
  #state: ConnectionState = "awaiting-connect";
  #version: ProtocolVersion = 4;
  #clientId: string | undefined = undefined;
  #username: string | undefined = undefined;
  #session: ServerSession | undefined = undefined;
  #output: Packet[] = [];
  #will: Will | undefined = undefined;
  #keepAliveMs = 0;
  #lastReceived: number;
  #timer: ScheduledTask | undefined = undefined;
  #inboundAliases: Map<number, string> | undefined = undefined;
  #outboundAliases: OutboundTopicAliases | undefined = undefined;
  #sendQuota = 65_535;
  #clientMaximumPacketSize = WIRE_MAXIMUM_PACKET_SIZE;
  #connectSessionExpiry = 0;
  /** The Authentication Method of CONNECT, once accepted (MQTT 5 enhanced authentication). */
  #authMethod: string | undefined = undefined;
  #exchange: AuthExchange | undefined = undefined;
  /** Packet ids of resumed in-flight messages not re-sent yet: the client's Receive Maximum was full. */
  #held: number[] | undefined = undefined;
  /** Bytes written to the transport and not yet accepted by it: set by the I/O side. */
  backlogBytes = 0;
  /** The peer's address, for violations. */
  readonly remoteAddress: string | undefined;

  /**
   * Use `Broker.createConnection()`; this is the low-level constructor. The CONNECT
   * timeout starts at `now`.
   */
  constructor(
    ctx: BrokerContext,
    now: number,
    options: { sink?: ConnectionSink; remoteAddress?: string } = {},
  ) {
    this.#ctx = ctx;
    this.#sink = options.sink;
    this.remoteAddress = options.remoteAddress;
    this.#lastReceived = now;
    this.#timer = ctx.scheduler.schedule(now + ctx.options.connectTimeout, (at) => {
      if (this.#state === "awaiting-connect") this.#close(at, "discard");
    });
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** True once the connection is over: write the remaining output, then close. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /**
   * The protocol level to encode output with and decode input at: 4 until a CONNECT
   * arrives, then that CONNECT's level.
   */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  /** The client id once CONNECT was accepted (the assigned one for an empty id). */
  get clientId(): string | undefined {
    return this.#clientId;
  }

  /** The user name the client connected with. */
  get username(): string | undefined {
    return this.#username;
  }

  /** The session the connection is attached to. */
  get session(): ServerSession | undefined {
    return this.#session;
  }

  /** Sets where wake-ups go (the I/O pump). */
  setSink(sink: ConnectionSink | undefined): void {
    this.#sink = sink;
  }

  /** Removes and returns the packets queued for the client, in order. */
  takeOutput(): Packet[] {
    const output = this.#output;
    if (output.length === 0) return output;
    this.#output = [];
    return output;
  }

  /**
   * The full topic a PUBLISH is for, resolving an MQTT 5 Topic Alias without changing
   * the alias map (for authorization before {@link receive}); undefined if unknown.
   */
  peekTopic(packet: PublishPacket): string | undefined {
    if (packet.topic !== "") return packet.topic;
    const alias = packet.properties?.topicAlias;
    return alias === undefined ? undefined : this.#inboundAliases?.get(alias);
  }

  /** Handles one packet from the client, received at `now`. */
  receive(packet: Packet, now: number, verdict?: PacketVerdict): void {
    if (this.#state === "closed") return;
    this.#lastReceived = now;
    if (this.#state === "awaiting-connect") {
      if (this.#exchange !== undefined) {
        this.#duringAuthentication(packet, now);
      } else if (packet.type === "connect") {
        this.#onConnect(packet, now, verdict as ConnectVerdict | undefined);
      } else {
        this.#violation(now, {
          statement: "MQTT-3.1.0-1",
          reasonCode: ReasonCode.ProtocolError,
          message: `The first packet must be CONNECT: received ${packet.type.toUpperCase()}`,
          packetType: packet.type,
        });
        this.#close(now, "discard");
      }
      return;
    }
    switch (packet.type) {
      case "publish":
        this.#onPublish(packet, now, verdict as boolean | undefined);
        break;
      case "puback":
        this.#onPuback(packet, now);
        break;
      case "pubrec":
        this.#onPubrec(packet, now);
        break;
      case "pubrel":
        this.#onPubrel(packet.packetId);
        break;
      case "pubcomp":
        this.#onPubcomp(packet.packetId, now);
        break;
      case "subscribe":
        this.#onSubscribe(packet, now, verdict as boolean[] | undefined);
        break;
      case "unsubscribe":
        this.#onUnsubscribe(packet);
        break;
      case "pingreq":
        this.#send({ type: "pingresp" });
        break;
      case "disconnect":
        this.#onDisconnect(packet, now);
        break;
      case "connect":
        this.#protocolViolation(
          now,
          "MQTT-3.1.0-2",
          ReasonCode.ProtocolError,
          "A second CONNECT on the same connection",
          "connect",
        );
        break;
      case "auth":
        this.#onAuth(packet, now);
        break;
      default:
        this.#protocolViolation(
          now,
          undefined,
          ReasonCode.ProtocolError,
          `A client must not send ${packet.type.toUpperCase()}: only servers do`,
          packet.type,
        );
    }
  }

  /**
   * The bytes from the client could not be decoded: records the violation and closes,
   * answering as the spec allows (a CONNACK for an unsupported protocol level, an MQTT 5
   * DISCONNECT with the reason code once connected). `bytes` starts at the bad packet.
   */
  malformed(error: ProtocolError, now: number, bytes?: Uint8Array): void {
    if (this.#state === "closed") return;
    const packetType = bytes !== undefined && bytes.length > 0
      ? packetTypeOf(bytes[0]!)
      : undefined;
    this.#violation(now, {
      statement: error.statement,
      reasonCode: error.reasonCode,
      message: error.message,
      ...(packetType === undefined ? {} : { packetType }),
    });
    if (this.#state === "connected") {
      this.#close(now, "publish", error.reasonCode, error.message);
      return;
    }
    // Before CONNACK there is no DISCONNECT (MQTT-3.14.0-1); a CONNACK may say why.
    const level = bytes !== undefined && packetType === "connect" ? connectLevel(bytes) : undefined;
    if (
      error.reasonCode === ReasonCode.UnsupportedProtocolVersion &&
      error.statement === "MQTT-3.1.2-2" && level !== undefined
    ) {
      // An MQTT 5 server MAY send 0x84 (MQTT-3.1.2-2, 5.0); 3.1.1 requires return code 0x01.
      this.#refuse(
        level > 5 ? 5 : 4,
        level > 5 ? ReasonCode.UnsupportedProtocolVersion : 0x01,
        now,
      );
      return;
    }
    if (level === 5 && VALID_REASON_CODES.connack!.has(error.reasonCode)) {
      this.#refuse(5, error.reasonCode, now);
      return;
    }
    this.#close(now, "discard");
  }

  /** The transport closed or failed without a DISCONNECT: an abnormal close. */
  transportClosed(now: number): void {
    if (this.#state !== "closed") this.#close(now, "publish");
  }

  /**
   * Closes the connection from the server side: MQTT 5 clients get a DISCONNECT with
   * `reasonCode` (default 0x8B Server shutting down). The will is not published.
   */
  shutdown(now: number, reasonCode: number = ReasonCode.ServerShuttingDown): void {
    if (this.#state !== "closed") this.#close(now, "discard", reasonCode);
  }

  // -------------------------------------------------------------------------------------
  // CONNECT

  #onConnect(packet: ConnectPacket, now: number, verdict: ConnectVerdict | undefined): void {
    const ctx = this.#ctx;
    const options = ctx.options;
    const v = packet.protocolVersion;
    this.#version = v;
    if (!options.protocolVersions.has(v)) {
      this.#refuse(v, v === 5 ? ReasonCode.UnsupportedProtocolVersion : 0x01, now);
      return;
    }
    let clientId = packet.clientId;
    let assigned = false;
    if (clientId === "") {
      if (v === 3) {
        this.#violation(now, {
          statement: undefined,
          reasonCode: ReasonCode.ClientIdentifierNotValid,
          message: "MQTT 3.1 requires a Client Identifier of 1 to 23 characters: it is empty",
          packetType: "connect",
        });
        this.#refuse(v, 0x02, now);
        return;
      }
      if (v === 4 && !packet.clean) {
        this.#violation(now, {
          // The server's rule (MQTT-3.1.3-8); MQTT-3.1.3-7 is the client's side of it.
          statement: "MQTT-3.1.3-8",
          reasonCode: ReasonCode.ClientIdentifierNotValid,
          message: "An empty Client Identifier requires CleanSession set to 1",
          packetType: "connect",
        });
        this.#refuse(v, 0x02, now);
        return;
      }
      clientId = ctx.assignClientId();
      assigned = true;
    } else if (v === 3 && clientId.length > 23 && options.strict) {
      this.#violation(now, {
        statement: undefined,
        reasonCode: ReasonCode.ClientIdentifierNotValid,
        message:
          `MQTT 3.1 allows Client Identifiers of at most 23 characters: it has ${clientId.length}`,
        packetType: "connect",
      });
      this.#refuse(v, 0x02, now);
      return;
    }
    const will = packet.will;
    if (will !== undefined && !isValidTopicName(will.topic)) {
      this.#violation(now, {
        statement: will.topic === ""
          ? "MQTT-4.7.3-1"
          : statementFor(v, "MQTT-4.7.0-1", "MQTT-4.7.1-1"),
        reasonCode: ReasonCode.TopicNameInvalid,
        message: `The Will Topic ${JSON.stringify(will.topic)} is not a valid topic name`,
        packetType: "connect",
      });
      if (v === 5) this.#refuse(v, ReasonCode.TopicNameInvalid, now);
      else this.#close(now, "discard"); // MQTT-3.1.4-1: close without CONNACK
      return;
    }
    const properties = packet.properties ?? {};
    if (verdict !== undefined && verdict !== true) {
      this.#refuse(v, refusalCode(v, verdict), now);
      return;
    }
    const method = v === 5 ? properties.authenticationMethod : undefined;
    if (method !== undefined) {
      const handler = Object.hasOwn(options.auth, method) ? options.auth[method] : undefined;
      if (handler === undefined) {
        // A method the broker does not offer (MQTT-4.12.0-1).
        this.#refuse(v, ReasonCode.BadAuthenticationMethod, now);
        return;
      }
      this.#exchange = {
        method,
        handler,
        state: {},
        connect: { packet, clientId, assigned },
        round: 0,
        busy: false,
      };
      this.#authStep(properties.authenticationData, now);
      return;
    }
    this.#accept(packet, clientId, assigned, now, undefined);
  }

  /**
   * Accepts a CONNECT that passed every check (and enhanced authentication, whose final
   * CONNACK properties are `auth`): takes over or creates the session, sends CONNACK and
   * resumes the session's messages.
   */
  #accept(
    packet: ConnectPacket,
    clientId: string,
    assigned: boolean,
    now: number,
    auth: Properties | undefined,
  ): void {
    const ctx = this.#ctx;
    const options = ctx.options;
    const v = packet.protocolVersion;
    const will = packet.will;
    const properties = packet.properties ?? {};

    // Session takeover (MQTT-3.1.4-3 in 5.0, MQTT-3.1.4-2 in 3.1.1).
    const existing = ctx.sessions.get(clientId);
    const current = existing?.connection;
    if (current instanceof Connection && current !== this) {
      current.#close(now, "publish", ReasonCode.SessionTakenOver);
    }
    let session = ctx.sessions.get(clientId);
    // A new connection before the Will Delay Interval passed cancels the will (MQTT-3.1.3-9).
    session?.takePendingWill();
    if (session !== undefined && packet.clean) {
      ctx.discardSession(session, now); // MQTT-3.1.2-4 (5.0), MQTT-3.1.2-6 (3.1.1)
      session = undefined;
    }
    const sessionPresent = session !== undefined;
    if (session === undefined) {
      session = new ServerSession(clientId, options.maxQueuedMessages);
      ctx.sessions.set(clientId, session);
    }
    session.expiryTask?.cancel();
    session.expiryTask = undefined;
    session.connection = this;
    let expiry: number;
    if (v === 5) expiry = properties.sessionExpiryInterval ?? 0;
    else expiry = packet.clean ? 0 : NEVER_EXPIRES;
    const grantedExpiry = Math.min(expiry, options.maxSessionExpiryInterval);
    session.expiryInterval = grantedExpiry;
    this.#connectSessionExpiry = expiry; // what the client asked for, for DISCONNECT's check

    let keepAlive = packet.keepalive;
    let serverKeepAlive: number | undefined;
    const maxKeepAlive = options.maxKeepAlive;
    if (v === 5 && maxKeepAlive !== undefined && (keepAlive === 0 || keepAlive > maxKeepAlive)) {
      keepAlive = maxKeepAlive; // MQTT-3.2.2-21
      serverKeepAlive = maxKeepAlive;
    }
    this.#keepAliveMs = keepAlive * 1000;

    this.#sendQuota = options.maxInflightMessages;
    if (v === 5) {
      this.#sendQuota = Math.min(this.#sendQuota, properties.receiveMaximum ?? 65_535);
      this.#clientMaximumPacketSize = properties.maximumPacketSize ?? WIRE_MAXIMUM_PACKET_SIZE;
      const aliasMaximum = properties.topicAliasMaximum ?? 0;
      if (aliasMaximum > 0) this.#outboundAliases = new OutboundTopicAliases(aliasMaximum);
      if (options.topicAliasMaximum > 0) this.#inboundAliases = new Map();
    }

    const connack: ConnackPacket = { type: "connack", sessionPresent, reasonCode: 0 };
    if (v === 5) {
      const ack: Properties = {};
      if (assigned) ack.assignedClientIdentifier = clientId; // MQTT-3.2.2-16
      if (serverKeepAlive !== undefined) ack.serverKeepAlive = serverKeepAlive;
      if (grantedExpiry !== expiry) ack.sessionExpiryInterval = grantedExpiry;
      if (options.receiveMaximum !== 65_535) ack.receiveMaximum = options.receiveMaximum;
      if (options.topicAliasMaximum > 0) ack.topicAliasMaximum = options.topicAliasMaximum;
      if (options.maximumPacketSize < WIRE_MAXIMUM_PACKET_SIZE) {
        ack.maximumPacketSize = options.maximumPacketSize;
      }
      if (properties.requestResponseInformation === 1 && options.responseInformation !== "") {
        ack.responseInformation = `${options.responseInformation}${clientId}`;
      }
      if (auth !== undefined) {
        Object.assign(ack, auth); // the same method (MQTT-4.12.0-5)
        this.#authMethod = auth.authenticationMethod;
      }
      if (Object.keys(ack).length > 0) connack.properties = ack;
    }
    this.#clientId = clientId;
    this.#username = packet.username;
    this.#session = session;
    this.#will = will;
    this.#state = "connected";
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armKeepAlive();
    this.#send(connack);
    ctx.connectionStateChanged(this);

    // Resume: re-send unacknowledged PUBLISH (with DUP) and PUBREL packets in their
    // original order (MQTT-4.4.0-1), then whatever waited in the queue.
    // PUBLISH packets beyond the client's (perhaps lowered) Receive Maximum wait for
    // acknowledgements (MQTT-3.3.4-9); PUBRELs concern messages it holds already.
    if (sessionPresent) {
      let budget = this.#sendQuota;
      for (const flight of session.outbound.values()) {
        if (flight.stage === "pubrel") {
          budget--;
          this.#send(this.#ack("pubrel", flight.packetId, 0));
          continue;
        }
        if (budget <= 0) {
          (this.#held ??= []).push(flight.packetId);
          continue;
        }
        budget--;
        const publish = this.#publishPacket(flight.delivery, flight.packetId, true, now);
        if (publish === undefined) {
          session.outbound.delete(flight.packetId);
          session.packetIds.release(flight.packetId);
          ctx.countDrop(session);
        } else {
          this.#send(publish);
          ctx.countSent();
        }
      }
    }
    this.#drain(now);
  }

  // -------------------------------------------------------------------------------------
  // Enhanced authentication (MQTT 5 section 4.12)

  /** A packet while CONNECT's authentication exchange runs: only AUTH or DISCONNECT. */
  #duringAuthentication(packet: Packet, now: number): void {
    if (packet.type === "auth") this.#onAuth(packet, now);
    else if (packet.type === "disconnect") this.#close(now, "discard");
    else {
      this.#authViolation(
        now,
        "MQTT-3.1.2-30",
        `${packet.type.toUpperCase()} before CONNACK while authenticating: only AUTH or DISCONNECT may be sent`,
      );
    }
  }

  /** AUTH from the client: the next round of an exchange, or a re-authentication. */
  #onAuth(packet: AuthPacket, now: number): void {
    const code = packet.reasonCode ?? 0;
    const method = packet.properties?.authenticationMethod;
    const exchange = this.#exchange;
    const expected = exchange?.method ?? this.#authMethod;
    if (expected === undefined) {
      return this.#authViolation(
        now,
        "MQTT-4.12.0-7",
        "AUTH without an Authentication Method in CONNECT",
      );
    }
    if (method !== expected) {
      return this.#authViolation(
        now,
        "MQTT-4.12.0-5",
        `AUTH names the Authentication Method ${JSON.stringify(method ?? null)}, not ${
          JSON.stringify(expected)
        } of CONNECT`,
      );
    }
    const data = packet.properties?.authenticationData;
    if (exchange === undefined && this.#state === "connected") {
      if (code !== ReasonCode.ReAuthenticate) {
        return this.#authViolation(
          now,
          "MQTT-4.12.1-1",
          `AUTH with reason code 0x${
            hex(code)
          } outside an exchange: re-authentication starts with 0x19`,
        );
      }
      const handler = this.#ctx.options.auth[expected];
      if (handler === undefined) {
        return this.#close(now, "publish", ReasonCode.BadAuthenticationMethod);
      }
      this.#exchange = {
        method: expected,
        handler,
        state: {},
        connect: undefined,
        round: 0,
        busy: false,
      };
      this.#authStep(data, now);
      return;
    }
    if (exchange === undefined || exchange.busy) {
      return this.#authViolation(
        now,
        undefined,
        "AUTH before the server answered the previous one",
      );
    }
    if (code !== ReasonCode.ContinueAuthentication) {
      return this.#authViolation(
        now,
        "MQTT-4.12.0-3",
        `AUTH answering the server's challenge has reason code 0x${
          hex(code)
        }: it must be 0x18 Continue authentication`,
      );
    }
    this.#authStep(data, now);
  }

  /** Asks the method's handler about `data`; its answer is acted on when it comes. */
  #authStep(data: Uint8Array | undefined, now: number): void {
    const exchange = this.#exchange!;
    exchange.round++;
    const connect = exchange.connect;
    const clientId = connect?.packet.clientId ?? this.#clientId ?? "";
    const username = connect === undefined ? this.#username : connect.packet.username;
    const result = runAuthHandler(exchange.handler, data, {
      method: exchange.method,
      clientId,
      protocolVersion: 5,
      ...(username === undefined ? {} : { username }),
      ...(this.remoteAddress === undefined ? {} : { remoteAddress: this.remoteAddress }),
      round: exchange.round,
      reauthenticate: connect === undefined,
      state: exchange.state,
    });
    if (!(result instanceof Promise)) {
      this.#authAnswer(exchange, result, now);
      return;
    }
    exchange.busy = true;
    void result.then((answer) => {
      exchange.busy = false;
      this.#authAnswer(exchange, answer, this.#ctx.scheduler.clock.now());
    });
  }

  #authAnswer(exchange: AuthExchange, result: AuthResult, now: number): void {
    if (this.#exchange !== exchange || this.#state === "closed") return;
    const properties = (data: Uint8Array | undefined): Properties =>
      data === undefined
        ? { authenticationMethod: exchange.method }
        : { authenticationMethod: exchange.method, authenticationData: data };
    const connect = exchange.connect;
    switch (result.action) {
      case "continue": // MQTT-4.12.0-2
        this.#send({
          type: "auth",
          reasonCode: ReasonCode.ContinueAuthentication,
          properties: properties(result.data),
        });
        return;
      case "success":
        this.#exchange = undefined;
        if (connect !== undefined) {
          this.#accept(
            connect.packet,
            connect.clientId,
            connect.assigned,
            now,
            properties(result.data),
          );
        } else {
          this.#send({ type: "auth", reasonCode: 0, properties: properties(result.data) });
        }
        return;
      case "failure": {
        this.#exchange = undefined;
        const code = result.reasonCode ?? ReasonCode.NotAuthorized;
        const packet = connect !== undefined ? "connack" : "disconnect";
        const valid = VALID_REASON_CODES[packet]!.has(code) ? code : ReasonCode.NotAuthorized;
        // MQTT-4.12.0-4 (CONNACK and close); MQTT-4.12.1-2 (DISCONNECT and close).
        if (connect !== undefined) this.#refuse(5, valid, now);
        else this.#close(now, "publish", valid, result.reason);
        return;
      }
    }
  }

  /** Records a broken exchange and ends it: CONNACK 0x82 before CONNACK, else DISCONNECT. */
  #authViolation(now: number, statement: string | undefined, message: string): void {
    if (this.#state === "connected") {
      this.#exchange = undefined;
      return this.#protocolViolation(now, statement, ReasonCode.ProtocolError, message, "auth");
    }
    this.#violation(now, {
      statement,
      reasonCode: ReasonCode.ProtocolError,
      message,
      packetType: "auth",
    });
    this.#exchange = undefined;
    this.#refuse(5, ReasonCode.ProtocolError, now);
  }

  /**
   * Re-sends resumed in-flight messages held back by the client's Receive Maximum, as
   * acknowledgements make room. True once none is held.
   */
  #resendHeld(session: ServerSession, now: number): boolean {
    const outbound = session.outbound;
    const held = this.#held!.filter((packetId) => outbound.has(packetId));
    while (held.length > 0 && outbound.size - held.length < this.#sendQuota) {
      const flight = outbound.get(held.shift()!)!;
      const publish = this.#publishPacket(flight.delivery, flight.packetId, true, now);
      if (publish === undefined) {
        outbound.delete(flight.packetId);
        session.packetIds.release(flight.packetId);
        this.#ctx.countDrop(session);
      } else {
        this.#send(publish);
        this.#ctx.countSent();
      }
    }
    this.#held = held.length === 0 ? undefined : held;
    return held.length === 0;
  }

  /** Sends a refusing CONNACK (in the format of `version`) and closes. */
  #refuse(version: ProtocolVersion, code: number, now: number): void {
    this.#version = version;
    this.#send({ type: "connack", sessionPresent: false, reasonCode: code }); // MQTT-3.2.2-6 (3.2.2-4 in 3.1.1)
    this.#close(now, "discard");
  }

  // -------------------------------------------------------------------------------------
  // PUBLISH from the client

  #onPublish(packet: PublishPacket, now: number, allowed: boolean | undefined): void {
    const ctx = this.#ctx;
    const session = this.#session!;
    const v = this.#version;
    let topic = packet.topic;
    const properties = packet.properties;
    if (v === 5 && properties !== undefined) {
      const alias = properties.topicAlias;
      if (alias !== undefined) {
        if (alias === 0) {
          // A Protocol Error, as the codec reports it (0x94 is for aliases over the maximum).
          return this.#protocolViolation(
            now,
            "MQTT-3.3.2-8",
            ReasonCode.ProtocolError,
            "PUBLISH has Topic Alias 0",
            "publish",
          );
        }
        if (this.#inboundAliases === undefined || alias > ctx.options.topicAliasMaximum) {
          return this.#protocolViolation(
            now,
            "MQTT-3.3.2-9",
            ReasonCode.TopicAliasInvalid,
            `PUBLISH has Topic Alias ${alias}, above the Topic Alias Maximum ${ctx.options.topicAliasMaximum} in CONNACK`,
            "publish",
          );
        }
        if (topic === "") {
          const known = this.#inboundAliases.get(alias);
          if (known === undefined) {
            // MQTT 5.0 section 3.3.4 makes this a Protocol Error without numbering the rule.
            return this.#protocolViolation(
              now,
              undefined,
              ReasonCode.ProtocolError,
              `PUBLISH has an empty Topic Name and Topic Alias ${alias}, which names no topic yet`,
              "publish",
            );
          }
          topic = known;
        } else {
          this.#inboundAliases.set(alias, topic);
        }
      }
      if (properties.subscriptionIdentifiers !== undefined) {
        return this.#protocolViolation(
          now,
          "MQTT-3.3.4-6",
          ReasonCode.ProtocolError,
          "A PUBLISH from a client must not carry a Subscription Identifier",
          "publish",
        );
      }
      if (properties.responseTopic !== undefined && !isValidTopicName(properties.responseTopic)) {
        return this.#protocolViolation(
          now,
          "MQTT-3.3.2-14",
          ReasonCode.ProtocolError,
          `The Response Topic ${
            JSON.stringify(properties.responseTopic)
          } is not a valid topic name`,
          "publish",
        );
      }
    }
    if (topic === "") {
      return this.#protocolViolation(
        now,
        "MQTT-4.7.3-1",
        ReasonCode.ProtocolError,
        "PUBLISH has an empty Topic Name and no Topic Alias",
        "publish",
      );
    }
    const qos = packet.qos;
    const packetId = packet.packetId!;
    if (qos === 2 && session.incomingQos2.has(packetId)) {
      if (!packet.dup) {
        this.#violation(now, {
          statement: statementFor(v, "MQTT-2.2.1-3", "MQTT-2.3.1-2"),
          reasonCode: ReasonCode.PacketIdentifierInUse,
          message:
            `PUBLISH reuses Packet Identifier ${packetId} while its QoS 2 exchange is not complete (no PUBREL yet) and DUP is 0`,
          packetType: "publish",
        });
        if (ctx.options.strict) {
          this.#close(
            now,
            "publish",
            ReasonCode.ProtocolError,
            `Packet Identifier ${packetId} is in use`,
          );
          return;
        }
      }
      // A re-sent QoS 2 PUBLISH is acknowledged again, not delivered again (MQTT-4.3.3-10).
      this.#send(this.#ack("pubrec", packetId, 0));
      return;
    }
    if (qos === 2 && v === 5 && session.incomingQos2.size >= ctx.options.receiveMaximum) {
      return this.#protocolViolation(
        now,
        "MQTT-3.3.4-7",
        ReasonCode.ReceiveMaximumExceeded,
        `More than Receive Maximum (${ctx.options.receiveMaximum}) QoS 2 messages unacknowledged`,
        "publish",
      );
    }
    if (
      ctx.options.strict && v === 5 && properties?.payloadFormatIndicator === 1 &&
      !isUtf8(packet.payload)
    ) {
      this.#violation(now, {
        statement: undefined,
        reasonCode: ReasonCode.PayloadFormatInvalid,
        message: "PUBLISH says its payload is UTF-8 (Payload Format Indicator 1) but it is not",
        packetType: "publish",
      });
      this.#close(
        now,
        "publish",
        ReasonCode.PayloadFormatInvalid,
        "The payload is not valid UTF-8",
      );
      return;
    }
    ctx.countReceived();
    if (allowed === false) {
      // MQTT 5 says why; 3.1.1 acknowledges positively and drops (MQTT-3.3.5-2).
      const code = v === 5 ? ReasonCode.NotAuthorized : 0;
      if (qos === 1) this.#send(this.#ack("puback", packetId, code));
      else if (qos === 2) {
        if (code === 0) session.incomingQos2.add(packetId);
        this.#send(this.#ack("pubrec", packetId, code));
      }
      return;
    }
    const message = messageFromPublish(packet, topic, this.#clientId, now);
    if (packet.retain) ctx.retain(message);
    const receivers = ctx.route(message, now);
    const code = receivers === 0 ? ReasonCode.NoMatchingSubscribers : 0;
    if (qos === 1) this.#send(this.#ack("puback", packetId, code));
    else if (qos === 2) {
      session.incomingQos2.add(packetId);
      this.#send(this.#ack("pubrec", packetId, code));
    }
  }

  #onPubrel(packetId: number): void {
    const session = this.#session!;
    if (session.incomingQos2.delete(packetId)) {
      this.#send(this.#ack("pubcomp", packetId, 0));
    } else {
      // Not an error: a PUBREL re-sent after the PUBCOMP was lost.
      this.#send(this.#ack("pubcomp", packetId, ReasonCode.PacketIdentifierNotFound));
    }
  }

  // -------------------------------------------------------------------------------------
  // Acknowledgements of messages the broker sent

  #onPuback(packet: PubackPacket, now: number): void {
    const session = this.#session!;
    const flight = session.outbound.get(packet.packetId);
    if (flight === undefined || flight.delivery.qos !== 1) {
      this.#unknownAck(packet.packetId, "puback", now);
      return;
    }
    this.#complete(flight.packetId, now);
  }

  #onPubrec(packet: PubrecPacket, now: number): void {
    const session = this.#session!;
    const flight = session.outbound.get(packet.packetId);
    if (flight === undefined || flight.delivery.qos !== 2) {
      if (this.#unknownAck(packet.packetId, "pubrec", now)) {
        this.#send(this.#ack("pubrel", packet.packetId, ReasonCode.PacketIdentifierNotFound));
      }
      return;
    }
    if ((packet.reasonCode ?? 0) >= 0x80) {
      this.#complete(flight.packetId, now); // MQTT-4.4.0-2: treated as acknowledged
      return;
    }
    flight.stage = "pubrel";
    this.#send(this.#ack("pubrel", flight.packetId, 0));
  }

  #onPubcomp(packetId: number, now: number): void {
    const session = this.#session!;
    const flight = session.outbound.get(packetId);
    if (flight === undefined || flight.stage !== "pubrel") {
      this.#unknownAck(packetId, "pubcomp", now);
      return;
    }
    this.#complete(packetId, now);
  }

  /**
   * Records an acknowledgement for a packet id not in flight. Returns true when the
   * connection stays open (lenient mode), false when strict mode closed it.
   */
  #unknownAck(packetId: number, type: "puback" | "pubrec" | "pubcomp", now: number): boolean {
    const message = `${type.toUpperCase()} for Packet Identifier ${packetId}, which has no ${
      type === "pubcomp" ? "PUBREL" : "PUBLISH"
    } in flight`;
    this.#violation(now, {
      statement: statementFor(this.#version, "MQTT-2.2.1-5", "MQTT-2.3.1-6"),
      // The code strict mode sends with its DISCONNECT (0x92 belongs to PUBREL/PUBCOMP only).
      reasonCode: ReasonCode.ProtocolError,
      message,
      packetType: type,
    });
    if (!this.#ctx.options.strict) return true;
    this.#close(now, "publish", ReasonCode.ProtocolError, message);
    return false;
  }

  #complete(packetId: number, now: number): void {
    const session = this.#session!;
    session.outbound.delete(packetId);
    session.packetIds.release(packetId);
    this.#drain(now);
  }

  // -------------------------------------------------------------------------------------
  // SUBSCRIBE and UNSUBSCRIBE

  #onSubscribe(packet: SubscribePacket, now: number, verdicts: boolean[] | undefined): void {
    const ctx = this.#ctx;
    const session = this.#session!;
    const v = this.#version;
    const identifier = v === 5 ? packet.properties?.subscriptionIdentifiers?.[0] : undefined;
    const reasonCodes: number[] = [];
    const retained: Array<[SubscriptionEntry, BrokerMessage[]]> = [];
    for (const [index, subscription] of packet.subscriptions.entries()) {
      const filter = subscription.topicFilter;
      let matchFilter = filter;
      let group: string | undefined;
      let problem: [statement: string, message: string] | undefined;
      if (!isValidTopicFilter(filter)) {
        problem = [
          filterStatement(v, filter),
          `${JSON.stringify(filter)} is not a valid Topic Filter`,
        ];
      } else {
        try {
          const shared = parseSharedSubscription(filter);
          if (shared !== undefined) {
            group = shared.group;
            matchFilter = shared.filter;
          }
        } catch (error) {
          problem = [
            filter.length === "$share/".length || filter.startsWith("$share//")
              ? "MQTT-4.8.2-1"
              : "MQTT-4.8.2-2",
            (error as Error).message,
          ];
        }
      }
      if (problem !== undefined) {
        this.#violation(now, {
          statement: problem[0],
          reasonCode: ReasonCode.TopicFilterInvalid,
          message: problem[1],
          packetType: "subscribe",
        });
        if (ctx.options.strict) {
          this.#close(now, "publish", ReasonCode.TopicFilterInvalid, problem[1]);
          return;
        }
        reasonCodes.push(v === 5 ? ReasonCode.TopicFilterInvalid : 0x80);
        continue;
      }
      if (group !== undefined && subscription.noLocal) {
        return this.#protocolViolation(
          now,
          "MQTT-3.8.3-4",
          ReasonCode.ProtocolError,
          `No Local is set on the shared subscription ${JSON.stringify(filter)}`,
          "subscribe",
        );
      }
      if (verdicts?.[index] === false) {
        reasonCodes.push(v === 5 ? ReasonCode.NotAuthorized : 0x80);
        continue;
      }
      const qos = Math.min(subscription.qos, ctx.options.maximumQoS) as QoS;
      const existed = session.subscriptions.get(filter);
      const entry: SubscriptionEntry = {
        clientId: session.clientId,
        filter,
        matchFilter,
        ...(group === undefined ? {} : { group }),
        qos,
        noLocal: subscription.noLocal ?? false,
        retainAsPublished: subscription.retainAsPublished ?? false,
        retainHandling: subscription.retainHandling ?? 0,
        ...(identifier === undefined ? {} : { identifier }),
      };
      // An identical filter replaces the subscription (MQTT-3.8.4-3).
      if (existed !== undefined) ctx.removeSubscription(existed);
      session.subscriptions.set(filter, entry);
      ctx.addSubscription(entry);
      reasonCodes.push(qos);
      // Retained messages: not for shared subscriptions; per Retain Handling
      // (MQTT-3.3.1-9 to -11); 3.1.1 always (MQTT-3.3.1-6, MQTT-3.8.4-3).
      if (group === undefined) {
        const handling = entry.retainHandling;
        if (handling === 0 || (handling === 1 && existed === undefined)) {
          retained.push([entry, ctx.retained.match(matchFilter, now)]);
        }
      }
    }
    this.#send({ type: "suback", packetId: packet.packetId, reasonCodes });
    for (const [entry, messages] of retained) {
      for (const message of messages) {
        if (entry.noLocal && message.sender === session.clientId) continue;
        this.deliver({
          message,
          qos: Math.min(message.qos, entry.qos) as QoS,
          retain: true, // MQTT-3.3.1-8 (3.1.1)
          ...(entry.identifier === undefined ? {} : { subscriptionIds: [entry.identifier] }),
        }, now);
      }
    }
  }

  #onUnsubscribe(packet: UnsubscribePacket): void {
    const session = this.#session!;
    const reasonCodes: number[] = [];
    for (const filter of packet.topicFilters) {
      const entry = session.subscriptions.get(filter); // compared exactly (MQTT-3.10.4-1)
      if (entry === undefined) {
        reasonCodes.push(ReasonCode.NoSubscriptionExisted);
        continue;
      }
      session.subscriptions.delete(filter);
      this.#ctx.removeSubscription(entry);
      reasonCodes.push(0);
    }
    this.#send(
      this.#version === 5
        ? { type: "unsuback", packetId: packet.packetId, reasonCodes }
        : { type: "unsuback", packetId: packet.packetId },
    );
  }

  // -------------------------------------------------------------------------------------
  // DISCONNECT

  #onDisconnect(packet: DisconnectPacket, now: number): void {
    const session = this.#session!;
    if (this.#version === 5) {
      const expiry = packet.properties?.sessionExpiryInterval;
      if (expiry !== undefined) {
        if (this.#connectSessionExpiry === 0 && expiry !== 0) {
          return this.#protocolViolation(
            now,
            undefined,
            ReasonCode.ProtocolError,
            "DISCONNECT sets a non-zero Session Expiry Interval after CONNECT set 0",
            "disconnect",
          );
        }
        session.expiryInterval = Math.min(expiry, this.#ctx.options.maxSessionExpiryInterval);
      }
      // 0x04 asks for the will; any other code discards it (MQTT-3.14.4-3).
      this.#close(
        now,
        packet.reasonCode === ReasonCode.DisconnectWithWillMessage ? "publish" : "discard",
      );
      return;
    }
    this.#close(now, "discard"); // the will is discarded too (MQTT-3.14.4-3 in 3.1.1)
  }

  // -------------------------------------------------------------------------------------
  // Sending messages to the client

  /**
   * Sends `delivery` to the client now (QoS 0), or queues it and sends as many queued
   * QoS 1 and 2 messages as the client's Receive Maximum allows (MQTT-3.3.4-9).
   */
  deliver(delivery: Delivery, now: number): void {
    const session = this.#session;
    if (session === undefined || this.#state !== "connected") return;
    if (delivery.qos === 0) {
      if (this.backlogBytes > this.#ctx.options.maxBufferedBytes) {
        this.#ctx.countDrop(session); // a slow reader: QoS 0 is dropped, not buffered
        return;
      }
      this.#sendPublish(delivery, undefined, now);
      return;
    }
    if (!session.queue.push(delivery)) {
      this.#ctx.countDrop(session);
      return;
    }
    this.#drain(now);
  }

  /** Moves queued deliveries out while the send quota allows. */
  #drain(now: number): void {
    const session = this.#session;
    if (session === undefined || this.#state !== "connected") return;
    if (this.#held !== undefined && !this.#resendHeld(session, now)) return;
    const queue = session.queue;
    for (let next = queue.peek(); next !== undefined; next = queue.peek()) {
      if (next.qos > 0 && session.outbound.size >= this.#sendQuota) return;
      queue.shift();
      if (next.qos === 0) {
        this.#sendPublish(next, undefined, now);
        continue;
      }
      const packetId = session.packetIds.allocate()!;
      if (this.#sendPublish(next, packetId, now)) {
        session.outbound.set(packetId, { packetId, delivery: next, stage: "publish" });
      } else {
        session.packetIds.release(packetId);
      }
    }
  }

  /** Sends one PUBLISH; false when it was dropped (expired, or too large for the client). */
  #sendPublish(delivery: Delivery, packetId: number | undefined, now: number): boolean {
    const packet = this.#publishPacket(delivery, packetId, false, now);
    if (packet === undefined) {
      this.#ctx.countDrop(this.#session);
      return false;
    }
    this.#send(packet);
    this.#ctx.countSent();
    return true;
  }

  /**
   * The PUBLISH for `delivery`, or undefined when it must not be sent: expired
   * (MQTT-3.3.2-5; a re-send is exempt, MQTT-4.3.3-7) or larger than the client's
   * Maximum Packet Size (MQTT-3.1.2-24, MQTT-3.1.2-25).
   */
  #publishPacket(
    delivery: Delivery,
    packetId: number | undefined,
    dup: boolean,
    now: number,
  ): PublishPacket | undefined {
    const message = delivery.message;
    const left = secondsLeft(message, now);
    if (left === 0 && !dup) return undefined;
    const packet: PublishPacket = {
      type: "publish",
      topic: message.topic,
      payload: message.payload,
      qos: delivery.qos,
      retain: delivery.retain,
      dup,
    };
    if (packetId !== undefined) packet.packetId = packetId;
    if (this.#version === 5) {
      const ids = delivery.subscriptionIds;
      if (left !== undefined || (ids !== undefined && ids.length > 0)) {
        const properties: Properties = { ...message.properties };
        // The remaining lifetime (MQTT-3.3.2-6); every matching identifier (MQTT-3.3.4-3).
        if (left !== undefined) properties.messageExpiryInterval = Math.max(left, 1);
        if (ids !== undefined && ids.length > 0) properties.subscriptionIdentifiers = [...ids];
        packet.properties = properties;
      } else if (message.properties !== undefined) {
        packet.properties = message.properties;
      }
      if (publishPacketSize(packet, 5) > this.#clientMaximumPacketSize) return undefined;
      const aliases = this.#outboundAliases;
      if (aliases !== undefined) {
        const assignment = aliases.assign(message.topic)!;
        packet.properties = { ...packet.properties, topicAlias: assignment.alias };
        if (!assignment.withTopic) packet.topic = "";
      }
    }
    return packet;
  }

  // -------------------------------------------------------------------------------------
  // Keep alive, violations, closing

  #armKeepAlive(): void {
    if (this.#keepAliveMs === 0) return;
    const deadline = this.#lastReceived + this.#keepAliveMs * 1.5;
    this.#timer = this.#ctx.scheduler.schedule(deadline, (now) => this.#checkKeepAlive(now));
  }

  #checkKeepAlive(now: number): void {
    this.#timer = undefined;
    if (this.#state !== "connected") return;
    const deadline = this.#lastReceived + this.#keepAliveMs * 1.5;
    if (now >= deadline) {
      // MQTT-3.1.2-22 (5.0) / MQTT-3.1.2-24 (3.1.1): closed as if the network failed.
      this.#close(now, "publish", ReasonCode.KeepAliveTimeout);
      return;
    }
    this.#armKeepAlive();
  }

  #violation(now: number, details: Omit<Violation, "clientId" | "at" | "remoteAddress">): void {
    const violation: Violation = { clientId: this.#clientId, ...details, at: now };
    if (this.remoteAddress !== undefined) violation.remoteAddress = this.remoteAddress;
    this.#ctx.recordViolation(violation);
  }

  /** Records a violation the spec answers by closing the connection, and closes it. */
  #protocolViolation(
    now: number,
    statement: string | undefined,
    reasonCode: number,
    message: string,
    packetType: PacketType,
  ): void {
    this.#violation(now, { statement, reasonCode, message, packetType });
    this.#close(now, "publish", reasonCode, message);
  }

  #ack<T extends "puback" | "pubrec" | "pubrel" | "pubcomp">(
    type: T,
    packetId: number,
    reasonCode: number,
  ): { type: T; packetId: number; reasonCode?: number } {
    return this.#version === 5 ? { type, packetId, reasonCode } : { type, packetId };
  }

  #send(packet: Packet): void {
    this.#output.push(packet);
    this.#sink?.wake();
  }

  /**
   * Ends the connection: an MQTT 5 client that got a successful CONNACK first gets a
   * DISCONNECT with `reasonCode` when one is given; the will is published (now, or after
   * its delay) or discarded; the session goes offline, to expire or end.
   */
  #close(now: number, will: WillAction, reasonCode?: number, reason?: string): void {
    if (this.#state === "closed") return;
    const wasConnected = this.#state === "connected";
    this.#state = "closed";
    this.#timer?.cancel();
    this.#timer = undefined;
    if (wasConnected && this.#version === 5 && reasonCode !== undefined) {
      this.#send(this.#disconnectPacket(reasonCode, reason));
    }
    const session = this.#session;
    const ctx = this.#ctx;
    if (session !== undefined && session.connection === this) {
      session.connection = undefined;
      const pendingWill = will === "publish" ? this.#will : undefined;
      this.#will = undefined;
      const delay = pendingWill?.properties?.willDelayInterval ?? 0;
      if (session.expiryInterval === 0) {
        if (pendingWill !== undefined) this.#publishWill(pendingWill, session.clientId, now);
        ctx.discardSession(session, now);
      } else {
        if (pendingWill !== undefined) {
          if (delay === 0 || this.#version !== 5) {
            this.#publishWill(pendingWill, session.clientId, now);
          } else {
            // Published after the delay or when the session ends, whichever comes first
            // (MQTT-3.1.2-8), unless the client reconnects in time (MQTT-3.1.3-9).
            const wait = Math.min(delay, session.expiryInterval) * 1000;
            const task = ctx.scheduler.schedule(now + wait, (at) => {
              session.pendingWill = undefined;
              this.#publishWill(pendingWill, session.clientId, at);
            });
            session.pendingWill = { will: pendingWill, task };
          }
        }
        if (session.expiryInterval !== NEVER_EXPIRES) {
          session.expiryTask = ctx.scheduler.schedule(
            now + session.expiryInterval * 1000,
            (at) => {
              if (
                session.connection === undefined && ctx.sessions.get(session.clientId) === session
              ) {
                ctx.discardSession(session, at); // MQTT-4.1.0-2
              }
            },
          );
        }
      }
    }
    this.#sink?.wake();
    ctx.connectionStateChanged(this);
  }

  /** Publishes a will the `authorize` hook allows (asked when it is published). */
  #publishWill(will: Will, clientId: string, now: number): void {
    const authorize = this.#ctx.authorize;
    if (authorize === undefined) return this.#routeWill(will, clientId, now);
    const username = this.#username;
    const allowed = authorize(
      username === undefined
        ? { action: "publish", clientId, topic: will.topic }
        : { action: "publish", clientId, username, topic: will.topic },
    );
    if (allowed === true) this.#routeWill(will, clientId, now);
    else if (allowed instanceof Promise) {
      void allowed.then((ok) => {
        if (ok === true) this.#routeWill(will, clientId, this.#ctx.scheduler.clock.now());
      });
    }
  }

  #routeWill(will: Will, clientId: string, now: number): void {
    const message = messageFromPublish(
      {
        type: "publish",
        topic: will.topic,
        payload: will.payload,
        qos: will.qos,
        retain: will.retain, // MQTT-3.1.2-14, -15 (MQTT-3.1.2-16, -17 in 3.1.1)
        dup: false,
        ...(will.properties === undefined
          ? {}
          : { properties: willMessageProperties(will.properties) }),
      },
      will.topic,
      clientId,
      now,
    );
    if (will.retain) this.#ctx.retain(message);
    this.#ctx.route(message, now);
  }

  #disconnectPacket(reasonCode: number, reason: string | undefined): DisconnectPacket {
    const code = VALID_REASON_CODES.disconnect!.has(reasonCode)
      ? reasonCode
      : reasonCode === ReasonCode.MalformedPacket
      ? ReasonCode.MalformedPacket
      : ReasonCode.ProtocolError;
    const packet: DisconnectPacket = { type: "disconnect", reasonCode: code };
    if (reason !== undefined) {
      const text = reason.length > MAX_REASON_STRING
        ? `${reason.slice(0, MAX_REASON_STRING - 3)}...`
        : reason;
      // Fixed header (2) + reason code (1) + property length (1) + property (3 + text).
      if (2 + 1 + 1 + 3 + text.length * 3 <= this.#clientMaximumPacketSize) {
        packet.properties = { reasonString: text };
      }
    }
    return packet;
  }
}

/** Two hexadecimal digits. */
function hex(code: number): string {
  return code.toString(16).padStart(2, "0");
}

/** The PUBLISH properties of a will: its will properties minus Will Delay Interval. */
function willMessageProperties(properties: Properties): Properties {
  const { willDelayInterval: _delay, ...rest } = properties;
  return rest;
}

/** The statement id of a rule that MQTT 5.0 and 3.1.1 number differently. */
function statementFor(version: ProtocolVersion, v5: string, v311: string): string {
  return version === 5 ? v5 : v311;
}

/** The statement an invalid topic filter breaks. */
function filterStatement(version: ProtocolVersion, filter: string): string {
  if (filter === "") return "MQTT-4.7.3-1";
  if (filter.includes("\u0000")) return "MQTT-4.7.3-2";
  const hash = filter.indexOf("#");
  if (hash !== -1 && (hash !== filter.length - 1 || (hash > 0 && filter[hash - 1] !== "/"))) {
    return statementFor(version, "MQTT-4.7.1-1", "MQTT-4.7.1-2");
  }
  if (filter.includes("+")) return statementFor(version, "MQTT-4.7.1-2", "MQTT-4.7.1-3");
  return "MQTT-4.7.3-3";
}

/** The CONNACK code for a refusal by the `authenticate` hook. */
function refusalCode(version: ProtocolVersion, verdict: false | number): number {
  if (version === 5) return verdict === false ? ReasonCode.BadUserNameOrPassword : verdict;
  if (verdict === false) return 0x04;
  switch (verdict) {
    case ReasonCode.ClientIdentifierNotValid:
      return 0x02;
    case ReasonCode.ServerUnavailable:
    case ReasonCode.ServerBusy:
      return 0x03;
    case ReasonCode.BadUserNameOrPassword:
      return 0x04;
    default:
      return verdict >= 1 && verdict <= 5 ? verdict : 0x05;
  }
}

const PACKET_TYPES: readonly (PacketType | undefined)[] = [
  undefined,
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
];

/** The packet type named by a fixed header's first byte. */
function packetTypeOf(firstByte: number): PacketType | undefined {
  return PACKET_TYPES[firstByte >> 4];
}

/**
 * The Protocol Level byte of a CONNECT whose bytes start at `bytes[0]`, if the bytes go
 * that far.
 */
function connectLevel(bytes: Uint8Array): number | undefined {
  let pos = 1;
  while (pos < bytes.length && pos < 5 && (bytes[pos]! & 0x80) !== 0) pos++;
  pos++; // past the last Remaining Length byte
  if (pos + 2 > bytes.length) return undefined;
  const nameLength = (bytes[pos]! << 8) | bytes[pos + 1]!;
  const levelAt = pos + 2 + nameLength;
  return levelAt < bytes.length ? bytes[levelAt] : undefined;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Whether `bytes` is well-formed UTF-8. */
function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
