// The bare passthrough: what any proxy costs on a runtime, and nothing of this one. It takes a
// logout's upstream requests, already built and signed (`{ base, steps }`, as the simulators'
// /prepare makes them for "direct"), sends them in order with the runtime's own fetch, and answers
// with the last one's status and body (502 when an earlier one is not 2xx). No validation, no
// signing, no logging, no stores.
//
//   workerd:  this module as a Worker (its default export), run by miniflare like the proxy's script
//   node bench/bare-passthrough.mjs | bun bench/bare-passthrough.mjs | deno run --allow-net=127.0.0.1 …
//             serves on 127.0.0.1 (node:http on Node, Bun.serve, Deno.serve), prints
//             `bare-passthrough listening on http://127.0.0.1:<port>`, and stops on SIGTERM.
//
// proxy.bench.ts runs it beside the proxy on the same runtime (subject "bare" of every latency and
// throughput case): proxy − bare is the proxy's own cost, bare − direct the hop's.

/** Sends the steps in order; the answer is the last step's. */
async function forward({ base, steps }) {
  let last;
  for (const [index, step] of steps.entries()) {
    const answer = await fetch(`${base}${step.path}`, {
      method: step.method,
      headers: step.headers,
      body: step.body,
    });
    const body = await answer.text();
    if (index < steps.length - 1 && (answer.status < 200 || answer.status > 299)) {
      return { status: 502, body };
    }
    last = { status: answer.status, body };
  }
  return last ?? { status: 400, body: "no steps" };
}

/** The Web handler: workerd, Bun and Deno. */
export async function passthrough(request) {
  const { status, body } = await forward(await request.json());
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

export default { fetch: passthrough };

const announce = (port) => console.log(`bare-passthrough listening on http://127.0.0.1:${port}`);

if (globalThis.Bun !== undefined) {
  const server = globalThis.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: passthrough });
  announce(server.port);
} else if (globalThis.Deno !== undefined) {
  globalThis.Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => announce(port) },
    passthrough,
  );
} else if (globalThis.process?.versions?.node !== undefined) {
  // Node has no Web server of its own: node:http, with Node's fetch (undici) upstream.
  // A module name the bundlers of other runtimes do not follow.
  const http = "node:http";
  const { createServer } = await import(http);
  const server = createServer((incoming, outgoing) => {
    const chunks = [];
    incoming.on("data", (chunk) => chunks.push(chunk));
    incoming.on("end", () => {
      forward(JSON.parse(Buffer.concat(chunks).toString("utf8"))).then(
        ({ status, body }) =>
          outgoing.writeHead(status, { "content-type": "application/json" }).end(body),
        () => outgoing.writeHead(502).end(),
      );
    });
  });
  server.listen(0, "127.0.0.1", () => announce(server.address().port));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
