// Over real HTTP on 127.0.0.1: a Lancens that redirects to another origin never hands it the login token.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LancensClient, type LancensError } from "../src/index.ts";

const TOKEN = "0123456789abcdef0123456789abcdef";
const USER = "lancens-user";

interface Seen {
  method: string;
  url: string;
  token: string | undefined;
  body: string;
}

async function listen(
  answer: (request: IncomingMessage, body: string) => { status: number; headers?: object },
): Promise<{ server: Server; origin: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const header = request.headers.token;
      seen.push({
        method: request.method ?? "",
        url: request.url ?? "",
        token: Array.isArray(header) ? header.join(",") : header,
        body,
      });
      const { status, headers } = answer(request, body);
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(status >= 300 && status < 400 ? "" : '{"message":"success"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, seen };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe("a Lancens answer that redirects to another origin", () => {
  let lancens: Awaited<ReturnType<typeof listen>>;
  let elsewhere: Awaited<ReturnType<typeof listen>>;
  let status = 302;

  beforeAll(async () => {
    elsewhere = await listen(() => ({ status: 200 }));
    lancens = await listen((request) => ({
      status,
      headers: { location: `${elsewhere.origin}/collect${request.url}?token=${TOKEN}` },
    }));
  });

  afterAll(async () => {
    await close(lancens.server);
    await close(elsewhere.server);
  });

  it.each([301, 302, 303, 307, 308])(
    "HTTP %i: every call fails with REDIRECT, and the other origin receives nothing",
    async (code) => {
      status = code;
      lancens.seen.length = 0;
      // The global fetch of the runtime: the one that would follow a redirect.
      const client = new LancensClient({ baseUrl: lancens.origin, timeoutMs: 5_000 });
      const result = await client.logoutFully({ username: USER, token: TOKEN });
      for (const step of [result.ringPushToken, result.messagePushToken, result.session]) {
        const error = step as LancensError;
        expect(error).toMatchObject({
          code: "REDIRECT",
          kind: "upstream",
          retryable: false,
          upstreamStatus: code,
        });
        expect(error.message).toContain(`HTTP ${code}`);
        // The origin may be named (an operator fixes the base URL); the Location's path and query never.
        expect(JSON.stringify(error)).not.toContain("/collect");
        expect(JSON.stringify(error)).not.toContain("token=");
        expect(JSON.stringify(error)).not.toContain(TOKEN);
      }
      expect(result.alreadyLoggedOut).toBe(false);
      expect(result.ok).toBe(false);
      expect(lancens.seen.map((seen) => `${seen.method} ${seen.url} ${seen.token}`)).toEqual([
        `DELETE /v1/api/user/token ${TOKEN}`,
        `DELETE /v1/api/user/message/token ${TOKEN}`,
        `POST /v1/api/user/logout ${TOKEN}`,
      ]);
      expect(elsewhere.seen).toEqual([]);
    },
  );
});
