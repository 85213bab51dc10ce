/**
 * Server-side session state, kept by client id across connections: subscriptions,
 * messages waiting to be sent, QoS 1 and 2 messages in flight to the client, the packet
 * ids of QoS 2 messages received from it and not yet released, and the timers for its
 * expiry and delayed will.
 *
 * @module
 */

import type { QoS, Will } from "../lib/packet/types.ts";
import { PacketIdAllocator } from "../lib/session/packet_ids.ts";
import type { BrokerMessage } from "./message.ts";
import type { ScheduledTask } from "./scheduler.ts";

/** Session Expiry Interval meaning "never expires" (MQTT 5 section 3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffff_ffff;

/**
 * One subscription of a session. Stored in the session by the filter the client sent and
 * in the broker's subscription tree by `matchFilter`.
 *
 * @example A shared subscription
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SubscriptionEntry } from "./sessions.ts";
 * const entry: SubscriptionEntry = {
 *   clientId: "worker-1", filter: "$share/workers/jobs/+", matchFilter: "jobs/+",
 *   group: "workers", qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0,
 * };
 * assert.equal(entry.group, "workers");
 * ```
 */
export interface SubscriptionEntry {
  /** The client whose session holds the subscription. */
  readonly clientId: string;
  /** The Topic Filter as subscribed, with any "$share/group/" prefix. */
  readonly filter: string;
  /** The filter matched against topics: `filter` without its "$share/group/" prefix. */
  readonly matchFilter: string;
  /** The ShareName of a shared subscription. */
  readonly group?: string;
  /** The maximum QoS granted. */
  readonly qos: QoS;
  /** MQTT 5 No Local: the client's own messages are not sent back to it. */
  readonly noLocal: boolean;
  /** MQTT 5 Retain As Published: forwarded messages keep their RETAIN flag. */
  readonly retainAsPublished: boolean;
  /** MQTT 5 Retain Handling: 0 send retained messages, 1 only for a new subscription, 2 never. */
  readonly retainHandling: 0 | 1 | 2;
  /** The Subscription Identifier the client gave (MQTT 5). */
  readonly identifier?: number;
}

/**
 * The key a subscription is stored under in the subscription tree: the client id, or for
 * shared subscriptions a key no client id can equal (client ids cannot hold U+0000).
 *
 * @example Keys of plain and shared subscriptions
 * ```ts
 * import assert from "node:assert/strict";
 * import { subscriptionKey } from "./sessions.ts";
 * assert.equal(subscriptionKey({ clientId: "a" }), "a");
 * assert.equal(subscriptionKey({ clientId: "a", group: "g" }), "\u0000g\u0000a");
 * ```
 */
export function subscriptionKey(entry: { clientId: string; group?: string }): string {
  return entry.group === undefined ? entry.clientId : `\u0000${entry.group}\u0000${entry.clientId}`;
}

/**
 * A message on its way to one client: the QoS and RETAIN flag it goes out with and the
 * Subscription Identifiers of the subscriptions it matched.
 *
 * @example A QoS 2 message going out at QoS 1
 * ```ts
 * import type { Delivery } from "./sessions.ts";
 * const delivery: Delivery = {
 *   message: { topic: "a", payload: new Uint8Array([1]), qos: 2, retain: false },
 *   qos: 1,
 *   retain: false,
 *   subscriptionIds: [7],
 * };
 * ```
 */
export interface Delivery {
  /** The message, shared by every delivery of it. */
  readonly message: BrokerMessage;
  /** The QoS it goes out with: at most the granted QoS. */
  readonly qos: QoS;
  /** The RETAIN flag it goes out with. */
  readonly retain: boolean;
  /** The Subscription Identifiers of the matching subscriptions (MQTT 5). */
  readonly subscriptionIds?: readonly number[];
}

/**
 * A QoS 1 or 2 message sent to the client and not yet acknowledged: waiting for PUBACK
 * or PUBREC (`stage` "publish") or, after PUBREC, for PUBCOMP (`stage` "pubrel").
 */
export interface OutboundFlight {
  /** The Packet Identifier the message was sent with. */
  readonly packetId: number;
  /** What was sent. */
  readonly delivery: Delivery;
  /** "publish" until PUBREC (QoS 2) or PUBACK (QoS 1); "pubrel" until PUBCOMP. */
  stage: "publish" | "pubrel";
}

/**
 * A first-in first-out queue of deliveries with a size limit: {@link push} refuses beyond
 * it, so the caller can count the drop.
 *
 * @example Bounded queue
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeliveryQueue } from "./sessions.ts";
 * const queue = new DeliveryQueue(2);
 * const delivery = (topic: string) => ({
 *   message: { topic, payload: new Uint8Array(), qos: 1, retain: false }, qos: 1, retain: false,
 * }) as const;
 * assert.equal(queue.push(delivery("a")), true);
 * assert.equal(queue.push(delivery("b")), true);
 * assert.equal(queue.push(delivery("c")), false);
 * assert.equal(queue.shift()?.message.topic, "a");
 * assert.equal(queue.length, 1);
 * queue.clear();
 * assert.equal(queue.length, 0);
 * assert.equal(queue.peek(), undefined);
 * assert.equal(queue.shift(), undefined);
 * assert.equal(queue.push(delivery("d")), true);
 * assert.equal(queue.peek()?.message.topic, "d");
 * ```
 */
export class DeliveryQueue {
  // Created on first push: most sessions never queue anything.
  #items: (Delivery | undefined)[] | undefined = undefined;
  #head = 0;
  #limit: number;

  /** A queue holding at most `limit` deliveries. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** How many deliveries wait. */
  get length(): number {
    return this.#items === undefined ? 0 : this.#items.length - this.#head;
  }

  /** The most deliveries it holds. */
  get limit(): number {
    return this.#limit;
  }

  /** Appends `delivery`; returns false (and keeps nothing) when the queue is full. */
  push(delivery: Delivery): boolean {
    if (this.length >= this.#limit) return false;
    (this.#items ??= []).push(delivery);
    return true;
  }

  /** The oldest delivery, without removing it. */
  peek(): Delivery | undefined {
    return this.#items?.[this.#head];
  }

  /** Removes and returns the oldest delivery. */
  shift(): Delivery | undefined {
    const items = this.#items;
    if (items === undefined || this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes everything. */
  clear(): void {
    this.#items = undefined;
    this.#head = 0;
  }
}

/**
 * What a session needs from the connection it is attached to: a way to hand it a
 * delivery while online.
 */
export interface SessionConnection {
  /** Sends (or queues behind the client's Receive Maximum) a delivery. */
  deliver(delivery: Delivery, now: number): void;
}

/**
 * The state the broker keeps for one client id.
 *
 * @example A fresh session
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerSession } from "./sessions.ts";
 * const session = new ServerSession("sensor-1", 100);
 * assert.equal(session.clientId, "sensor-1");
 * assert.equal(session.connection, undefined);
 * assert.equal(session.queue.limit, 100);
 * assert.equal(session.subscriptions.size, 0);
 * assert.equal(session.outbound.size, 0);
 * assert.equal(session.incomingQos2.size, 0);
 * assert.equal(session.packetIds.allocate(), 1);
 * ```
 */
export class ServerSession {
  /** The client id the session belongs to. */
  readonly clientId: string;
  // The collections below are created on first use: a broker holding many idle
  // connections keeps one session each, and most never subscribe, receive QoS 1/2
  // messages or send QoS 2 ones; empty Maps and Sets cost a hash table each.
  #subscriptions: Map<string, SubscriptionEntry> | undefined = undefined;
  #outbound: Map<number, OutboundFlight> | undefined = undefined;
  #packetIds: PacketIdAllocator | undefined = undefined;
  #incomingQos2: Set<number> | undefined = undefined;
  /** Deliveries not yet sent: offline, or held back by the client's Receive Maximum. */
  readonly queue: DeliveryQueue;
  /** Seconds the session outlives its connection; {@link NEVER_EXPIRES} for ever. */
  expiryInterval = 0;
  /** The connection the client is on, or undefined while offline. */
  connection: SessionConnection | undefined = undefined;
  /** Runs when the session expires while offline. */
  expiryTask: ScheduledTask | undefined = undefined;
  /** A will waiting for its Will Delay Interval (MQTT 5), and its timer. */
  pendingWill: { will: Will; task: ScheduledTask } | undefined = undefined;
  /** Messages dropped for this session: queue full, too large for the client, expired. */
  dropped = 0;

  /** A session for `clientId` whose queue holds at most `queueLimit` deliveries. */
  constructor(clientId: string, queueLimit: number) {
    this.clientId = clientId;
    this.queue = new DeliveryQueue(queueLimit);
  }

  /** Subscriptions by the Topic Filter as subscribed. */
  get subscriptions(): Map<string, SubscriptionEntry> {
    return this.#subscriptions ??= new Map();
  }

  /** QoS 1 and 2 messages sent and not yet completed, in the order they were sent. */
  get outbound(): Map<number, OutboundFlight> {
    return this.#outbound ??= new Map();
  }

  /** Packet ids for messages to the client. */
  get packetIds(): PacketIdAllocator {
    return this.#packetIds ??= new PacketIdAllocator();
  }

  /** Packet ids of QoS 2 messages received from the client, PUBREC sent, PUBREL awaited. */
  get incomingQos2(): Set<number> {
    return this.#incomingQos2 ??= new Set();
  }

  /** Cancels the delayed will, if any, and returns it. */
  takePendingWill(): Will | undefined {
    const pending = this.pendingWill;
    if (pending === undefined) return undefined;
    pending.task.cancel();
    this.pendingWill = undefined;
    return pending.will;
  }
}
