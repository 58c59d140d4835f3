import { VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { OneAccessError, oneAccess, refuse, VENDOR } from "../src/errors.ts";

describe("OneAccessError", () => {
  it("is a VendorError of vendor sdk-auth with the whole contract", () => {
    const error = new OneAccessError({
      code: "APP.0007",
      kind: "unauthorized",
      message: "m",
      upstreamStatus: 400,
      errorMsg: "The session does not exist or has expired.",
    });
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("OneAccessError");
    expect(error.vendor).toBe("sdk-auth");
    expect(VENDOR).toBe("sdk-auth");
    expect(error.code).toBe("APP.0007");
    expect(error.kind).toBe("unauthorized");
    expect(error.retryable).toBe(false);
    expect(error.upstreamStatus).toBe(400);
    expect(error.field).toBeUndefined();
    expect(error.errorMsg).toBe("The session does not exist or has expired.");
    expect(error.toJSON()).toMatchObject({
      name: "OneAccessError",
      vendor: "sdk-auth",
      code: "APP.0007",
      errorMsg: "The session does not exist or has expired.",
    });
  });

  it("defaults retryable from the kind, and keeps an explicit one", () => {
    expect(
      new OneAccessError({ code: "HTTP_502", kind: "unavailable", message: "m" }).retryable,
    ).toBe(true);
    expect(
      new OneAccessError({ code: "x", kind: "unavailable", message: "m", retryable: false })
        .retryable,
    ).toBe(false);
  });

  it("converts the shared helpers' VendorErrors, keeping code, kind, status and cause", () => {
    const shared = new VendorError({
      vendor: "sdk-auth",
      code: "TIMEOUT",
      kind: "unavailable",
      message: "sdk-auth did not answer within 5 ms",
    });
    const converted = OneAccessError.from(shared);
    expect(converted).toBeInstanceOf(OneAccessError);
    expect(converted.code).toBe("TIMEOUT");
    expect(converted.retryable).toBe(true);
    expect(converted.message).toBe(shared.message);
    expect(converted.cause).toBe(shared);
    expect(OneAccessError.from(converted)).toBe(converted);
  });

  it("refuse() names the field, first in the message", () => {
    const error = refuse("device.agent", "contains a line break");
    expect(error).toBeInstanceOf(OneAccessError);
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("device.agent");
    expect(error.message).toBe("device.agent: contains a line break");
  });

  it("the kit makes the shared checks refuse with a OneAccessError, adopts plain VendorErrors and passes other throws", async () => {
    expect(() => oneAccess.checkBaseUrl("ftp://x.example/")).toThrow(
      expect.objectContaining({ name: "OneAccessError", field: "baseUrl" }),
    );
    expect(() => oneAccess.checkTimeout(0)).toThrow(
      expect.objectContaining({ name: "OneAccessError", field: "timeoutMs" }),
    );
    const plain = new VendorError({
      vendor: "sdk-auth",
      code: "INVALID_INPUT",
      kind: "invalid_request",
      field: "baseUrl",
      message: "baseUrl: bad",
    });
    expect(oneAccess.adopt(plain)).toEqual(
      expect.objectContaining({ name: "OneAccessError", field: "baseUrl" }),
    );
    const fetch = async () => new Response("{}");
    const other = new TypeError("other");
    await expect(
      oneAccess.call(new Request("https://x.example/"), { fetch }, () => {
        throw other;
      }),
    ).rejects.toBe(other);
    expect(await oneAccess.call(new Request("https://x.example/"), { fetch }, () => 42)).toBe(42);
  });

  it("the kit's own failures are OneAccessErrors with a string code", async () => {
    const silent = () => new Promise<Response>(() => {});
    const timeout = await oneAccess
      .send(new Request("https://x.example/"), { fetch: silent, timeoutMs: 10 })
      .catch((error: unknown) => error);
    expect(timeout).toBeInstanceOf(OneAccessError);
    expect(timeout).toMatchObject({ code: "TIMEOUT", kind: "unavailable", retryable: true });
    expect(
      oneAccess.adopt(new VendorError({ vendor: VENDOR, code: 4, kind: "upstream", message: "m" }))
        .code,
    ).toBe("4");
  });
});
