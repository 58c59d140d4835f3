// Tests for the request builders: method, URL, headers and body of each call; input refused first.
import { describe, expect, it } from "vitest";
import {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest,
  DEFAULT_PATHS,
  LANCENS_BASE_URL,
  LancensError,
} from "../src/index.ts";

const target = { baseUrl: LANCENS_BASE_URL };
const TOKEN = "0123456789abcdef0123456789abcdef";

function refusal(run: () => unknown): LancensError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LancensError);
    return error as LancensError;
  }
  throw new Error("expected a refusal");
}

describe("buildClearRingPushTokenRequest", () => {
  it("is DELETE /v1/api/user/token with the login token in the token header and no body", async () => {
    const request = buildClearRingPushTokenRequest(target, TOKEN);
    expect(request.method).toBe("DELETE");
    expect(request.url).toBe("https://weixin.lancens.com:6443/v1/api/user/token");
    expect(request.headers.get("token")).toBe(TOKEN);
    expect(request.headers.get("accept")).toBe("application/json");
    expect(request.body).toBeNull();
  });
});

describe("buildClearMessagePushTokenRequest", () => {
  it("is DELETE /v1/api/user/message/token with the token header", () => {
    const request = buildClearMessagePushTokenRequest(target, TOKEN);
    expect(request.method).toBe("DELETE");
    expect(request.url).toBe("https://weixin.lancens.com:6443/v1/api/user/message/token");
    expect(request.headers.get("token")).toBe(TOKEN);
    expect(request.body).toBeNull();
  });
});

describe("buildLogoutRequest", () => {
  it("is POST /v1/api/user/logout with JSON { username, token } and the same token in the token header", async () => {
    const request = buildLogoutRequest(target, { username: "lancens-user", token: TOKEN });
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://weixin.lancens.com:6443/v1/api/user/logout");
    expect(request.headers.get("content-type")).toBe("application/json");
    expect(request.headers.get("token")).toBe(TOKEN);
    expect(await request.json()).toEqual({ username: "lancens-user", token: TOKEN });
  });

  it("sends only username and token, even when given more", async () => {
    const input = { username: "lancens-user", token: TOKEN, password: "secret" };
    const request = buildLogoutRequest(target, input);
    expect(Object.keys(await request.json())).toEqual(["username", "token"]);
  });

  it("refuses a bad username or token, naming the field", () => {
    expect(
      refusal(() => buildLogoutRequest(target, { username: "short", token: TOKEN })).field,
    ).toBe("username");
    expect(
      refusal(() => buildLogoutRequest(target, { username: "x".repeat(33), token: TOKEN })).field,
    ).toBe("username");
    expect(
      refusal(() => buildLogoutRequest(target, { username: "lancens-user", token: "" })).field,
    ).toBe("token");
    expect(
      refusal(() => buildLogoutRequest(target, { username: "lancens-user", token: "a\nb" })).field,
    ).toBe("token");
    expect(refusal(() => buildLogoutRequest(undefined as never, undefined as never)).field).toBe(
      "username",
    );
  });
});

describe("redirects", () => {
  it("every request refuses to follow a redirect: the token would go along to the Location", () => {
    const requests = [
      buildClearRingPushTokenRequest(target, TOKEN),
      buildClearMessagePushTokenRequest(target, TOKEN),
      buildLogoutRequest(target, { username: "lancens-user", token: TOKEN }),
    ];
    for (const request of requests) {
      expect(request.redirect).toBe("manual");
      // A copy with a new signal, as the call machinery makes, keeps the mode.
      expect(new Request(request, { signal: new AbortController().signal }).redirect).toBe(
        "manual",
      );
    }
  });
});

describe("targets", () => {
  it("drops a trailing slash and keeps a base path", () => {
    expect(buildClearRingPushTokenRequest({ baseUrl: "http://127.0.0.1:8787/" }, TOKEN).url).toBe(
      "http://127.0.0.1:8787/v1/api/user/token",
    );
    expect(
      buildLogoutRequest(
        { baseUrl: "https://proxy.example/lancens" },
        {
          username: "lancens-user",
          token: TOKEN,
        },
      ).url,
    ).toBe("https://proxy.example/lancens/v1/api/user/logout");
  });

  it("takes other paths, keeping the defaults for the rest", () => {
    const paths = { logout: "/api/v2/logout" };
    expect(
      buildLogoutRequest({ ...target, paths }, { username: "lancens-user", token: TOKEN }).url,
    ).toBe(`${LANCENS_BASE_URL}/api/v2/logout`);
    expect(buildClearRingPushTokenRequest({ ...target, paths }, TOKEN).url).toBe(
      `${LANCENS_BASE_URL}${DEFAULT_PATHS.ringPushToken}`,
    );
  });

  it("refuses a bad base URL or path, naming the field", () => {
    for (const baseUrl of [
      "",
      "weixin.lancens.com",
      "ftp://x",
      "https://u:p@x",
      "https://x/?a=1",
    ]) {
      expect(refusal(() => buildClearRingPushTokenRequest({ baseUrl }, TOKEN)).field).toBe(
        "baseUrl",
      );
    }
    expect(
      refusal(() =>
        buildClearMessagePushTokenRequest(
          { baseUrl: LANCENS_BASE_URL, paths: { messagePushToken: "no-slash" } },
          TOKEN,
        ),
      ).field,
    ).toBe("paths.messagePushToken");
  });

  it("refuses a token that would break the header before building anything", () => {
    for (const token of ["", "abc\r\nx-injected: 1", "abc\n"]) {
      const error = refusal(() => buildClearRingPushTokenRequest(target, token));
      expect(error.field).toBe("token");
      expect(error.code).toBe("INVALID_INPUT");
    }
  });
});
