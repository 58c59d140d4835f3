// The proxy as a module for `deno serve --unstable-kv` and Deno Deploy: `export default { fetch }`,
// the app and its stores (Deno KV; Deploy's managed KV) made when the module loads, so the outbox
// runs the jobs a previous process left before the first request comes.
import { Deno, type DenoServeInfo, denoServer, stdout } from "./deno-runtime.ts";

const server = denoServer();

/** How long the answers being written may take after the last request is answered. */
const FLUSH_MS = 250;

/** Requests being answered, and who waits for there to be none. */
let inFlight = 0;
let drained: (() => void) | undefined;

// `deno serve` owns the listener: a stop pauses the outbox, waits within the grace for the requests
// being answered, hands the outbox's running jobs back, and exits. A second signal exits at once.
let stopping = false;
const stop = async () => {
  if (stopping) Deno.exit(1);
  stopping = true;
  const { stores, graceMs } = await server;
  stores.pause();
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    new Promise<void>((resolve) => {
      drained = resolve;
      if (inFlight === 0) resolve();
    }),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    }),
  ]);
  clearTimeout(timer);
  // The last answers are handed to `deno serve`, which writes them after: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, Math.min(FLUSH_MS, graceMs)));
  await stores.stop(Math.max(0, graceMs - (Date.now() - started))).catch((error: unknown) => {
    stdout(
      `${JSON.stringify({ event: "store_error", error: (error as Error)?.name ?? "Error" })}\n`,
    );
  });
  stdout("edge-proxy: stopped\n");
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
    inFlight++;
    try {
      return await (await server).app.fetch(request, info);
    } finally {
      inFlight--;
      if (inFlight === 0) drained?.();
    }
  },
};
