// EbetError: the shared VendorError contract, the eBET kit's re-typing of core failures, and secret-free key errors.
import { KeyFormatError, VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { ebet, invalidEbetInput, keyRefused } from "../src/errors.ts";
import { EBET_STATUS, EbetError } from "../src/index.ts";

describe("EbetError", () => {
  it("extends VendorError with vendor ebet and the shared fields", () => {
    const error = new EbetError({
      code: 4026,
      kind: "misconfigured",
      message: "bad",
      upstreamStatus: 200,
    });
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "EbetError",
      vendor: "ebet",
      code: 4026,
      kind: "misconfigured",
      retryable: false,
      upstreamStatus: 200,
      field: undefined,
    });
    expect(error.toJSON()).toMatchObject({ name: "EbetError", vendor: "ebet", code: 4026 });
  });

  it("looks up its status-table entry when the code is eBET's", () => {
    expect(new EbetError({ code: 4037, kind: "not_found", message: "x" }).statusInfo).toBe(
      EBET_STATUS[4037],
    );
    expect(new EbetError({ code: "TIMEOUT", kind: "unavailable", message: "x" }).statusInfo).toBe(
      undefined,
    );
  });

  it("names the field of refused input", () => {
    const error = invalidEbetInput("username", "must not be empty");
    expect(error).toMatchObject({
      code: "INVALID_INPUT",
      kind: "invalid_request",
      field: "username",
      message: "username: must not be empty",
    });
  });

  it("marks a bad answer as upstream with the HTTP status", () => {
    expect(ebet.badResponse(200, "nope")).toMatchObject({
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 200,
      retryable: false,
    });
  });
});

describe("the eBET kit", () => {
  it("re-types a core VendorError, keeping its code, kind, retryability, status and field", () => {
    const core = new VendorError({
      vendor: "ebet",
      code: "TIMEOUT",
      kind: "unavailable",
      message: "late",
      upstreamStatus: 504,
      field: "x",
    });
    const error = ebet.adopt(core);
    expect(error).toBeInstanceOf(EbetError);
    expect(error).toMatchObject({
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: 504,
      field: "x",
      message: "late",
    });
    expect(error.cause).toBe(core);
  });

  it("passes EbetErrors and foreign errors (a caller's abort reason) through unchanged", async () => {
    const ebetError = new EbetError({ code: 1, kind: "upstream", message: "x" });
    const abort = new DOMException("stop", "AbortError");
    expect(ebet.adopt(ebetError)).toBe(ebetError);
    const fetch = async () => new Response("{}");
    await expect(
      ebet.send(new Request("https://api.example.com/"), {
        fetch,
        signal: AbortSignal.abort(abort),
      }),
    ).rejects.toBe(abort);
    await expect(
      ebet.send(new Request("https://api.example.com/"), {
        fetch: () => Promise.reject(ebetError),
      }),
    ).rejects.toBe(ebetError);
  });

  it("makes its own failures EbetErrors: refused options, timeouts, unreadable answers", async () => {
    expect(() => ebet.checkTimeout(0)).toThrow(EbetError);
    expect(() => ebet.checkBaseUrl("ftp://x.example/")).toThrow(EbetError);
    const silent = () => new Promise<Response>(() => {});
    await expect(
      ebet.send(new Request("https://api.example.com/"), { fetch: silent, timeoutMs: 20 }),
    ).rejects.toMatchObject({ name: "EbetError", code: "TIMEOUT", kind: "unavailable" });
    await expect(ebet.readJson(new Response("<html>"))).rejects.toMatchObject({
      name: "EbetError",
      code: "BAD_RESPONSE",
    });
  });
});

describe("keyRefused", () => {
  it("says why a key is refused without quoting any of it", () => {
    const error = keyRefused(
      new KeyFormatError(
        "encoding",
        'the key is not valid base64 (base64: invalid character "Q" at 7)',
      ),
    );
    expect(error).toMatchObject({ field: "privateKey", kind: "invalid_request" });
    expect(error.message).toContain("invalid character");
    expect(error.message).not.toContain('"Q"');
  });
});
