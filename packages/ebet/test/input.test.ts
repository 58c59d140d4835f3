// Input checks: every bad input the issue names is refused with an error naming the field.
import { describe, expect, it } from "vitest";
import { EbetError } from "../src/index.ts";
import {
  checkAccessToken,
  checkChannelId,
  checkCurrency,
  checkPath,
  checkSubChannelId,
  checkTimestampUnit,
  checkUsername,
} from "../src/input.ts";

function refusal(run: () => unknown): EbetError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EbetError);
    return error as EbetError;
  }
  throw new Error("expected a refusal");
}

describe("checkUsername", () => {
  it("accepts lower-case letters and digits", () => {
    for (const name of ["demo", "user01", "a", "0", "abcdefghijklmnopqrstuvwxyz0123456789"]) {
      expect(checkUsername(name)).toBe(name);
    }
  });

  it("refuses an empty username", () => {
    expect(refusal(() => checkUsername(""))).toMatchObject({
      field: "username",
      message: "username: must not be empty",
    });
  });

  it("refuses a username that is not a string", () => {
    for (const value of [undefined, null, 42, {}, ["demo"]]) {
      expect(refusal(() => checkUsername(value)).field).toBe("username");
    }
  });

  it("refuses upper-case letters", () => {
    for (const name of ["Demo", "demO", "DEMO", "userÄ"]) {
      const error = refusal(() => checkUsername(name));
      expect(error.field).toBe("username");
      expect(error.message).toMatch(/upper-case/);
    }
  });

  it("refuses every HTTP reserved character and %", () => {
    for (const char of ":/?#[]@!$&'()*+,;=%") {
      const error = refusal(() => checkUsername(`ab${char}cd`));
      expect(error.field).toBe("username");
      expect(error.message).toContain(`reserved character ${JSON.stringify(char)}`);
    }
  });

  it("refuses whitespace and control characters", () => {
    for (const name of ["a b", " ab", "ab ", "a\tb", "a\nb", "a\u00a0b", "a\u0000b", "a\u200bb"]) {
      const error = refusal(() => checkUsername(name));
      expect(error.field).toBe("username");
      expect(error.message).toMatch(/whitespace or control/);
    }
  });

  it("refuses anything else outside lower-case letters and digits by default", () => {
    for (const name of ["a-b", "a_b", "a.b", "用户", "é"]) {
      expect(refusal(() => checkUsername(name)).field).toBe("username");
    }
  });

  it("follows a configured pattern, but never lets a reserved character or whitespace through", () => {
    const pattern = /^[A-Za-z0-9_.-]{3,20}$/;
    expect(checkUsername("Player_1.x", pattern)).toBe("Player_1.x");
    expect(refusal(() => checkUsername("ab", pattern)).message).toMatch(
      /configured username pattern/,
    );
    const permissive = /^.+$/;
    expect(refusal(() => checkUsername("a/b", permissive)).message).toMatch(/reserved/);
    expect(refusal(() => checkUsername("a b", permissive)).message).toMatch(/whitespace/);
  });

  it("is not fooled by a global pattern's lastIndex", () => {
    const pattern = /^[a-z]+$/g;
    expect(checkUsername("abc", pattern)).toBe("abc");
    expect(checkUsername("abc", pattern)).toBe("abc");
  });
});

describe("checkChannelId", () => {
  it("accepts positive integers", () => {
    expect(checkChannelId(1)).toBe(1);
    expect(checkChannelId(2 ** 31)).toBe(2 ** 31);
  });

  it("refuses anything that is not a positive integer", () => {
    for (const value of [
      0,
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      "1",
      null,
      undefined,
      2 ** 53,
    ]) {
      expect(refusal(() => checkChannelId(value))).toMatchObject({ field: "channelId" });
    }
  });
});

describe("checkSubChannelId", () => {
  it("accepts 0 and positive integers", () => {
    expect(checkSubChannelId(0)).toBe(0);
    expect(checkSubChannelId(7)).toBe(7);
  });

  it("refuses negative, fractional and non-numeric values", () => {
    for (const value of [-1, 0.5, "0", null, Number.NaN]) {
      expect(refusal(() => checkSubChannelId(value))).toMatchObject({ field: "subChannelId" });
    }
  });
});

describe("checkAccessToken", () => {
  it("accepts a non-empty token", () => {
    expect(checkAccessToken("584c26e798deffc96cc7af073c184cd0")).toBe(
      "584c26e798deffc96cc7af073c184cd0",
    );
  });

  it("refuses an empty or non-string token, without quoting it", () => {
    expect(refusal(() => checkAccessToken(""))).toMatchObject({
      field: "accessToken",
      message: "accessToken: must not be empty",
    });
    expect(refusal(() => checkAccessToken(123)).field).toBe("accessToken");
    const error = refusal(() => checkAccessToken("secret token"));
    expect(error.field).toBe("accessToken");
    expect(error.message).not.toContain("secret");
  });
});

describe("checkCurrency, checkTimestampUnit, checkPath", () => {
  it("accepts currency codes and refuses others", () => {
    expect(checkCurrency("CNY")).toBe("CNY");
    for (const value of ["", "C N Y", 1, "x".repeat(17)]) {
      expect(refusal(() => checkCurrency(value)).field).toBe("currency");
    }
  });

  it("defaults the timestamp unit to seconds and accepts ms", () => {
    expect(checkTimestampUnit(undefined)).toBe("s");
    expect(checkTimestampUnit("ms")).toBe("ms");
    expect(refusal(() => checkTimestampUnit("us")).field).toBe("timestampUnit");
  });

  it("accepts absolute paths only", () => {
    expect(checkPath("/api/logout", "paths.logout")).toBe("/api/logout");
    for (const value of ["api/logout", "/a?b", "/a#b", "/a b", "", 1]) {
      expect(refusal(() => checkPath(value, "paths.logout")).field).toBe("paths.logout");
    }
  });
});
