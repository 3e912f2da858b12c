// Starts the fauxqs SNS/SQS emulator on loopback only (its own CLI listens on 0.0.0.0).
// Usage: node server.mjs PORT   — prints "listening <port>" once ready; state is in memory.
import { buildApp } from "fauxqs";

const port = parseInt(process.argv[2] ?? process.env.FAUXQS_PORT ?? "4566", 10);
const app = buildApp({ logger: false, defaultRegion: process.env.FAUXQS_DEFAULT_REGION });
await app.listen({ port, host: "127.0.0.1" });
console.log(`listening ${app.server.address().port}`);

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => app.close().then(() => process.exit(0)));
}
