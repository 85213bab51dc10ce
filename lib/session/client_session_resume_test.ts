// ClientSession across connections: re-sending on resumption, what happens when the
// session is lost, restoring subscriptions, and snapshot / restore across a restart.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { PublishPacket } from "../packet/types.ts";
import type { SessionAction } from "./actions.ts";
import { ClientSession } from "./client_session.ts";
import type { SessionSnapshot } from "./snapshot.ts";
import {
  bytes,
  connack,
  connected,
  reconnect,
  sent,
  serverPublish,
  settles,
  summary,
} from "./testdata/harness.ts";

const payload = bytes(5);

/** Publishes a/QoS 1, b/QoS 2, c/QoS 2, d/QoS 1; c reaches its second phase. */
function fourInFlight(session: ClientSession): number[] {
  const ids = ["a", "b", "c", "d"].map((topic, i) =>
    session.publish({ topic, payload, qos: i === 0 || i === 3 ? 1 : 2 }, 0).id
  );
  session.handlePacket({ type: "pubrec", packetId: 3, reasonCode: 0 }, 0);
  return ids;
}

/** Through JSON, as a store would keep it. */
function persist(session: ClientSession): SessionSnapshot {
  return JSON.parse(JSON.stringify(session.snapshot()));
}

function deliveries(actions: SessionAction[]): string[] {
  return actions.flatMap((a) => (a.type === "deliver" ? [a.message.topic] : []));
}

describe("session resumed (Session Present)", () => {
  test("[MQTT-4.4.0-1] [MQTT-4.6.0-1] re-sends PUBLISH with DUP and PUBREL in original order", () => {
    const { session } = connected({ clean: false });
    fourInFlight(session);
    const actions = reconnect(session, true);
    assert.deepEqual(summary(actions), [
      "connected",
      "send publish 1 dup a",
      "send publish 2 dup b",
      "send pubrel 3",
      "send publish 4 dup d",
    ]);
    assert.ok(actions[0]?.type === "connected" && actions[0].sessionPresent);
    const [first] = sent(actions) as PublishPacket[];
    assert.deepEqual(first, {
      type: "publish",
      topic: "a",
      payload,
      qos: 1,
      retain: false,
      dup: true,
      packetId: 1,
    });
  });

  test("[MQTT-4.3.3-6] a message in its second phase is never re-published", () => {
    const { session } = connected({ clean: false });
    session.publish({ topic: "x", payload, qos: 2 }, 0);
    session.handlePacket({ type: "pubrec", packetId: 1, reasonCode: 0 }, 0);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(summary(reconnect(session, true)), ["connected", "send pubrel 1"]);
    }
  });

  test("[MQTT-4.9.0-2] re-sending respects the new Receive Maximum, in order", () => {
    const { session } = connected({ clean: false });
    const ids = fourInFlight(session);
    const actions = reconnect(session, true, { receiveMaximum: 1 });
    // only a fits; the PUBREL of c needs no quota; b and d wait, in order
    assert.deepEqual(summary(actions), ["connected", "send publish 1 dup a", "send pubrel 3"]);
    const queued = session.publish({ topic: "e", payload, qos: 1 }, 0);
    assert.deepEqual(queued.actions, []);
    assert.deepEqual(
      summary(session.handlePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 0)),
      [
        `settle ${ids[0]}`,
        "send publish 2 dup b",
      ],
    );
    session.handlePacket({ type: "pubrec", packetId: 2, reasonCode: 0 }, 0);
    assert.deepEqual(
      summary(session.handlePacket({ type: "pubcomp", packetId: 2, reasonCode: 0 }, 0)),
      [
        `settle ${ids[1]}`,
        "send publish 4 dup d",
      ],
    );
    assert.deepEqual(
      summary(session.handlePacket({ type: "puback", packetId: 4, reasonCode: 0 }, 0)),
      [
        `settle ${ids[3]}`,
        "send publish 5 e",
      ],
    );
  });

  test("an exchange acknowledged before its re-send is not re-sent", () => {
    const { session } = connected({ clean: false });
    session.publish({ topic: "a", payload, qos: 1 }, 0);
    session.publish({ topic: "b", payload, qos: 1 }, 0);
    reconnect(session, true, { receiveMaximum: 1 });
    // the server answers b (received on the last connection) before a's PUBACK
    session.handlePacket({ type: "puback", packetId: 2, reasonCode: 0 }, 0);
    assert.deepEqual(
      summary(session.handlePacket({ type: "puback", packetId: 1, reasonCode: 0 }, 0)),
      [
        "settle 1",
      ],
    );
    assert.equal(session.inflight, 0);
  });

  test("requests not yet acknowledged are sent again after the re-sends", () => {
    const { session } = connected({ clean: false });
    session.publish({ topic: "a", payload, qos: 1 }, 0);
    session.subscribe({ subscriptions: [{ topicFilter: "s", qos: 1 }] }, 0);
    session.unsubscribe({ topicFilters: ["u"] }, 0);
    assert.deepEqual(summary(reconnect(session, true)), [
      "connected",
      "send publish 1 dup a",
      "send subscribe 2",
      "send unsubscribe 3",
    ]);
  });

  test("MQTT 3.1 has no Session Present flag: a session without clean start is resumed", () => {
    const { session } = connected({ protocolVersion: 3, clean: false });
    session.publish({ topic: "a", payload, qos: 1 }, 0);
    const actions = reconnect(session, false);
    assert.ok(actions[0]?.type === "connected" && actions[0].sessionPresent);
    assert.deepEqual(summary(actions).slice(1), ["send publish 1 dup a"]);
  });
});

describe("session lost (no Session Present)", () => {
  test("[MQTT-3.2.2-5] messages awaiting PUBACK / PUBREC are sent again as new messages", () => {
    const { session } = connected({ clean: false });
    const ids = fourInFlight(session);
    const later = session.publish({ topic: "e", payload, qos: 1 }, 0);
    const actions = reconnect(session, false);
    // c was acknowledged by PUBREC: the server owns it, so it is settled, not re-sent
    assert.deepEqual(summary(actions), [
      "connected",
      `settle ${ids[2]}`,
      "send publish 6 a",
      "send publish 7 b",
      "send publish 8 d",
      "send publish 9 e",
    ]);
    assert.deepEqual(settles(actions)[0]?.reasonCodes, [0]);
    assert.equal((sent(actions)[0] as PublishPacket).dup, false);
    assert.notEqual(later.id, ids[3]);
  });

  test("a clean start also starts the exchanges afresh", () => {
    const { session } = connected({ clean: true });
    session.publish({ topic: "a", payload, qos: 2 }, 0);
    assert.deepEqual(summary(reconnect(session, false)), ["connected", "send publish 2 a"]);
  });

  test("granted subscriptions are subscribed again, before anything else", () => {
    const { session } = connected();
    session.subscribe({
      subscriptions: [{ topicFilter: "a", qos: 1 }, { topicFilter: "b", qos: 2, noLocal: true }],
    }, 0);
    session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [1, 2] }, 0);
    session.subscribe({
      subscriptions: [{ topicFilter: "c", qos: 0 }],
      properties: { subscriptionIdentifiers: [9] },
    }, 0);
    session.handlePacket({ type: "suback", packetId: 2, reasonCodes: [0] }, 0);
    session.publish({ topic: "p", payload, qos: 1 }, 0);
    const actions = reconnect(session, false);
    assert.deepEqual(sent(actions).slice(0, 2), [
      {
        type: "subscribe",
        packetId: 4,
        subscriptions: [{ topicFilter: "a", qos: 1 }, { topicFilter: "b", qos: 2, noLocal: true }],
      },
      {
        type: "subscribe",
        packetId: 5,
        subscriptions: [{ topicFilter: "c", qos: 0 }],
        properties: { subscriptionIdentifiers: [9] },
      },
    ]);
    assert.deepEqual(summary(actions).slice(3), ["send publish 6 p"]);
    // the SUBACK settles a request the caller never made, naming its filters
    const [settle] = session.handlePacket(
      { type: "suback", packetId: 4, reasonCodes: [1, 0x87] },
      0,
    );
    assert.ok(settle?.type === "settle");
    assert.deepEqual(settle.topicFilters, ["a", "b"]);
    assert.equal(settle.restored, true, "marked as the session's own request");
    // a refused restoration is not tried again
    assert.deepEqual(session.subscriptions.map((s) => s.subscription.topicFilter), ["a", "c"]);
  });

  test("restorations of an attempt that never got its SUBACK are not doubled", () => {
    const { session } = connected();
    session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 1 }] }, 0);
    session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [1] }, 0);
    reconnect(session, false);
    assert.deepEqual(summary(reconnect(session, false)), ["connected", "send subscribe 3"]);
  });

  test("a resumed session does not subscribe again", () => {
    const { session } = connected({ clean: false });
    session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 1 }] }, 0);
    session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [1] }, 0);
    assert.deepEqual(summary(reconnect(session, true)), ["connected"]);
  });

  test("an unsubscribed filter is not restored", () => {
    const { session } = connected();
    session.subscribe({ subscriptions: [{ topicFilter: "a", qos: 1 }] }, 0);
    session.handlePacket({ type: "suback", packetId: 1, reasonCodes: [1] }, 0);
    session.unsubscribe({ topicFilters: ["a"] }, 0);
    session.handlePacket({ type: "unsuback", packetId: 2, reasonCodes: [0] }, 0);
    assert.deepEqual(summary(reconnect(session, false)), ["connected"]);
  });
});

describe("snapshot and restore", () => {
  test("QoS 2 is delivered exactly once across a restart", () => {
    const before = new ClientSession({ clientId: "exactly-once", clean: false });
    before.connectPacket();
    before.handlePacket(connack(), 0);
    const first = before.handlePacket(serverPublish(7, 2, "orders"), 1);
    assert.deepEqual(summary(first), ["deliver orders", "send pubrec 7"]);
    const saved = persist(before);
    assert.deepEqual(saved.incoming, [{ packetId: 7, reasonCode: 0, pubrecSent: true }]);

    // the process dies; a new one resumes the session from the store
    const after = ClientSession.restore(saved, { clean: false });
    assert.equal(after.connectPacket().clientId, "exactly-once");
    after.handlePacket(connack(true), 10);
    const again = after.handlePacket(serverPublish(7, 2, "orders", { dup: true }), 11);
    assert.deepEqual(deliveries(again), []);
    assert.deepEqual(sent(again), [{ type: "pubrec", packetId: 7, reasonCode: 0 }]);
    assert.deepEqual(sent(after.handlePacket({ type: "pubrel", packetId: 7, reasonCode: 0 }, 12)), [
      { type: "pubcomp", packetId: 7, reasonCode: 0 },
    ]);
    assert.deepEqual(deliveries(after.handlePacket(serverPublish(7, 2, "orders"), 13)), ["orders"]);
  });

  test("a QoS 2 message the application never consumed is delivered again after a restart", () => {
    const before = connected({ clean: false, manualAcks: true }).session;
    before.handlePacket(serverPublish(8, 2, "jobs"), 1); // delivered, not acknowledged
    const saved = persist(before);
    assert.deepEqual(saved.incoming, []);
    const after = ClientSession.restore(saved, { clean: false, manualAcks: true });
    after.connectPacket();
    after.handlePacket(connack(true), 0);
    assert.deepEqual(
      deliveries(after.handlePacket(serverPublish(8, 2, "jobs", { dup: true }), 1)),
      [
        "jobs",
      ],
    );
  });

  test("a PUBREC the application allowed while offline survives a restart", () => {
    const before = connected({ clean: false, manualAcks: true }).session;
    const [deliver] = before.handlePacket(serverPublish(9, 2), 0);
    before.connectionLost();
    assert.ok(deliver?.type === "deliver");
    before.acknowledge(deliver.token!, 1);
    const saved = persist(before);
    assert.deepEqual(saved.incoming, [{ packetId: 9, reasonCode: 0, pubrecSent: false }]);
    const after = ClientSession.restore(saved, { clean: false, manualAcks: true });
    after.connectPacket();
    assert.deepEqual(summary(after.handlePacket(connack(true), 0)), ["connected"]);
    // the re-sent copy is answered, not delivered
    assert.deepEqual(after.handlePacket(serverPublish(9, 2, "t", { dup: true }), 1), [
      { type: "send", packet: { type: "pubrec", packetId: 9, reasonCode: 0 } },
    ]);
  });

  test("outgoing messages survive a restart: re-sent in order, new ones get free ids", () => {
    const before = connected({ clean: false }, { receiveMaximum: 4 }).session;
    const ids = fourInFlight(before);
    const queued = before.publish({
      topic: "q",
      payload: bytes(1, 2),
      qos: 1,
      properties: { correlationData: bytes(3), userProperties: [["k", "v"]] },
    }, 0);
    before.publish({ topic: "zero", payload }, 0); // QoS 0 is not kept
    assert.equal(before.queued, 2);
    const saved = persist(before);
    assert.deepEqual(
      saved.outgoing.map((o) => [o.id, o.topic, o.phase, o.packetId]),
      [
        [ids[0], "a", "publish", 1],
        [ids[1], "b", "publish", 2],
        [ids[2], "c", "pubrel", 3],
        [ids[3], "d", "publish", 4],
        [queued.id, "q", "queued", undefined],
      ],
    );

    const after = ClientSession.restore(saved, { clean: false });
    after.connectPacket();
    const actions = after.handlePacket(connack(true, { receiveMaximum: 10 }), 0);
    assert.deepEqual(summary(actions), [
      "connected",
      "send publish 1 dup a",
      "send publish 2 dup b",
      "send pubrel 3",
      "send publish 4 dup d",
      "send publish 5 q",
    ]);
    assert.deepEqual((sent(actions)[4] as PublishPacket).properties, {
      correlationData: bytes(3),
      userProperties: [["k", "v"]],
    });
    // completions carry the ids the first process handed out
    assert.deepEqual(after.handlePacket({ type: "pubcomp", packetId: 3, reasonCode: 0 }, 1), [
      { type: "settle", id: ids[2]!, request: "publish", reasonCodes: [0, 0] },
    ]);
    const fresh = after.publish({ topic: "new", payload, qos: 1 }, 2);
    assert.ok(fresh.id > queued.id);
    assert.deepEqual(summary(fresh.actions), ["send publish 6 new"]);
  });

  test("restored subscriptions are subscribed again when the session is lost", () => {
    const before = connected().session;
    before.subscribe({
      subscriptions: [{ topicFilter: "a/+", qos: 2, retainHandling: 2 }],
      properties: { userProperties: [["x", "y"]] },
    }, 0);
    before.handlePacket({ type: "suback", packetId: 1, reasonCodes: [2] }, 0);
    const after = ClientSession.restore(persist(before));
    after.connectPacket();
    assert.deepEqual(sent(after.handlePacket(connack(), 0)), [{
      type: "subscribe",
      packetId: 2,
      subscriptions: [{ topicFilter: "a/+", qos: 2, retainHandling: 2 }],
      properties: { userProperties: [["x", "y"]] },
    }]);
  });

  test("restoring under another Client Identifier is refused", () => {
    const saved = persist(connected({ clientId: "one" }).session);
    assert.throws(() => ClientSession.restore(saved, { clientId: "two" }), {
      name: "TypeError",
      message: /belongs to client 'one'/,
    });
    assert.equal(ClientSession.restore(saved, { clientId: "one" }).clientId, "one");
  });

  test("an assigned Client Identifier is kept in the snapshot", () => {
    const session = new ClientSession({ clean: false });
    session.connectPacket();
    session.handlePacket(connack(false, { assignedClientIdentifier: "srv-9" }), 0);
    const after = ClientSession.restore(persist(session), { clean: false });
    assert.equal(after.connectPacket().clientId, "srv-9");
  });

  test("a damaged snapshot is refused", () => {
    const saved = persist(connected().session) as unknown as Record<string, unknown>;
    saved.nextPacketId = 70_000;
    assert.throws(() => ClientSession.restore(saved as unknown as SessionSnapshot), TypeError);
  });
});
