// Serves one Web handler of the bench (a module's named export, `(Request) => Response`) on
// 127.0.0.1 with the runtime's own server, the one the proxy's entry uses there: Bun.serve,
// Deno.serve, and @hono/node-server on Node. Prints `<name> listening on http://127.0.0.1:<port>`,
// then serves until SIGTERM or SIGINT.
//
//   node|bun bench/serve-helper.mjs <module> <export> <name>
//   deno run --allow-net=127.0.0.1 --allow-read=<repository> bench/serve-helper.mjs <module> <export> <name>
//
// The modules themselves hold no program code: a Worker's bundle of them runs none (workerd refuses a
// script that reads import.meta.main, and Bun serves a default export with fetch on port 3000).
import { pathToFileURL } from "node:url";

const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [file, exported, name] = args;
if (file === undefined || exported === undefined || name === undefined) {
  console.error("usage: serve-helper.mjs <module> <export> <name>");
  process.exit(2);
}
const handler = (await import(pathToFileURL(file).href))[exported];
if (typeof handler !== "function") {
  console.error(`${file} exports no function ${exported}`);
  process.exit(2);
}
const announce = (port) => console.log(`${name} listening on http://127.0.0.1:${port}`);

if (globalThis.Bun !== undefined) {
  announce(globalThis.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler }).port);
} else if (globalThis.Deno !== undefined) {
  globalThis.Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => announce(port) },
    handler,
  );
} else {
  const { serve } = await import("@hono/node-server");
  const server = serve({ fetch: handler, hostname: "127.0.0.1", port: 0 }, (info) =>
    announce(info.port),
  );
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
