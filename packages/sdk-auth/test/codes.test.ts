import { isErrorKind } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { DEFAULT_REFRESH_CODES, ONEACCESS_CODES, ONEACCESS_ERROR_KINDS } from "../src/codes.ts";

describe("OneAccess codes", () => {
  it("are distinct, in the APP.xxxx style, and keep Huawei's published APP.0001 and APP.0002", () => {
    const codes = Object.values(ONEACCESS_CODES);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^APP\.\d{4}$/);
    expect(ONEACCESS_CODES.UNKNOWN_CLIENT).toBe("APP.0001");
    expect(ONEACCESS_CODES.CLIENT_ID_REQUIRED).toBe("APP.0002");
  });

  it("each have a kind from the shared vocabulary", () => {
    for (const code of Object.values(ONEACCESS_CODES)) {
      expect(isErrorKind(ONEACCESS_ERROR_KINDS[code])).toBe(true);
    }
    expect(ONEACCESS_ERROR_KINDS[ONEACCESS_CODES.UNKNOWN_CLIENT]).toBe("misconfigured");
    expect(ONEACCESS_ERROR_KINDS[ONEACCESS_CODES.SESSION_UNKNOWN]).toBe("unauthorized");
  });

  it("refresh the key and clock on the signature and timestamp codes only", () => {
    expect([...DEFAULT_REFRESH_CODES].sort()).toEqual([
      ONEACCESS_CODES.SIGNATURE_INVALID,
      ONEACCESS_CODES.TIMESTAMP_EXPIRED,
    ]);
  });
});
