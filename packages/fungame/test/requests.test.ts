// Logout request building (src/requests.ts): the Request's shape and every refused input.
import { describe, expect, it } from "vitest";
import { buildLogoutRequest, FunGameError, LOGOUT_PATH } from "../src/index.ts";
import { fungameClaims, hmacToken, KEY } from "./jwt-oracle.ts";

const token = hmacToken(fungameClaims(), KEY);

function refusal(fn: () => unknown): FunGameError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FunGameError);
    return error as FunGameError;
  }
  throw new Error("nothing was thrown");
}

describe("buildLogoutRequest", () => {
  it("builds POST {baseUrl}/user/logout with the bearer token and no body", async () => {
    const request = buildLogoutRequest(token, { baseUrl: "https://api.redbud.fun/" });
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.redbud.fun/user/logout");
    expect(request.headers.get("authorization")).toBe(`Bearer ${token}`);
    expect(request.headers.get("accept")).toBe("application/json");
    expect(request.body).toBeNull();
    expect(await request.text()).toBe("");
    expect(LOGOUT_PATH).toBe("/user/logout");
  });

  it("does not follow redirects, so the token is never replayed elsewhere", () => {
    expect(buildLogoutRequest(token, { baseUrl: "https://a.example" }).redirect).toBe("manual");
  });

  it("keeps a path prefix in baseUrl and takes another path", () => {
    expect(buildLogoutRequest(token, { baseUrl: "https://a.example/fungame" }).url).toBe(
      "https://a.example/fungame/user/logout",
    );
    expect(
      buildLogoutRequest(token, { baseUrl: "http://a.example", path: "/api/user/logout" }).url,
    ).toBe("http://a.example/api/user/logout");
  });

  it.each([
    ["empty", ""],
    ["two segments", "a.b"],
    ["CR", `${token}\r`],
    ["LF", `${token}\nX: y`],
    ["not base64url", "a.b.c?d"],
  ])("refuses a token that is %s, naming bearerToken", (_, bad) => {
    const error = refusal(() => buildLogoutRequest(bad, { baseUrl: "https://a.example" }));
    expect(error).toMatchObject({
      kind: "invalid_request",
      field: "bearerToken",
      vendor: "fungame",
    });
  });

  it.each([
    ["missing", undefined],
    ["relative", "/user"],
    ["ftp", "ftp://a.example"],
    ["with a query", "https://a.example/?x=1"],
    ["with credentials", "https://u:p@a.example"],
  ])("refuses a baseUrl that is %s, as a FunGameError naming baseUrl", (_, baseUrl) => {
    const error = refusal(() => buildLogoutRequest(token, { baseUrl: baseUrl as string }));
    expect(error).toMatchObject({ kind: "invalid_request", field: "baseUrl" });
  });

  it("refuses a bad path", () => {
    for (const path of ["user/logout", "/user logout", "/a?b"]) {
      expect(
        refusal(() => buildLogoutRequest(token, { baseUrl: "https://a.example", path })).field,
      ).toBe("path");
    }
  });

  it("checks the token before the base URL", () => {
    expect(refusal(() => buildLogoutRequest("", { baseUrl: "nope" })).field).toBe("bearerToken");
  });
});
