// Token tools (src/token.ts): syntax checks, inspection, HS256-only verification, with node:crypto as the oracle.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkBearerToken, FunGameError, inspectToken, MAX_TOKEN_LENGTH } from "../src/index.ts";
import { verifyToken } from "../src/verify/index.ts";
import {
  b64url,
  fungameClaims,
  hmacToken,
  KEY,
  noneToken,
  OTHER_KEY,
  rs256Token,
  T0,
  T0_SEC,
} from "./jwt-oracle.ts";

const at = (ms: number) => () => ms;

async function refusal(promise: Promise<unknown>): Promise<FunGameError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FunGameError);
  return error as FunGameError;
}

function thrown(fn: () => unknown): FunGameError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FunGameError);
    return error as FunGameError;
  }
  throw new Error("nothing was thrown");
}

describe("checkBearerToken", () => {
  const good = hmacToken(fungameClaims(), KEY);

  it("accepts a real token and returns it unchanged", () => {
    expect(checkBearerToken(good)).toBe(good);
  });

  it.each([
    ["empty", "", /must not be empty/],
    ["two segments", "abc.def", /three base64url segments.*got 2/],
    ["four segments", "a.b.c.d", /got 4/],
    ["an empty segment", "abc..def", /payload segment is not base64url/],
    ["a trailing dot (unsigned)", "abc.def.", /signature segment/],
    ["standard base64 characters", "ab+c.def.ghi", /header segment/],
    ["padding", "abcd.ef==.ghi", /payload segment/],
    ["a length no base64 has", "abcde.def.ghi", /header segment/],
    ["a space inside", "abc.d ef.ghi", /payload segment/],
    ["surrounding spaces", ` ${good} `, /header segment/],
    ["the Bearer prefix", `Bearer ${good}`, /without the "Bearer " prefix/],
    ["CR", `${good}\r`, /CR or LF/],
    ["LF", `${good}\nX-Injected: 1`, /CR or LF/],
    ["CRLF in the middle", "abc\r\n.def.ghi", /CR or LF/],
  ])("refuses a token with %s, naming the field", (_, token, pattern) => {
    const error = thrown(() => checkBearerToken(token));
    expect(error.kind).toBe("invalid_request");
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.field).toBe("bearerToken");
    expect(error.vendor).toBe("fungame");
    expect(error.message).toMatch(pattern);
  });

  it("refuses non-strings and over-long tokens", () => {
    expect(thrown(() => checkBearerToken(42)).message).toMatch(/must be a string/);
    expect(thrown(() => checkBearerToken(undefined)).message).toMatch(/must be a string/);
    const long = `${"a".repeat(MAX_TOKEN_LENGTH)}.b.c`;
    expect(thrown(() => checkBearerToken(long)).message).toMatch(/at most 8192/);
  });

  it("never echoes the token in its message", () => {
    const secretish = "eyJzZWNyZXQiOiJ0b3AifQ";
    for (const token of [`${secretish}.x`, `${secretish}\n.a.b`, `Bearer ${secretish}.a.b`]) {
      expect(thrown(() => checkBearerToken(token)).message).not.toContain(secretish);
    }
  });

  it("refuses every string with CR or LF (property, fixed seed)", () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom("\r", "\n"), fc.string(), (a, bad, b) => {
        expect(() => checkBearerToken(`${a}${bad}${b}`)).toThrow(/CR or LF/);
      }),
      { seed: 4, numRuns: 300 },
    );
  });

  it("accepts every three-segment base64url string (property, fixed seed)", () => {
    const segment = fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((bytes) => Buffer.from(bytes).toString("base64url"));
    fc.assert(
      fc.property(segment, segment, segment, (a, b, c) => {
        expect(checkBearerToken(`${a}.${b}.${c}`)).toBe(`${a}.${b}.${c}`);
      }),
      { seed: 44, numRuns: 300 },
    );
  });
});

describe("inspectToken", () => {
  it("reads sub, jti and exp of a FunGame token without the key; iat is absent as on the server", () => {
    const claims = inspectToken(hmacToken(fungameClaims("bob"), KEY));
    expect(claims).toEqual({
      sub: "bob",
      jti: "5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11",
      exp: T0_SEC + 1800,
      iat: undefined,
    });
  });

  it("reads iat when present, and does not verify (another key, alg none, expired all inspect)", () => {
    const claims = fungameClaims("carol", T0_SEC, { iat: T0_SEC });
    expect(inspectToken(hmacToken(claims, OTHER_KEY)).iat).toBe(T0_SEC);
    expect(inspectToken(noneToken(claims)).sub).toBe("carol");
    expect(inspectToken(hmacToken(fungameClaims("x", 0), KEY)).exp).toBe(1800);
  });

  it("gives undefined for absent claims", () => {
    expect(inspectToken(hmacToken({}, KEY))).toEqual({
      sub: undefined,
      jti: undefined,
      exp: undefined,
      iat: undefined,
    });
  });

  it.each([
    [
      "a header that is not JSON",
      `${b64url("nope")}.${b64url({})}.sig`,
      /header segment is not base64url-encoded JSON/,
    ],
    [
      "a payload that is not JSON",
      `${b64url({ alg: "HS256" })}.${b64url("{")}.sig`,
      /payload segment is not base64url-encoded JSON/,
    ],
    [
      "a payload that is an array",
      `${b64url({ alg: "HS256" })}.${b64url([1])}.sig`,
      /payload segment is not a JSON object/,
    ],
    [
      "a non-canonical segment",
      `${b64url({ alg: "HS256" })}.${b64url({}).slice(0, -1)}B.sig`,
      /payload segment/,
    ],
    ["a numeric sub", hmacToken({ sub: 7 }, KEY), /claim "sub" is not a string/],
    ["a string exp", hmacToken({ exp: "soon" }, KEY), /claim "exp" is not a number/],
    ["a jti that is an object", hmacToken({ jti: {} }, KEY), /claim "jti" is not a string/],
  ])("refuses %s with a typed error on field jwt", (_, token, pattern) => {
    const error = thrown(() => inspectToken(token));
    expect(error.kind).toBe("invalid_request");
    expect(error.field).toBe("jwt");
    expect(error.message).toMatch(pattern);
  });

  it("refuses what checkBearerToken refuses", () => {
    expect(thrown(() => inspectToken("")).field).toBe("jwt");
    expect(thrown(() => inspectToken("a.b\n.c")).message).toMatch(/CR or LF/);
  });
});

describe("verifyToken", () => {
  const options = { secret: KEY, now: at(T0 + 60_000) };

  it("accepts a FunGame token signed with the key, checked by an independent HMAC", async () => {
    const verified = await verifyToken(hmacToken(fungameClaims(), KEY), options);
    expect(verified).toEqual({
      sub: "alice",
      jti: "5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11",
      exp: T0_SEC + 1800,
      iat: undefined,
    });
  });

  it("accepts the key as bytes too", async () => {
    const verified = await verifyToken(hmacToken(fungameClaims(), KEY), {
      ...options,
      secret: new TextEncoder().encode(KEY),
    });
    expect(verified.sub).toBe("alice");
  });

  it("refuses a token signed with another key", async () => {
    const error = await refusal(verifyToken(hmacToken(fungameClaims(), OTHER_KEY), options));
    expect(error.kind).toBe("unauthorized");
    expect(error.code).toBe("TOKEN_BAD_SIGNATURE");
    expect(error.field).toBe("jwt");
  });

  it("refuses a token whose payload was altered after signing", async () => {
    const [header, , signature] = hmacToken(fungameClaims("alice"), KEY).split(".");
    const forged = `${header}.${b64url(fungameClaims("admin"))}.${signature}`;
    expect((await refusal(verifyToken(forged, options))).code).toBe("TOKEN_BAD_SIGNATURE");
  });

  it.each([
    ["none with a dummy signature", noneToken(fungameClaims())],
    ["None (case variant)", `${b64url({ alg: "None" })}.${b64url(fungameClaims())}.AA`],
    ["HS384 with the right key", hmacToken(fungameClaims(), KEY, "HS384")],
    ["HS512 with the right key", hmacToken(fungameClaims(), KEY, "HS512")],
    ["RS256", rs256Token(fungameClaims())],
    ["no alg at all", `${b64url({ typ: "JWT" })}.${b64url(fungameClaims())}.AA`],
  ])("refuses alg %s", async (_, token) => {
    const error = await refusal(verifyToken(token, options));
    expect(error.kind).toBe("unauthorized");
    expect(error.code).toBe("TOKEN_ALGORITHM_REFUSED");
  });

  it("refuses an unsecured token with an empty signature as malformed", async () => {
    const token = `${b64url({ alg: "none" })}.${b64url(fungameClaims())}.`;
    const error = await refusal(verifyToken(token, options));
    expect(error.kind).toBe("unauthorized");
    expect(error.code).toBe("MALFORMED_TOKEN");
  });

  it("refuses an expired token, at exp exactly and after; tolerance is honoured", async () => {
    const token = hmacToken(fungameClaims(), KEY);
    const expiry = (T0_SEC + 1800) * 1000;
    expect((await verifyToken(token, { secret: KEY, now: at(expiry - 1000) })).sub).toBe("alice");
    expect((await refusal(verifyToken(token, { secret: KEY, now: at(expiry) }))).code).toBe(
      "TOKEN_EXPIRED",
    );
    const late = { secret: KEY, now: at(expiry + 60_000) };
    expect((await refusal(verifyToken(token, late))).code).toBe("TOKEN_EXPIRED");
    expect((await verifyToken(token, { ...late, clockToleranceSec: 120 })).sub).toBe("alice");
  });

  it("refuses a wrong audience and a wrong issuer; both are configurable", async () => {
    const wrongAud = hmacToken(fungameClaims("alice", T0_SEC, { aud: "Other API" }), KEY);
    expect((await refusal(verifyToken(wrongAud, options))).code).toBe("TOKEN_WRONG_AUDIENCE");
    expect((await verifyToken(wrongAud, { ...options, audience: "Other API" })).sub).toBe("alice");
    const wrongIss = hmacToken(fungameClaims("alice", T0_SEC, { iss: "Mallory" }), KEY);
    expect((await refusal(verifyToken(wrongIss, options))).code).toBe("TOKEN_WRONG_ISSUER");
    expect((await verifyToken(wrongIss, { ...options, issuer: "Mallory" })).sub).toBe("alice");
    const noAud = { ...fungameClaims() };
    delete noAud.aud;
    expect((await refusal(verifyToken(hmacToken(noAud, KEY), options))).code).toBe(
      "TOKEN_WRONG_AUDIENCE",
    );
  });

  it("requires exp and refuses a token not yet valid", async () => {
    const noExp = { ...fungameClaims() };
    delete noExp.exp;
    expect((await refusal(verifyToken(hmacToken(noExp, KEY), options))).code).toBe(
      "TOKEN_CLAIM_INVALID",
    );
    const future = hmacToken(fungameClaims("alice", T0_SEC, { nbf: T0_SEC + 3600 }), KEY);
    expect((await refusal(verifyToken(future, options))).code).toBe("TOKEN_NOT_YET_VALID");
  });

  it("refuses malformed tokens as unauthorized, never crashing", async () => {
    for (const token of ["", "a.b", "a.b.c", `${b64url({ alg: "HS256" })}.${b64url("x")}.AA`]) {
      const error = await refusal(verifyToken(token, options));
      expect(error.kind).toBe("unauthorized");
      expect(error.code).toBe("MALFORMED_TOKEN");
    }
  });

  it("refuses bad options, naming the field, before looking at the token", async () => {
    const token = hmacToken(fungameClaims(), KEY);
    const cases: [Record<string, unknown>, string][] = [
      [{ secret: "" }, "secret"],
      [{ secret: new Uint8Array() }, "secret"],
      [{ secret: 5 }, "secret"],
      [{ secret: KEY, issuer: "" }, "issuer"],
      [{ secret: KEY, audience: "" }, "audience"],
      [{ secret: KEY, clockToleranceSec: -1 }, "clockToleranceSec"],
      [{ secret: KEY, now: 5 }, "now"],
    ];
    for (const [bad, field] of cases) {
      const error = await refusal(verifyToken(token, bad as never));
      expect(error.kind).toBe("invalid_request");
      expect(error.field).toBe(field);
    }
  });

  it("never puts the secret or the token in an error", async () => {
    const token = hmacToken(fungameClaims(), OTHER_KEY);
    const error = await refusal(verifyToken(token, options));
    const text = JSON.stringify(error.toJSON()) + error.message;
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(token.split(".")[2]);
  });

  it("accepts exactly the tokens signed with its key (property, fixed seed)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.boolean(),
        async (sub, rightKey) => {
          const token = hmacToken(fungameClaims(sub), rightKey ? KEY : OTHER_KEY);
          const outcome = await verifyToken(token, options).then(
            (claims) => claims.sub,
            (error: FunGameError) => error.code,
          );
          expect(outcome).toBe(rightKey ? sub : "TOKEN_BAD_SIGNATURE");
        },
      ),
      { seed: 7, numRuns: 60 },
    );
  });
});

describe("entries", () => {
  it("the main entry carries no verification, @x/fungame/verify does", async () => {
    const main = await import("../src/index.ts");
    expect("verifyToken" in main).toBe(false);
    expect(typeof main.inspectToken).toBe("function");
    const verify = await import("../src/verify/index.ts");
    expect(Object.keys(verify)).toEqual(["verifyToken"]);
  });
});
