// The error contract (src/errors.ts): VendorError and its kinds, and the key, encoding and OAEP errors.
import { describe, expect, test } from "vitest";
import {
  DataTooLongError,
  DecryptionError,
  defineVendor,
  EncodingError,
  ERROR_KINDS,
  type ErrorKind,
  invalidInput,
  isErrorKind,
  isVendorError,
  KeyFormatError,
  VendorError,
  vendorErrorFields,
} from "../src/index.ts";

describe("ERROR_KINDS", () => {
  test("are exactly the seven kinds, in order", () => {
    expect([...ERROR_KINDS]).toEqual([
      "invalid_request",
      "unauthorized",
      "not_found",
      "rate_limited",
      "unavailable",
      "misconfigured",
      "upstream",
    ]);
    expect(new Set(ERROR_KINDS).size).toBe(7);
  });

  test("isErrorKind accepts the kinds and nothing else", () => {
    for (const kind of ERROR_KINDS) expect(isErrorKind(kind)).toBe(true);
    for (const value of ["", "timeout", "Unavailable", "upstream ", 1, null, undefined, {}]) {
      expect(isErrorKind(value)).toBe(false);
    }
  });
});

describe("VendorError", () => {
  test.each(ERROR_KINDS)(
    "kind %s: retryable defaults to true only for unavailable and rate_limited",
    (kind) => {
      const error = new VendorError({ vendor: "ebet", code: 1, kind, message: "m" });
      expect(error.retryable).toBe(kind === "unavailable" || kind === "rate_limited");
    },
  );

  test.each(ERROR_KINDS)("kind %s: an explicit retryable wins", (kind) => {
    for (const retryable of [true, false]) {
      const error = new VendorError({ vendor: "ebet", code: 1, kind, message: "m", retryable });
      expect(error.retryable).toBe(retryable);
    }
  });

  test("carries every field it was given", () => {
    const cause = new TypeError("socket hang up");
    const error = new VendorError({
      vendor: "oneaccess",
      code: "APP.0001",
      kind: "upstream",
      message: "the vendor failed",
      upstreamStatus: 502,
      field: "amount",
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(VendorError);
    expect(error.name).toBe("VendorError");
    expect(error.vendor).toBe("oneaccess");
    expect(error.code).toBe("APP.0001");
    expect(error.kind).toBe("upstream");
    expect(error.message).toBe("the vendor failed");
    expect(error.upstreamStatus).toBe(502);
    expect(error.field).toBe("amount");
    expect(error.cause).toBe(cause);
    expect(error.stack).toContain("VendorError");
  });

  test("takes undefined optional fields as absent", () => {
    const error = new VendorError({
      vendor: "ebet",
      code: 1,
      kind: "unavailable",
      message: "m",
      retryable: undefined,
      upstreamStatus: undefined,
      field: undefined,
      cause: undefined,
    });
    expect(error.retryable).toBe(true);
    expect(error.upstreamStatus).toBeUndefined();
    expect(error.field).toBeUndefined();
    expect("cause" in error).toBe(false);
  });

  test("leaves absent fields undefined, and sets no cause when none is given", () => {
    const error = new VendorError({ vendor: "ebet", code: 4026, kind: "not_found", message: "m" });
    expect(error.code).toBe(4026);
    expect(error.upstreamStatus).toBeUndefined();
    expect(error.field).toBeUndefined();
    expect("cause" in error).toBe(false);
  });

  test("toJSON gives the fields and the message, nothing more", () => {
    const error = new VendorError({
      vendor: "ebet",
      code: 4026,
      kind: "rate_limited",
      message: "slow down",
      upstreamStatus: 429,
      cause: new Error("secret detail"),
    });
    expect(error.toJSON()).toEqual({
      name: "VendorError",
      vendor: "ebet",
      code: 4026,
      kind: "rate_limited",
      retryable: true,
      upstreamStatus: 429,
      field: undefined,
      message: "slow down",
    });
    const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
    expect(json).toEqual({
      name: "VendorError",
      vendor: "ebet",
      code: 4026,
      kind: "rate_limited",
      retryable: true,
      upstreamStatus: 429,
      message: "slow down",
    });
    expect(JSON.stringify(error)).not.toContain("secret detail");
    expect(JSON.stringify(error)).not.toContain("stack");
  });

  test("isVendorError tells VendorErrors from look-alikes", () => {
    const error = new VendorError({ vendor: "v", code: 1, kind: "upstream", message: "m" });
    expect(isVendorError(error)).toBe(true);
    expect(isVendorError(error.toJSON())).toBe(false);
    expect(isVendorError(new Error("m"))).toBe(false);
    expect(isVendorError(undefined)).toBe(false);
  });
});

describe("a kind outside ERROR_KINDS", () => {
  const OUTSIDE: unknown[] = [
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "__proto__",
    "timeout",
    "",
    undefined,
    null,
    42,
    Object,
    {},
  ];

  test.each(OUTSIDE)(
    "%o becomes upstream, not retryable, with the code and message kept",
    (kind) => {
      const error = new VendorError({
        vendor: "sdk-auth",
        code: "constructor",
        kind: kind as ErrorKind,
        upstreamStatus: 400,
        message: "OneAccess answered HTTP 400 constructor",
      });
      expect(error.kind).toBe("upstream");
      expect(ERROR_KINDS).toContain(error.kind);
      expect(error).toMatchObject({
        code: "constructor",
        retryable: false,
        upstreamStatus: 400,
        message: "OneAccess answered HTTP 400 constructor",
      });
      expect(error.toJSON().kind).toBe("upstream");
    },
  );

  test("keeps an explicit retryable, and takes a retryable that is not a boolean as the default", () => {
    const kind = "bogus" as ErrorKind;
    expect(
      new VendorError({ vendor: "v", code: 1, kind, message: "m", retryable: true }).retryable,
    ).toBe(true);
    const odd = {
      vendor: "v",
      code: 1,
      kind: "unavailable",
      message: "m",
      retryable: "no",
    } as unknown;
    expect(new VendorError(odd as ConstructorParameters<typeof VendorError>[0]).retryable).toBe(
      true,
    );
  });

  test("comes out as upstream from a kit's error and adopt too", () => {
    const kit = defineVendor("v");
    const kind = "toString" as ErrorKind;
    expect(kit.error({ code: "toString", kind, message: "m" }).kind).toBe("upstream");
    const other = new VendorError({ vendor: "w", code: 1, kind, message: "m" });
    expect(kit.adopt(other).kind).toBe("upstream");
    expect(vendorErrorFields(other).kind).toBe("upstream");
  });
});

describe("vendorErrorFields", () => {
  test("gives every field but the vendor, the cause being the original's or else the original", () => {
    const error = new VendorError({
      vendor: "ebet",
      code: 4026,
      kind: "upstream",
      message: "m",
      upstreamStatus: 200,
      field: "x",
      retryable: true,
    });
    expect(vendorErrorFields(error)).toEqual({
      code: 4026,
      kind: "upstream",
      message: "m",
      retryable: true,
      upstreamStatus: 200,
      field: "x",
      cause: error,
    });
    const cause = new TypeError("socket hang up");
    const wrapped = new VendorError({
      vendor: "ebet",
      code: 1,
      kind: "upstream",
      message: "m",
      cause,
    });
    expect(vendorErrorFields(wrapped).cause).toBe(cause);
    const again = new VendorError({ ...vendorErrorFields(error), vendor: "fungame" });
    expect(again.toJSON()).toEqual({ ...error.toJSON(), vendor: "fungame" });
  });
});

describe("invalidInput", () => {
  test("is an invalid_request VendorError with code INVALID_INPUT naming the field", () => {
    const error = invalidInput("ebet", "amount", "must be positive");
    expect(error).toBeInstanceOf(VendorError);
    expect(error.vendor).toBe("ebet");
    expect(error.kind).toBe<ErrorKind>("invalid_request");
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.field).toBe("amount");
    expect(error.retryable).toBe(false);
    expect(error.upstreamStatus).toBeUndefined();
    expect(error.message).toBe("amount: must be positive");
  });
});

describe("the other errors", () => {
  test("KeyFormatError carries its problem, message and cause", () => {
    const cause = new Error("inner");
    const error = new KeyFormatError("size", "too small", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("KeyFormatError");
    expect(error.problem).toBe("size");
    expect(error.message).toBe("too small");
    expect(error.cause).toBe(cause);
  });

  test("DataTooLongError is a RangeError stating the length and the limit", () => {
    const error = new DataTooLongError(191, 190, "RSA-OAEP SHA-256 with a 2048-bit key");
    expect(error).toBeInstanceOf(RangeError);
    expect(error.name).toBe("DataTooLongError");
    expect(error.length).toBe(191);
    expect(error.limit).toBe(190);
    expect(error.message).toBe(
      "RSA-OAEP SHA-256 with a 2048-bit key: data is 191 bytes, at most 190 fit",
    );
  });

  test("EncodingError and DecryptionError are named Errors", () => {
    const encoding = new EncodingError("bad", { cause: 1 });
    expect(encoding).toBeInstanceOf(Error);
    expect(encoding.name).toBe("EncodingError");
    expect(encoding.cause).toBe(1);
    const decryption = new DecryptionError("bad");
    expect(decryption).toBeInstanceOf(Error);
    expect(decryption.name).toBe("DecryptionError");
    expect(decryption).not.toBeInstanceOf(EncodingError);
  });
});
