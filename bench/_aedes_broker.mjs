#!/usr/bin/env node
// Helper of broker_bench.ts (run by Node): aedes with its defaults on net.createServer,
// on 127.0.0.1 and a free port. Prints "listening PORT"; exits on SIGTERM.

import { Aedes } from "aedes";
import { createServer } from "node:net";
import process from "node:process";

const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
