// The cost of one HTTP hop on Node, without the proxy: a trivial upstream and two bare forwarding proxies.
//
//   node bench/bare-hop.mjs upstream            answers every request with 200 {"ok":true}
//   node bench/bare-hop.mjs fetch <port>        forwards each request to 127.0.0.1:<port> with fetch
//   node bench/bare-hop.mjs http <port>         the same with node:http and a keep-alive agent
//
// Each prints its port on the first line of stdout and serves on 127.0.0.1 until SIGTERM or until
// stdin closes. proxy.bench.ts measures the three side by side (case node-hop): the difference
// between the two proxies is what Node's fetch costs per upstream call on this machine.
import { Agent, createServer, request } from "node:http";
import process from "node:process";

const [role, upstreamPort] = process.argv.slice(2);
const agent = new Agent({ keepAlive: true });

function readBody(incoming) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    incoming.on("data", (chunk) => chunks.push(chunk));
    incoming.on("end", () => resolve(Buffer.concat(chunks)));
    incoming.on("error", reject);
  });
}

async function forwardWithFetch(body) {
  const response = await fetch(`http://127.0.0.1:${upstreamPort}/`, { method: "POST", body });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

function forwardWithHttp(body) {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: "127.0.0.1", port: upstreamPort, path: "/", method: "POST", agent },
      (answer) => {
        readBody(answer).then((text) => resolve({ status: answer.statusCode, body: text }), reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

const handlers = {
  upstream: async () => ({ status: 200, body: Buffer.from('{"ok":true}') }),
  fetch: forwardWithFetch,
  http: forwardWithHttp,
};
const handle = handlers[role];
if (!handle || (role !== "upstream" && !/^\d+$/.test(upstreamPort ?? ""))) {
  process.stderr.write("usage: bare-hop.mjs upstream | fetch <port> | http <port>\n");
  process.exit(2);
}

const server = createServer((incoming, outgoing) => {
  readBody(incoming)
    .then(handle)
    .then(
      (answer) =>
        outgoing.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body),
      () => outgoing.writeHead(502).end(),
    );
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
