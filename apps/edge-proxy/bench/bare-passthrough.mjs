// The bare passthrough: what any proxy costs on a runtime, and nothing of this one. It takes a
// logout's upstream requests, already built and signed (`{ base, steps }`, as the simulators'
// /prepare makes them for "direct"), sends them in order with the runtime's own fetch, and answers
// with the last one's status and body (502 when an earlier one is not 2xx). No validation, no
// signing, no logging, no stores.
//
//   workerd:  a Worker whose fetch is `passthrough` (proxy.bench.ts bundles it), run by miniflare like
//             the proxy's script
//   Node, Bun, Deno: bench/serve-helper.mjs serves `passthrough` on 127.0.0.1 (@hono/node-server on
//             Node, as the proxy's Node entry; Bun.serve; Deno.serve)
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
