/**
 * The command line flags added for $SYS topics, QoS 0 queueing and client certificates.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBrokerArgs } from "./main.ts";

test("--sys-interval, --queue-qos0 and --require-cert: defaults, values and mistakes", () => {
  const defaults = parseBrokerArgs([]);
  assert.deepEqual([defaults.sysInterval, defaults.queueQos0, defaults.requireCert], [
    10,
    false,
    false,
  ]);
  const args = parseBrokerArgs([
    "--sys-interval=0",
    "--queue-qos0",
    "--tls-port",
    "0",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--ca",
    "ca.pem",
    "--require-cert",
  ]);
  assert.deepEqual([args.sysInterval, args.queueQos0, args.requireCert], [0, true, true]);
  assert.throws(() => parseBrokerArgs(["--sys-interval", "-5"]), {
    name: "RangeError",
    message:
      "Cannot start the broker as '--sys-interval' must be a number of seconds from 0 to 2147483: current value is -5",
  });
  assert.throws(() => parseBrokerArgs(["--require-cert"]), {
    name: "TypeError",
    message: "Cannot start the broker as '--require-cert' needs '--tls-port' and '--ca'",
  });
});
