import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { beforeAll, describe, expect, it } from "vitest";
import { OneAccessError } from "../src/errors.ts";
import {
  buildLogoutRequest,
  buildPublicKeyRequest,
  buildServerDateRequest,
  PATHS,
} from "../src/requests.ts";
import { DEVICE, opensslDecrypt, rejection } from "./support.ts";

let key: RsaPrivateKey;
beforeAll(async () => {
  key = await generateKeyPair(2048);
});

const TARGET = {
  baseUrl: "https://tenant.example.com/",
  clientId: "DRrYIqauawN0I8myTMoDTPys6ezGZxnm",
  device: DEVICE,
};

describe("paths", () => {
  it("are the SDK API's", () => {
    expect(PATHS).toEqual({
      serverDate: "/api/v2/sdk/server-date",
      publicKey: "/api/v2/sdk/public-key",
      login: "/api/v2/sdk/login",
      logout: "/api/v2/sdk/logout",
    });
  });
});

describe("buildServerDateRequest and buildPublicKeyRequest", () => {
  it("are GETs without a body carrying the application's and the device's headers", () => {
    for (const [build, path] of [
      [buildServerDateRequest, PATHS.serverDate],
      [buildPublicKeyRequest, PATHS.publicKey],
    ] as const) {
      const request = build({ ...TARGET, tenantId: "08f770f51f80d2f40f38c00cb199fd21" });
      expect(request.method).toBe("GET");
      expect(request.url).toBe(`https://tenant.example.com${path}`);
      expect(request.body).toBeNull();
      expect(request.headers.get("X-client-id")).toBe(TARGET.clientId);
      expect(request.headers.get("X-tenant-id")).toBe("08f770f51f80d2f40f38c00cb199fd21");
      expect(request.headers.get("X-operating-sys-version")).toBe("Android 10");
      expect(request.headers.has("X-signature")).toBe(false);
    }
  });

  it("refuse a bad base URL or client id, naming the field", () => {
    for (const [target, field] of [
      [{ ...TARGET, baseUrl: "ftp://x" }, "baseUrl"],
      [{ ...TARGET, baseUrl: "https://x/?q=1" }, "baseUrl"],
      [{ ...TARGET, clientId: "" }, "clientId"],
      [{ ...TARGET, clientId: "a\r\nb" }, "clientId"],
      [{ ...TARGET, tenantId: "租户" }, "tenantId"],
    ] as const) {
      let caught: unknown;
      try {
        buildServerDateRequest(target);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(OneAccessError);
      expect((caught as OneAccessError).field).toBe(field);
    }
  });
});

describe("buildLogoutRequest", () => {
  it("is GET /api/v2/sdk/logout with exactly the documented headers and an X-signature OpenSSL decrypts", async () => {
    const request = await buildLogoutRequest({
      ...TARGET,
      publicKey: key.publicKey,
      sessionToken: "session-abc",
      timestamp: "1700000000000",
    });
    expect(request.method).toBe("GET");
    expect(request.url).toBe("https://tenant.example.com/api/v2/sdk/logout");
    expect(request.body).toBeNull();
    expect([...request.headers.keys()].sort()).toEqual(
      [
        "x-agent",
        "x-client-id",
        "x-device-fingerprint",
        "x-operating-sys-version",
        "x-signature",
      ].sort(),
    );
    const signature = request.headers.get("X-signature") as string;
    expect(opensslDecrypt(key, signature)).toBe(
      `session_token=session-abc&timestamp=1700000000000&nonce=${(1_700_000_000_000).toString(16)}`,
    );
  });

  it("adds X-device-ip, X-L and X-tenant-id only when set, and takes a given nonce", async () => {
    const request = await buildLogoutRequest({
      ...TARGET,
      tenantId: "tenant-1",
      device: { ...DEVICE, ip: "10.10.10.1", language: "en" },
      publicKey: key.publicKey,
      sessionToken: "s",
      timestamp: "1700000000",
      nonce: "abc123",
    });
    expect(request.headers.get("X-device-ip")).toBe("10.10.10.1");
    expect(request.headers.get("X-L")).toBe("en");
    expect(request.headers.get("X-tenant-id")).toBe("tenant-1");
    expect(opensslDecrypt(key, request.headers.get("X-signature") as string)).toBe(
      "session_token=s&timestamp=1700000000&nonce=abc123",
    );
  });

  it("refuses bad input before encrypting, naming the field", async () => {
    const base = {
      ...TARGET,
      publicKey: key.publicKey,
      sessionToken: "s",
      timestamp: "1700000000",
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, sessionToken: "" }, "sessionToken"],
      [{ ...base, sessionToken: "x".repeat(150) }, "sessionToken"],
      [{ ...base, timestamp: "2023-11-14" }, "timestamp"],
      [{ ...base, nonce: "a&b" }, "nonce"],
      [{ ...base, publicKey: undefined }, "publicKey"],
      [{ ...base, device: { ...DEVICE, agent: "x\ny" } }, "device.agent"],
      [{ ...base, device: { osVersion: "Android 10", agent: "a" } }, "device.fingerprint"],
    ];
    for (const [input, field] of cases) {
      const error = await rejection(buildLogoutRequest(input as never));
      expect(error.field).toBe(field);
    }
  });
});

describe("redirect mode", () => {
  it("every built request says redirect: manual, so a fetch of it never follows one", async () => {
    const requests = [
      buildServerDateRequest(TARGET),
      buildPublicKeyRequest(TARGET),
      await buildLogoutRequest({
        ...TARGET,
        publicKey: key.publicKey,
        sessionToken: "session-abc",
        timestamp: "1700000000000",
      }),
    ];
    for (const request of requests) expect(request.redirect).toBe("manual");
  });
});
