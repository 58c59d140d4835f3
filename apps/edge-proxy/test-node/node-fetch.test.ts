// The Node entry's upstream fetch against a real loopback server: the parts of fetch's contract the proxy relies on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeFetch } from "../src/entry/node-fetch.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const routes = new Map<string, Handler>();
let server: Server;
let base: string;
/** Bytes the /endless route wrote before the client went away. */
let endlessWritten = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const handler = routes.get(new URL(req.url ?? "/", "http://x").pathname);
      if (handler) handler(req, body, res);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const nodeFetch = createNodeFetch();

routes.set("/echo", (req, body, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ method: req.method, headers: req.headers, body, url: req.url }));
});
routes.set("/cookies", (_req, _body, res) => {
  res.setHeader("set-cookie", ["a=1", "b=2"]);
  res.setHeader("x-multi", ["one", "two"]);
  res.statusCode = 201;
  res.statusMessage = "Made";
  res.end("made");
});
for (const [name, encode] of [
  ["gzip", gzipSync],
  ["deflate", deflateSync],
  ["br", brotliCompressSync],
] as const) {
  routes.set(`/${name}`, (_req, _body, res) => {
    res.setHeader("content-encoding", name);
    res.end(encode(Buffer.from('{"encoded":true}')));
  });
}
routes.set("/no-content", (_req, _body, res) => {
  res.statusCode = 204;
  res.end();
});
for (const status of [301, 302, 303, 307, 308]) {
  routes.set(`/redirect-${status}`, (_req, _body, res) => {
    res.statusCode = status;
    res.setHeader("location", "/echo?from=redirect");
    res.end();
  });
}
routes.set("/redirect-away", (_req, _body, res) => {
  res.statusCode = 307;
  res.setHeader("location", `${base.replace("127.0.0.1", "localhost")}/echo`);
  res.end();
});
routes.set("/loop", (_req, _body, res) => {
  res.statusCode = 302;
  res.setHeader("location", "/loop");
  res.end();
});
routes.set("/hang", () => {
  // never answers
});
routes.set("/reset-mid-body", (req, _body, res) => {
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", "1000");
  res.write('{"partial": "');
  setTimeout(() => req.socket.destroy(), 20);
});
routes.set("/endless", (_req, _body, res) => {
  endlessWritten = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const write = () => {
    // Bounded: 64 MiB at most, far more than any reader here takes.
    while (endlessWritten < 64 * 1024 * 1024) {
      endlessWritten += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", write);
        return;
      }
    }
    res.end();
  };
  res.on("close", () => res.removeAllListeners("drain"));
  write();
});

describe("createNodeFetch", () => {
  it("sends the method, headers and body and answers a standard Response", async () => {
    const response = await nodeFetch(
      new Request(`${base}/echo?q=1`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-signature": "abc" },
        body: '{"hello":"世界"}',
      }),
    );
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    const echoed = (await response.json()) as Record<string, unknown> & {
      headers: Record<string, string>;
    };
    expect(echoed.method).toBe("POST");
    expect(echoed.url).toBe("/echo?q=1");
    expect(echoed.body).toBe('{"hello":"世界"}');
    expect(echoed.headers["x-signature"]).toBe("abc");
    expect(echoed.headers["content-type"]).toBe("application/json");
    expect(echoed.headers["content-length"]).toBe(String(Buffer.byteLength('{"hello":"世界"}')));
  });

  it("keeps repeated answer headers, the status text and set-cookie", async () => {
    const response = await nodeFetch(new Request(`${base}/cookies`));
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(response.headers.get("x-multi")).toBe("one, two");
    expect(await response.text()).toBe("made");
  });

  it.each(["gzip", "deflate", "br"])("decodes a %s answer", async (encoding) => {
    const response = await nodeFetch(new Request(`${base}/${encoding}`));
    expect(await response.json()).toEqual({ encoded: true });
  });

  it("answers a null body for 204 and for HEAD", async () => {
    expect((await nodeFetch(new Request(`${base}/no-content`))).body).toBeNull();
    const head = await nodeFetch(new Request(`${base}/echo`, { method: "HEAD" }));
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
  });

  it("hands a redirect back untouched when redirect is manual", async () => {
    const response = await nodeFetch(
      new Request(`${base}/redirect-302`, { method: "POST", body: "x", redirect: "manual" }),
    );
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/echo?from=redirect");
  });

  it.each([
    [301, "GET", ""],
    [302, "GET", ""],
    [303, "GET", ""],
    [307, "POST", "payload"],
    [308, "POST", "payload"],
  ])("follows a %i to a POST as %s", async (status, method, body) => {
    const response = await nodeFetch(
      new Request(`${base}/redirect-${status}`, { method: "POST", body: "payload" }),
    );
    const echoed = (await response.json()) as { method: string; body: string; url: string };
    expect(echoed).toMatchObject({ method, body, url: "/echo?from=redirect" });
  });

  it("drops credentials when a redirect leaves the origin", async () => {
    const response = await nodeFetch(
      new Request(`${base}/redirect-away`, { headers: { authorization: "Bearer secret" } }),
    );
    const echoed = (await response.json()) as { headers: Record<string, string> };
    expect(echoed.headers.authorization).toBeUndefined();
  });

  it("refuses a redirect when redirect is error, and a redirect loop", async () => {
    await expect(
      nodeFetch(new Request(`${base}/redirect-307`, { redirect: "error" })),
    ).rejects.toThrow(TypeError);
    await expect(nodeFetch(new Request(`${base}/loop`))).rejects.toMatchObject({
      message: "fetch failed",
      cause: { message: "redirect count exceeded" },
    });
  });

  it("rejects with the abort reason when the signal aborts before the answer", async () => {
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    setTimeout(() => controller.abort(reason), 30);
    await expect(
      nodeFetch(new Request(`${base}/hang`, { signal: controller.signal })),
    ).rejects.toBe(reason);
    const already = AbortSignal.abort(reason);
    await expect(nodeFetch(new Request(`${base}/echo`, { signal: already }))).rejects.toBe(reason);
  });

  it("rejects a refused connection as TypeError('fetch failed') with the cause", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const failure = await nodeFetch(new Request(`http://127.0.0.1:${port}/`)).catch((e) => e);
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.message).toBe("fetch failed");
    expect((failure.cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });

  it("refuses protocols other than http and https", async () => {
    await expect(nodeFetch(new Request("ftp://127.0.0.1/x"))).rejects.toThrow(TypeError);
  });

  it("errors the body when the connection resets mid-answer", async () => {
    const response = await nodeFetch(new Request(`${base}/reset-mid-body`));
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow(TypeError);
  });

  it("stops reading when the reader cancels: an endless body is not buffered", async () => {
    const response = await nodeFetch(new Request(`${base}/endless`));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let received = 0;
    while (received < 256 * 1024) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
    }
    await reader.cancel();
    // Give the server a moment to notice; bounded.
    for (let i = 0; i < 50 && endlessWritten < 64 * 1024 * 1024; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(received).toBeGreaterThanOrEqual(256 * 1024);
    expect(endlessWritten).toBeLessThan(64 * 1024 * 1024);
  });

  it("a body cancelled unread, or read after the answer ended, never throws later", async () => {
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on("uncaughtException", onError);
    try {
      for (let i = 0; i < 50; i++) {
        const cancelled = await nodeFetch(
          new Request(`${base}/echo`, { method: "POST", body: "x" }),
        );
        await cancelled.body?.cancel();
        const read = await nodeFetch(new Request(`${base}/cookies`));
        expect(await read.text()).toBe("made");
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off("uncaughtException", onError);
    }
    expect(errors).toEqual([]);
  });

  it("aborting after the answer stops its body", async () => {
    const controller = new AbortController();
    const response = await nodeFetch(new Request(`${base}/endless`, { signal: controller.signal }));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort(new Error("deadline"));
    let failed = false;
    for (let i = 0; i < 10_000; i++) {
      try {
        const { done } = await reader.read();
        if (done) break;
      } catch {
        failed = true;
        break;
      }
    }
    expect(failed).toBe(true);
  });
});
