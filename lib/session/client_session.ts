/**
 * The client's protocol state, sans I/O: packets and times in, actions out.
 *
 * @module
 */

import {
  AcknowledgementError,
  ConnectionRefusedError,
  KeepAliveTimeoutError,
  ProtocolError,
  ServerLimitError,
} from "../errors.ts";
import { encodePacket } from "../packet/encode.ts";
import { ReasonCode, VALID_REASON_CODES } from "../packet/reason_codes.ts";
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  Properties,
  ProtocolVersion,
  PublishPacket,
  QoS,
  SubackPacket,
  SubscribePacket,
  Subscription,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from "../packet/types.ts";
import type { InboundMessage, OutgoingMessage, SessionAction } from "./actions.ts";
import { Fifo } from "./_fifo.ts";
import { KeepAlive } from "./keep_alive.ts";
import { PacketIdAllocator } from "./packet_ids.ts";
import { publishPacketSize, utf8Length } from "./packet_size.ts";
import { type ServerLimits, serverLimitsFromConnack } from "./server_limits.ts";
import { statementFor } from "./_statement.ts";
import {
  checkSnapshot,
  decodeBase64,
  encodeBase64,
  propertiesFromJson,
  propertiesToJson,
  type SessionSnapshot,
} from "./snapshot.ts";
import { InboundTopicAliases, OutboundTopicAliases } from "./topic_alias.ts";

/** Options of a {@link ClientSession}. Every one has a default. */
export interface ClientSessionOptions {
  /** 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0). Default 5. */
  protocolVersion?: ProtocolVersion;
  /**
   * Client Identifier. Default "": an MQTT 5 server assigns one (the session then uses
   * it for later connections); MQTT 3.1.1 requires `clean` with an empty one, and MQTT 3.1
   * requires 1 to 23 characters.
   */
  clientId?: string;
  /**
   * Clean Start (MQTT 5) / Clean Session (3.1, 3.1.1) for CONNECT. Default true. With
   * `clean: false` the server may resume the session, and the session re-sends what was
   * in flight; see {@link ClientSession.handleConnack} for what happens when it does not.
   */
  clean?: boolean;
  /** Keep Alive in seconds, 0 to 65535; 0 turns keep-alive off. Default 60. */
  keepalive?: number;
  /** MQTT 5 Session Expiry Interval in seconds. Default 0 (the session ends with the connection). */
  sessionExpiryInterval?: number;
  /**
   * MQTT 5 Receive Maximum we announce: QoS 1/2 messages the server may have in flight to
   * us. One more is a protocol error (DISCONNECT 0x93). Default 65535.
   *
   * Two allowances keep Mosquitto 2.0 connected, whose count differs from MQTT-3.3.4-9:
   * a QoS 2 message counts until we send its PUBREC (not until PUBCOMP), since Mosquitto
   * sends the next message as soon as it has the PUBREC; and on a resumed session each
   * exchange the server re-sends allows one more message, since Mosquitto does not count
   * its re-sends. A compliant server never needs them, and the bound stays finite.
   */
  receiveMaximum?: number;
  /**
   * What to do when the server exceeds our Receive Maximum anyway. `true` (the default)
   * follows MQTT-3.3.4-9: DISCONNECT 0x93 Receive Maximum exceeded, then close. `false`
   * accepts the message, counts it in {@link ClientSession.receiveMaximumExceeded} and
   * goes on: for servers like Mosquitto 2.0.11, which sends 8 unacknowledged messages
   * against an announced 3. Memory stays bounded either way as long as the client stops
   * reading the connection while too many messages wait for their acknowledgement.
   */
  strictReceiveMaximum?: boolean;
  /** MQTT 5 Topic Alias Maximum we announce for the server's PUBLISH packets. Default 0 (none). */
  topicAliasMaximum?: number;
  /**
   * MQTT 5 Maximum Packet Size we announce, in bytes. The session only announces it: the
   * decoder that reads the transport enforces it. Default: none (the protocol's limit).
   */
  maximumPacketSize?: number;
  /** Will message for CONNECT. */
  will?: Will;
  /** User Name for CONNECT. */
  username?: string;
  /** Password for CONNECT. */
  password?: Uint8Array;
  /**
   * Further MQTT 5 CONNECT properties (Authentication Method and Data, Request Problem
   * Information, User Properties...). The dedicated options above take precedence.
   */
  properties?: Properties;
  /**
   * Application-controlled acknowledgements: `deliver` actions of QoS 1 and 2 messages
   * carry a token, and their PUBACK / PUBREC waits for {@link ClientSession.acknowledge}.
   * This is how a client applies backpressure without dropping messages. Default false:
   * acknowledgements go out with the delivery.
   */
  manualAcks?: boolean;
  /**
   * Milliseconds to wait, after a PINGREQ, for the server to send anything before the
   * connection is declared dead. Default: the keep-alive interval.
   */
  pingTimeout?: number;
}

/** Where the session stands with its current connection. */
export type SessionState = "offline" | "connecting" | "connected";

/** What `subscribe()` sends. */
export interface SubscribeRequest {
  /** At least one topic filter with its options. */
  subscriptions: Subscription[];
  /** MQTT 5 SUBSCRIBE properties: one Subscription Identifier at most, User Properties. */
  properties?: Properties;
}

/** What `unsubscribe()` sends. */
export interface UnsubscribeRequest {
  /** At least one topic filter. */
  topicFilters: string[];
  /** MQTT 5 UNSUBSCRIBE properties (User Properties). */
  properties?: Properties;
}

/** What `publish()`, `subscribe()` and `unsubscribe()` return. */
export interface RequestResult {
  /** Identifies the request in its `settle` action. */
  id: number;
  /** What to do now. */
  actions: SessionAction[];
}

/** A subscription the server granted, as remembered for restoring it. */
export interface ActiveSubscription {
  /** The topic filter and its options, as requested. */
  subscription: Subscription;
  /** The SUBSCRIBE properties it was made with. */
  properties?: Properties;
}

interface Outgoing {
  id: number;
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties: Properties | undefined;
  packetId: number | undefined;
  phase: "queued" | "publish" | "pubrel";
  pubrecReasonCode: number;
}

interface Request {
  id: number;
  kind: "subscribe" | "unsubscribe";
  subscriptions: Subscription[];
  topicFilters: string[];
  properties: Properties | undefined;
  packetId: number | undefined;
  /** Sent on the current connection. */
  sent: boolean;
  /** Made by the session to restore subscriptions after a session was lost. */
  restore: boolean;
}

interface Incoming {
  packetId: number;
  qos: 1 | 2;
  token: number;
  /** The application consumed it (always, without manual acks). */
  accepted: boolean;
  reasonCode: number;
  /** QoS 2: PUBREC sent, PUBREL awaited. */
  pubrecSent: boolean;
  /** The connection on which the PUBLISH last arrived. */
  epoch: number;
  /** Counted against our Receive Maximum on this connection. */
  counted: boolean;
}

const DEFAULT_KEEPALIVE = 60;
const MAX_SUBSCRIPTION_IDENTIFIER = 268_435_455;
const NO_LIMITS: ConnackPacket = { type: "connack", sessionPresent: false, reasonCode: 0 };
const NO_BYTES = new Uint8Array(0);

/**
 * The protocol state of an MQTT client, with no I/O and no clock: it takes packets and
 * the current time (`now`, in milliseconds, from any monotonic clock) and returns
 * {@link SessionAction}s for its owner to carry out in order: `send` a packet, `deliver` a
 * message, `settle` a request, `close` the transport, and a few more. It covers packet
 * identifiers, QoS 1 and 2 flows in both directions (exactly-once delivery included),
 * Receive Maximum flow control, Topic Aliases, keep-alive deadlines, subscriptions to
 * restore, and session resumption, and can be saved with {@link snapshot} and brought
 * back with {@link ClientSession.restore}.
 *
 * A connection's life: `connectPacket()` (write it), `handlePacket()` for every packet
 * read (the CONNACK first), `poll(now)` whenever `nextDeadline()` passes, and
 * `connectionLost()` when the transport breaks. Requests made while offline are queued
 * and sent once connected.
 *
 * @example Publish at QoS 1 against a scripted server
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClientSession } from "./client_session.ts";
 *
 * const session = new ClientSession({ clientId: "demo", keepalive: 30 });
 * const connect = session.connectPacket();
 * assert.equal(connect.clientId, "demo");
 *
 * const [connected] = session.handlePacket(
 *   { type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
 * assert.equal(connected?.type, "connected");
 *
 * const { id, actions } = session.publish(
 *   { topic: "a/b", payload: new Uint8Array([1]), qos: 1 }, 10);
 * assert.deepEqual(actions, [{ type: "send", packet: {
 *   type: "publish", topic: "a/b", payload: new Uint8Array([1]), qos: 1, retain: false,
 *   dup: false, packetId: 1,
 * } }]);
 *
 * const settled = session.handlePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 20);
 * assert.deepEqual(settled, [{ type: "settle", id, request: "publish", reasonCodes: [0] }]);
 * assert.equal(session.nextDeadline(), 30_010);
 * ```
 */
export class ClientSession {
  /** The last topic name a publish passed validation with. */
  #checkedTopic: string | undefined;
  // Options.
  #version: ProtocolVersion;
  #clientId: string;
  #clean: boolean;
  #keepalive: number;
  #sessionExpiryInterval: number | undefined;
  #receiveMaximum: number;
  #strictReceiveMaximum: boolean;
  #receiveMaximumExceeded = 0;
  #topicAliasMaximum: number;
  #maximumPacketSize: number | undefined;
  #will: Will | undefined;
  #username: string | undefined;
  #password: Uint8Array | undefined;
  #properties: Properties | undefined;
  #manualAcks: boolean;
  #pingTimeout: number | undefined;

  // Connection.
  #state: SessionState = "offline";
  #epoch = 0;
  #cleanSent = true;
  #limits: ServerLimits = serverLimitsFromConnack(NO_LIMITS);
  #sendQuota = 0;
  #keepAlive = new KeepAlive(0);
  #outAliases = new OutboundTopicAliases();
  #inAliases: InboundTopicAliases;

  // Outgoing publications: queued (not sent yet), in flight (by Packet Identifier, in the
  // order first sent), and those a resumed session still has to re-send.
  #ids = new PacketIdAllocator();
  #nextId = 1;
  #queue = new Fifo<Outgoing>();
  #inflight = new Map<number, Outgoing>();
  #resend = new Fifo<Outgoing>();

  // SUBSCRIBE and UNSUBSCRIBE awaiting their acknowledgement, in the order made.
  #requests: Request[] = [];
  #requestsByPacketId = new Map<number, Request>();
  #unsentRequests = 0;
  #subscriptions = new Map<string, ActiveSubscription>();

  // Incoming QoS 1 and 2 exchanges, by the server's Packet Identifier.
  #incoming = new Map<number, Incoming>();
  #tokens = new Map<number, Incoming>();
  #pubacks = new Fifo<Incoming>();
  #pubrecs = new Fifo<Incoming>();
  #received = 0; // exchanges counted against our Receive Maximum (see #touch)
  #resentByServer = 0; // exchanges of an earlier connection the server re-sent on this one
  #nextToken = 1;

  /** Creates an offline session. Throws TypeError / RangeError for bad options. */
  constructor(options: ClientSessionOptions = {}) {
    const version = options.protocolVersion ?? 5;
    if (version !== 3 && version !== 4 && version !== 5) {
      throw new RangeError(
        `Cannot create a session as 'protocolVersion' must be 3, 4 or 5: current value is ${
          show(version)
        }`,
      );
    }
    this.#version = version;
    const clientId = options.clientId ?? "";
    if (typeof clientId !== "string") {
      throw new TypeError(
        `Cannot create a session as 'clientId' must be a string: current value is ${
          show(clientId)
        }`,
      );
    }
    if (version === 3 && (clientId.length < 1 || clientId.length > 23)) {
      throw new RangeError(
        `Cannot create a session as 'clientId' must have 1 to 23 characters in MQTT 3.1: current value is ${
          show(clientId)
        }`,
      );
    }
    this.#clientId = clientId;
    this.#clean = options.clean ?? true;
    this.#keepalive = integerOption("keepalive", options.keepalive ?? DEFAULT_KEEPALIVE, 0, 65535);
    this.#sessionExpiryInterval = options.sessionExpiryInterval === undefined
      ? undefined
      : integerOption("sessionExpiryInterval", options.sessionExpiryInterval, 0, 0xffff_ffff);
    this.#receiveMaximum = integerOption(
      "receiveMaximum",
      options.receiveMaximum ?? 65535,
      1,
      65535,
    );
    this.#strictReceiveMaximum = options.strictReceiveMaximum ?? true;
    if (typeof this.#strictReceiveMaximum !== "boolean") {
      throw new TypeError(
        `Cannot create a session as 'strictReceiveMaximum' must be a boolean: current value is ${
          show(this.#strictReceiveMaximum)
        }`,
      );
    }
    this.#topicAliasMaximum = integerOption(
      "topicAliasMaximum",
      options.topicAliasMaximum ?? 0,
      0,
      65535,
    );
    this.#maximumPacketSize = options.maximumPacketSize === undefined
      ? undefined
      : integerOption("maximumPacketSize", options.maximumPacketSize, 1, 268_435_460);
    if (options.will !== undefined) checkWill(options.will);
    this.#will = options.will;
    this.#username = options.username;
    this.#password = options.password;
    this.#properties = options.properties;
    this.#manualAcks = options.manualAcks ?? false;
    if (options.pingTimeout !== undefined) {
      if (!Number.isFinite(options.pingTimeout) || options.pingTimeout <= 0) {
        throw new RangeError(
          `Cannot create a session as 'pingTimeout' must be a positive number of milliseconds: current value is ${
            show(options.pingTimeout)
          }`,
        );
      }
    }
    this.#pingTimeout = options.pingTimeout;
    this.#inAliases = new InboundTopicAliases(version === 5 ? this.#topicAliasMaximum : 0);
    // The codec's checks of strings and properties, so CONNECT cannot fail later.
    encodePacket(this.#connect(this.#clean || clientId !== ""), version);
  }

  /**
   * A session saved with {@link snapshot}, offline, ready to connect. `options` are as
   * for the constructor; the Client Identifier comes from the snapshot when `options`
   * has none. Throws a TypeError when the snapshot is damaged or belongs to another
   * Client Identifier.
   *
   * Connect with `clean: false` to resume: the server then re-sends what it had in flight
   * and the session delivers no QoS 2 message twice.
   *
   * @example Survive a restart
   * ```ts
   * import assert from "node:assert/strict";
   * import { ClientSession } from "./client_session.ts";
   * const before = new ClientSession({ clientId: "a", clean: false });
   * before.connectPacket();
   * before.handlePacket({ type: "connack", sessionPresent: false, reasonCode: 0 }, 0);
   * before.publish({ topic: "t", payload: new Uint8Array([7]), qos: 1 }, 0);
   * const saved = JSON.stringify(before.snapshot());
   *
   * const after = ClientSession.restore(JSON.parse(saved), { clean: false });
   * after.connectPacket();
   * const actions = after.handlePacket({ type: "connack", sessionPresent: true, reasonCode: 0 }, 0);
   * assert.deepEqual(actions[1], { type: "send", packet: {
   *   type: "publish", topic: "t", payload: new Uint8Array([7]), qos: 1, retain: false,
   *   dup: true, packetId: 1,
   * } });
   * ```
   */
  static restore(snapshot: SessionSnapshot, options: ClientSessionOptions = {}): ClientSession {
    const saved = checkSnapshot(snapshot);
    if (options.clientId && options.clientId !== saved.clientId) {
      throw new TypeError(
        `Cannot restore the session as it belongs to client '${saved.clientId}': 'clientId' is ${
          show(options.clientId)
        }`,
      );
    }
    const session = new ClientSession({
      ...options,
      clientId: saved.clientId,
      protocolVersion: options.protocolVersion ?? saved.protocolVersion,
    });
    session.#load(saved);
    return session;
  }

  /** Where the session stands with its current connection. */
  get state(): SessionState {
    return this.#state;
  }

  /** The protocol level. */
  get protocolVersion(): ProtocolVersion {
    return this.#version;
  }

  /** The Client Identifier (the one the server assigned, once it did). */
  get clientId(): string {
    return this.#clientId;
  }

  /** The limits of the current (or last) connection's server; defaults before a CONNACK. */
  get limits(): ServerLimits {
    return { ...this.#limits };
  }

  /** The subscriptions the server granted, to be restored when a session is lost. */
  get subscriptions(): ActiveSubscription[] {
    return [...this.#subscriptions.values()].map(copySubscription);
  }

  /** Publications waiting to be sent (offline, or held back by the server's Receive Maximum). */
  get queued(): number {
    return this.#queue.length;
  }

  /** QoS 1 and 2 publications sent and not yet completed. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Incoming QoS 1 and 2 messages whose exchange has not completed. */
  get incoming(): number {
    return this.#incoming.size;
  }

  /**
   * How many QoS 1/2 messages the server sent beyond our Receive Maximum, which the
   * session accepted because `strictReceiveMaximum` is false. Counts over the session's
   * life, across connections.
   */
  get receiveMaximumExceeded(): number {
    return this.#receiveMaximumExceeded;
  }

  /**
   * The CONNECT packet for a new connection; the session is then `connecting` until
   * its CONNACK. Calling it while connected first drops the current connection's state,
   * as {@link connectionLost} does. `clean` overrides the option for this connection.
   */
  connectPacket(options: { clean?: boolean } = {}): ConnectPacket {
    if (this.#state !== "offline") this.#goOffline();
    const clean = options.clean ?? this.#clean;
    if (this.#version !== 5 && this.#clientId === "" && !clean) {
      throw new TypeError(
        "Cannot connect with an empty 'clientId' and 'clean' false in MQTT 3.1.1 [MQTT-3.1.3-7]",
      );
    }
    this.#state = "connecting";
    this.#epoch++;
    this.#received = 0;
    this.#resentByServer = 0;
    for (const record of this.#incoming.values()) record.counted = false;
    this.#cleanSent = clean;
    return this.#connect(clean);
  }

  #connect(clean: boolean): ConnectPacket {
    const packet: ConnectPacket = {
      type: "connect",
      protocolVersion: this.#version,
      clientId: this.#clientId,
      clean,
      keepalive: this.#keepalive,
    };
    if (this.#username !== undefined) packet.username = this.#username;
    if (this.#password !== undefined) packet.password = this.#password;
    if (this.#will !== undefined) packet.will = this.#will;
    if (this.#version === 5) {
      const properties: Properties = { ...this.#properties };
      if (this.#sessionExpiryInterval !== undefined) {
        properties.sessionExpiryInterval = this.#sessionExpiryInterval;
      }
      if (this.#receiveMaximum !== 65535) properties.receiveMaximum = this.#receiveMaximum;
      if (this.#topicAliasMaximum !== 0) properties.topicAliasMaximum = this.#topicAliasMaximum;
      if (this.#maximumPacketSize !== undefined) {
        properties.maximumPacketSize = this.#maximumPacketSize;
      }
      if (Object.keys(properties).length > 0) packet.properties = properties;
    }
    return packet;
  }

  /**
   * Handles the CONNACK (also reachable through {@link handlePacket}).
   *
   * A refusal (non-zero reason code) yields a `close` action carrying a
   * {@link ConnectionRefusedError}. An acceptance yields a `connected` action, then:
   *
   * - when the session was resumed (Session Present), the unacknowledged PUBLISH packets
   *   again with DUP set and the PUBREL packets of QoS 2 messages in their second phase,
   *   with their original Packet Identifiers and in the order first sent (MQTT-4.4.0-1,
   *   MQTT-4.6.0-1), as far as the server's Receive Maximum allows;
   * - when it was not (a clean start, or a server that lost the session), the session
   *   state is discarded (MQTT-3.2.2-5) but not the application's messages: what was
   *   awaiting PUBACK or PUBREC goes back to the head of the queue and is sent again as
   *   new messages (new Packet Identifiers, DUP clear). The server may thus see a message
   *   twice, which QoS 1 allows and which beats losing it. A QoS 2 message the server
   *   already acknowledged with PUBREC is settled as delivered: the server owns it.
   *   The subscriptions granted earlier are subscribed again, and incoming exchanges are
   *   forgotten (their tokens acknowledge nothing).
   *
   * Then come the SUBSCRIBE / UNSUBSCRIBE requests not yet acknowledged and the queued
   * publications. Acknowledgements the application gave while offline go out when the
   * server re-sends those messages.
   */
  handleConnack(packet: ConnackPacket, now: number): SessionAction[] {
    return this.handlePacket(packet, now);
  }

  /**
   * Handles one packet read from the server. Packets arriving while `offline` (after a
   * `close`) are ignored.
   */
  handlePacket(packet: Packet, now: number): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.#state === "offline") return actions;
    this.#keepAlive.received(now, packet.type === "pingresp");
    if (
      this.#state === "connecting" && packet.type !== "connack" && packet.type !== "auth" &&
      packet.type !== "disconnect"
    ) {
      this.#protocolError(
        actions,
        `${packet.type.toUpperCase()} before CONNACK`,
        ReasonCode.ProtocolError,
        "MQTT-3.2.0-1",
      );
      return actions;
    }
    switch (packet.type) {
      case "connack":
        this.#onConnack(packet, now, actions);
        break;
      case "publish":
        this.#onPublish(packet, now, actions);
        break;
      case "puback":
        this.#onPuback(packet, now, actions);
        break;
      case "pubrec":
        this.#onPubrec(packet, now, actions);
        break;
      case "pubrel":
        this.#onPubrel(packet, now, actions);
        break;
      case "pubcomp":
        this.#onPubcomp(packet, now, actions);
        break;
      case "suback":
        this.#onSuback(packet, now, actions);
        break;
      case "unsuback":
        this.#onUnsuback(packet, now, actions);
        break;
      case "pingresp":
        break;
      case "disconnect":
        this.#onDisconnect(packet, actions);
        break;
      case "auth":
        this.#onAuth(packet, actions);
        break;
      default:
        this.#protocolError(
          actions,
          `The server sent ${packet.type.toUpperCase()}, which only clients send`,
          ReasonCode.ProtocolError,
        );
    }
    return actions;
  }

  /**
   * Publishes a message: sends it now if connected and the server's Receive Maximum
   * allows (MQTT-4.9.0-2), otherwise queues it, in order. QoS 0 messages are settled as
   * soon as they are sent; QoS 1 on PUBACK; QoS 2 on PUBCOMP, or on a PUBREC with a
   * failure code, which ends the exchange without PUBREL (MQTT-4.3.3-4). A message above
   * the server's Maximum QoS, retained when Retain Available is 0, or larger than its
   * Maximum Packet Size is settled with a {@link ServerLimitError} instead of being sent.
   *
   * Throws TypeError / RangeError for a malformed message.
   */
  publish(message: OutgoingMessage, now: number): RequestResult {
    const record = this.#checkMessage(message);
    this.#queue.push(record);
    const actions: SessionAction[] = [];
    this.#pump(now, actions);
    return { id: record.id, actions };
  }

  /**
   * Subscribes: sends SUBSCRIBE now if connected (never held back by Receive Maximum,
   * MQTT-3.3.4-8), otherwise when connected. Settled on SUBACK with one reason code per
   * filter; the filters granted are remembered and subscribed again whenever a later
   * connection does not resume the session.
   *
   * Throws TypeError / RangeError for a malformed request.
   */
  subscribe(request: SubscribeRequest, now: number): RequestResult {
    const subscriptions = checkSubscriptions(request);
    const properties = checkSubscribeProperties(request.properties);
    const record: Request = {
      id: 0, // given once the request passed the codec's checks
      kind: "subscribe",
      subscriptions,
      topicFilters: subscriptions.map((s) => s.topicFilter),
      properties,
      packetId: undefined,
      sent: false,
      restore: false,
    };
    return this.#addRequest(record, now);
  }

  /**
   * Unsubscribes: sends UNSUBSCRIBE now if connected, otherwise when connected. Settled
   * on UNSUBACK; the filters then stop being restored.
   *
   * Throws TypeError for a malformed request.
   */
  unsubscribe(request: UnsubscribeRequest, now: number): RequestResult {
    const filters = request?.topicFilters;
    if (!Array.isArray(filters) || filters.length === 0) {
      throw new TypeError(
        `Cannot unsubscribe as 'topicFilters' must be a non-empty array: current value is ${
          show(filters)
        }`,
      );
    }
    for (const filter of filters) checkFilter("unsubscribe", filter);
    const record: Request = {
      id: 0, // given once the request passed the codec's checks
      kind: "unsubscribe",
      subscriptions: [],
      topicFilters: [...filters],
      properties: emptyToUndefined(request.properties),
      packetId: undefined,
      sent: false,
      restore: false,
    };
    return this.#addRequest(record, now);
  }

  /**
   * Withdraws a publication or (un)subscription that has not been sent on the current
   * connection, as when its caller aborts. Returns whether it was withdrawn; a message
   * already sent cannot be withdrawn (its exchange must complete).
   */
  cancel(id: number): boolean {
    if (this.#queue.remove((record) => record.id === id)) return true;
    const index = this.#requests.findIndex((request) => request.id === id && !request.sent);
    if (index === -1) return false;
    const [request] = this.#requests.splice(index, 1) as [Request];
    this.#unsentRequests--;
    if (request.packetId !== undefined) {
      this.#requestsByPacketId.delete(request.packetId);
      this.#ids.release(request.packetId);
    }
    return true;
  }

  /**
   * With `manualAcks`: the application consumed the message delivered with `token`, so
   * its PUBACK (QoS 1) or PUBREC (QoS 2) may go. Acknowledgements leave in the order the
   * messages arrived (MQTT-4.6.0-2, MQTT-4.6.0-3), so one may wait for an earlier one.
   * An MQTT 5 application may refuse the message with a `reasonCode` of 0x80 or above.
   * Unknown or already used tokens (like those of a session the server lost) are ignored.
   */
  acknowledge(token: number, now: number, reasonCode = 0): SessionAction[] {
    const valid = this.#version === 5
      ? VALID_REASON_CODES.puback!.has(reasonCode)
      : reasonCode === 0;
    if (!valid) {
      throw new RangeError(
        `Cannot acknowledge as 'reasonCode' must be ${
          this.#version === 5 ? "a PUBACK / PUBREC reason code" : "0 before MQTT 5"
        }: current value is ${show(reasonCode)}`,
      );
    }
    const actions: SessionAction[] = [];
    const record = this.#tokens.get(token);
    if (record === undefined) return actions;
    this.#tokens.delete(token);
    record.accepted = true;
    record.reasonCode = reasonCode;
    this.#flushAcks(now, actions);
    return actions;
  }

  /**
   * Keep-alive: sends PINGREQ when due, or closes a connection whose server went silent
   * (a `close` action with a {@link KeepAliveTimeoutError}). Call it when
   * {@link nextDeadline} passes; calling it early does no harm.
   */
  poll(now: number): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.#state !== "connected") return actions;
    const due = this.#keepAlive.poll(now);
    if (due === "pingreq") {
      this.#send({ type: "pingreq" }, now, actions);
    } else if (due === "dead") {
      const error = new KeepAliveTimeoutError(this.#keepAlive.timeout);
      this.#goOffline();
      actions.push({ type: "close", error });
    }
    return actions;
  }

  /**
   * When {@link poll} next has work, in the same time base as `now`, or `undefined` when
   * it has none (offline, connecting, or keep-alive off).
   */
  nextDeadline(): number | undefined {
    return this.#state === "connected" ? this.#keepAlive.deadline() : undefined;
  }

  /**
   * The transport closed or failed. Everything in flight stays, to be re-sent or
   * re-queued by the next CONNACK.
   */
  connectionLost(): void {
    this.#goOffline();
  }

  /**
   * Ends the connection politely: the DISCONNECT to write before closing the transport.
   * MQTT 5 may name a reason code (0x04 asks the server to publish the Will) and
   * properties. Returns no action when offline.
   */
  disconnect(
    now: number,
    options: { reasonCode?: number; properties?: Properties } = {},
  ): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.#state === "offline") return actions;
    const packet: DisconnectPacket = { type: "disconnect" };
    if (this.#version === 5) {
      const reasonCode = options.reasonCode ?? ReasonCode.NormalDisconnection;
      if (!VALID_REASON_CODES.disconnect!.has(reasonCode)) {
        throw new RangeError(
          `Cannot disconnect as 'reasonCode' must be a DISCONNECT reason code: current value is ${
            show(reasonCode)
          }`,
        );
      }
      const expiry = options.properties?.sessionExpiryInterval;
      if (expiry !== undefined && expiry !== 0 && !this.#sessionExpiryInterval) {
        throw new TypeError(
          "Cannot disconnect with a non-zero 'sessionExpiryInterval' as CONNECT had none",
        );
      }
      packet.reasonCode = reasonCode;
      const properties = emptyToUndefined(options.properties);
      if (properties) packet.properties = properties;
      encodePacket(packet, 5); // the codec's checks of the properties
    }
    this.#send(packet, now, actions);
    this.#goOffline();
    return actions;
  }

  /**
   * Sends an MQTT 5 AUTH packet (enhanced authentication, answering an `auth` action or
   * starting a re-authentication). Throws a TypeError before MQTT 5, when CONNECT named
   * no Authentication Method (MQTT-4.12.0-7), or when offline.
   */
  sendAuth(packet: AuthPacket, now: number): SessionAction[] {
    if (this.#version !== 5) {
      throw new TypeError(
        `Cannot send AUTH as it needs MQTT 5: the session uses protocol level ${this.#version}`,
      );
    }
    if (this.#properties?.authenticationMethod === undefined) {
      throw new TypeError(
        "Cannot send AUTH as CONNECT named no 'authenticationMethod' [MQTT-4.12.0-7]",
      );
    }
    if (this.#state === "offline") throw new TypeError("Cannot send AUTH while offline");
    encodePacket(packet, 5); // the codec's checks
    const actions: SessionAction[] = [];
    this.#send(packet, now, actions);
    return actions;
  }

  /**
   * The session as plain JSON-able data (see {@link SessionSnapshot}): outgoing QoS 1/2
   * messages not yet completed, incoming QoS 2 messages accepted and awaiting PUBREL, the
   * next Packet Identifier, and the subscriptions granted. QoS 0 messages still queued
   * are not kept.
   *
   * For exactly-once across crashes, persist a snapshot after calling a method and before
   * writing the packets it returned: a PUBREC must not leave before the store knows it.
   */
  snapshot(): SessionSnapshot {
    const outgoing = [];
    for (const record of [...this.#inflight.values(), ...this.#queue]) {
      if (record.qos === 0) continue;
      const entry: SessionSnapshot["outgoing"][number] = {
        id: record.id,
        topic: record.topic,
        payload: encodeBase64(record.payload),
        qos: record.qos,
        retain: record.retain,
        phase: record.phase,
      };
      if (record.properties) entry.properties = propertiesToJson(record.properties);
      if (record.packetId !== undefined) entry.packetId = record.packetId;
      if (record.phase === "pubrel") entry.pubrecReasonCode = record.pubrecReasonCode;
      outgoing.push(entry);
    }
    const incoming = [];
    for (const record of this.#incoming.values()) {
      if (record.qos !== 2 || !record.accepted) continue;
      incoming.push({
        packetId: record.packetId,
        reasonCode: record.reasonCode,
        pubrecSent: record.pubrecSent,
      });
    }
    const subscriptions = [...this.#subscriptions.values()].map((s) => {
      const entry: SessionSnapshot["subscriptions"][number] = {
        subscription: { ...s.subscription },
      };
      if (s.properties) entry.properties = propertiesToJson(s.properties);
      return entry;
    });
    return {
      format: 1,
      protocolVersion: this.#version,
      clientId: this.#clientId,
      nextPacketId: this.#ids.next,
      nextId: this.#nextId,
      outgoing,
      incoming,
      subscriptions,
    };
  }

  // ---------------------------------------------------------------- connection

  #onConnack(packet: ConnackPacket, now: number, actions: SessionAction[]): void {
    if (this.#state !== "connecting") {
      this.#protocolError(
        actions,
        "A second CONNACK",
        ReasonCode.ProtocolError,
        statementFor(this.#version, "MQTT-3.2.0-2", undefined),
      );
      return;
    }
    const properties = this.#version === 5 ? packet.properties : undefined;
    if (packet.reasonCode !== 0) {
      this.#goOffline();
      actions.push({
        type: "close",
        error: new ConnectionRefusedError({
          reasonCode: packet.reasonCode,
          protocolVersion: this.#version,
          reasonString: properties?.reasonString,
          serverReference: properties?.serverReference,
        }),
      });
      return;
    }
    if (properties?.receiveMaximum === 0 || properties?.maximumPacketSize === 0) {
      const name = properties.receiveMaximum === 0 ? "Receive Maximum" : "Maximum Packet Size";
      this.#protocolError(actions, `CONNACK has ${name} 0`, ReasonCode.ProtocolError);
      return;
    }
    if (packet.sessionPresent && this.#cleanSent) {
      this.#protocolError(
        actions,
        "CONNACK has Session Present although CONNECT asked for a clean start",
        ReasonCode.ProtocolError,
        statementFor(this.#version, "MQTT-3.2.2-4", "MQTT-3.2.2-1"),
      );
      return;
    }
    // MQTT 3.1 has no Session Present flag: a server keeps the session unless told not to.
    const resumed = this.#version === 3 ? !this.#cleanSent : packet.sessionPresent;
    this.#limits = serverLimitsFromConnack(this.#version === 5 ? packet : NO_LIMITS);
    if (this.#limits.assignedClientIdentifier !== undefined) {
      this.#clientId = this.#limits.assignedClientIdentifier;
    }
    this.#state = "connected";
    const keepalive = (this.#limits.serverKeepAlive ?? this.#keepalive) * 1000;
    this.#keepAlive.start(now, keepalive, this.#pingTimeout ?? keepalive);
    this.#outAliases.reset(this.#version === 5 ? this.#limits.topicAliasMaximum : 0);
    this.#inAliases.reset();
    this.#sendQuota = this.#limits.receiveMaximum;
    actions.push({
      type: "connected",
      sessionPresent: resumed,
      clientId: this.#clientId,
      limits: { ...this.#limits },
      connack: packet,
    });
    if (resumed) this.#resume(now, actions);
    else this.#discardSessionState(actions);
    this.#pump(now, actions);
    this.#flushAcks(now, actions);
  }

  /** Re-sends what a resumed session had in flight, in the order first sent. */
  #resume(now: number, actions: SessionAction[]): void {
    this.#resend.clear();
    for (const record of [...this.#inflight.values()]) {
      if (record.phase === "pubrel") {
        this.#send(this.#ack("pubrel", record.packetId!, 0), now, actions);
        // The server may still count the exchange against its Receive Maximum until
        // PUBCOMP (Mosquitto 2.0 does, and answers the excess with 0x97 Quota exceeded):
        // hold its slot until then; the PUBCOMP gives it back.
        if (this.#sendQuota > 0) this.#sendQuota--;
      } else if (this.#resend.length > 0 || !this.#resendOne(record, now, actions)) {
        this.#resend.push(record); // no send quota left: later, still in order
      }
    }
  }

  /** Sends one in-flight PUBLISH again with DUP set; false when no send quota is left. */
  #resendOne(record: Outgoing, now: number, actions: SessionAction[]): boolean {
    if (this.#sendQuota === 0) return false;
    const refusal = this.#refusal(record);
    if (refusal) {
      this.#finish(record, [refusal.reasonCode], refusal, undefined, actions);
      return true;
    }
    this.#sendQuota--;
    this.#send(this.#publishPacket(record, true, false), now, actions);
    return true;
  }

  /** Drops the protocol state of a session the server does not have (MQTT-3.2.2-5). */
  #discardSessionState(actions: SessionAction[]): void {
    const requeue: Outgoing[] = [];
    for (const record of this.#inflight.values()) {
      this.#ids.release(record.packetId!);
      if (record.phase === "pubrel") {
        actions.push({
          type: "settle",
          id: record.id,
          request: "publish",
          reasonCodes: [record.pubrecReasonCode],
        });
      } else {
        record.packetId = undefined;
        record.phase = "queued";
        requeue.push(record);
      }
    }
    this.#inflight.clear();
    this.#resend.clear();
    this.#queue = new Fifo([...requeue, ...this.#queue]);

    this.#incoming.clear();
    this.#tokens.clear();
    this.#pubacks.clear();
    this.#pubrecs.clear();
    this.#received = 0;

    // Subscribe again to what was granted, grouped by SUBSCRIBE properties, before any
    // request still pending. Restore requests of an earlier attempt are replaced.
    const kept: Request[] = [];
    for (const request of this.#requests) {
      if (!request.restore) {
        kept.push(request);
      } else if (request.packetId !== undefined) {
        this.#requestsByPacketId.delete(request.packetId);
        this.#ids.release(request.packetId);
      }
    }
    const groups = new Map<string, Request>();
    for (const { subscription, properties } of this.#subscriptions.values()) {
      const key = properties ? JSON.stringify(propertiesToJson(properties)) : "";
      let request = groups.get(key);
      if (request === undefined) {
        request = {
          id: this.#nextId++,
          kind: "subscribe",
          subscriptions: [],
          topicFilters: [],
          properties,
          packetId: undefined,
          sent: false,
          restore: true,
        };
        groups.set(key, request);
      }
      request.subscriptions.push({ ...subscription });
      request.topicFilters.push(subscription.topicFilter);
    }
    this.#requests = [...groups.values(), ...kept];
    this.#unsentRequests = this.#requests.length;
  }

  #onDisconnect(packet: DisconnectPacket, actions: SessionAction[]): void {
    const action: SessionAction = { type: "disconnected", reasonCode: packet.reasonCode ?? 0 };
    const properties = packet.properties;
    if (properties?.reasonString !== undefined) action.reasonString = properties.reasonString;
    if (properties?.serverReference !== undefined) {
      action.serverReference = properties.serverReference;
    }
    if (properties) action.properties = properties;
    this.#goOffline();
    actions.push(action);
  }

  #onAuth(packet: AuthPacket, actions: SessionAction[]): void {
    if (this.#version !== 5) {
      this.#protocolError(actions, "AUTH before MQTT 5", ReasonCode.ProtocolError);
    } else if (this.#properties?.authenticationMethod === undefined) {
      this.#protocolError(
        actions,
        "AUTH although CONNECT named no Authentication Method",
        ReasonCode.ProtocolError,
        "MQTT-4.12.0-6",
      );
    } else {
      actions.push({ type: "auth", packet });
    }
  }

  #goOffline(): void {
    this.#state = "offline";
    this.#keepAlive.stop();
    this.#inAliases.reset();
    this.#outAliases.reset(0);
    this.#resend.clear();
    for (const request of this.#requests) request.sent = false;
    this.#unsentRequests = this.#requests.length;
  }

  /** Reports a server's protocol error: MQTT 5 DISCONNECT naming it, then close. */
  #protocolError(
    actions: SessionAction[],
    message: string,
    reasonCode: number,
    statement?: string,
  ): void {
    this.#fail(actions, new ProtocolError(message, { reasonCode, statement }));
  }

  #fail(actions: SessionAction[], error: ProtocolError): void {
    if (this.#version === 5) {
      actions.push({ type: "send", packet: { type: "disconnect", reasonCode: error.reasonCode } });
    }
    this.#goOffline();
    actions.push({ type: "close", error });
  }

  #send(packet: Packet, now: number, actions: SessionAction[]): void {
    actions.push({ type: "send", packet });
    this.#keepAlive.sent(now, packet.type === "pingreq");
  }

  #ack<T extends "puback" | "pubrec" | "pubrel" | "pubcomp">(
    type: T,
    packetId: number,
    reasonCode: number,
  ): AckPacket<T> {
    return this.#version === 5 ? { type, packetId, reasonCode } : { type, packetId };
  }

  // ---------------------------------------------------------------- outgoing

  /** Sends what may be sent: requests, re-sends, then the queue, within the send quota. */
  #pump(now: number, actions: SessionAction[]): void {
    if (this.#state !== "connected") return;
    if (this.#unsentRequests > 0) {
      for (const request of this.#requests) {
        if (request.sent) continue;
        if (request.packetId === undefined) {
          const packetId = this.#ids.allocate();
          if (packetId === undefined) break;
          request.packetId = packetId;
          this.#requestsByPacketId.set(packetId, request);
        }
        request.sent = true;
        this.#unsentRequests--;
        this.#send(this.#requestPacket(request), now, actions);
      }
    }
    while (this.#resend.length > 0) {
      const record = this.#resend.peek()!;
      if (this.#inflight.get(record.packetId!) !== record || record.phase !== "publish") {
        this.#resend.shift(); // completed meanwhile
        continue;
      }
      if (!this.#resendOne(record, now, actions)) return;
      this.#resend.shift();
    }
    while (this.#queue.length > 0) {
      const record = this.#queue.peek()!;
      const refusal = this.#refusal(record);
      if (refusal) {
        this.#queue.shift();
        actions.push({
          type: "settle",
          id: record.id,
          request: "publish",
          reasonCodes: [refusal.reasonCode],
          error: refusal,
        });
        continue;
      }
      if (record.qos === 0) {
        this.#queue.shift();
        this.#send(this.#publishPacket(record, false, false), now, actions);
        actions.push({ type: "settle", id: record.id, request: "publish", reasonCodes: [] });
        continue;
      }
      if (this.#sendQuota === 0) return;
      const packetId = this.#ids.allocate();
      if (packetId === undefined) return;
      this.#queue.shift();
      record.packetId = packetId;
      record.phase = "publish";
      this.#inflight.set(packetId, record);
      this.#sendQuota--;
      this.#send(this.#publishPacket(record, false, false), now, actions);
    }
  }

  /** Why the server's limits forbid sending a message, if they do. */
  #refusal(record: Outgoing): ServerLimitError | undefined {
    const limits = this.#limits;
    if (record.qos > limits.maximumQoS) {
      return new ServerLimitError(
        `Cannot publish with qos ${record.qos} as the server's Maximum QoS is ${limits.maximumQoS}`,
        { reasonCode: ReasonCode.QoSNotSupported, statement: "MQTT-3.2.2-11" },
      );
    }
    if (record.retain && !limits.retainAvailable) {
      return new ServerLimitError(
        "Cannot publish a retained message as the server has Retain Available 0",
        { reasonCode: ReasonCode.RetainNotSupported, statement: "MQTT-3.2.2-14" },
      );
    }
    if (limits.maximumPacketSize !== undefined) {
      const size = publishPacketSize(this.#publishPacket(record, false, true), this.#version);
      if (size > limits.maximumPacketSize) {
        return new ServerLimitError(
          `Cannot publish a ${size}-byte packet as the server's Maximum Packet Size is ${limits.maximumPacketSize} bytes`,
          { reasonCode: ReasonCode.PacketTooLarge, statement: "MQTT-3.2.2-15" },
        );
      }
    }
    return undefined;
  }

  /** The PUBLISH for a message, with a Topic Alias when the server accepts them. */
  #publishPacket(record: Outgoing, dup: boolean, peek: boolean): PublishPacket {
    const packet: PublishPacket = {
      type: "publish",
      topic: record.topic,
      payload: record.payload,
      qos: record.qos,
      retain: record.retain,
      dup,
    };
    // A queued message has no identifier yet; sizing it (peek) only needs one to exist.
    if (record.qos > 0) packet.packetId = record.packetId ?? 1;
    if (this.#version !== 5) return packet;
    let properties = record.properties;
    const alias = this.#outAliases.assign(record.topic, { peek });
    if (alias) {
      properties = { ...properties, topicAlias: alias.alias };
      if (!alias.withTopic) packet.topic = "";
    }
    if (properties) packet.properties = properties;
    return packet;
  }

  #requestPacket(request: Request): SubscribePacket | UnsubscribePacket {
    // Before MQTT 5, subscriptions carry only topic filter and QoS.
    const packet: SubscribePacket | UnsubscribePacket = request.kind === "subscribe"
      ? {
        type: "subscribe",
        packetId: request.packetId!,
        subscriptions: request.subscriptions.map((s) =>
          this.#version === 5 ? { ...s } : { topicFilter: s.topicFilter, qos: s.qos }
        ),
      }
      : {
        type: "unsubscribe",
        packetId: request.packetId!,
        topicFilters: [...request.topicFilters],
      };
    if (this.#version === 5 && request.properties) packet.properties = request.properties;
    return packet;
  }

  #addRequest(request: Request, now: number): RequestResult {
    encodePacket(this.#requestPacket({ ...request, packetId: 1 }), this.#version);
    request.id = this.#nextId++;
    this.#requests.push(request);
    this.#unsentRequests++;
    const actions: SessionAction[] = [];
    this.#pump(now, actions);
    return { id: request.id, actions };
  }

  /** Ends an outgoing exchange: frees its identifier and send quota, settles it. */
  #finish(
    record: Outgoing,
    reasonCodes: number[],
    error: Error | undefined,
    properties: Properties | undefined,
    actions: SessionAction[],
  ): void {
    this.#inflight.delete(record.packetId!);
    this.#ids.release(record.packetId!);
    // Never above the initial quota (a PUBCOMP for a PUBREL re-sent on a new connection).
    this.#sendQuota = Math.min(this.#sendQuota + 1, this.#limits.receiveMaximum);
    const action: SessionAction = {
      type: "settle",
      id: record.id,
      request: "publish",
      reasonCodes,
    };
    if (error) action.error = error;
    if (properties) action.properties = properties;
    actions.push(action);
  }

  #onPuback(packet: AckPacket<"puback">, now: number, actions: SessionAction[]): void {
    const record = this.#inflight.get(packet.packetId);
    if (record === undefined) return; // a late answer to an exchange already over
    if (record.qos !== 1) {
      this.#protocolError(
        actions,
        `PUBACK for Packet Identifier ${packet.packetId} of a QoS 2 message`,
        ReasonCode.ProtocolError,
      );
      return;
    }
    const code = packet.reasonCode ?? 0;
    const error = code >= 0x80 ? ackError(code, "puback", packet.properties) : undefined;
    this.#finish(record, [code], error, packet.properties, actions);
    this.#pump(now, actions);
  }

  #onPubrec(packet: AckPacket<"pubrec">, now: number, actions: SessionAction[]): void {
    const record = this.#inflight.get(packet.packetId);
    if (record === undefined) {
      // The server holds an exchange we do not: let it end it.
      this.#send(
        this.#ack("pubrel", packet.packetId, ReasonCode.PacketIdentifierNotFound),
        now,
        actions,
      );
      return;
    }
    if (record.qos !== 2) {
      this.#protocolError(
        actions,
        `PUBREC for Packet Identifier ${packet.packetId} of a QoS 1 message`,
        ReasonCode.ProtocolError,
      );
      return;
    }
    const code = packet.reasonCode ?? 0;
    if (code >= 0x80) {
      // The exchange ends here, without PUBREL (MQTT-4.3.3-4), and is not retried (MQTT-4.4.0-2).
      const error = ackError(code, "pubrec", packet.properties);
      this.#finish(record, [code], error, packet.properties, actions);
      this.#pump(now, actions);
      return;
    }
    record.phase = "pubrel";
    record.pubrecReasonCode = code;
    this.#send(this.#ack("pubrel", packet.packetId, 0), now, actions);
  }

  #onPubcomp(packet: AckPacket<"pubcomp">, now: number, actions: SessionAction[]): void {
    const record = this.#inflight.get(packet.packetId);
    if (record === undefined) return;
    if (record.phase !== "pubrel") {
      this.#protocolError(
        actions,
        `PUBCOMP for Packet Identifier ${packet.packetId} before its PUBREL`,
        ReasonCode.ProtocolError,
      );
      return;
    }
    const code = packet.reasonCode ?? 0;
    const error = code >= 0x80 ? ackError(code, "pubcomp", packet.properties) : undefined;
    this.#finish(record, [record.pubrecReasonCode, code], error, packet.properties, actions);
    this.#pump(now, actions);
  }

  #onSuback(packet: SubackPacket, now: number, actions: SessionAction[]): void {
    const request = this.#takeRequest(packet.packetId, "subscribe", actions);
    if (request === undefined) return;
    if (packet.reasonCodes.length !== request.subscriptions.length) {
      this.#protocolError(
        actions,
        `SUBACK has ${packet.reasonCodes.length} reason codes for ${request.subscriptions.length} topic filters`,
        ReasonCode.ProtocolError,
        statementFor(this.#version, "MQTT-3.8.4-6", "MQTT-3.8.4-5"),
      );
      return;
    }
    packet.reasonCodes.forEach((code, i) => {
      const subscription = request.subscriptions[i]!;
      if (code < 0x80) {
        const entry: ActiveSubscription = { subscription };
        if (request.properties) entry.properties = request.properties;
        this.#subscriptions.set(subscription.topicFilter, entry);
      } else if (request.restore) {
        this.#subscriptions.delete(subscription.topicFilter);
      }
    });
    this.#settleRequest(request, packet.reasonCodes, packet.properties, actions);
    this.#pump(now, actions);
  }

  #onUnsuback(packet: UnsubackPacket, now: number, actions: SessionAction[]): void {
    const request = this.#takeRequest(packet.packetId, "unsubscribe", actions);
    if (request === undefined) return;
    const codes = this.#version === 5 && packet.reasonCodes
      ? packet.reasonCodes
      : request.topicFilters.map(() => 0);
    if (codes.length !== request.topicFilters.length) {
      this.#protocolError(
        actions,
        `UNSUBACK has ${codes.length} reason codes for ${request.topicFilters.length} topic filters`,
        ReasonCode.ProtocolError,
        "MQTT-3.11.3-1",
      );
      return;
    }
    codes.forEach((code, i) => {
      if (code < 0x80) this.#subscriptions.delete(request.topicFilters[i]!);
    });
    this.#settleRequest(request, codes, packet.properties, actions);
    this.#pump(now, actions);
  }

  /** The request a SUBACK / UNSUBACK answers, removed from the pending ones. */
  #takeRequest(
    packetId: number,
    kind: Request["kind"],
    actions: SessionAction[],
  ): Request | undefined {
    const request = this.#requestsByPacketId.get(packetId);
    if (request === undefined) return undefined; // late answer to a withdrawn request
    if (request.kind !== kind) {
      this.#protocolError(
        actions,
        `${
          kind === "subscribe" ? "SUBACK" : "UNSUBACK"
        } for Packet Identifier ${packetId} of an ${request.kind.toUpperCase()}`,
        ReasonCode.ProtocolError,
        kind === "subscribe"
          ? "MQTT-3.8.4-2"
          : statementFor(this.#version, "MQTT-3.10.4-5", "MQTT-3.10.4-4"),
      );
      return undefined;
    }
    this.#requestsByPacketId.delete(packetId);
    this.#ids.release(packetId);
    this.#requests.splice(this.#requests.indexOf(request), 1);
    if (!request.sent) this.#unsentRequests--;
    return request;
  }

  #settleRequest(
    request: Request,
    reasonCodes: number[],
    properties: Properties | undefined,
    actions: SessionAction[],
  ): void {
    const action: SessionAction = {
      type: "settle",
      id: request.id,
      request: request.kind,
      reasonCodes: [...reasonCodes],
      topicFilters: [...request.topicFilters],
    };
    if (properties) action.properties = properties;
    if (request.restore) action.restored = true;
    actions.push(action);
  }

  #checkMessage(message: OutgoingMessage): Outgoing {
    if (typeof message !== "object" || message === null) {
      throw new TypeError(
        `Cannot publish as the message must be an object: current value is ${show(message)}`,
      );
    }
    const { topic, payload } = message;
    if (typeof topic !== "string" || topic === "") {
      throw new TypeError(
        `Cannot publish as 'topic' must be a non-empty string: current value is ${show(topic)}`,
      );
    }
    if (topic !== this.#checkedTopic) {
      if (!isTopicName(topic)) {
        throw new TypeError(
          `Cannot publish as 'topic' must not contain '+', '#' or U+0000 [MQTT-3.3.2-2]: current value is ${
            show(topic)
          }`,
        );
      }
      if (utf8Length(topic) > 65535) {
        throw new RangeError(
          `Cannot publish as 'topic' must encode to at most 65535 bytes: current length is ${
            utf8Length(topic)
          }`,
        );
      }
      // Publishers tend to repeat a topic: check the next one only if it differs.
      this.#checkedTopic = topic;
    }
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot publish as 'payload' must be a Uint8Array: current value is ${show(payload)}`,
      );
    }
    const qos = message.qos ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RangeError(
        `Cannot publish as 'qos' must be 0, 1 or 2: current value is ${show(qos)}`,
      );
    }
    const retain = message.retain ?? false;
    if (typeof retain !== "boolean") {
      throw new TypeError(
        `Cannot publish as 'retain' must be a boolean: current value is ${show(retain)}`,
      );
    }
    const properties = emptyToUndefined(message.properties);
    if (properties?.topicAlias !== undefined) {
      throw new TypeError(
        "Cannot publish with 'properties.topicAlias' as the session assigns Topic Aliases itself",
      );
    }
    if (properties?.subscriptionIdentifiers !== undefined) {
      throw new TypeError(
        "Cannot publish with 'properties.subscriptionIdentifiers' as only servers send them [MQTT-3.3.4-6]",
      );
    }
    // The codec's checks of the topic and properties (well-formed strings, no wildcard in a
    // Response Topic, value ranges), on a copy without payload: cheap, and the message cannot
    // fail to encode once the session took it.
    const probe: PublishPacket = {
      type: "publish",
      topic,
      payload: NO_BYTES,
      qos: 0,
      retain,
      dup: false,
    };
    if (properties && this.#version === 5) probe.properties = properties;
    encodePacket(probe, this.#version);
    return {
      id: this.#nextId++,
      topic,
      payload,
      qos,
      retain,
      properties,
      packetId: undefined,
      phase: "queued",
      pubrecReasonCode: 0,
    };
  }

  // ---------------------------------------------------------------- incoming

  #onPublish(packet: PublishPacket, now: number, actions: SessionAction[]): void {
    let topic: string;
    try {
      topic = this.#inAliases.resolve(
        packet.topic,
        this.#version === 5 ? packet.properties?.topicAlias : undefined,
      );
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(actions, error);
      return;
    }
    const message: InboundMessage = {
      topic,
      payload: packet.payload,
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
    };
    if (this.#version === 5 && packet.properties) {
      const { topicAlias: _alias, ...rest } = packet.properties;
      if (Object.keys(rest).length > 0) message.properties = rest;
    }
    if (packet.qos === 0) {
      actions.push({ type: "deliver", message, token: undefined });
      return;
    }
    const packetId = packet.packetId;
    if (packetId === undefined) {
      this.#protocolError(
        actions,
        `PUBLISH with QoS ${packet.qos} has no Packet Identifier`,
        ReasonCode.MalformedPacket,
      );
      return;
    }
    const known = this.#incoming.get(packetId);
    if (known !== undefined) {
      if (known.qos !== packet.qos) {
        this.#protocolError(
          actions,
          `PUBLISH reuses Packet Identifier ${packetId} of an unfinished QoS ${known.qos} exchange`,
          ReasonCode.ProtocolError,
          statementFor(this.#version, "MQTT-2.2.1-4", "MQTT-2.3.1-4"),
        );
        return;
      }
      // The same message again (re-sent after a reconnection): never delivered twice.
      if (known.epoch !== this.#epoch) this.#resentByServer++;
      this.#touch(known);
      if (known.pubrecSent) {
        this.#send(this.#ack("pubrec", packetId, known.reasonCode), now, actions); // MQTT-4.3.3-10
      }
      this.#flushAcks(now, actions);
      return;
    }
    if (this.#version === 5 && this.#received >= this.#receiveMaximum + this.#resentByServer) {
      if (this.#strictReceiveMaximum) {
        this.#protocolError(
          actions,
          `The server sent more than ${this.#receiveMaximum} unacknowledged QoS 1 and 2 messages (our Receive Maximum)`,
          ReasonCode.ReceiveMaximumExceeded,
          "MQTT-3.3.4-9",
        );
        return;
      }
      this.#receiveMaximumExceeded++;
    }
    const record: Incoming = {
      packetId,
      qos: packet.qos,
      token: this.#nextToken++,
      accepted: !this.#manualAcks,
      reasonCode: 0,
      pubrecSent: false,
      epoch: -1,
      counted: false,
    };
    this.#touch(record);
    this.#incoming.set(packetId, record);
    if (this.#manualAcks) this.#tokens.set(record.token, record);
    (record.qos === 1 ? this.#pubacks : this.#pubrecs).push(record);
    actions.push({ type: "deliver", message, token: this.#manualAcks ? record.token : undefined });
    this.#flushAcks(now, actions);
  }

  #onPubrel(packet: AckPacket<"pubrel">, now: number, actions: SessionAction[]): void {
    const record = this.#incoming.get(packet.packetId);
    if (record === undefined) {
      // Completed already (our PUBCOMP was lost) or never known: answer all the same (MQTT-4.3.3-11).
      this.#send(
        this.#ack("pubcomp", packet.packetId, ReasonCode.PacketIdentifierNotFound),
        now,
        actions,
      );
      return;
    }
    if (record.qos !== 2 || !record.pubrecSent) {
      this.#protocolError(
        actions,
        `PUBREL for Packet Identifier ${packet.packetId} before our PUBREC`,
        ReasonCode.ProtocolError,
      );
      return;
    }
    if (record.epoch !== this.#epoch) this.#resentByServer++; // a PUBREL re-sent on resumption
    this.#forget(record);
    this.#send(this.#ack("pubcomp", packet.packetId, 0), now, actions);
  }

  /** Sends the acknowledgements that are ready, in the order the messages arrived. */
  #flushAcks(now: number, actions: SessionAction[]): void {
    if (this.#state !== "connected") return;
    // A message from an earlier connection waits for the server to re-send it, which it
    // must (MQTT-4.4.0-1), and is answered then: a PUBACK before that would make the re-sent
    // copy a new message (MQTT-4.3.2-5); a PUBREC before it would be followed by a second
    // one for the re-sent copy (MQTT-4.3.3-10), and a second PUBREL/PUBCOMP round.
    for (let record = this.#pubacks.peek(); record; record = this.#pubacks.peek()) {
      if (!record.accepted || record.epoch !== this.#epoch) break;
      this.#pubacks.shift();
      this.#forget(record);
      this.#send(this.#ack("puback", record.packetId, record.reasonCode), now, actions);
    }
    for (let record = this.#pubrecs.peek(); record; record = this.#pubrecs.peek()) {
      if (!record.accepted || record.epoch !== this.#epoch) break;
      this.#pubrecs.shift();
      if (record.reasonCode >= 0x80) {
        this.#forget(record); // MQTT-4.3.3-9
      } else {
        record.pubrecSent = true;
        this.#uncount(record);
      }
      this.#send(this.#ack("pubrec", record.packetId, record.reasonCode), now, actions);
    }
  }

  /**
   * Marks the arrival of an exchange's PUBLISH on this connection, and counts it against
   * our Receive Maximum until we acknowledge it (PUBACK, or PUBREC for QoS 2).
   */
  #touch(record: Incoming): void {
    if (record.epoch === this.#epoch) return;
    record.epoch = this.#epoch;
    if (!record.pubrecSent) {
      record.counted = true;
      this.#received++;
    }
  }

  #uncount(record: Incoming): void {
    if (record.counted) {
      record.counted = false;
      this.#received--;
    }
  }

  #forget(record: Incoming): void {
    this.#incoming.delete(record.packetId);
    this.#tokens.delete(record.token);
    this.#uncount(record);
  }

  // ---------------------------------------------------------------- restore

  #load(saved: SessionSnapshot): void {
    this.#ids = new PacketIdAllocator(saved.nextPacketId);
    let lastId = 0;
    for (const entry of saved.outgoing) {
      const record: Outgoing = {
        id: entry.id,
        topic: entry.topic,
        payload: decodeBase64(entry.payload),
        qos: entry.qos,
        retain: entry.retain,
        properties: entry.properties ? propertiesFromJson(entry.properties) : undefined,
        packetId: entry.packetId,
        phase: entry.phase,
        pubrecReasonCode: entry.pubrecReasonCode ?? 0,
      };
      lastId = Math.max(lastId, entry.id);
      if (record.phase === "queued") {
        this.#queue.push(record);
      } else {
        this.#ids.claim(record.packetId!);
        this.#inflight.set(record.packetId!, record);
      }
    }
    this.#nextId = Math.max(saved.nextId, lastId + 1);
    for (const entry of saved.incoming) {
      const record: Incoming = {
        packetId: entry.packetId,
        qos: 2,
        token: this.#nextToken++,
        accepted: true,
        reasonCode: entry.reasonCode,
        pubrecSent: entry.pubrecSent,
        epoch: -1,
        counted: false,
      };
      this.#incoming.set(record.packetId, record);
      if (!record.pubrecSent) this.#pubrecs.push(record);
    }
    for (const entry of saved.subscriptions) {
      const active: ActiveSubscription = { subscription: { ...entry.subscription } };
      if (entry.properties) active.properties = propertiesFromJson(entry.properties);
      this.#subscriptions.set(active.subscription.topicFilter, active);
    }
  }
}

function ackError(
  reasonCode: number,
  packetType: "puback" | "pubrec" | "pubcomp",
  properties: Properties | undefined,
): AcknowledgementError {
  return new AcknowledgementError({
    reasonCode,
    packetType,
    reasonString: properties?.reasonString,
  });
}

function integerOption(name: string, value: number, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot create a session as '${name}' must be an integer from ${min} to ${max}: current value is ${
        show(value)
      }`,
    );
  }
  return value;
}

function checkWill(will: Will): void {
  if (typeof will !== "object" || will === null) {
    throw new TypeError(
      `Cannot create a session as 'will' must be an object: current value is ${show(will)}`,
    );
  }
  if (typeof will.topic !== "string" || !isTopicName(will.topic)) {
    throw new TypeError(
      `Cannot create a session as 'will.topic' must be a topic name: current value is ${
        show(will.topic)
      }`,
    );
  }
  if (!(will.payload instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot create a session as 'will.payload' must be a Uint8Array: current value is ${
        show(will.payload)
      }`,
    );
  }
  if (will.qos !== 0 && will.qos !== 1 && will.qos !== 2) {
    throw new RangeError(
      `Cannot create a session as 'will.qos' must be 0, 1 or 2: current value is ${show(will.qos)}`,
    );
  }
}

/** A non-empty string without wildcards or U+0000 (MQTT-3.3.2-2, MQTT-4.7.3-2). */
function isTopicName(topic: string): boolean {
  return topic !== "" && !topic.includes("+") && !topic.includes("#") && !topic.includes("\u0000");
}

function checkFilter(verb: string, filter: unknown): void {
  if (typeof filter !== "string" || filter === "") {
    throw new TypeError(
      `Cannot ${verb} as each topic filter must be a non-empty string: current value is ${
        show(filter)
      }`,
    );
  }
}

function checkSubscriptions(request: SubscribeRequest): Subscription[] {
  const subscriptions = request?.subscriptions;
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
    throw new TypeError(
      `Cannot subscribe as 'subscriptions' must be a non-empty array: current value is ${
        show(subscriptions)
      }`,
    );
  }
  return subscriptions.map((subscription) => {
    checkFilter("subscribe", subscription?.topicFilter);
    const { qos, retainHandling } = subscription;
    if (qos !== 0 && qos !== 1 && qos !== 2) {
      throw new RangeError(
        `Cannot subscribe as 'qos' must be 0, 1 or 2: current value is ${show(qos)}`,
      );
    }
    if (
      retainHandling !== undefined && retainHandling !== 0 && retainHandling !== 1 &&
      retainHandling !== 2
    ) {
      throw new RangeError(
        `Cannot subscribe as 'retainHandling' must be 0, 1 or 2: current value is ${
          show(retainHandling)
        }`,
      );
    }
    if (subscription.noLocal && subscription.topicFilter.startsWith("$share/")) {
      throw new TypeError(
        `Cannot subscribe to the shared subscription ${
          show(subscription.topicFilter)
        } with 'noLocal' [MQTT-3.8.3-4]`,
      );
    }
    return { ...subscription };
  });
}

function checkSubscribeProperties(properties: Properties | undefined): Properties | undefined {
  const ids = properties?.subscriptionIdentifiers;
  if (ids !== undefined) {
    if (
      ids.length !== 1 || !Number.isInteger(ids[0]) || ids[0]! < 1 ||
      ids[0]! > MAX_SUBSCRIPTION_IDENTIFIER
    ) {
      throw new RangeError(
        `Cannot subscribe as 'properties.subscriptionIdentifiers' must hold one integer from 1 to 268435455: current value is ${
          show(ids)
        }`,
      );
    }
  }
  return emptyToUndefined(properties);
}

function emptyToUndefined(properties: Properties | undefined): Properties | undefined {
  return properties && Object.keys(properties).length > 0 ? properties : undefined;
}

function copySubscription(active: ActiveSubscription): ActiveSubscription {
  const copy: ActiveSubscription = { subscription: { ...active.subscription } };
  if (active.properties) copy.properties = active.properties;
  return copy;
}

function show(value: unknown): string {
  if (typeof value === "string") {
    return `'${value.length > 60 ? `${value.slice(0, 60)}...` : value}'`;
  }
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
