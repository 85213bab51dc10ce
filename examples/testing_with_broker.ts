/**
 * Testing your own MQTT code with `withBroker()` (`jsr:@tern/mqtt/testing`): each test
 * gets a fresh broker on a free port, strict about the spec, with a control API to
 * inject messages and inspect what your code did.
 *
 * The code under test is `startAlarm()`, which watches temperatures and raises a retained
 * alarm. `alarmRaisedWhenTooHot` is what a test file would hold; in your `alarm_test.ts`:
 *
 * ```ts ignore
 * import { test } from "node:test";
 * test("the alarm goes off above 30 degrees", alarmRaisedWhenTooHot);
 * ```
 *
 * `node:test` only runs under `deno test` / `bun test`, so this program calls the test
 * body itself and prints the result.
 *
 * Run: `deno run -A examples/testing_with_broker.ts` or `bun examples/testing_with_broker.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { connect, type MqttClient } from "../mod.ts";
import { withBroker } from "../testing/mod.ts";

// ---- the code under test ----------------------------------------------------------

/** Subscribes to temperatures and publishes a retained alarm for readings above `limit`. */
async function startAlarm(client: MqttClient, limit: number): Promise<() => Promise<void>> {
  const readings = await client.subscribe("sensors/+/temp", { qos: 1 });
  const running = (async () => {
    for await (const reading of readings) {
      const room = reading.topic.split("/")[1];
      if (Number(reading.text()) > limit) {
        await client.publish(`alarms/${room}`, `too hot: ${reading.text()}`, {
          qos: 1,
          retain: true,
        });
      }
    }
  })();
  return async () => {
    await readings.unsubscribe();
    await running;
  };
}

// ---- the test ---------------------------------------------------------------------

async function alarmRaisedWhenTooHot(): Promise<void> {
  await using broker = await withBroker({ strict: true });
  await using client = await connect(broker.url, { clientId: "alarm" });
  const stop = await startAlarm(client, 30);

  // The broker's control API: what did our code subscribe to?
  assert.deepEqual(broker.subscriptions("alarm").map((s) => s.topicFilter), ["sensors/+/temp"]);

  // Feed readings straight from the broker, no second client needed.
  broker.inject({ topic: "sensors/kitchen/temp", payload: "21", qos: 1 });
  broker.inject({ topic: "sensors/attic/temp", payload: "34", qos: 1 });
  await broker.until(() => broker.retained("alarms/#").length > 0, { what: "an alarm" });

  const alarms = broker.retained("alarms/#").map((m) =>
    `${m.topic}: ${new TextDecoder().decode(m.payload)}`
  );
  assert.deepEqual(alarms, ["alarms/attic: too hot: 34"]);
  await stop();
  assert.deepEqual(broker.violations, [], "our code broke no MQTT rule");
}

const started = performance.now();
try {
  await alarmRaisedWhenTooHot();
  console.log(
    `ok - the alarm goes off above 30 degrees (${Math.round(performance.now() - started)} ms)`,
  );
} catch (error) {
  console.log(`not ok - the alarm goes off above 30 degrees\n${(error as Error).stack}`);
  process.exitCode = 1;
}
