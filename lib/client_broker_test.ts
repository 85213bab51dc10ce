/**
 * The client against tern's own broker in strict mode: the broker records every protocol
 * violation it sees by spec statement id, so each scenario also proves the client broke
 * no rule the broker checks.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Message } from "../mod.ts";
import { type RunningBroker, startBroker } from "../broker/mod.ts";

const WAIT = 10_000;

async function take(source: AsyncIterable<Message>, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  const iterator = source[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`only ${messages.length} of ${count} messages within ${WAIT} ms`)),
      WAIT,
    );
  });
  try {
    while (messages.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`the stream ended after ${messages.length} messages`);
      messages.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return messages;
}

let counter = 0;

describe("client against tern's broker (strict)", () => {
  let broker: RunningBroker;
  before(async () => {
    broker = await startBroker({ port: 0, strict: true });
  });
  after(async () => {
    await broker?.close();
  });

  for (const protocolVersion of [4, 5] as const) {
    const level = protocolVersion === 4 ? "MQTT 3.1.1" : "MQTT 5";

    test(`[MQTT-3.2.2-2] [MQTT-3.2.2-3] ${level}: client.sessionPresent tells whether the session was resumed`, async () => {
      const clientId = `resume-${protocolVersion}-${++counter}`;
      const options = {
        clientId,
        protocolVersion,
        clean: false,
        sessionExpiryInterval: 60,
        reconnect: false as const,
      };
      const first = await connect(broker.url, options);
      assert.equal(first.sessionPresent, false);
      await first.subscribe(`resume/${clientId}`, { qos: 1 });
      await first.disconnect();
      await using second = await connect(broker.url, options);
      assert.equal(second.sessionPresent, true);
      await using fresh = await connect(broker.url, { ...options, clean: true });
      assert.equal(fresh.sessionPresent, false);
    });

    test(`${level}: QoS 0, 1 and 2 both ways, retained, without a violation`, async () => {
      const base = `inrepo/${protocolVersion}/${++counter}`;
      await using a = await connect(broker.url, { clientId: `a-${base}`, protocolVersion });
      await using b = await connect(broker.url, { clientId: `b-${base}`, protocolVersion });
      await using atB = await b.subscribe(`${base}/b/+`, { qos: 2 });
      await using atA = await a.subscribe(`${base}/a/+`, { qos: 2 });
      for (const qos of [0, 1, 2] as const) {
        await a.publish(`${base}/b/${qos}`, `to b ${qos}`, { qos });
        await b.publish(`${base}/a/${qos}`, `to a ${qos}`, { qos });
      }
      assert.deepEqual(
        (await take(atB, 3)).map((m) => [m.text(), m.qos]),
        [0, 1, 2].map((q) => [`to b ${q}`, q]),
      );
      assert.deepEqual(
        (await take(atA, 3)).map((m) => [m.text(), m.qos]),
        [0, 1, 2].map((q) => [`to a ${q}`, q]),
      );
      await a.publish(`${base}/retained`, "kept", { qos: 1, retain: true });
      await using later = await b.subscribe(`${base}/retained`, { qos: 1 });
      const [retained] = await take(later, 1);
      assert.equal(retained!.retain, true);
      await a.publish(`${base}/retained`, "", { qos: 1, retain: true });
      assert.deepEqual(broker.violations, []);
    });

    test(`${level}: a resumed session delivers what was queued while away`, async () => {
      const base = `inrepo/resume/${protocolVersion}/${++counter}`;
      const options = {
        clientId: `resume-${base}`,
        protocolVersion,
        clean: false,
        sessionExpiryInterval: 300,
      };
      {
        await using first = await connect(broker.url, options);
        await first.subscribe(`${base}/#`, { qos: 2 });
      }
      await using publisher = await connect(broker.url, {
        clientId: `pub-${base}`,
        protocolVersion,
      });
      for (let i = 0; i < 3; i++) {
        await publisher.publish(`${base}/${i}`, `queued ${i}`, { qos: 2 });
      }
      await using again = await connect(broker.url, options);
      const messages = await take(again.messages, 3);
      assert.deepEqual(messages.map((m) => m.text()), ["queued 0", "queued 1", "queued 2"]);
      assert.deepEqual(broker.violations, []);
    });
  }

  test("MQTT 5 request / response and the Will, without a violation", async () => {
    const base = `inrepo/v5/${++counter}`;
    await using responder = await connect(broker.url, { clientId: `responder-${base}` });
    await using requests = await responder.subscribe(`${base}/service`, { qos: 1 });
    (async () => {
      for await (const request of requests) {
        await responder.publish(request.responseTopic!, request.text().toUpperCase(), {
          qos: 1,
          properties: { correlationData: request.correlationData! },
        });
      }
    })();
    await using requester = await connect(broker.url, { clientId: `requester-${base}` });
    assert.equal((await requester.request(`${base}/service`, "hello")).text(), "HELLO");
    await using watcher = await requester.subscribe(`${base}/will`, { qos: 1 });
    const doomed = await connect(broker.url, {
      clientId: `doomed-${base}`,
      will: { topic: `${base}/will`, payload: "gone", qos: 1 },
    });
    await doomed.disconnect({ reasonCode: 0x04 }); // "Disconnect with Will Message"
    assert.equal((await take(watcher, 1))[0]!.text(), "gone");
    assert.deepEqual(broker.violations, []);
  });
});
