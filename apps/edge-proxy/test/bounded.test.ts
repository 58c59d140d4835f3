// Bodies read up to a limit (src/http/bounded.ts): the runtime's own read when the length is declared
// and nothing is encoded, the stream otherwise, and the same refusals on both paths.
import { describe, expect, it } from "vitest";
import { BodyTooLarge, readBounded } from "../src/http/bounded.ts";
import { createHarness, readProblem } from "./harness.ts";

const encoder = new TextEncoder();

/** A stream that hands out `chunk` up to 1 MiB, counting what was pulled; cancelled, it stops. */
function endless(chunk: Uint8Array) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled >= 1024 * 1024) return controller.close();
      seen.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { stream, seen };
}

/** A message whose body must not be read as a stream: its reader throws. */
function declaredOnly(text: string, headers: Record<string, string>) {
  const bytes = encoder.encode(text);
  const body = new ReadableStream<Uint8Array>();
  body.getReader = () => {
    throw new Error("the stream was read");
  };
  return {
    headers: new Headers({ "content-length": String(bytes.byteLength), ...headers }),
    body,
    arrayBuffer: async () => bytes.buffer.slice(0) as ArrayBuffer,
  };
}

describe("readBounded", () => {
  it("reads a framed body of declared length with the runtime's own read, not the stream", async () => {
    expect(await readBounded(declaredOnly('{"a":"é"}', {}), 64, true)).toBe('{"a":"é"}');
  });

  it("reads a body it did not frame as a stream whatever it declares, and cuts it off at the limit", async () => {
    const { stream, seen } = endless(new Uint8Array(1024).fill(0x61));
    const answer = new Response(stream, { headers: { "content-length": "10" } });
    await expect(readBounded(answer, 4096)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(seen.pulled).toBeLessThan(64 * 1024);
    expect(seen.cancelled).toBe(true);
  });

  it.each([
    ["content-length", "1e1"],
    ["content-length", "0x10"],
    ["content-length", "+10"],
    ["content-length", "10, 10"],
    ["transfer-encoding", "chunked"],
    ["content-encoding", "identity"],
  ])("reads a framed body with %s: %j as a stream", async (name, value) => {
    const { stream, seen } = endless(new Uint8Array(1024).fill(0x61));
    const message = {
      headers: new Headers({ "content-length": "16", [name]: value }),
      body: stream,
      arrayBuffer: () => Promise.reject(new Error("read whole")),
    };
    await expect(readBounded(message, 4096, true)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(seen.cancelled).toBe(true);
  });

  it("reads an encoded body as a stream even with a declared length, and cuts it off at the limit", async () => {
    const { stream, seen } = endless(new Uint8Array(1024).fill(0x61));
    const message = new Request("http://proxy.test/", {
      method: "POST",
      body: stream,
      headers: { "content-length": "10", "content-encoding": "gzip" },
      // @ts-expect-error: duplex is required for a streamed body but not in every lib's RequestInit
      duplex: "half",
    });
    await expect(readBounded(message, 4096, true)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(seen.pulled).toBeLessThan(64 * 1024);
    expect(seen.cancelled).toBe(true);
  });

  it("refuses a declared length over the limit without reading, and cancels the body", async () => {
    const { stream, seen } = endless(new Uint8Array(16));
    const message = {
      headers: new Headers({ "content-length": "4097" }),
      body: stream,
      arrayBuffer: () => Promise.reject(new Error("read")),
    };
    await expect(readBounded(message, 4096)).rejects.toBeInstanceOf(BodyTooLarge);
    expect(seen.cancelled).toBe(true);
  });

  it("counts the bytes again when the body is longer than its declared length", async () => {
    const message = declaredOnly("x".repeat(100), {});
    message.headers.set("content-length", "10");
    await expect(readBounded(message, 50, true)).rejects.toBeInstanceOf(BodyTooLarge);
  });

  it("refuses bytes that are not UTF-8 on both paths", async () => {
    const bad = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const declared = new Response(bad, { headers: { "content-length": String(bad.byteLength) } });
    await expect(readBounded(declared, 64, true)).rejects.toThrow(/not UTF-8/);
    const streamed = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bad);
          controller.close();
        },
      }),
    );
    expect(streamed.headers.get("content-length")).toBeNull();
    await expect(readBounded(streamed, 64)).rejects.toThrow(/not UTF-8/);
  });

  it("reads no body as empty text", async () => {
    expect(await readBounded(new Request("http://proxy.test/"), 64)).toBe("");
    expect(await readBounded(new Response(null), 64)).toBe("");
  });
});

describe("a request body that is not UTF-8", () => {
  it("is 400 INVALID_BODY, declared or streamed, and nothing goes upstream", async () => {
    const h = await createHarness();
    const bad = new Uint8Array([...encoder.encode('{"username":"u'), 0xc3, 0x28, 0x22, 0x7d]);
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bad);
        controller.close();
      },
    });
    const bodies: [BodyInit, string | undefined][] = [
      [bad, String(bad.byteLength)],
      [streamed, undefined],
    ];
    for (const [body, length] of bodies) {
      const response = await h.app.fetch(
        new Request("http://proxy.test/v1/lancens/logout", {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(length === undefined ? {} : { "content-length": length }),
          },
          body,
          // @ts-expect-error: duplex is required for a streamed body but not in every lib's RequestInit
          duplex: "half",
        }),
      );
      expect(await readProblem(response)).toMatchObject({
        status: 400,
        code: "INVALID_BODY",
        detail: "the request body could not be read as UTF-8 text",
      });
    }
    expect(h.upstreamRequests).toHaveLength(0);
  });
});
