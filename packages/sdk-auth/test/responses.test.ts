import { ERROR_KINDS, toBase64 } from "@x/core-signing";
import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { beforeAll, describe, expect, it } from "vitest";
import {
  kindForCode,
  kindForStatus,
  parseErrorResponse,
  parseLogoutResponse,
  parsePublicKeyResponse,
  parseServerDateResponse,
} from "../src/responses.ts";
import { json, rejection } from "./support.ts";

let key: RsaPrivateKey;
beforeAll(async () => {
  key = await generateKeyPair(2048);
});

const html = (status: number) =>
  new Response("<html><body><h1>502 Bad Gateway</h1></body></html>", {
    status,
    headers: { "content-type": "text/html" },
  });

describe("parseServerDateResponse", () => {
  it("returns the timestamp verbatim", async () => {
    expect(await parseServerDateResponse(json({ timestamp: "1628496800123" }))).toEqual({
      timestamp: "1628496800123",
    });
    expect(await parseServerDateResponse(json({ timestamp: "0001700000000" }))).toEqual({
      timestamp: "0001700000000",
    });
    expect(await parseServerDateResponse(json({ timestamp: 1700000000 }))).toEqual({
      timestamp: "1700000000",
    });
  });

  it.each([
    ["not JSON", new Response("<html>busy</html>"), /not JSON/],
    ["a JSON array", json([1]), /not a JSON object/],
    ["no timestamp", json({ time: "1" }), /no timestamp string/],
    ["an ISO date", json({ timestamp: "2021-08-09T08:00:00Z" }), /not a decimal integer/],
    ["a fractional number", json({ timestamp: 1.5 }), /no timestamp string/],
    ["truncated JSON", new Response('{"timestamp": "17'), /not JSON/],
  ])("refuses %s as BAD_RESPONSE", async (_, response, pattern) => {
    const error = await rejection(parseServerDateResponse(response));
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.kind).toBe("upstream");
    expect(error.upstreamStatus).toBe(200);
    expect(error.message).toMatch(pattern);
  });

  it("reports OneAccess's code when a 200 carries an error body", async () => {
    const error = await rejection(
      parseServerDateResponse(
        json({ error_code: "APP.0001", error_msg: "Application does not exist." }),
      ),
    );
    expect(error.code).toBe("APP.0001");
    expect(error.kind).toBe("misconfigured");
  });
});

describe("parsePublicKeyResponse", () => {
  it("reads base64 SPKI with literal \\n line breaks, bare base64 and PEM", async () => {
    const base64 = toBase64(key.publicKey.toSpki());
    const escaped = (base64.match(/.{1,64}/g) as string[]).join("\\n");
    expect(escaped).toContain("\\n");
    for (const material of [
      escaped,
      base64,
      key.publicKey.toPem(),
      key.publicKey.toPem().replace(/\n/g, "\\n"),
    ]) {
      const parsed = await parsePublicKeyResponse(json({ public_key: material }));
      expect(parsed.n).toBe(key.publicKey.n);
      expect(parsed.bits).toBe(2048);
    }
  });

  it("refuses a missing or unusable key as BAD_RESPONSE, saying why", async () => {
    expect((await rejection(parsePublicKeyResponse(json({})))).message).toMatch(
      /no public_key string/,
    );
    const junk = await rejection(parsePublicKeyResponse(json({ public_key: "not a key!" })));
    expect(junk.code).toBe("BAD_RESPONSE");
    expect(junk.message).toMatch(/not a usable RSA public key \(encoding\)/);
    const privateOne = await rejection(parsePublicKeyResponse(json({ public_key: key.toPem() })));
    expect(privateOne.message).toMatch(/\(public-key\)/);
  });
});

describe("parseLogoutResponse", () => {
  it("returns the 200 body verbatim", async () => {
    expect(await parseLogoutResponse(new Response("success"))).toEqual({ body: "success" });
    expect(await parseLogoutResponse(new Response(null, { status: 200 }))).toEqual({ body: "" });
    expect(await parseLogoutResponse(new Response('"ok"'))).toEqual({ body: '"ok"' });
  });

  it("turns a 400 { error_code, error_msg } into a OneAccessError with code = error_code", async () => {
    const error = await rejection(
      parseLogoutResponse(
        json(
          { error_code: "APP.0007", error_msg: "The session does not exist or has expired." },
          400,
        ),
      ),
    );
    expect(error.code).toBe("APP.0007");
    expect(error.kind).toBe("unauthorized");
    expect(error.upstreamStatus).toBe(400);
    expect(error.errorMsg).toBe("The session does not exist or has expired.");
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      "OneAccess answered HTTP 400 APP.0007: The session does not exist or has expired.",
    );
  });

  it("keeps an unknown code as is, of kind upstream, unless errorKinds names it", async () => {
    const body = { error_code: "APP.9999", error_msg: "Something new." };
    expect((await rejection(parseLogoutResponse(json(body, 400)))).kind).toBe("upstream");
    const mapped = await rejection(
      parseLogoutResponse(json(body, 400), { errorKinds: { "APP.9999": "rate_limited" } }),
    );
    expect(mapped.kind).toBe("rate_limited");
    expect(mapped.retryable).toBe(true);
  });

  it("never takes a 2xx that carries an error body for a success", async () => {
    const error = await rejection(
      parseLogoutResponse(json({ error_code: "APP.0004", error_msg: "Invalid signature." })),
    );
    expect(error.code).toBe("APP.0004");
    expect(error.upstreamStatus).toBe(200);
  });

  it.each([
    [502, "unavailable", true],
    [503, "unavailable", true],
    [429, "rate_limited", true],
    [401, "unauthorized", false],
    [404, "misconfigured", false],
    [400, "invalid_request", false],
    [418, "upstream", false],
  ] as const)(
    "turns HTTP %i without an error code into HTTP_<status> of kind %s",
    async (status, kind, retryable) => {
      const error = await rejection(parseLogoutResponse(html(status)));
      expect(error.code).toBe(`HTTP_${status}`);
      expect(error.kind).toBe(kind);
      expect(error.retryable).toBe(retryable);
      expect(error.upstreamStatus).toBe(status);
      expect(error.message).toContain("Bad Gateway");
    },
  );

  it("reads a gateway's error code on other statuses", async () => {
    const error = await rejection(
      parseLogoutResponse(
        json({ error_code: "APIGW.0101", error_msg: "The API does not exist." }, 404),
      ),
    );
    expect(error.code).toBe("APIGW.0101");
    expect(error.kind).toBe("misconfigured");
  });

  it("refuses to buffer an oversized answer", async () => {
    const error = await rejection(
      parseLogoutResponse(new Response("x".repeat(100)), { maxBodyBytes: 10 }),
    );
    expect(error.code).toBe("BAD_RESPONSE");
    expect(error.message).toMatch(/more than the 10 bytes/);
    const errorAnswer = await parseErrorResponse(new Response("y".repeat(100), { status: 500 }), {
      maxBodyBytes: 10,
    });
    expect(errorAnswer.code).toBe("HTTP_500");
  });
});

describe("kinds", () => {
  it("map codes through the caller's table, then ours, then upstream", () => {
    expect(kindForCode("APP.0001")).toBe("misconfigured");
    expect(kindForCode("APP.0001", { "APP.0001": "unauthorized" })).toBe("unauthorized");
    expect(kindForCode("X")).toBe("upstream");
    expect(kindForStatus(504)).toBe("unavailable");
    expect(kindForStatus(403)).toBe("unauthorized");
  });
});

describe("an error_code named like a property of every object", () => {
  const PROTOTYPE_NAMES = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];

  it.each(PROTOTYPE_NAMES)(
    "%s has no kind of its own: upstream, or the caller's own entry",
    (code) => {
      expect(kindForCode(code)).toBe("upstream");
      expect(kindForCode(code, {})).toBe("upstream");
      expect(kindForCode(code, { "APP.0001": "unauthorized" })).toBe("upstream");
      const own = JSON.parse(`{${JSON.stringify(code)}:"rate_limited"}`) as Record<
        string,
        "rate_limited"
      >;
      expect(kindForCode(code, own)).toBe("rate_limited");
    },
  );

  it.each(PROTOTYPE_NAMES)(
    "%s from OneAccess is an error of a kind in ERROR_KINDS, never success",
    async (code) => {
      const body = { error_code: code, error_msg: "odd" };
      const parsers = [
        () => parseLogoutResponse(json(body, 400)),
        () => parseLogoutResponse(json(body, 200)),
        () => parseServerDateResponse(json(body, 400)),
        () => parseServerDateResponse(json(body, 200)),
        () => parsePublicKeyResponse(json(body, 400)),
        () => parsePublicKeyResponse(json(body, 200)),
        () => parseErrorResponse(json(body, 400)).then((error) => Promise.reject(error)),
      ];
      for (const parse of parsers) {
        const error = await rejection(parse());
        expect(ERROR_KINDS).toContain(error.kind);
        expect(error).toMatchObject({ code, kind: "upstream", retryable: false, errorMsg: "odd" });
      }
      // At another status an unknown code falls back to the status, as any unknown code does.
      const unavailable = await rejection(parseLogoutResponse(json(body, 503)));
      expect(unavailable).toMatchObject({ code, kind: "unavailable", retryable: true });
      const refused = await rejection(parseLogoutResponse(json(body, 403)));
      expect(refused).toMatchObject({ code, kind: "unauthorized" });
    },
  );

  it("a caller's table is read by its own entries only", async () => {
    const inherited = Object.create({ "APP.9999": "unauthorized" }) as Record<
      string,
      "unauthorized"
    >;
    const error = await rejection(
      parseLogoutResponse(json({ error_code: "APP.9999" }, 400), { errorKinds: inherited }),
    );
    expect(error.kind).toBe("upstream");
  });
});

describe("redirects handed to the parsers", () => {
  const parsers = [
    ["server-date", parseServerDateResponse],
    ["public-key", parsePublicKeyResponse],
    ["logout", parseLogoutResponse],
  ] as const;
  const location = "https://elsewhere.example/collect?session_token=echoed";

  it.each(parsers)("%s: a 3xx is REDIRECT, never a success or an HTTP_3xx", async (_, parse) => {
    for (const status of [301, 302, 303, 307, 308]) {
      const error = await rejection(
        parse(new Response('{"timestamp":"1"}', { status, headers: { location } })),
      );
      expect(error).toMatchObject({ code: "REDIRECT", kind: "upstream", retryable: false });
      expect(error.message).not.toContain("echoed");
    }
  });

  it.each(parsers)(
    "%s: an answer a fetch reached by following a redirect is REDIRECT",
    async (_, parse) => {
      const followed = new Response('{"timestamp":"1","public_key":"x"}', { status: 200 });
      Object.defineProperty(followed, "redirected", { value: true });
      expect(await rejection(parse(followed))).toMatchObject({ code: "REDIRECT" });
    },
  );
});
