// Redirects (src/call.ts): no vendor call follows one; a 3xx is a non-retryable `upstream` REDIRECT.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defineVendor, type FetchLike, sendRequest, VendorError } from "../src/index.ts";
import { rejection } from "./fixtures.ts";

const REDIRECTS = [301, 302, 303, 307, 308] as const;
/** What a redirect's query might carry back: it must never reach an error. */
const QUERY_SECRET = "token=leaked-login-token";

interface TestServer {
  origin: string;
  /** Requests received, as "METHOD /path?query". */
  hits: string[];
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 that logs each request and answers with `handle`. */
async function serve(
  handle: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<TestServer> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    request.resume();
    request.on("end", () => handle(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let elsewhere: TestServer;
let vendor: TestServer;
beforeAll(async () => {
  // A second origin (another port) that a redirect points at: it must never be called.
  elsewhere = await serve((_, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end('{"status":200}');
  });
  // The vendor: /moved/<status> answers that status with a Location on the other origin.
  vendor = await serve((request, response) => {
    const status = Number(/^\/moved\/(\d{3})$/.exec(request.url ?? "")?.[1]);
    if (status) {
      response.writeHead(status, { location: `${elsewhere.origin}/collect?${QUERY_SECRET}` });
      response.end("moved");
    } else {
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"status":200}');
    }
  });
});
afterAll(async () => {
  await Promise.all([vendor.close(), elsewhere.close()]);
});

function loginRequest(url: string): Request {
  return new Request(url, {
    method: "POST",
    headers: { "content-type": "application/json", token: "the-login-token" },
    body: '{"username":"player01","token":"the-login-token"}',
  });
}

function expectRedirectError(error: unknown, status: number | undefined): VendorError {
  expect(error).toBeInstanceOf(VendorError);
  const vendorError = error as VendorError;
  expect(vendorError).toMatchObject({
    code: "REDIRECT",
    kind: "upstream",
    retryable: false,
    upstreamStatus: status,
  });
  const shown = `${vendorError.message} ${JSON.stringify(vendorError)}`;
  expect(shown).not.toContain(QUERY_SECRET);
  expect(shown).not.toContain("leaked");
  expect(shown).not.toContain("/collect");
  expect(shown).not.toContain("the-login-token");
  return vendorError;
}

describe("the real global fetch against node:http on 127.0.0.1", () => {
  test.each(REDIRECTS)(
    "a %i is a REDIRECT error and the other origin is never called",
    async (status) => {
      elsewhere.hits.length = 0;
      const error = expectRedirectError(
        await rejection(
          sendRequest(loginRequest(`${vendor.origin}/moved/${status}`), { vendor: "lancens" }),
        ),
        status,
      );
      expect(error.vendor).toBe("lancens");
      expect(error.message).toContain(`HTTP ${status}`);
      expect(error.message).toContain(elsewhere.origin);
      expect(vendor.hits.at(-1)).toBe(`POST /moved/${status}`);
      expect(elsewhere.hits).toEqual([]);
    },
  );

  test("a kit's call never hands the redirect to its parser", async () => {
    const kit = defineVendor("ebet");
    let parsed = 0;
    for (const status of REDIRECTS) {
      expectRedirectError(
        await rejection(
          kit.call(loginRequest(`${vendor.origin}/moved/${status}`), undefined, () => {
            parsed++;
            return "parsed";
          }),
        ),
        status,
      );
    }
    expect(parsed).toBe(0);
    expect(elsewhere.hits).toEqual([]);
    // The same kit still reads an ordinary answer.
    expect(
      await kit.call(loginRequest(`${vendor.origin}/ok`), undefined, (response) =>
        kit.readJson(response),
      ),
    ).toEqual({ status: 200 });
  });

  test("an answer a fetch reached by following a redirect on its own is refused too", async () => {
    // A fetch that ignores the request's redirect mode, as a careless wrapper would.
    const following: FetchLike = (request) =>
      fetch(request.url, { method: "GET", headers: request.headers, redirect: "follow" });
    const error = expectRedirectError(
      await rejection(
        sendRequest(new Request(`${vendor.origin}/moved/302`), {
          vendor: "sdk-auth",
          fetch: following,
        }),
      ),
      200,
    );
    expect(error.message).toMatch(/followed a redirect/);
    // The credential already left with the followed request; the answer from there is not used.
    expect(elsewhere.hits).toEqual([`GET /collect?${QUERY_SECRET}`]);
    elsewhere.hits.length = 0;
  });
});

describe("redirects through an injected fetch", () => {
  test("every request is sent with redirect: manual, whatever mode it was built with", async () => {
    const modes: RequestRedirect[] = [];
    const fetch: FetchLike = async (request) => {
      modes.push(request.redirect);
      return new Response("ok");
    };
    await sendRequest(new Request("https://api.example.com/", { redirect: "follow" }), {
      vendor: "ebet",
      fetch,
    });
    await defineVendor("ebet").call(new Request("https://api.example.com/"), { fetch }, () => 1);
    expect(modes).toEqual(["manual", "manual"]);
  });

  test("a browser's opaque redirect (type opaqueredirect, status 0) is a REDIRECT error", async () => {
    const opaque = new Response(null, { status: 200 });
    Object.defineProperties(opaque, {
      type: { value: "opaqueredirect" },
      status: { value: 0 },
    });
    const error = expectRedirectError(
      await rejection(
        sendRequest(new Request("https://api.example.com/"), {
          vendor: "ebet",
          fetch: async () => opaque,
        }),
      ),
      undefined,
    );
    expect(error.message).toMatch(/redirect/);
  });

  test("a relative, a malformed or a missing Location: no path or query of it in the error", async () => {
    for (const location of ["/next?token=abc", "http://[bad?token=abc", undefined]) {
      const headers: Record<string, string> = location === undefined ? {} : { location };
      const error = expectRedirectError(
        await rejection(
          sendRequest(new Request("https://api.example.com/logout"), {
            vendor: "ebet",
            fetch: async () => new Response(null, { status: 302, headers }),
          }),
        ),
        302,
      );
      expect(error.message).not.toContain("token=abc");
      expect(error.message).not.toContain("/next");
    }
  });

  test("the redirect's body is cancelled, not left open", async () => {
    let cancelled = false;
    const body = new ReadableStream({
      cancel() {
        cancelled = true;
      },
    });
    await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: "ebet",
        fetch: async () =>
          new Response(body, { status: 307, headers: { location: "https://a.example/" } }),
      }),
    );
    expect(cancelled).toBe(true);
  });
});

describe("refuseRedirect: the same rule for an answer a parser is handed", () => {
  const kit = defineVendor("acme");

  test.each([300, ...REDIRECTS])(
    "HTTP %i is REDIRECT, its body cancelled, the origin named only",
    async (status) => {
      let cancelled = false;
      const body = new ReadableStream({
        cancel() {
          cancelled = true;
        },
      });
      const answer = new Response(body, {
        status,
        headers: { location: `https://elsewhere.example/collect?${QUERY_SECRET}` },
      });
      const error = (await rejection(kit.refuseRedirect(answer))) as VendorError;
      expect(error).toBeInstanceOf(VendorError);
      expect(error).toMatchObject({
        vendor: "acme",
        code: "REDIRECT",
        kind: "upstream",
        retryable: false,
        upstreamStatus: status,
      });
      expect(error.message).toContain("https://elsewhere.example");
      expect(error.message).not.toContain("/collect");
      expect(error.message).not.toContain(QUERY_SECRET);
      expect(cancelled).toBe(true);
    },
  );

  test("an opaque redirect and an answer reached by following one are refused too", async () => {
    const opaque = new Response(null, { status: 200 });
    Object.defineProperty(opaque, "type", { value: "opaqueredirect" });
    Object.defineProperty(opaque, "status", { value: 0 });
    expect(await rejection(kit.refuseRedirect(opaque))).toMatchObject({
      code: "REDIRECT",
      upstreamStatus: undefined,
    });
    const followed = new Response("{}", { status: 200 });
    Object.defineProperty(followed, "redirected", { value: true });
    expect(await rejection(kit.refuseRedirect(followed))).toMatchObject({
      code: "REDIRECT",
      upstreamStatus: 200,
    });
  });

  test.each([200, 204, 400, 404, 500])("HTTP %i passes, its body untouched", async (status) => {
    const answer = new Response(status === 204 ? null : "kept", { status });
    await expect(kit.refuseRedirect(answer)).resolves.toBeUndefined();
    if (status !== 204) expect(await answer.text()).toBe("kept");
  });
});
