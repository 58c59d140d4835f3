// Runs the proxy on Deno with Deno.serve (`deno run --unstable-kv`): configuration from Deno.env, the
// stores in Deno KV by default, memory only when named. For `deno serve` and Deno Deploy, see deno-serve.ts.
import { Deno, type DenoServer, denoServer, fail, stdout } from "./deno-runtime.ts";
import { listenAddress, listenUrl } from "./local-server.ts";

async function main(): Promise<void> {
  const { app, host, port, stores, graceMs } = await denoServer();
  let server: DenoServer;
  try {
    server = Deno.serve(
      {
        hostname: host,
        port,
        onListen: (address) => stdout(`edge-proxy listening on ${listenUrl(host, address.port)}\n`),
      },
      (request, info) => app.fetch(request, info),
    );
  } catch (error) {
    fail([
      `edge-proxy: cannot listen on ${listenAddress(host, port)}: ${(error as Error).message}`,
    ]);
  }
  let stopping = false;
  // Stops accepting, lets the requests in flight finish within the grace, hands the outbox's
  // running attempts back, then exits.
  const stop = async () => {
    // A second signal does not wait: jobs still leased are taken again once their lease is over.
    if (stopping) Deno.exit(1);
    stopping = true;
    stores.pause();
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await stores.stop(Math.max(0, graceMs - (Date.now() - started))).catch((error: unknown) => {
      stdout(
        `${JSON.stringify({ event: "store_error", error: (error as Error)?.name ?? "Error" })}\n`,
      );
    });
    stdout("edge-proxy: stopped\n");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

await main();
