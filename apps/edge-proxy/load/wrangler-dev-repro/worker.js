// A Worker that answers 200 and logs LOG_LINES JSON lines per request (a var, one by default): nothing else.
export default {
  fetch(request, env) {
    const lines = Number(env.LOG_LINES ?? "1");
    const route = new URL(request.url).pathname;
    for (let line = 0; line < lines; line++) {
      // About the size of the proxy's own request line.
      console.log(
        JSON.stringify({
          at: new Date().toISOString(),
          requestId: crypto.randomUUID(),
          method: request.method,
          route,
          vendor: "fungame",
          status: 200,
          upstreamStatus: 200,
          latencyMs: 5,
          retries: 0,
          line,
        }),
      );
    }
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  },
};
