// FunGameError (src/errors.ts): the shared VendorError contract under vendor "fungame".
import { VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import {
  asFunGameError,
  FunGameError,
  invalidInput,
  isFunGameError,
  VENDOR,
} from "../src/index.ts";

describe("FunGameError", () => {
  it("is a VendorError with vendor fungame and the shared fields", () => {
    const error = new FunGameError({
      code: 500,
      kind: "upstream",
      message: "m",
      upstreamStatus: 500,
      retryable: true,
    });
    expect(error).toBeInstanceOf(VendorError);
    expect(error.name).toBe("FunGameError");
    expect(error.vendor).toBe(VENDOR);
    expect(VENDOR).toBe("fungame");
    expect(error.toJSON()).toMatchObject({
      vendor: "fungame",
      code: 500,
      kind: "upstream",
      retryable: true,
      upstreamStatus: 500,
    });
    expect(isFunGameError(error)).toBe(true);
    expect(isFunGameError(new Error("x"))).toBe(false);
  });

  it("defaults retryable by kind, as core-signing does", () => {
    expect(new FunGameError({ code: "T", kind: "unavailable", message: "" }).retryable).toBe(true);
    expect(new FunGameError({ code: "U", kind: "unauthorized", message: "" }).retryable).toBe(
      false,
    );
  });

  it("from() keeps every field of a core-signing error", () => {
    const core = new VendorError({
      vendor: "fungame",
      code: "BAD_RESPONSE",
      kind: "upstream",
      message: "cut off",
      upstreamStatus: 200,
      field: "x",
    });
    const error = FunGameError.from(core);
    expect(error).toBeInstanceOf(FunGameError);
    expect(error.toJSON()).toEqual({ ...core.toJSON(), name: "FunGameError" });
    expect(error.cause).toBe(core);
    expect(FunGameError.from(error)).toBe(error);
  });

  it("invalidInput names the field; asFunGameError converts core errors and passes others", () => {
    const error = invalidInput("bearerToken", "must not be empty");
    expect(error).toMatchObject({
      kind: "invalid_request",
      code: "INVALID_INPUT",
      field: "bearerToken",
    });
    expect(error.message).toBe("bearerToken: must not be empty");
    expect(() =>
      asFunGameError(() => {
        throw new VendorError({
          vendor: "fungame",
          code: "C",
          kind: "misconfigured",
          message: "m",
        });
      }),
    ).toThrow(FunGameError);
    expect(() =>
      asFunGameError(() => {
        throw new TypeError("t");
      }),
    ).toThrow(TypeError);
    expect(asFunGameError(() => 3)).toBe(3);
  });
});
