// The status table: every code VENDORS.md lists, with the kind and retryability it fixes.
import { ERROR_KINDS } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { EBET_STATUS, ebetStatus } from "../src/index.ts";

const LISTED = [
  200, 202, 401, 410, 500, 505, 4003, 4025, 4026, 4027, 4029, 4030, 4037, 4038, 4202, 5003, 5011,
];
const RECHARGE_AND_WALLET = [
  -1, 0, 201, 203, 204, 205, 206, 207, 208, 209, 1003, 4028, 5001, 5002, 5005, 5006, 5009, 5010,
];

const KINDS: Record<number, string> = {
  4025: "invalid_request",
  4030: "invalid_request",
  401: "unauthorized",
  410: "unauthorized",
  4037: "not_found",
  5003: "not_found",
  4038: "rate_limited",
  4202: "rate_limited",
  500: "unavailable",
  505: "unavailable",
  4003: "unavailable",
  202: "misconfigured",
  4026: "misconfigured",
  4027: "misconfigured",
  4029: "misconfigured",
};

/** The meaning VENDORS.md gives each code it lists, and the name we give it. */
const MEANINGS: Record<number, [name: string, en: string]> = {
  200: ["SUCCESS", "success"],
  202: ["CHANNEL_NOT_FOUND", "channel not found"],
  401: ["BAD_CREDENTIALS", "bad username or password"],
  410: ["INVALID_TOKEN", "invalid access token"],
  500: ["SYSTEM_ERROR", "system error"],
  505: ["CHANNEL_MAINTENANCE", "channel under maintenance"],
  4003: ["SYSTEM_BUSY", "system busy"],
  4025: ["BAD_PARAMETERS", "bad parameters"],
  4026: ["BAD_SIGNATURE", "bad signature"],
  4027: ["IP_NOT_ALLOWED", "IP address not allowed"],
  4029: ["FUNCTION_DISABLED", "function disabled for this channel"],
  4030: ["DATA_TYPE_ERROR", "data type error"],
  4037: ["USER_NOT_FOUND", "user not found"],
  4038: ["TOO_MANY_REQUESTS", "too many requests"],
  4202: ["API_QUOTA_EXHAUSTED", "API quota exhausted"],
  5003: ["SUB_CHANNEL_NOT_FOUND", "sub-channel not found"],
  5011: ["ACCOUNT_FROZEN", "account frozen"],
};

/** Names every plain object inherits: a code from outside must never find one of these. */
const PROTOTYPE_NAMES = [
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__proto__",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
];

describe("EBET_STATUS", () => {
  it("names and explains every listed code as VENDORS.md does", () => {
    expect(Object.keys(MEANINGS).map(Number)).toEqual(LISTED);
    for (const code of LISTED) {
      const [name, en] = MEANINGS[code] as [string, string];
      expect(EBET_STATUS[code]).toMatchObject({ code, name, en });
    }
  });

  it("has no inherited members: a prototype name finds nothing", () => {
    for (const name of PROTOTYPE_NAMES) {
      expect((EBET_STATUS as Record<string, unknown>)[name]).toBeUndefined();
      expect(name in EBET_STATUS).toBe(false);
    }
  });

  it("holds every code of eBET's table and nothing else", () => {
    const codes = Object.keys(EBET_STATUS)
      .map(Number)
      .sort((a, b) => a - b);
    expect(codes).toEqual([...LISTED, ...RECHARGE_AND_WALLET].sort((a, b) => a - b));
  });

  it("gives each code a name, an English and a Chinese meaning", () => {
    const names = new Set<string>();
    for (const info of Object.values(EBET_STATUS)) {
      expect(info.name).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(info.en.length).toBeGreaterThan(3);
      expect(info.zh).toMatch(/\p{Script=Han}/u);
      names.add(info.name);
    }
    expect(names.size).toBe(Object.keys(EBET_STATUS).length);
  });

  it("gives each code the kind VENDORS.md fixes; every other code is upstream", () => {
    for (const info of Object.values(EBET_STATUS)) {
      const expected = info.code === 200 ? "success" : (KINDS[info.code] ?? "upstream");
      expect({ code: info.code, kind: info.kind }).toEqual({ code: info.code, kind: expected });
      if (info.kind !== "success") expect(ERROR_KINDS).toContain(info.kind);
    }
  });

  it("makes exactly 4038 and the unavailable codes retryable (4202 is not)", () => {
    const retryable = Object.values(EBET_STATUS)
      .filter((info) => info.retryable)
      .map((info) => info.code)
      .sort((a, b) => a - b);
    expect(retryable).toEqual([500, 505, 4003, 4038]);
    expect(EBET_STATUS[4202]?.retryable).toBe(false);
  });

  it("names the main codes as eBET means them", () => {
    expect(EBET_STATUS[202]).toMatchObject({ name: "CHANNEL_NOT_FOUND", zh: "渠道不存在" });
    expect(EBET_STATUS[4026]).toMatchObject({ name: "BAD_SIGNATURE", zh: "签名错误" });
    expect(EBET_STATUS[4037]).toMatchObject({ name: "USER_NOT_FOUND", zh: "用户不存在" });
    expect(EBET_STATUS[4038]).toMatchObject({ name: "TOO_MANY_REQUESTS" });
    expect(EBET_STATUS[5011]).toMatchObject({ name: "ACCOUNT_FROZEN", kind: "upstream" });
    expect(EBET_STATUS[-1]?.name).toBe("RECHARGE_OR_WALLET_MINUS_1");
  });

  it("is frozen", () => {
    expect(Object.isFrozen(EBET_STATUS)).toBe(true);
    expect(Object.isFrozen(EBET_STATUS[200])).toBe(true);
  });
});

describe("ebetStatus", () => {
  it("returns the table entry for a known code", () => {
    expect(ebetStatus(4026)).toBe(EBET_STATUS[4026]);
  });

  it("answers a prototype name, a numeric string or a non-integer with UNKNOWN, never an inherited member", () => {
    for (const code of [
      ...PROTOTYPE_NAMES,
      "4026",
      "200",
      4026.5,
      Number.NaN,
      null,
      undefined,
      {},
    ]) {
      const info = ebetStatus(code as never);
      expect(info).toMatchObject({ name: "UNKNOWN", kind: "upstream", retryable: false });
      expect(ERROR_KINDS).toContain(info.kind);
      expect(typeof info.en).toBe("string");
    }
  });

  it("reports a code outside the table as an upstream, non-retryable UNKNOWN", () => {
    expect(ebetStatus(9999)).toMatchObject({
      code: 9999,
      name: "UNKNOWN",
      kind: "upstream",
      retryable: false,
    });
  });
});
