// Tests for Lancens message parsing: every documented wording, every body shape, the status fallback.

import { ERROR_KINDS } from "@x/core-signing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyMessage,
  classifyStatus,
  extractMessage,
  MAX_VENDOR_MESSAGE_LENGTH,
} from "../src/index.ts";

describe("classifyMessage", () => {
  it.each([
    ["undefined username", "UNDEFINED_FIELD", "invalid_request", "username"],
    ["undefined token", "UNDEFINED_FIELD", "invalid_request", "token"],
    ["undefined push_token", "UNDEFINED_FIELD", "invalid_request", "push_token"],
    ["no token", "NO_TOKEN", "invalid_request", "token"],
    ["invalid token", "INVALID_TOKEN", "unauthorized", "token"],
    ["username length error", "LENGTH_ERROR", "invalid_request", "username"],
    ["password length error", "LENGTH_ERROR", "invalid_request", "password"],
    ["username format error", "FORMAT_ERROR", "invalid_request", "username"],
    ["dev format error", "FORMAT_ERROR", "invalid_request", "dev"],
    ["username error", "CHECK_FAILED", "invalid_request", "username"],
    ["token error", "CHECK_FAILED", "unauthorized", "token"],
    ["username exist", "EXISTS", "invalid_request", "username"],
    ["push_token exists", "EXISTS", "invalid_request", "push_token"],
    ["username or password error", "BAD_CREDENTIALS", "unauthorized", undefined],
    ["no data error", "NO_DATA", "upstream", undefined],
    ["paramer error", "PARAMER_ERROR", "upstream", undefined],
    ["parameter error", "PARAMER_ERROR", "upstream", undefined],
    ["database connect failed", "DATABASE_ERROR", "unavailable", undefined],
  ])("%s -> %s, %s, field %s", (message, code, kind, field) => {
    const meaning = classifyMessage(message);
    expect(meaning?.code).toBe(code);
    expect(meaning?.kind).toBe(kind);
    expect(meaning?.field).toBe(field);
  });

  it.each([
    ["10001", 10001],
    ["10051", 10051],
    ["10099", 10099],
    ["20003", 20003],
    ["30042", 30042],
    ["10051: duplicate entry", 10051],
  ])("numeric database code %s is retryable unavailable", (message, code) => {
    const meaning = classifyMessage(message);
    expect(meaning).toEqual({ code, kind: "unavailable", retryable: true });
  });

  it("ignores case and extra whitespace, and keeps the field as written", () => {
    expect(classifyMessage("  Invalid   Token ")?.code).toBe("INVALID_TOKEN");
    expect(classifyMessage("UNDEFINED userName")).toEqual({
      code: "UNDEFINED_FIELD",
      kind: "invalid_request",
      field: "userName",
    });
  });

  it.each([
    "",
    "success",
    "something went wrong error", // not a field name
    "40001",
    "12345", // not one of the documented families 100XX, 200XX, 300XX
    "25000",
    "30100",
    "1000",
    "100011",
    "undefined",
    "<html>",
  ])("does not recognise %j", (message) => {
    expect(classifyMessage(message)).toBeUndefined();
  });

  // Messages spelled like members of Object.prototype: a lookup keyed by them in a plain object
  // would find the prototype's members instead of nothing.
  it.each([
    ["constructor", undefined],
    ["toString", undefined],
    ["__proto__", undefined],
    ["hasOwnProperty", undefined],
    ["valueOf", undefined],
    ["undefined constructor", "UNDEFINED_FIELD"],
    ["__proto__ length error", "LENGTH_ERROR"],
    ["toString format error", "FORMAT_ERROR"],
    ["hasOwnProperty exist", "EXISTS"],
    ["valueOf error", "CHECK_FAILED"],
  ])("%j is a plain message, its field never a prototype member", (message, code) => {
    const meaning = classifyMessage(message);
    expect(meaning?.code).toBe(code);
    if (meaning !== undefined) {
      expect(ERROR_KINDS).toContain(meaning.kind);
      expect(meaning.kind).toBe("invalid_request");
      // Lancens' fields are username, token, push_token…: a prototype member's name is not one,
      // and would poison any table a caller indexes by field.
      expect(meaning.field).toBeUndefined();
    }
  });

  it("keeps a field that merely contains a prototype member's name", () => {
    expect(classifyMessage("__proto__.x length error")?.field).toBe("__proto__.x");
    expect(classifyMessage("Constructor format error")?.field).toBe("Constructor");
  });

  it("never throws and names only field-like fields (fixed seed)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const meaning = classifyMessage(text);
        if (meaning?.field !== undefined) {
          expect(meaning.field).toMatch(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/);
        }
      }),
      { seed: 6, numRuns: 500 },
    );
  });
});

describe("classifyStatus", () => {
  it.each([
    [400, "invalid_request"],
    [401, "unauthorized"],
    [403, "unauthorized"],
    [404, "misconfigured"],
    [405, "misconfigured"],
    [408, "unavailable"],
    [429, "rate_limited"],
    [500, "unavailable"],
    [502, "unavailable"],
    [503, "unavailable"],
    [504, "unavailable"],
    [302, "upstream"],
    [418, "upstream"],
  ])("HTTP %i -> %s", (status, kind) => {
    expect(classifyStatus(status)).toEqual({ code: "HTTP_ERROR", kind });
  });
});

describe("extractMessage", () => {
  it.each([
    ['{"message":"invalid token"}', "invalid token"],
    ['{ "message": "undefined username", "status": 400 }', "undefined username"],
    ['{"msg":"no token"}', "no token"],
    ['{"error":"paramer error"}', "paramer error"],
    ['{"message":10051}', "10051"],
    ['{"code":10001}', "10001"],
    ['{"message":"","error":"no data error"}', "no data error"],
    ['"invalid token"', "invalid token"],
    ["invalid token", "invalid token"],
    ["invalid token\n", "invalid token"],
    ["  username length error  ", "username length error"],
    ["10051", "10051"],
  ])("%j -> %j", (body, message) => {
    expect(extractMessage(body)).toBe(message);
  });

  it.each([
    "",
    "   ",
    "{}",
    '{"message":null}',
    '{"status":400}',
    "[]",
    '["invalid token"]',
    "null",
    '{"message": "invalid tok',
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
  ])("%j has no message", (body) => {
    expect(extractMessage(body)).toBeUndefined();
  });

  it("reads only the body's own members, even when Object.prototype is polluted", () => {
    const polluted = Object.prototype as Record<string, unknown>;
    polluted.message = "invalid token";
    polluted.code = 10051;
    try {
      expect(extractMessage("{}")).toBeUndefined();
      expect(extractMessage('{"status":200}')).toBeUndefined();
      expect(extractMessage('{"msg":"no token"}')).toBe("no token");
    } finally {
      delete polluted.message;
      delete polluted.code;
    }
  });

  it("a __proto__ member is data, never a message source", () => {
    expect(extractMessage('{"__proto__":{"message":"invalid token"}}')).toBeUndefined();
    expect(extractMessage('{"__proto__":"x","message":"no token"}')).toBe("no token");
  });

  it("replaces secrets before cutting the message short, however the JSON spells them", () => {
    const secret = 'ab"c\\d/e';
    const escaped = JSON.stringify({ message: `invalid token ${secret}` });
    expect(extractMessage(escaped, [secret])).toBe("invalid token [redacted]");
    const unicode = `{"message":"${[...secret].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"}`;
    expect(extractMessage(unicode, [secret])).toBe("[redacted]");
    const atTheCut = extractMessage(`${"x".repeat(195)}${secret}`, [secret]);
    expect(atTheCut).toBe(`${"x".repeat(195)}[redacted]`.slice(0, 199).concat("…"));
    expect(atTheCut).not.toContain(secret.slice(0, 4));
  });

  it("removes control characters and bounds the length", () => {
    expect(extractMessage("invalid\u0000 token\u001b[31m")).toBe("invalid  token [31m");
    const long = extractMessage("x".repeat(5000));
    expect(long?.length).toBe(MAX_VENDOR_MESSAGE_LENGTH);
    expect(long?.endsWith("…")).toBe(true);
  });

  it("never throws and always bounds its result (fixed seed)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (body) => {
        const message = extractMessage(body);
        if (message !== undefined) {
          expect(message.length).toBeLessThanOrEqual(MAX_VENDOR_MESSAGE_LENGTH);
          const controls = [...message].filter((char) => char < " " || char === "\u007f");
          expect(controls).toEqual([]);
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
