// loadConfig: defaults, vendors on and off, and every invalid variable reported at once without secrets.

import { EBET_TEST_PRIVATE_KEY, EBET_TEST_PUBLIC_KEY } from "@x/ebet/testing";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import type { EbetConfig } from "../src/vendors/ebet.ts";
import type { FunGameConfig } from "../src/vendors/fungame.ts";
import { baseEnv } from "./harness.ts";

function issuesOf(env: Record<string, unknown>): { name: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("loadConfig", () => {
  it("with nothing set: every vendor off, CORS off, 5 s upstream timeout", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      vendors: new Map(),
      upstreamTimeoutMs: 5000,
      upstreamDeadlineMs: 15000,
      corsOrigins: [],
    });
    expect(config.auth.apiKeyDigests).toEqual([]);
  });

  it("reads every vendor, trims values, drops trailing slashes, ignores other bindings", async () => {
    const config = loadConfig({
      ...(await baseEnv()),
      EBET_BASE_URL: " https://ebet.example/ ",
      EBET_TIMESTAMP_UNIT: "ms",
      FUNGAME_JWT_SECRET: "x".repeat(32),
      SDK_AUTH_TENANT_ID: "tenant-1",
      UPSTREAM_TIMEOUT_MS: 2500,
      UPSTREAM_DEADLINE_MS: "6000",
      PROXY_CORS_ORIGINS: "https://a.example, http://localhost:5173/",
      DENY_LIST: { binding: true },
      ASSETS: {},
    });
    expect(config.vendors.get("ebet")).toMatchObject({
      baseUrl: "https://ebet.example",
      channelId: 1,
      timestampUnit: "ms",
    });
    expect((config.vendors.get("fungame") as FunGameConfig | undefined)?.jwtSecret).toBe(
      "x".repeat(32),
    );
    expect(config.vendors.get("sdk-auth")).toEqual({
      baseUrl: "https://oneaccess.test",
      clientId: "oneaccess-simulator-client",
      tenantId: "tenant-1",
    });
    expect(config.vendors.get("lancens")).toEqual({ baseUrl: "https://lancens.test:6443" });
    expect(config.auth.apiKeyDigests).toHaveLength(2);
    expect(config.upstreamTimeoutMs).toBe(2500);
    expect(config.upstreamDeadlineMs).toBe(6000);
    expect(config.corsOrigins).toEqual(["https://a.example", "http://localhost:5173"]);
  });

  it("treats empty values as absent", () => {
    expect(
      loadConfig({ LANCENS_BASE_URL: "  ", UPSTREAM_TIMEOUT_MS: "" }).vendors.get("lancens"),
    ).toBeUndefined();
  });

  it("reports several invalid variables at once, by name", () => {
    const issues = issuesOf({
      EBET_BASE_URL: "ftp://ebet.example",
      EBET_CHANNEL_ID: "zero",
      EBET_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----",
      EBET_TIMESTAMP_UNIT: "minutes",
      LANCENS_BASE_URL: "https://user:pw@lancens.example",
      UPSTREAM_TIMEOUT_MS: "-5",
      PROXY_API_KEY_SHA256: "abc",
      PROXY_CORS_ORIGINS: "https://a.example/path",
    });
    expect(issues.map((issue) => issue.name).sort()).toEqual([
      "EBET_BASE_URL",
      "EBET_CHANNEL_ID",
      "EBET_PRIVATE_KEY",
      "EBET_TIMESTAMP_UNIT",
      "LANCENS_BASE_URL",
      "PROXY_API_KEY_SHA256",
      "PROXY_CORS_ORIGINS",
      "UPSTREAM_TIMEOUT_MS",
    ]);
    const message = (name: string) => issues.find((issue) => issue.name === name)?.message;
    expect(message("UPSTREAM_TIMEOUT_MS")).toContain('got "-5"');
    expect(message("EBET_TIMESTAMP_UNIT")).toContain('"s" or "ms"');
    expect(message("LANCENS_BASE_URL")).not.toContain("pw");
  });

  it("never echoes a secret", () => {
    const secrets = {
      EBET_PRIVATE_KEY: "super-secret-private-key-material!",
      FUNGAME_JWT_SECRET: "short-secret",
      PROXY_JWT_SECRET: "tiny",
      PROXY_API_KEY_SHA256: "this-is-my-plain-api-key-by-mistake",
    };
    let error: unknown;
    try {
      loadConfig({ ...secrets, EBET_BASE_URL: "https://e.example", EBET_CHANNEL_ID: "1" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = `${(error as Error).message} ${JSON.stringify((error as ConfigError).issues)}`;
    for (const value of Object.values(secrets)) expect(text).not.toContain(value);
    expect((error as ConfigError).issues.map((issue) => issue.name).sort()).toEqual([
      "EBET_PRIVATE_KEY",
      "FUNGAME_BASE_URL",
      "FUNGAME_JWT_SECRET",
      "PROXY_API_KEY_SHA256",
      "PROXY_JWT_SECRET",
    ]);
  });

  it("never repeats a base URL's value, nor a secret another variable's value holds", () => {
    const secret = "f".repeat(32);
    const issues = issuesOf({
      FUNGAME_JWT_SECRET: secret,
      FUNGAME_BASE_URL: `not a url ${secret}`,
      LANCENS_BASE_URL: "lancens.example/x?key=s3cr3t-value",
      EBET_BASE_URL: "ebet-forwarder.example:8443/api",
      EBET_CHANNEL_ID: "1",
      EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
      PROXY_API_KEY_SHA256: "a".repeat(64),
      SDK_AUTH_BASE_URL: "https://sdk.example/?token=s3cr3t-token",
      SDK_AUTH_CLIENT_ID: "client",
    });
    expect(issues.map((issue) => issue.name).sort()).toEqual([
      "EBET_BASE_URL",
      "FUNGAME_BASE_URL",
      "LANCENS_BASE_URL",
      "SDK_AUTH_BASE_URL",
    ]);
    const text = JSON.stringify(issues);
    expect(text).not.toContain(secret);
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain("lancens.example");
    expect(text).not.toContain("ebet-forwarder");
    // A URL typed without its scheme reads as one whose scheme is its host, or its user.
    const typed = issuesOf({ LANCENS_BASE_URL: "admin:hunter2@lancens.example/api" });
    expect(JSON.stringify(typed)).not.toContain("admin");
    expect(typed).toEqual([{ name: "LANCENS_BASE_URL", message: "must use http or https" }]);
  });

  it("needs every variable of a vendor once one is set", () => {
    const issues = issuesOf({
      EBET_CHANNEL_ID: "7",
      SDK_AUTH_TENANT_ID: "t",
      FUNGAME_JWT_SECRET: "x".repeat(40),
      PROXY_API_KEY_SHA256: "a".repeat(64),
    });
    expect(issues.map((issue) => issue.name).sort()).toEqual([
      "EBET_BASE_URL",
      "EBET_PRIVATE_KEY",
      "FUNGAME_BASE_URL",
      "SDK_AUTH_BASE_URL",
      "SDK_AUTH_CLIENT_ID",
    ]);
  });

  it("refuses eBET without caller auth, both JWT settings at once, and a deadline below the timeout", () => {
    const ebet = {
      EBET_BASE_URL: "https://e.example",
      EBET_CHANNEL_ID: "1",
      EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
    };
    expect(issuesOf(ebet)).toEqual([
      { name: "PROXY_API_KEY_SHA256", message: expect.stringContaining("caller auth") },
    ]);
    const issues = issuesOf({
      PROXY_JWKS_URL: "https://id.example/jwks",
      PROXY_JWT_ISSUER: "https://id.example",
      PROXY_JWT_AUDIENCE: "edge-proxy",
      PROXY_JWT_SECRET: "x".repeat(32),
      UPSTREAM_TIMEOUT_MS: "4000",
      UPSTREAM_DEADLINE_MS: "3000",
    });
    expect(issues.map((issue) => issue.name).sort()).toEqual([
      "PROXY_JWT_SECRET",
      "UPSTREAM_DEADLINE_MS",
    ]);
    expect(issuesOf({ PROXY_JWT_ISSUER: "x" })[0]?.name).toBe("PROXY_JWT_ISSUER");
  });

  it("checks the form of EBET_PRIVATE_KEY without importing it, and says what is wrong", () => {
    const body = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const ebet = (key: string) => ({
      EBET_BASE_URL: "https://e.example",
      EBET_CHANNEL_ID: "1",
      EBET_PRIVATE_KEY: key,
      PROXY_JWKS_URL: "https://id.example/jwks",
      PROXY_JWT_ISSUER: "https://id.example",
      PROXY_JWT_AUDIENCE: "edge-proxy",
    });
    for (const form of [
      EBET_TEST_PRIVATE_KEY,
      body(EBET_TEST_PRIVATE_KEY),
      EBET_TEST_PRIVATE_KEY.replace(/\n/g, "\\n"),
    ]) {
      expect(
        (loadConfig(ebet(form)).vendors.get("ebet") as EbetConfig | undefined)?.privateKey,
      ).toBe(form);
    }
    const refused: [string, string][] = [
      [EBET_TEST_PUBLIC_KEY, "public-key"],
      [body(EBET_TEST_PUBLIC_KEY), "public-key"],
      [EBET_TEST_PRIVATE_KEY.replace(/RSA PRIVATE KEY/g, "CERTIFICATE"), "pem-label"],
      [body(EBET_TEST_PRIVATE_KEY).slice(0, 400), "der"],
      ['{"kty":"EC","crv":"P-256"}', "not-rsa"],
      ['{"kty":"RSA","n":"AQAB"}', "jwk"],
    ];
    for (const [key, problem] of refused) {
      const issues = issuesOf(ebet(key));
      expect(issues).toEqual([
        { name: "EBET_PRIVATE_KEY", message: expect.stringContaining(`(${problem})`) },
      ]);
      if (key.length > 60) expect(issues[0]?.message).not.toContain(key.slice(30, 60));
    }
  });

  it("accepts a wildcard CORS origin and a JWKS-only setup for eBET", () => {
    const config = loadConfig({
      EBET_BASE_URL: "https://e.example",
      EBET_CHANNEL_ID: 3,
      EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
      PROXY_JWKS_URL: "https://id.example/.well-known/jwks.json",
      PROXY_JWT_ISSUER: "https://id.example",
      PROXY_JWT_AUDIENCE: "edge-proxy",
      PROXY_CORS_ORIGINS: "*",
    });
    expect(config.corsOrigins).toEqual(["*"]);
    expect(config.auth.jwksUrl).toBe("https://id.example/.well-known/jwks.json");
  });

  it("refuses a value that is not a string or number", () => {
    expect(issuesOf({ LANCENS_BASE_URL: { url: "x" } })).toEqual([
      { name: "LANCENS_BASE_URL", message: "must be a string" },
    ]);
  });

  it("requires PROXY_JWT_ISSUER and PROXY_JWT_AUDIENCE with a JWKS, by name", () => {
    const jwks = { PROXY_JWKS_URL: "https://id.example/jwks" };
    expect(issuesOf(jwks).map((issue) => issue.name)).toEqual([
      "PROXY_JWT_ISSUER",
      "PROXY_JWT_AUDIENCE",
    ]);
    expect(issuesOf({ ...jwks, PROXY_JWT_ISSUER: "https://id.example" })).toEqual([
      { name: "PROXY_JWT_AUDIENCE", message: "is required with PROXY_JWKS_URL" },
    ]);
    expect(issuesOf({ ...jwks, PROXY_JWT_AUDIENCE: "edge-proxy" })).toEqual([
      { name: "PROXY_JWT_ISSUER", message: "is required with PROXY_JWKS_URL" },
    ]);
    const config = loadConfig({
      ...jwks,
      PROXY_JWT_ISSUER: "https://id.example",
      PROXY_JWT_AUDIENCE: "edge-proxy",
    });
    expect(config.auth).toMatchObject({
      jwtIssuer: "https://id.example",
      jwtAudience: "edge-proxy",
    });
    // The HS256 secret is the proxy's own: issuer and audience stay optional with it.
    expect(loadConfig({ PROXY_JWT_SECRET: "x".repeat(32) }).auth.jwtIssuer).toBeUndefined();
  });

  it("refuses an http JWKS URL unless it is on this machine", () => {
    const claims = { PROXY_JWT_ISSUER: "https://id.example", PROXY_JWT_AUDIENCE: "edge-proxy" };
    for (const url of [
      "http://id.example/jwks",
      "http://10.0.0.1/jwks",
      "http://128.0.0.1/jwks",
      "http://[::2]/jwks",
      "http://localhost.example/jwks",
      "http://[::ffff:8.8.8.8]/jwks",
    ]) {
      expect(issuesOf({ ...claims, PROXY_JWKS_URL: url }), url).toEqual([
        { name: "PROXY_JWKS_URL", message: expect.stringContaining("https") },
      ]);
    }
    for (const url of [
      "http://localhost:8080/jwks",
      "http://127.0.0.1/jwks",
      "http://127.8.9.10:9000/jwks",
      "http://[::1]:9000/jwks",
      "https://id.example/jwks",
    ]) {
      expect(loadConfig({ ...claims, PROXY_JWKS_URL: url }).auth.jwksUrl, url).toBe(url);
    }
  });

  it("reads PROXY_TRUSTED_PROXIES and names a bad entry", () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    const ranges = loadConfig({
      PROXY_TRUSTED_PROXIES: " 10.0.0.0/8, 192.0.2.7 ,fd00::/8, ::1",
    }).trustedProxies;
    expect(ranges.map((range) => [range.bytes.length, range.prefix])).toEqual([
      [4, 8],
      [4, 32],
      [16, 8],
      [16, 128],
    ]);
    const refused: [string, string][] = [
      ["10.0.0.0/8, proxy.internal", '"proxy.internal"'],
      ["10.0.0.0/33", '"10.0.0.0/33"'],
      ["fd00::/129", '"fd00::/129"'],
      ["10.0.0.1/8", "host bits"],
      ["010.0.0.0/8", '"010.0.0.0/8"'],
      ["10.0.0.0/8/8", '"10.0.0.0/8/8"'],
      ["10.0.0.0/-1", '"10.0.0.0/-1"'],
      ["0.0.0.0/0", "every address"],
      ["::/0", "every address"],
      [",", "at least one"],
    ];
    for (const [value, quoted] of refused) {
      expect(issuesOf({ PROXY_TRUSTED_PROXIES: value }), value).toEqual([
        { name: "PROXY_TRUSTED_PROXIES", message: expect.stringContaining(quoted) },
      ]);
    }
  });

  it("reads the open-job caps, with defaults, and names a bad one", () => {
    expect(loadConfig({}).outbox).toMatchObject({ maxOpenJobs: 10_000, maxOpenJobsPerCaller: 100 });
    expect(
      loadConfig({ LOGOUT_MAX_OPEN_JOBS: "500", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "5" }).outbox,
    ).toMatchObject({ maxOpenJobs: 500, maxOpenJobsPerCaller: 5 });
    expect(
      issuesOf({ LOGOUT_MAX_OPEN_JOBS: "0", LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "many" }),
    ).toEqual([
      { name: "LOGOUT_MAX_OPEN_JOBS", message: expect.stringContaining('got "0"') },
      { name: "LOGOUT_MAX_OPEN_JOBS_PER_CALLER", message: expect.stringContaining('got "many"') },
    ]);
  });
});
