// The client address behind trusted reverse proxies: address parsing, ranges and the X-Forwarded-For walk.
import { describe, expect, it } from "vitest";
import {
  type Cidr,
  formatIp,
  forwardedClient,
  parseIp,
  parseTrustedProxies,
} from "../src/client-address.ts";
import { createHarness, readProblem } from "./harness.ts";

function ranges(value: string): Cidr[] {
  const parsed = parseTrustedProxies(value);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

describe("IP addresses", () => {
  it("parses IPv4 and IPv6 into one canonical form", () => {
    const canonical = (text: string) => {
      const bytes = parseIp(text);
      return bytes === undefined ? undefined : formatIp(bytes);
    };
    expect(canonical("192.0.2.1")).toBe("192.0.2.1");
    expect(canonical("2001:db8::1")).toBe("2001:db8:0:0:0:0:0:1");
    expect(canonical("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8:0:0:0:0:0:1");
    expect(canonical("::1")).toBe("0:0:0:0:0:0:0:1");
    expect(canonical("::")).toBe("0:0:0:0:0:0:0:0");
    expect(canonical("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0:0:0:c000:201");
    // An IPv4-mapped IPv6 address is the IPv4 address.
    expect(canonical("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(canonical("::ffff:a00:1")).toBe("10.0.0.1");
    for (const bad of [
      "",
      "10.0.0",
      "10.0.0.256",
      "010.0.0.1",
      "10.0.0.1.",
      " 10.0.0.1",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "g::1",
      "::1%eth0",
      "unknown",
      "localhost",
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });
});

describe("the X-Forwarded-For walk", () => {
  const trusted = ranges("10.0.0.0/8, fd00::/8");

  it("ignores X-Forwarded-For when the peer is not a trusted proxy", () => {
    expect(forwardedClient("198.51.100.7", "203.0.113.9", trusted)).toBe("198.51.100.7");
    expect(forwardedClient("198.51.100.7", undefined, trusted)).toBe("198.51.100.7");
    expect(forwardedClient("2001:db8::7", "203.0.113.9", trusted)).toBe("2001:db8::7");
  });

  it("takes the right-most untrusted hop: spoofed left-most entries are ignored", () => {
    expect(forwardedClient("10.0.0.1", "203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(forwardedClient("10.0.0.1", "1.1.1.1, 6.6.6.6, 203.0.113.9", trusted)).toBe(
      "203.0.113.9",
    );
  });

  it("skips every trusted proxy of a chain", () => {
    expect(forwardedClient("10.0.0.1", "6.6.6.6,203.0.113.9, 10.1.1.1,10.2.2.2", trusted)).toBe(
      "203.0.113.9",
    );
    expect(forwardedClient("fd00::1", "198.51.100.1, fd12::3", trusted)).toBe("198.51.100.1");
  });

  it("reads IPv6 hops, bracketed or with ports, and IPv4-mapped addresses", () => {
    expect(forwardedClient("10.0.0.1", "2001:db8::5", trusted)).toBe("2001:db8:0:0:0:0:0:5");
    expect(forwardedClient("10.0.0.1", "[2001:db8::5]:443", trusted)).toBe("2001:db8:0:0:0:0:0:5");
    expect(forwardedClient("10.0.0.1", "203.0.113.9:5678", trusted)).toBe("203.0.113.9");
    // A dual-stack socket reports the IPv4 proxy as ::ffff:10.0.0.1: it is trusted all the same.
    expect(forwardedClient("::ffff:10.0.0.1", "203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(forwardedClient("10.0.0.1", "::ffff:203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(forwardedClient("10.0.0.1", "6.6.6.6, ::ffff:10.9.9.9", trusted)).toBe("6.6.6.6");
  });

  it("stops at a malformed hop and keeps the last trusted address: the caller never picks the key", () => {
    expect(forwardedClient("10.0.0.1", "203.0.113.9, unknown", trusted)).toBe("10.0.0.1");
    expect(forwardedClient("10.0.0.1", "203.0.113.9, garbage, 10.0.0.2", trusted)).toBe("10.0.0.2");
    expect(forwardedClient("10.0.0.1", "any-text-i-like", trusted)).toBe("10.0.0.1");
    expect(forwardedClient("10.0.0.1", "203.0.113.9,", trusted)).toBe("10.0.0.1");
    expect(forwardedClient("10.0.0.1", "", trusted)).toBe("10.0.0.1");
    expect(forwardedClient("10.0.0.1", undefined, trusted)).toBe("10.0.0.1");
  });

  it("ends a chain of only trusted hops at its left-most address, and reads at most 32 hops", () => {
    expect(forwardedClient("10.0.0.1", "10.0.0.3, 10.0.0.2", trusted)).toBe("10.0.0.3");
    const long = ["203.0.113.9", ...Array.from({ length: 40 }, (_, i) => `10.0.1.${i}`)];
    expect(forwardedClient("10.0.0.1", long.join(","), trusted)).toBe("10.0.1.8");
  });

  it("matches ranges bit by bit", () => {
    const narrow = ranges("192.0.2.128/25, 2001:db8:8000::/33");
    expect(forwardedClient("192.0.2.128", "203.0.113.9", narrow)).toBe("203.0.113.9");
    expect(forwardedClient("192.0.2.127", "203.0.113.9", narrow)).toBe("192.0.2.127");
    expect(forwardedClient("2001:db8:8000::1", "203.0.113.9", narrow)).toBe("203.0.113.9");
    expect(forwardedClient("2001:db8:7fff::1", "203.0.113.9", narrow)).toBe("2001:db8:7fff::1");
  });
});

describe("the rate limit behind trusted proxies (the local entries' client address)", () => {
  it("gives two clients behind a trusted proxy their own budgets", async () => {
    const { localClientAddress } = await import("../src/client-address.ts");
    const h = await createHarness({
      env: { PROXY_RATE_LIMIT: "1/3600" },
      deps: { clientAddress: localClientAddress(ranges("127.0.0.1")) },
    });
    const peer = { incoming: { socket: { remoteAddress: "127.0.0.1" } } };
    const get = (forwarded: string) =>
      h.app.request("/openapi.json", { headers: { "x-forwarded-for": forwarded } }, peer);
    expect((await get("203.0.113.1")).status).toBe(200);
    expect((await get("203.0.113.2")).status).toBe(200);
    expect(await readProblem(await get("6.6.6.6, 203.0.113.1"))).toMatchObject({ status: 429 });
  });
});

describe("PROXY_TRUSTED_PROXIES on Workers", () => {
  it("is refused: the client address there is CF-Connecting-IP", async () => {
    const { env } = await import("cloudflare:workers");
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const worker = (await import("../src/entry/worker.ts")).default;
    const ctx = createExecutionContext();
    const request = new Request("https://proxy.test/healthz") as Request<
      unknown,
      IncomingRequestCfProperties
    >;
    const response = await worker.fetch(
      request,
      { ...env, PROXY_TRUSTED_PROXIES: "10.0.0.0/8" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const problem = await readProblem(response);
    expect(problem).toMatchObject({ status: 500, code: "CONFIG_INVALID" });
    expect(problem.errors).toEqual([
      { field: "PROXY_TRUSTED_PROXIES", message: expect.stringContaining("CF-Connecting-IP") },
    ]);
  });
});
