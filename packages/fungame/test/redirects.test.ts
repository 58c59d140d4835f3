// Redirects over a real socket: FunGame's 3xx is an error, and the bearer token never reaches the other origin.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FunGameClient, FunGameError } from "../src/index.ts";
import { createFunGameSimulator } from "../src/testing/index.ts";

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A server on 127.0.0.1 answering `answer(path)`; `seen` lists the Authorization header of every request. */
async function listen(
  answer: (path: string) => { status: number; headers?: Record<string, string>; body?: string },
): Promise<{ origin: string; seen: (string | undefined)[] }> {
  const seen: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    request.resume();
    const { status, headers = {}, body = "" } = answer(request.url ?? "/");
    response.writeHead(status, headers).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe("a 3xx from FunGame, with the global fetch", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`HTTP ${status}: a non-retryable upstream REDIRECT, and the token never reaches the Location`, async () => {
      const token = await createFunGameSimulator().login();
      const success = JSON.stringify({
        requestType: 1,
        statusCode: 200,
        message: "你已成功退出登录！",
        data: {},
      });
      const other = await listen(() => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: success,
      }));
      const fungame = await listen(() => ({
        status,
        headers: { location: `${other.origin}/user/logout?token=location-query` },
      }));
      const client = new FunGameClient({ baseUrl: fungame.origin });
      const error = await client.logout(token).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(FunGameError);
      expect(error).toMatchObject({
        code: "REDIRECT",
        kind: "upstream",
        retryable: false,
        upstreamStatus: status,
      });
      expect((error as FunGameError).message).not.toContain("location-query");
      expect(fungame.seen).toEqual([`Bearer ${token}`]);
      expect(other.seen).toEqual([]);
    });
  }
});
