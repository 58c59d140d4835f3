// The vendor-call contract (src/call.ts): sending with a deadline, option checks, bounded bodies, vendor kits.
import { describe, expect, test } from "vitest";
import {
  checkBaseUrl,
  checkTimeout,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  defineVendor,
  type FetchLike,
  fromPlatformFetch,
  invalidInput,
  readBodyJson,
  readBodyText,
  sendRequest,
  VendorError,
  type VendorErrorFields,
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
/** A body that sends one byte, then fails with `cause`, as a connection reset mid-answer. */
function breaksOffAfterOneByte(cause: Error): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) controller.error(cause);
      else controller.enqueue(Uint8Array.of(0x41));
      sent = true;
    },
  });
}

/** Makes the runtime's whole read of `response` fail: only the stream path can read it. */
function refuseWholeRead(response: Response): void {
  Object.defineProperty(response, "arrayBuffer", {
    value: () => Promise.reject(new Error("read whole")),
  });
}

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

  test("the platform's answer of declared length, not encoded, is read by the runtime whole, not through its stream", async () => {
    const response = fromPlatformFetch(
      new Response('{"ok":"é"}', { headers: { "content-length": "11" } }),
    );
    Object.defineProperty(response, "body", {
      get() {
        throw new Error("the stream was read");
      },
    });
    expect(await readBodyText(response, VENDOR, 100)).toBe('{"ok":"é"}');
  });

  test("the platform's answer longer than its declared length is BAD_RESPONSE, counted again after the read", async () => {
    const response = fromPlatformFetch(
      new Response("x".repeat(500), { headers: { "content-length": "10" } }),
    );
    expectVendorError(await rejection(readBodyText(response, VENDOR, 100)), {
      code: "BAD_RESPONSE",
      kind: "upstream",
    });
  });

  test("any other answer is read as a stream whatever it declares, and cut off at the limit", async () => {
    // A test double, a service binding or a wrapper may declare a length its body does not keep.
    const { stream, state } = chunkedBody(400, 100);
    const response = new Response(stream, { status: 200, headers: { "content-length": "10" } });
    expectVendorError(await rejection(readBodyText(response, VENDOR, 1000)), {
      code: "BAD_RESPONSE",
      upstreamStatus: 200,
    });
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(20);
  });

  test.each(["1e1", "0x10", "+10", "10, 10", ""])(
    "the platform's answer declaring %j is read as a stream",
    async (length) => {
      const { stream, state } = chunkedBody(3, 4);
      const response = fromPlatformFetch(
        new Response(stream, { headers: { "content-length": length } }),
      );
      refuseWholeRead(response);
      expect(await readBodyText(response, VENDOR, 100)).toBe("a".repeat(12));
      expect(state.pulled).toBe(3);
    },
  );

  test("a chunked answer of the platform is read as a stream even with a length", async () => {
    const { stream, state } = chunkedBody(3, 4);
    const response = fromPlatformFetch(
      new Response(stream, { headers: { "content-length": "12", "transfer-encoding": "chunked" } }),
    );
    refuseWholeRead(response);
    expect(await readBodyText(response, VENDOR, 100)).toBe("a".repeat(12));
    expect(state.pulled).toBe(3);
  });

  test("an answer without a body that declares more than the limit (HEAD, 304) is empty", async () => {
    const head = new Response(null, { status: 200, headers: { "content-length": "5000" } });
    expect(await readBodyText(head, VENDOR, 100)).toBe("");
  });

  test("call marks the answers of the global fetch it uses by default as the platform's", async () => {
    const original = globalThis.fetch;
    globalThis.fetch = async () => {
      const response = new Response('{"a":1}', { headers: { "content-length": "7" } });
      Object.defineProperty(response, "body", {
        get() {
          throw new Error("the stream was read");
        },
      });
      return response;
    };
    try {
      const kit = defineVendor(VENDOR);
      const text = await kit.call(new Request("https://vendor.test/x"), {}, (response) =>
        kit.readText(response, 100),
      );
      expect(text).toBe('{"a":1}');
      // With a fetch of its own, the same answer is read as a stream: here, the stream throws.
      await expect(
        kit.call(new Request("https://vendor.test/x"), { fetch: globalThis.fetch }, (response) =>
          kit.readText(response, 100),
        ),
      ).rejects.toThrow();
    } finally {
      globalThis.fetch = original;
    }
  });

  test("an encoded answer is read as a stream despite its declared length, and cut off at the limit", async () => {
    // The length of an encoded answer tells nothing of its decoded size.
    const { stream, state } = chunkedBody(400, 100);
    const response = fromPlatformFetch(
      new Response(stream, {
        status: 200,
        headers: { "content-length": "10", "content-encoding": "gzip" },
      }),
    );
    const error = await rejection(readBodyText(response, VENDOR, 1000));
    expectVendorError(error, { code: "BAD_RESPONSE", kind: "upstream", upstreamStatus: 200 });
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThan(20);
  });

  test("the platform's answer of declared length that breaks off is a retryable NETWORK_ERROR", async () => {
    const cause = new Error("connection reset");
    const stream = breaksOffAfterOneByte(cause);
    const response = fromPlatformFetch(
      new Response(stream, { status: 200, headers: { "content-length": "50" } }),
    );
    const vendorError = expectVendorError(await rejection(readBodyText(response, VENDOR)), {
      code: "NETWORK_ERROR",
      kind: "unavailable",
      upstreamStatus: 200,
    });
    expect(vendorError.retryable).toBe(true);
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

  test("a 10.5 MiB body is pulled only to just past the limit, by readText and readJson alike", async () => {
    const chunk = 64 * 1024;
    const chunks = (10.5 * 1024 * 1024) / chunk;
    for (const read of [readBodyText, readBodyJson]) {
      for (const limit of [64 * 1024, DEFAULT_MAX_BODY_BYTES]) {
        const { stream, state } = chunkedBody(chunks, chunk, 0x20);
        const error = await rejection(read(new Response(stream), VENDOR, limit));
        expectVendorError(error, { code: "BAD_RESPONSE", upstreamStatus: 200 });
        expect(state.cancelled).toBe(true);
        // Pulled: the chunks up to the limit, the one that crossed it, and at most one read ahead.
        expect(state.pulled * chunk).toBeGreaterThan(limit);
        expect(state.pulled * chunk).toBeLessThanOrEqual(limit + 2 * chunk);
      }
    }
  });

  test("a body that fails mid-stream is a retryable NETWORK_ERROR", async () => {
    const cause = new Error("connection reset");
    const stream = breaksOffAfterOneByte(cause);
    const error = await rejection(readBodyText(new Response(stream, { status: 200 }), VENDOR));
    const vendorError = expectVendorError(error, {
      code: "NETWORK_ERROR",
      kind: "unavailable",
      upstreamStatus: 200,
    });
    expect(vendorError.retryable).toBe(true);
    expect(vendorError.message).toMatch(/broke off before its end/);
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

/** A vendor's own error class, as a vendor package defines one. */
class AcmeError extends VendorError {
  override name = "AcmeError";
  readonly extra: string;

  constructor(init: VendorErrorFields, extra = "made by the kit") {
    super({ ...init, vendor: "acme" });
    this.extra = extra;
  }
}

const acme = defineVendor("acme", (init) => new AcmeError(init));

function expectAcmeError(error: unknown, fields: Partial<Record<keyof AcmeError, unknown>>) {
  expect(error).toBeInstanceOf(AcmeError);
  expect(error).toMatchObject({ vendor: "acme", name: "AcmeError", ...fields });
  return error as AcmeError;
}

/** A 200 answer whose body sends one chunk and then never ends, ignoring every signal. */
function endlessBody() {
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"status":'));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { response: new Response(stream, { status: 200 }), state };
}

/** As a real fetch does: the answer's body fails with the request's abort reason. */
const bodyFollowsSignal: FetchLike = async (request) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("{"));
        request.signal.addEventListener("abort", () => controller.error(request.signal.reason), {
          once: true,
        });
      },
    }),
  );

describe("defineVendor", () => {
  test("without a factory, the kit's errors are plain VendorErrors naming the vendor", () => {
    const kit = defineVendor("plain");
    expect(kit.vendor).toBe("plain");
    const error = kit.invalidInput("amount", "must be positive");
    expect(error.constructor).toBe(VendorError);
    expect(error).toMatchObject({ vendor: "plain", code: "INVALID_INPUT", field: "amount" });
    expect(kit.error({ code: 7, kind: "upstream", message: "m" }).constructor).toBe(VendorError);
  });

  test("refuses a nameless vendor, and a factory that does not make a VendorError of that vendor", () => {
    expect(() => defineVendor("")).toThrow(TypeError);
    expect(() =>
      defineVendor("acme", (init) => new VendorError({ ...init, vendor: "other" })),
    ).toThrow(/vendor "acme"/);
    expect(() =>
      defineVendor(
        "acme",
        (() => new Error("x")) as unknown as (init: VendorErrorFields) => VendorError,
      ),
    ).toThrow(TypeError);
  });

  test("error() and invalidInput() make the factory's class, fields passed straight through", () => {
    const made = acme.error({
      code: "X",
      kind: "rate_limited",
      message: "m",
      retryable: undefined,
      upstreamStatus: undefined,
      field: undefined,
      cause: undefined,
    });
    expectAcmeError(made, {
      code: "X",
      retryable: true,
      upstreamStatus: undefined,
      field: undefined,
    });
    expect("cause" in made).toBe(false);
    const refused = expectAcmeError(acme.invalidInput("amount", "must be positive"), {
      code: "INVALID_INPUT",
      kind: "invalid_request",
      field: "amount",
      retryable: false,
      message: "amount: must be positive",
    });
    expect(refused.extra).toBe("made by the kit");
  });

  test("badResponse() is an upstream BAD_RESPONSE of the factory's class with the answer's status", () => {
    const cause = new SyntaxError("Unexpected token <");
    const error = expectAcmeError(acme.badResponse(502, "not JSON", cause), {
      code: "BAD_RESPONSE",
      kind: "upstream",
      retryable: false,
      upstreamStatus: 502,
      message: "not JSON",
    });
    expect(error.cause).toBe(cause);
    expect("cause" in acme.badResponse(200, "m")).toBe(false);
  });

  test("checkTimeout and checkBaseUrl check as the free functions do, refusing with the factory's class", () => {
    expect(acme.checkTimeout(undefined)).toBe(DEFAULT_TIMEOUT_MS);
    expect(acme.checkTimeout(250)).toBe(250);
    expectAcmeError(
      thrown(() => acme.checkTimeout(0)),
      { field: "timeoutMs", code: "INVALID_INPUT" },
    );
    expectAcmeError(
      thrown(() => acme.checkTimeout(1.5, "readTimeoutMs")),
      { field: "readTimeoutMs" },
    );
    expect(acme.checkBaseUrl("https://api.example.com/v1/")).toBe("https://api.example.com/v1");
    const error = expectAcmeError(
      thrown(() => acme.checkBaseUrl("https://user:hunter2@api.example.com/")),
      { field: "baseUrl", kind: "invalid_request" },
    );
    expect(error.message).not.toContain("hunter2");
    expectAcmeError(
      thrown(() => acme.checkBaseUrl(42, "endpoint")),
      { field: "endpoint" },
    );
  });

  test("the free functions are the plain kit's", () => {
    expect(invalidInput("ebet", "f", "m")).toEqual(defineVendor("ebet").invalidInput("f", "m"));
    expect(checkBaseUrl(VENDOR, "https://a.example/")).toBe(
      defineVendor(VENDOR).checkBaseUrl("https://a.example/"),
    );
  });

  test("adopt() re-types a plain VendorError keeping every field; the factory's own class passes through", () => {
    const plain = new VendorError({
      vendor: "acme",
      code: "BAD_RESPONSE",
      kind: "upstream",
      message: "cut off",
      upstreamStatus: 502,
      field: "x",
      retryable: true,
    });
    const adopted = expectAcmeError(acme.adopt(plain), {
      code: "BAD_RESPONSE",
      kind: "upstream",
      message: "cut off",
      upstreamStatus: 502,
      field: "x",
      retryable: true,
    });
    expect(adopted.toJSON()).toEqual({ ...plain.toJSON(), name: "AcmeError" });
    expect(adopted.cause).toBe(plain);
    const cause = new TypeError("socket hang up");
    const withCause = new VendorError({
      vendor: "acme",
      code: 1,
      kind: "upstream",
      message: "m",
      cause,
    });
    expect(acme.adopt(withCause).cause).toBe(cause);
    expect(acme.adopt(adopted)).toBe(adopted);
    expect(defineVendor("acme").adopt(plain)).toBe(plain);
  });
});

describe("a kit's send", () => {
  test("a fetch that never answers is a TIMEOUT of the factory's class, set as the request's abort reason", async () => {
    let sent: Request | undefined;
    const fetch: FetchLike = (request) => {
      sent = request;
      return abortableFetch(request);
    };
    const error = await rejection(
      acme.send(new Request("https://api.example.com/"), { fetch, timeoutMs: 30 }),
    );
    const acmeError = expectAcmeError(error, {
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
    });
    expect(acmeError.message).toBe("acme did not answer within 30 ms");
    expect(sent?.signal.reason).toBe(error);
  });

  test("a network failure is a NETWORK_ERROR of the factory's class, with its cause", async () => {
    const cause = new TypeError("fetch failed");
    const error = await rejection(
      acme.send(new Request("https://api.example.com/"), {
        fetch: async () => {
          throw cause;
        },
      }),
    );
    const acmeError = expectAcmeError(error, {
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
    });
    expect(acmeError.cause).toBe(cause);
  });

  test("a VendorError from the fetch is adopted; one of the factory's class passes through", async () => {
    const plain = new VendorError({ vendor: "acme", code: 4026, kind: "upstream", message: "m" });
    const adopted = await rejection(
      acme.send(new Request("https://api.example.com/"), { fetch: () => Promise.reject(plain) }),
    );
    expect(expectAcmeError(adopted, { code: 4026 }).cause).toBe(plain);
    const own = new AcmeError({ code: 1, kind: "upstream", message: "m" }, "thrown by the fetch");
    const passed = await rejection(
      acme.send(new Request("https://api.example.com/"), { fetch: () => Promise.reject(own) }),
    );
    expect(passed).toBe(own);
  });

  test("undefined options take their defaults, and the caller's abort reason passes as is", async () => {
    const response = new Response("ok");
    const result = await acme.send(new Request("https://api.example.com/"), {
      fetch: async () => response,
      signal: undefined,
      timeoutMs: undefined,
    });
    expect(result).toBe(response);
    const reason = new Error("caller gave up");
    const controller = new AbortController();
    const pending = acme.send(new Request("https://api.example.com/"), {
      fetch: silentFetch,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 5);
    expect(await rejection(pending)).toBe(reason);
  });

  test("its deadline ends with the headers: a slow body is the caller's to read", async () => {
    const { response, state } = endlessBody();
    const result = await acme.send(new Request("https://api.example.com/"), {
      fetch: async () => response,
      timeoutMs: 30,
    });
    expect(result).toBe(response);
    await result.body?.cancel();
    expect(state.cancelled).toBe(true);
  });
});

describe("a kit's call", () => {
  test("sends, parses and resolves with what the parser returns", async () => {
    const seen: Request[] = [];
    const result = await acme.call(
      new Request("https://api.example.com/v1", { method: "POST", body: "x" }),
      {
        fetch: async (request) => {
          seen.push(request);
          return Response.json({ ok: true }, { status: 201 });
        },
      },
      async (response) => ({ status: response.status, body: await acme.readJson(response) }),
    );
    expect(result).toEqual({ status: 201, body: { ok: true } });
    expect(seen[0]?.method).toBe("POST");
  });

  test("the deadline covers a slow body, even one that ignores every signal", async () => {
    const { response } = endlessBody();
    const error = await rejection(
      acme.call(
        new Request("https://api.example.com/"),
        { fetch: async () => response, timeoutMs: 30 },
        (answer) => acme.readText(answer),
      ),
    );
    const acmeError = expectAcmeError(error, {
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
    });
    expect(acmeError.message).toBe("acme did not answer within 30 ms");
  });

  test("on the deadline a body that follows the request's signal stops, failing with the same TIMEOUT", async () => {
    let readFailure: unknown;
    const error = await rejection(
      acme.call(
        new Request("https://api.example.com/"),
        { fetch: bodyFollowsSignal, timeoutMs: 30 },
        async (answer) => {
          try {
            return await acme.readText(answer);
          } catch (failure) {
            readFailure = failure;
            throw failure;
          }
        },
      ),
    );
    expectAcmeError(error, { code: "TIMEOUT" });
    await Promise.resolve();
    expect(readFailure).toBe(error);
  });

  test("a body the parser has not begun reading is cancelled when the deadline ends the call", async () => {
    const { response, state } = endlessBody();
    const error = await rejection(
      acme.call(
        new Request("https://api.example.com/"),
        { fetch: async () => response, timeoutMs: 30 },
        () => new Promise<never>(() => {}),
      ),
    );
    expectAcmeError(error, { code: "TIMEOUT" });
    expect(state.cancelled).toBe(true);
  });

  test("an answer that comes after the deadline is not parsed, and its body is cancelled", async () => {
    const { response, state } = endlessBody();
    let answer: (response: Response) => void = () => {};
    let parsed = 0;
    const error = await rejection(
      acme.call(
        new Request("https://api.example.com/"),
        { fetch: () => new Promise<Response>((resolve) => (answer = resolve)), timeoutMs: 20 },
        () => {
          parsed++;
          return "parsed";
        },
      ),
    );
    expectAcmeError(error, { code: "TIMEOUT" });
    answer(response);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(parsed).toBe(0);
    expect(state.cancelled).toBe(true);
  });

  test("the caller's abort while the body is read rejects with its reason", async () => {
    const { response } = endlessBody();
    const controller = new AbortController();
    const reason = new Error("user navigated away");
    const pending = acme.call(
      new Request("https://api.example.com/"),
      { fetch: async () => response, signal: controller.signal, timeoutMs: 5000 },
      (answer) => acme.readText(answer),
    );
    setTimeout(() => controller.abort(reason), 10);
    expect(await rejection(pending)).toBe(reason);
  });

  test("what the parser throws passes through unchanged", async () => {
    const own = new AcmeError(
      { code: 4037, kind: "not_found", message: "gone" },
      "from the parser",
    );
    const foreign = new RangeError("parser bug");
    for (const thrownByParser of [own, foreign]) {
      const error = await rejection(
        acme.call(
          new Request("https://api.example.com/"),
          { fetch: async () => new Response("x") },
          () => {
            throw thrownByParser;
          },
        ),
      );
      expect(error).toBe(thrownByParser);
    }
  });

  test("a bad timeout is refused with the factory's class before anything is sent", async () => {
    let calls = 0;
    const error = await rejection(
      acme.call(
        new Request("https://api.example.com/"),
        {
          fetch: async () => {
            calls++;
            return new Response("ok");
          },
          timeoutMs: 0,
        },
        (response) => response,
      ),
    );
    expectAcmeError(error, { code: "INVALID_INPUT", field: "timeoutMs" });
    expect(calls).toBe(0);
  });
});

describe("a kit's readText and readJson", () => {
  test("refuse oversized, unreadable and non-JSON bodies with the factory's class", async () => {
    const big = new Response("x".repeat(20), { status: 200 });
    expectAcmeError(await rejection(acme.readText(big, 10)), {
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 200,
    });
    const cause = new Error("connection reset");
    const broken = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.error(cause);
        },
      }),
      { status: 502 },
    );
    const unreadable = expectAcmeError(await rejection(acme.readText(broken)), {
      code: "NETWORK_ERROR",
      kind: "unavailable",
      upstreamStatus: 502,
    });
    expect(unreadable.retryable).toBe(true);
    expect(unreadable.cause).toBe(cause);
    const html = expectAcmeError(
      await rejection(acme.readJson(new Response("<html>", { status: 503 }))),
      {
        code: "BAD_RESPONSE",
        upstreamStatus: 503,
      },
    );
    expect(html.message).toContain("acme answered HTTP 503");
    expect(await acme.readJson(Response.json([1, 2]))).toEqual([1, 2]);
  });
});
