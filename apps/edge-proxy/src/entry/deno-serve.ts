// The proxy as a module for `deno serve --unstable-kv` and Deno Deploy: `export default { fetch }`,
// the app and its stores (Deno KV; Deploy's managed KV) made when the module loads, so the outbox
// runs the jobs a previous process left before the first request comes.
import { Deno, type DenoServeInfo, denoServer } from "./deno-runtime.ts";

const server = denoServer();

// `deno serve` stops its own listener; the outbox hands its running jobs back before the exit.
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const { stores, graceMs } = await server;
  await stores.stop(graceMs).catch(() => {});
  Deno.exit(0);
};
try {
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
} catch {
  // A platform that gives the process no signals (Deno Deploy) stops it on its own.
}

export default {
  async fetch(request: Request, info: DenoServeInfo): Promise<Response> {
    return (await server).app.fetch(request, info);
  },
};
