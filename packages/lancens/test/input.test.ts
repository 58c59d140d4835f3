// Tests for input checks: username length in characters, token shape, paths.
import { describe, expect, it } from "vitest";
import { checkToken, checkUsername, LancensError, TOKEN_MAX_LENGTH } from "../src/index.ts";
import { checkPath } from "../src/input.ts";

function refusal(run: () => unknown): LancensError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LancensError);
    return error as LancensError;
  }
  throw new Error("expected a refusal");
}

describe("checkUsername", () => {
  it.each(["abcdef", "a".repeat(32), "13800138000", "someone@example.com"])(
    "accepts %j",
    (name) => {
      expect(checkUsername(name)).toBe(name);
    },
  );

  it.each([
    ["", 0],
    ["abcde", 5],
    ["a".repeat(33), 33],
  ])("refuses %j (%i characters), naming username", (name, length) => {
    const error = refusal(() => checkUsername(name));
    expect(error.field).toBe("username");
    expect(error.kind).toBe("invalid_request");
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toBe(`username: must be 6 to 32 characters, got ${length}`);
  });

  it("counts characters, not UTF-16 units", () => {
    expect(checkUsername("用户名六个字")).toBe("用户名六个字");
    expect(refusal(() => checkUsername("用户名五字")).field).toBe("username");
    const emoji = "😀".repeat(6); // 12 UTF-16 units, 6 characters
    expect(checkUsername(emoji)).toBe(emoji);
    expect(refusal(() => checkUsername("😀".repeat(33))).message).toMatch(/got 33/);
    expect(checkUsername("😀".repeat(32))).toHaveLength(64);
  });

  it("refuses a missing or non-string username", () => {
    expect(refusal(() => checkUsername(undefined)).message).toBe("username: is required");
    expect(refusal(() => checkUsername(null)).message).toBe("username: is required");
    expect(refusal(() => checkUsername(12345678)).message).toBe("username: must be a string");
  });
});

describe("checkToken", () => {
  it.each(["t", "0123456789abcdef0123456789abcdef", "a b", "eyJhbGciOi.J9.x-y_z"])(
    "accepts %j",
    (token) => {
      expect(checkToken(token)).toBe(token);
    },
  );

  it.each([
    ["", "token: must not be empty"],
    ["abc\r\nx-evil: 1", "token: must not contain CR or LF"],
    ["abc\r", "token: must not contain CR or LF"],
    ["abc\ndef", "token: must not contain CR or LF"],
    ["abc\u0000def", "token: must not contain control characters"],
    ["abc\tdef", "token: must not contain control characters"],
    ["abc\u007fdef", "token: must not contain control characters"],
    ["tökén", "token: must be ASCII"],
    [" abc", "token: must not start or end with whitespace"],
    ["abc ", "token: must not start or end with whitespace"],
    ["a".repeat(TOKEN_MAX_LENGTH + 1), `token: must be at most ${TOKEN_MAX_LENGTH} characters`],
  ])("refuses %j", (token, message) => {
    const error = refusal(() => checkToken(token));
    expect(error.field).toBe("token");
    expect(error.message).toBe(message);
  });

  it("refuses a missing or non-string token", () => {
    expect(refusal(() => checkToken(undefined)).message).toBe("token: is required");
    expect(refusal(() => checkToken(42)).message).toBe("token: must be a string");
  });
});

describe("checkPath", () => {
  it("accepts a path and refuses anything else, naming the field", () => {
    expect(checkPath("/api/user/logout", "paths.logout")).toBe("/api/user/logout");
    for (const bad of ["api/logout", "/a?b=1", "/a#x", "/a b", "", 7]) {
      expect(refusal(() => checkPath(bad, "paths.logout")).field).toBe("paths.logout");
    }
  });
});
