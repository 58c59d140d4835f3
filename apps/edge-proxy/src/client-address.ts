// The caller's socket address on the local runtimes, as each hands it to app.fetch as its env:
// Node (@hono/node-server's { incoming }), Bun (the server's requestIP) and Deno (the handler info).
import type { ProxyContext } from "./context.ts";

interface SocketEnv {
  incoming?: { socket?: { remoteAddress?: unknown } };
  remoteAddr?: { hostname?: unknown };
  requestIP?: (request: Request) => { address?: unknown } | null;
}

/** The address of the connection the request came on, or undefined when the runtime gave none. */
export function socketAddress(c: ProxyContext): string | undefined {
  const env = c.env as SocketEnv | undefined;
  if (typeof env !== "object" || env === null) return undefined;
  const node = env.incoming?.socket?.remoteAddress;
  if (typeof node === "string") return node;
  const deno = env.remoteAddr?.hostname;
  if (typeof deno === "string") return deno;
  if (typeof env.requestIP === "function") {
    try {
      const bun = env.requestIP(c.req.raw)?.address;
      if (typeof bun === "string") return bun;
    } catch {
      // not a Bun server after all
    }
  }
  return undefined;
}
