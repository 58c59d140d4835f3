// Tests for the Lancens error class: the shared contract, conversion, and nothing secret in JSON.
import { ERROR_KINDS, VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { invalidLancensInput, isLancensError, LancensError } from "../src/index.ts";

describe("LancensError", () => {
  it("is a VendorError with vendor lancens and the shared fields", () => {
    const error = new LancensError({
      code: "UNDEFINED_FIELD",
      kind: "invalid_request",
      message: "lancens logout failed",
      upstreamStatus: 400,
      field: "username",
      vendorMessage: "undefined username",
      call: "logout",
    });
    expect(error).toBeInstanceOf(VendorError);
    expect(error).toBeInstanceOf(Error);
    expect(isLancensError(error)).toBe(true);
    expect(error.name).toBe("LancensError");
    expect(error.vendor).toBe("lancens");
    expect(error.retryable).toBe(false);
    expect(error.toJSON()).toEqual({
      name: "LancensError",
      vendor: "lancens",
      code: "UNDEFINED_FIELD",
      kind: "invalid_request",
      retryable: false,
      upstreamStatus: 400,
      field: "username",
      message: "lancens logout failed",
      vendorMessage: "undefined username",
      call: "logout",
    });
  });

  it("takes retryable from the kind unless told", () => {
    expect(new LancensError({ code: 10001, kind: "unavailable", message: "m" }).retryable).toBe(
      true,
    );
    expect(
      new LancensError({ code: 10001, kind: "unavailable", message: "m", retryable: false })
        .retryable,
    ).toBe(false);
    expect(new LancensError({ code: "NO_DATA", kind: "upstream", message: "m" }).retryable).toBe(
      false,
    );
  });

  it("converts a shared VendorError, keeping its fields and cause", () => {
    const cause = new TypeError("socket hang up");
    const shared = new VendorError({
      vendor: "lancens",
      code: "NETWORK_ERROR",
      kind: "unavailable",
      message: "could not reach lancens",
      cause,
    });
    const converted = LancensError.from(shared, "clearRingPushToken");
    expect(converted).toBeInstanceOf(LancensError);
    expect(converted.code).toBe("NETWORK_ERROR");
    expect(converted.kind).toBe("unavailable");
    expect(converted.retryable).toBe(true);
    expect(converted.call).toBe("clearRingPushToken");
    expect(converted.cause).toBe(cause);
    const refused = LancensError.from(
      new VendorError({
        vendor: "lancens",
        code: "INVALID_INPUT",
        kind: "invalid_request",
        field: "timeoutMs",
        message: "timeoutMs: bad",
      }),
    );
    expect(refused.field).toBe("timeoutMs");
    expect(refused.cause).toBeInstanceOf(VendorError);
  });

  it("returns a LancensError unchanged when there is nothing to add", () => {
    const error = invalidLancensInput("token", "must not be empty");
    expect(LancensError.from(error)).toBe(error);
    const withCall = LancensError.from(error, "logout");
    expect(withCall).not.toBe(error);
    expect(withCall.call).toBe("logout");
    expect(withCall.field).toBe("token");
  });

  it("makes refused-input errors that name the field", () => {
    const error = invalidLancensInput("username", "must be 6 to 32 characters, got 3");
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("username");
    expect(error.upstreamStatus).toBeUndefined();
    expect(error.message).toBe("username: must be 6 to 32 characters, got 3");
    expect(ERROR_KINDS).toContain(error.kind);
  });
});
