// The vendor-call contract (src/call.ts): sending with a deadline, option checks, bounded bodies.
import { describe, expect, test } from "vitest";
import {
  checkBaseUrl,
  checkTimeout,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  type FetchLike,
  readBodyJson,
  readBodyText,
  sendRequest,
  VendorError,
} from "../src/index.ts";
import { rejection, thrown } from "./fixtures.ts";

const VENDOR = "ebet";

/** A fetch that never answers and ignores its signal. */
const silentFetch: FetchLike = () => new Promise<never>(() => {});

/** A fetch that never answers but rejects when its request's signal aborts, as real fetch does. */
const abortableFetch: FetchLike = (request) =>
  new Promise<never>((_, reject) => {
    request.signal.addEventListener("abort", () => reject(request.signal.reason), { once: true });
  });

function expectVendorError(error: unknown, fields: Partial<Record<keyof VendorError, unknown>>) {
  expect(error).toBeInstanceOf(VendorError);
  expect(error).toMatchObject(fields);
  return error as VendorError;
}

describe("sendRequest", () => {
  test("hands the request to the injected fetch and returns its response", async () => {
    const seen: Request[] = [];
    const response = new Response("ok", { status: 201 });
    const fetch: FetchLike = async (request) => {
      seen.push(request);
      return response;
    };
    const request = new Request("https://api.example.com/v1/bet?x=1", {
      method: "POST",
      headers: { "content-type": "application/json", "x-sign": "abc" },
      body: '{"amount":10}',
    });
    const result = await sendRequest(request, { vendor: VENDOR, fetch, timeoutMs: 1000 });
    expect(result).toBe(response);
    expect(seen).toHaveLength(1);
    const sent = seen[0] as Request;
    expect(sent.url).toBe("https://api.example.com/v1/bet?x=1");
    expect(sent.method).toBe("POST");
    expect(sent.headers.get("x-sign")).toBe("abc");
    expect(sent.headers.get("content-type")).toBe("application/json");
    expect(await sent.text()).toBe('{"amount":10}');
    expect(sent.signal.aborted).toBe(false);
  });

  test("a fetch that never answers is a retryable unavailable TIMEOUT", async () => {
    const error = await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: VENDOR,
        fetch: silentFetch,
        timeoutMs: 50,
      }),
    );
    const vendorError = expectVendorError(error, {
      vendor: VENDOR,
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: undefined,
    });
    expect(vendorError.message).toContain("50 ms");
  });

  test("on timeout, the request's signal is aborted with the TIMEOUT error", async () => {
    let sent: Request | undefined;
    const fetch: FetchLike = (request) => {
      sent = request;
      return abortableFetch(request);
    };
    const error = await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: VENDOR,
        fetch,
        timeoutMs: 50,
      }),
    );
    expectVendorError(error, { code: "TIMEOUT", kind: "unavailable", retryable: true });
    expect(sent?.signal.aborted).toBe(true);
    expect(sent?.signal.reason).toBe(error);
  });

  test("a fetch that throws a TypeError is a retryable unavailable NETWORK_ERROR", async () => {
    const cause = new TypeError("fetch failed");
    const error = await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: VENDOR,
        fetch: async () => {
          throw cause;
        },
        timeoutMs: 1000,
      }),
    );
    const vendorError = expectVendorError(error, {
      vendor: VENDOR,
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
    });
    expect(vendorError.cause).toBe(cause);
    expect(vendorError.message).toContain("fetch failed");
  });

  test("a fetch that throws synchronously, or throws a non-Error, is a NETWORK_ERROR too", async () => {
    const syncThrow: FetchLike = () => {
      throw new TypeError("bad port");
    };
    const stringThrow: FetchLike = () => Promise.reject("ECONNRESET");
    for (const fetch of [syncThrow, stringThrow]) {
      const error = await rejection(
        sendRequest(new Request("https://api.example.com/"), { vendor: VENDOR, fetch }),
      );
      expectVendorError(error, { code: "NETWORK_ERROR", kind: "unavailable" });
    }
  });

  test("a VendorError from the fetch passes through unchanged", async () => {
    const own = new VendorError({ vendor: VENDOR, code: 4026, kind: "upstream", message: "m" });
    const error = await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: VENDOR,
        fetch: () => Promise.reject(own),
      }),
    );
    expect(error).toBe(own);
  });

  test("an already aborted signal rejects with its reason, without calling fetch", async () => {
    let calls = 0;
    const fetch: FetchLike = async () => {
      calls++;
      return new Response("ok");
    };
    const reason = new Error("caller gave up");
    const error = await rejection(
      sendRequest(new Request("https://api.example.com/"), {
        vendor: VENDOR,
        fetch,
        signal: AbortSignal.abort(reason),
      }),
    );
    expect(error).toBe(reason);

    const signal = AbortSignal.abort();
    const defaultReason = await rejection(
      sendRequest(new Request("https://api.example.com/"), { vendor: VENDOR, fetch, signal }),
    );
    expect(defaultReason).toBe(signal.reason);
    expect((defaultReason as DOMException).name).toBe("AbortError");
    expect(calls).toBe(0);
  });

  test("the caller's abort during the call rejects with its reason (fetch honours signals)", async () => {
    const controller = new AbortController();
    const reason = new Error("user navigated away");
    const pending = sendRequest(new Request("https://api.example.com/"), {
      vendor: VENDOR,
      fetch: abortableFetch,
      signal: controller.signal,
      timeoutMs: 5000,
    });
    await Promise.resolve();
    controller.abort(reason);
    expect(await rejection(pending)).toBe(reason);
  });

  test("the caller's abort during the call rejects with its reason (fetch ignores signals)", async () => {
    const controller = new AbortController();
    const reason = new Error("user navigated away");
    const pending = sendRequest(new Request("https://api.example.com/"), {
      vendor: VENDOR,
      fetch: silentFetch,
      signal: controller.signal,
      timeoutMs: 5000,
    });
    setTimeout(() => controller.abort(reason), 10);
    expect(await rejection(pending)).toBe(reason);
  });

  test("the caller's abort after the answer changes nothing", async () => {
    const controller = new AbortController();
    const response = new Response("ok");
    const result = await sendRequest(new Request("https://api.example.com/"), {
      vendor: VENDOR,
      fetch: async () => response,
      signal: controller.signal,
    });
    controller.abort(new Error("late"));
    expect(result).toBe(response);
    expect(await result.text()).toBe("ok");
  });

  test.each([0, -1, 1.5, "x", 300_001, Number.NaN, Number.POSITIVE_INFINITY, null])(
    "a timeoutMs of %j is an invalid_request naming timeoutMs, and nothing is sent",
    async (timeoutMs) => {
      let calls = 0;
      const error = await rejection(
        sendRequest(new Request("https://api.example.com/"), {
          vendor: VENDOR,
          fetch: async () => {
            calls++;
            return new Response("ok");
          },
          timeoutMs: timeoutMs as number,
        }),
      );
      const vendorError = expectVendorError(error, {
        vendor: VENDOR,
        kind: "invalid_request",
        code: "INVALID_INPUT",
        field: "timeoutMs",
        retryable: false,
      });
      expect(vendorError.message).toMatch(/^timeoutMs: /);
      expect(calls).toBe(0);
    },
  );
});

describe("checkTimeout", () => {
  test("defaults to 10 s and accepts 1 to 300 000 ms", () => {
    expect(DEFAULT_TIMEOUT_MS).toBe(10_000);
    expect(checkTimeout(VENDOR, undefined)).toBe(10_000);
    expect(checkTimeout(VENDOR, 1)).toBe(1);
    expect(checkTimeout(VENDOR, 300_000)).toBe(300_000);
  });

  test("names the field it was told", () => {
    expectVendorError(
      thrown(() => checkTimeout(VENDOR, 0, "readTimeoutMs")),
      {
        field: "readTimeoutMs",
        kind: "invalid_request",
      },
    );
  });
});

describe("checkBaseUrl", () => {
  test.each([
    ["https://api.example.com/", "https://api.example.com"],
    ["https://api.example.com", "https://api.example.com"],
    ["https://api.example.com/v1/", "https://api.example.com/v1"],
    ["https://api.example.com/v1//", "https://api.example.com/v1"],
    ["http://localhost:8080/", "http://localhost:8080"],
    ["HTTPS://API.Example.COM/V1", "https://api.example.com/V1"],
  ])("%s is accepted as %s", (value, expected) => {
    expect(checkBaseUrl(VENDOR, value)).toBe(expected);
  });

  test.each([
    ["ftp://files.example.com/", /http or https, not ftp:/],
    ["/api/v1", /not an absolute URL/],
    ["api.example.com/v1", /not an absolute URL/],
    ["https://api.example.com/?key=1", /query or fragment/],
    ["https://api.example.com/v1#top", /query or fragment/],
    ["https://user:secret@api.example.com/", /credentials/],
    ["https://user@api.example.com/", /credentials/],
    ["", /non-empty/],
  ])("%j is an invalid_request naming the field", (value, message) => {
    const error = expectVendorError(
      thrown(() => checkBaseUrl(VENDOR, value)),
      {
        vendor: VENDOR,
        kind: "invalid_request",
        code: "INVALID_INPUT",
        field: "baseUrl",
      },
    );
    expect(error.message).toMatch(/^baseUrl: /);
    expect(error.message).toMatch(message);
  });

  test("a non-string is refused, and the field name can be chosen", () => {
    for (const value of [undefined, 42, new URL("https://api.example.com/")]) {
      expectVendorError(
        thrown(() => checkBaseUrl(VENDOR, value, "endpoint")),
        {
          kind: "invalid_request",
          field: "endpoint",
        },
      );
    }
  });

  test("the credentials do not appear in the message", () => {
    const error = thrown(() => checkBaseUrl(VENDOR, "https://user:hunter2@api.example.com/"));
    expect((error as Error).message).not.toContain("hunter2");
  });
});

/** A body of `chunks` chunks of `size` bytes, recording how far it was read and whether cancelled. */
function chunkedBody(chunks: number, size: number, fill = 0x61) {
  const state = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) {
        controller.close();
        return;
      }
      state.pulled++;
      controller.enqueue(new Uint8Array(size).fill(fill));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

describe("readBodyText", () => {
  test("reads a body in full", async () => {
    expect(await readBodyText(new Response("héllo wörld"), VENDOR)).toBe("héllo wörld");
    expect(await readBodyText(new Response(null, { status: 204 }), VENDOR)).toBe("");
    expect(await readBodyText(new Response(""), VENDOR)).toBe("");
  });

  test("decodes a UTF-8 character split across chunks", async () => {
    const euro = [0xe2, 0x82, 0xac];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(Uint8Array.of(0x41, euro[0] as number));
        controller.enqueue(Uint8Array.of(euro[1] as number));
        controller.enqueue(Uint8Array.of(euro[2] as number, 0x42));
        controller.close();
      },
    });
    expect(await readBodyText(new Response(stream), VENDOR)).toBe("A€B");
  });

  test("a declared content-length over the limit is BAD_RESPONSE, and the body is cancelled", async () => {
    const { stream, state } = chunkedBody(1, 10);
    const response = new Response(stream, { status: 200, headers: { "content-length": "2000" } });
    const error = await rejection(readBodyText(response, VENDOR, 1000));
    const vendorError = expectVendorError(error, {
      vendor: VENDOR,
      code: "BAD_RESPONSE",
      kind: "upstream",
      retryable: false,
      upstreamStatus: 200,
    });
    expect(vendorError.message).toContain("2000");
    expect(vendorError.message).toContain("1000");
    expect(state.cancelled).toBe(true);
  });

  test("a streamed body without content-length is cut off at the limit", async () => {
    const { stream, state } = chunkedBody(100, 400);
    const response = new Response(stream, { status: 502 });
    expect(response.headers.get("content-length")).toBeNull();
    const error = await rejection(readBodyText(response, VENDOR, 1000));
    const vendorError = expectVendorError(error, {
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 502,
    });
    expect(vendorError.message).toContain("1000");
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(10);
  });

  test("a body of exactly the limit is accepted, one byte more is not", async () => {
    const exact = chunkedBody(4, 250);
    expect(await readBodyText(new Response(exact.stream), VENDOR, 1000)).toBe("a".repeat(1000));
    const over = chunkedBody(1, 1001);
    expectVendorError(await rejection(readBodyText(new Response(over.stream), VENDOR, 1000)), {
      code: "BAD_RESPONSE",
    });
  });

  test("the default limit is 1 MiB", async () => {
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1024 * 1024);
    const declared = new Response("x", { headers: { "content-length": String(1024 * 1024 + 1) } });
    expectVendorError(await rejection(readBodyText(declared, VENDOR)), { code: "BAD_RESPONSE" });
    const big = chunkedBody(17, 64 * 1024);
    expectVendorError(await rejection(readBodyText(new Response(big.stream), VENDOR)), {
      code: "BAD_RESPONSE",
    });
    const fits = chunkedBody(16, 64 * 1024);
    expect(await readBodyText(new Response(fits.stream), VENDOR)).toHaveLength(1024 * 1024);
  });

  test("a body that fails mid-stream is BAD_RESPONSE", async () => {
    const cause = new Error("connection reset");
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(cause);
        else controller.enqueue(Uint8Array.of(0x41));
        sent = true;
      },
    });
    const error = await rejection(readBodyText(new Response(stream, { status: 200 }), VENDOR));
    const vendorError = expectVendorError(error, {
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 200,
    });
    expect(vendorError.message).toMatch(/could not be read in full/);
    expect(vendorError.cause).toBe(cause);
  });
});

describe("readBodyJson", () => {
  test("parses a JSON body", async () => {
    const body = { status: 0, data: { balance: 12.5, name: "Zoë" } };
    expect(await readBodyJson(Response.json(body), VENDOR)).toEqual(body);
    expect(await readBodyJson(new Response("[1,2]"), VENDOR)).toEqual([1, 2]);
  });

  test("a non-JSON body is BAD_RESPONSE carrying the upstream status", async () => {
    const html = `<html><body>${"Service Unavailable ".repeat(20)}</body></html>`;
    const error = await rejection(readBodyJson(new Response(html, { status: 503 }), VENDOR));
    const vendorError = expectVendorError(error, {
      vendor: VENDOR,
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 503,
    });
    expect(vendorError.message).toContain("HTTP 503");
    expect(vendorError.message).toContain("<html><body>Service Unavailable");
    expect(vendorError.message).not.toContain("</html>");
    expect(vendorError.cause).toBeInstanceOf(SyntaxError);
  });

  test("an empty or truncated body is BAD_RESPONSE", async () => {
    for (const text of ["", '{"status":0,"da']) {
      const error = await rejection(readBodyJson(new Response(text, { status: 200 }), VENDOR));
      expectVendorError(error, { code: "BAD_RESPONSE", kind: "upstream", upstreamStatus: 200 });
    }
  });

  test("a body over the limit is BAD_RESPONSE, with or without content-length", async () => {
    const json = JSON.stringify({ data: "x".repeat(200) });
    const declared = new Response(json, { headers: { "content-length": String(json.length) } });
    expectVendorError(await rejection(readBodyJson(declared, VENDOR, 100)), {
      code: "BAD_RESPONSE",
      kind: "upstream",
    });
    const streamed = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(json));
          controller.close();
        },
      }),
    );
    expectVendorError(await rejection(readBodyJson(streamed, VENDOR, 100)), {
      code: "BAD_RESPONSE",
      kind: "upstream",
    });
  });
});
