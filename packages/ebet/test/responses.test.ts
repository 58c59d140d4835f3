// Response parsing: success shapes from the pages, eBET statuses, HTTP failures and malformed answers.
import { ERROR_KINDS } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import {
  EBET_STATUS,
  EbetError,
  parseCallbackResponse,
  parseLogoutResponse,
} from "../src/index.ts";
import { expectEbetError, json } from "./fixtures.ts";

/** The example answer of vendor-docs/ebet-callback.md. */
const CALLBACK_EXAMPLE = {
  channelId: 1,
  subChannelId: 0,
  userId: 127001,
  username: "demo",
  wallet: [
    { typeId: 0, money: 1234567.89 },
    { typeId: 1, money: 0 },
    { typeId: 2, money: 0 },
    { typeId: 3, money: 0 },
    { typeId: 4, money: 0 },
    { typeId: 5, money: 0 },
    { typeId: 6, money: 0 },
  ],
  money: 1234567.89,
  timestamp: 1585624727,
  status: 200,
  apiVersion: "1.3.91",
};

describe("parseLogoutResponse", () => {
  it("reads the page's example answer", async () => {
    expect(await parseLogoutResponse(json({ status: 200, apiVersion: "1.3.55" }))).toEqual({
      status: 200,
      apiVersion: "1.3.55",
    });
  });

  it("tolerates a missing apiVersion and reads a numeric one as text", async () => {
    expect(await parseLogoutResponse(json({ status: 200 }))).toEqual({
      status: 200,
      apiVersion: undefined,
    });
    expect((await parseLogoutResponse(json({ status: 200, apiVersion: 2 }))).apiVersion).toBe("2");
  });

  it("refuses an apiVersion of another type", async () => {
    await expectEbetError(parseLogoutResponse(json({ status: 200, apiVersion: {} })), {
      code: "BAD_RESPONSE",
    });
  });

  it("turns every non-200 status of the table into an EbetError with the table's kind and retryability", async () => {
    for (const info of Object.values(EBET_STATUS)) {
      if (info.code === 200) continue;
      const error = await expectEbetError(
        parseLogoutResponse(json({ status: info.code, apiVersion: "1.3.55" })),
        {
          code: info.code,
          kind: info.kind as never,
          retryable: info.retryable,
          upstreamStatus: 200,
        },
      );
      expect(error.message).toContain(String(info.code));
      expect(error.message).toContain(info.name);
      expect(error.statusInfo).toBe(info);
    }
  });

  it("treats a status outside the table as upstream", async () => {
    await expectEbetError(parseLogoutResponse(json({ status: 7777 })), {
      code: 7777,
      kind: "upstream",
      retryable: false,
    });
  });

  it("never treats 4037 (user not found) as an already-finished logout", async () => {
    const error = await expectEbetError(parseLogoutResponse(json({ status: 4037 })), {
      code: 4037,
      kind: "not_found",
    });
    expect(error).not.toHaveProperty("alreadyLoggedOut");
  });

  it("refuses an answer without a numeric status", async () => {
    for (const body of [
      {},
      { apiVersion: "1" },
      { status: "200" },
      { status: null },
      { status: 200.5 },
    ]) {
      const error = await expectEbetError(parseLogoutResponse(json(body)), {
        code: "BAD_RESPONSE",
        kind: "upstream",
        retryable: false,
        upstreamStatus: 200,
      });
      expect(error.message).toMatch(/status/);
    }
  });

  it("refuses a status that names a prototype member, on both calls and on any HTTP status", async () => {
    const names = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"];
    for (const name of names) {
      for (const httpStatus of [200, 400, 500]) {
        for (const parse of [parseLogoutResponse, parseCallbackResponse]) {
          const error = await parse(json({ ...CALLBACK_EXAMPLE, status: name }, httpStatus)).then(
            () => undefined,
            (reason: unknown) => reason as EbetError,
          );
          expect(error).toBeInstanceOf(EbetError);
          expect(ERROR_KINDS).toContain(error?.kind);
          expect(error?.statusInfo?.kind ?? "none").not.toBe("success");
        }
      }
      // A body whose own members are prototype names, beside a real status.
      const text = `{"${name}": {"status": 200}, "status": 4037}`;
      await expectEbetError(parseLogoutResponse(new Response(text)), {
        code: 4037,
        kind: "not_found",
      });
    }
    // "__proto__" as an own member does not stand in for a missing status.
    await expectEbetError(parseLogoutResponse(new Response('{"__proto__": {"status": 200}}')), {
      code: "BAD_RESPONSE",
    });
  });

  it("refuses something that is not a Response, as a typed error", async () => {
    for (const value of [undefined, null, {}, "200"]) {
      await expectEbetError(parseLogoutResponse(value as never), { code: "BAD_RESPONSE" });
      await expectEbetError(parseCallbackResponse(value as never), { code: "BAD_RESPONSE" });
    }
  });

  it("refuses an answer that is not a JSON object", async () => {
    for (const text of ["[]", "null", "42", '"ok"']) {
      await expectEbetError(parseLogoutResponse(new Response(text)), { code: "BAD_RESPONSE" });
    }
  });

  it("refuses a body that is not JSON, empty or cut off", async () => {
    for (const text of ["<html>busy</html>", "", '{"status": 200, "apiVer']) {
      await expectEbetError(parseLogoutResponse(new Response(text, { status: 200 })), {
        code: "BAD_RESPONSE",
        kind: "upstream",
        upstreamStatus: 200,
      });
    }
  });

  it("refuses an oversized body without reading it all", async () => {
    const huge = `{"status":200,"pad":"${"x".repeat(300 * 1024)}"}`;
    await expectEbetError(parseLogoutResponse(new Response(huge)), { code: "BAD_RESPONSE" });
  });

  it("maps HTTP 403 to misconfigured (IP whitelist) and 502/504 to retryable unavailable", async () => {
    const page = (status: number) =>
      new Response(`<html>${status}</html>`, { status, headers: { "content-type": "text/html" } });
    const forbidden = await expectEbetError(parseLogoutResponse(page(403)), {
      code: "HTTP_403",
      kind: "misconfigured",
      retryable: false,
      upstreamStatus: 403,
    });
    expect(forbidden.message).toMatch(/whitelist/);
    for (const status of [500, 502, 503, 504]) {
      await expectEbetError(parseLogoutResponse(page(status)), {
        code: `HTTP_${status}`,
        kind: "unavailable",
        retryable: true,
        upstreamStatus: status,
      });
    }
    await expectEbetError(parseLogoutResponse(page(429)), {
      code: "HTTP_429",
      kind: "rate_limited",
    });
    await expectEbetError(parseLogoutResponse(page(404)), { code: "HTTP_404", kind: "upstream" });
  });

  it("refuses every 3xx as a non-retryable upstream REDIRECT naming the status, never the Location's query", async () => {
    for (const status of [300, 301, 302, 303, 304, 307, 308]) {
      for (const parse of [parseLogoutResponse, parseCallbackResponse]) {
        const answer = new Response(status === 304 ? null : '{"status":200}', {
          status,
          headers: { location: "https://elsewhere.example/collect?sig=query-secret#frag" },
        });
        const error = await expectEbetError(parse(answer), {
          code: "REDIRECT",
          kind: "upstream",
          retryable: false,
          upstreamStatus: status,
        });
        expect(error.message).toContain(`HTTP ${status}`);
        // The origin is named so that an operator can fix the base URL; path and query never are.
        expect(error.message).toContain("https://elsewhere.example");
        expect(error.message).not.toContain("/collect");
        expect(error.message).not.toContain("query-secret");
        expect(error.message).not.toContain("frag");
      }
    }
    const relative = new Response(null, {
      status: 302,
      headers: { location: "/login?next=query-secret" },
    });
    const error = await expectEbetError(parseLogoutResponse(relative), { code: "REDIRECT" });
    expect(error.message).not.toContain("/login");
    expect(error.message).not.toContain("query-secret");
  });

  it("refuses an opaque redirect (a fetch made with redirect manual in a browser or Worker)", async () => {
    const opaque = new Response(null, { status: 200 });
    Object.defineProperty(opaque, "type", { value: "opaqueredirect" });
    Object.defineProperty(opaque, "status", { value: 0 });
    const error = await expectEbetError(parseCallbackResponse(opaque), {
      code: "REDIRECT",
      kind: "upstream",
      retryable: false,
      upstreamStatus: undefined,
    });
    expect(error.message).toMatch(/status and target the platform hides/);
  });

  it("reads eBET's status from a non-2xx answer that carries one", async () => {
    await expectEbetError(parseLogoutResponse(json({ status: 4027 }, 403)), {
      code: 4027,
      kind: "misconfigured",
      upstreamStatus: 403,
    });
    await expectEbetError(parseLogoutResponse(json({ status: 200 }, 502)), {
      code: "HTTP_502",
      kind: "unavailable",
    });
  });
});

describe("parseCallbackResponse", () => {
  it("reads the page's example answer", async () => {
    const { status: _status, ...account } = CALLBACK_EXAMPLE;
    expect(await parseCallbackResponse(json(CALLBACK_EXAMPLE))).toEqual(account);
  });

  it("reads channelId and subChannelId given as strings, as the field table types them", async () => {
    const result = await parseCallbackResponse(
      json({ ...CALLBACK_EXAMPLE, channelId: "1", subChannelId: "0" }),
    );
    expect(result.channelId).toBe(1);
    expect(result.subChannelId).toBe(0);
  });

  it("reads an absent subChannelId as 0, and money sent as decimal strings", async () => {
    const { subChannelId: _omitted, ...rest } = CALLBACK_EXAMPLE;
    const result = await parseCallbackResponse(
      json({ ...rest, money: "10.5", wallet: [{ typeId: "0", money: "10.5" }] }),
    );
    expect(result).toMatchObject({
      subChannelId: 0,
      money: 10.5,
      wallet: [{ typeId: 0, money: 10.5 }],
    });
  });

  it("accepts an empty wallet list", async () => {
    expect((await parseCallbackResponse(json({ ...CALLBACK_EXAMPLE, wallet: [] }))).wallet).toEqual(
      [],
    );
  });

  it("refuses an answer without userId, username, money, timestamp or channelId", async () => {
    for (const field of ["userId", "username", "money", "timestamp", "channelId"]) {
      const body: Record<string, unknown> = { ...CALLBACK_EXAMPLE };
      delete body[field];
      const error = await expectEbetError(parseCallbackResponse(json(body)), {
        code: "BAD_RESPONSE",
        kind: "upstream",
      });
      expect(error.message).toContain(field);
    }
  });

  it("refuses ill-typed members", async () => {
    const broken: Record<string, unknown>[] = [
      { userId: "abc" },
      { userId: -1 },
      { userId: 1.5 },
      { username: "" },
      { username: 5 },
      { channelId: 0 },
      { channelId: "one" },
      { subChannelId: -1 },
      { money: "lots" },
      { money: null },
      { timestamp: "yesterday" },
    ];
    for (const patch of broken) {
      await expectEbetError(parseCallbackResponse(json({ ...CALLBACK_EXAMPLE, ...patch })), {
        code: "BAD_RESPONSE",
      });
    }
  });

  it("refuses a malformed wallet", async () => {
    const wallets: unknown[] = [
      undefined,
      null,
      "0",
      { typeId: 0, money: 1 },
      [null],
      [[0, 1]],
      [{ money: 1 }],
      [{ typeId: 0 }],
      [{ typeId: 0.5, money: 1 }],
      [{ typeId: 0, money: "1,000" }],
      [{ typeId: 0, money: Number.POSITIVE_INFINITY }],
      [{ typeId: 0, money: 1 }, "x"],
    ];
    for (const wallet of wallets) {
      const body: Record<string, unknown> = { ...CALLBACK_EXAMPLE, wallet };
      if (wallet === undefined) delete body.wallet;
      const error = await expectEbetError(parseCallbackResponse(json(body)), {
        code: "BAD_RESPONSE",
      });
      expect(error.message).toMatch(/wallet/);
    }
  });

  it("turns a non-200 status into an EbetError even without the account members", async () => {
    await expectEbetError(parseCallbackResponse(json({ status: 410, apiVersion: "1" })), {
      code: 410,
      kind: "unauthorized",
    });
  });
});
