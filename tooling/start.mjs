// `npm start`: runs the edge proxy's start script (simulators + wrangler dev) with this Node, passing signals on.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./toolchain.mjs";

const script = join(ROOT, "apps", "edge-proxy", "scripts", "start.mjs");
if (!existsSync(script)) {
  process.stderr.write(
    "npm start: the edge proxy (apps/edge-proxy/scripts/start.mjs) is not part of this checkout.\n",
  );
  process.exit(1);
}

const child = spawn(process.execPath, [script, ...process.argv.slice(2)], {
  cwd: join(ROOT, "apps", "edge-proxy"),
  stdio: "inherit",
});
// The start script stops wrangler and the simulators itself on any of these; a repeat is harmless.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const signal of SIGNALS) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on("error", (error) => {
  process.stderr.write(`npm start: could not run ${script}: ${error.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  for (const name of SIGNALS) process.removeAllListeners(name);
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
