// The same smoke cases against the Bun, Deno and Node entries, each a process against simulators on 127.0.0.1.
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONTRACT_ROUTES,
  json,
  type RunningEntry,
  type Runtime,
  runtimes,
  type Simulators,
  spawnEntry,
  startEntry,
  startSimulators,
} from "./harness.ts";

const RUNTIMES: Runtime[] = ["bun", "deno", "node"];
/** What each entry says about its default store. */
const STORE_LINE: Record<Runtime, RegExp> = {
  bun: /^edge-proxy: stores in SQLite \(bun:sqlite\), \/.*\/edge-proxy\.db, WAL$/m,
  deno: /^edge-proxy: stores in Deno KV, \/.*\/edge-proxy\.kv$/m,
  node: /^edge-proxy: stores in SQLite \(node:sqlite\), \/.*\/edge-proxy\.db, WAL$/m,
};
const DEVICE = { osVersion: "Linux 6.1", fingerprint: "smoke-device-01", agent: "smoke-test" };

describe.each(RUNTIMES)("the %s entry", (runtime) => {
  let simulators: Simulators;
  let proxy: RunningEntry | undefined;
  let url: string;

  beforeAll(async () => {
    simulators = await startSimulators();
    // A short upstream timeout keeps the down-vendor case quick; retries still apply.
    proxy = await startEntry(runtime, { ...simulators.env, UPSTREAM_TIMEOUT_MS: "2000" });
    url = proxy.url;
  });

  afterAll(async () => {
    await proxy?.stop();
    await simulators?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const apiKey = () => ({ authorization: `Bearer ${simulators.apiKey}` });

  it("says at startup which store it uses: its durable default", () => {
    const output = proxy?.group.output.join("\n") ?? "";
    expect(output).toMatch(STORE_LINE[runtime]);
    expect(output).toMatch(/^edge-proxy listening on http:\/\/127\.0\.0\.1:\d+$/m);
  });

  it("makes its data directory the proxy user's alone (pending jobs hold vendor tokens)", async () => {
    const parent = await mkdtemp(join(tmpdir(), "edge-proxy-mode-"));
    const dir = join(parent, "made", "here");
    const own = await startEntry(runtime, { ...simulators.env, PROXY_DATA_DIR: dir });
    try {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    } finally {
      await own.stop();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it("answers /healthz", async () => {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("logs an eBET player out (API key)", async () => {
    const username = await simulators.ebetUser();
    const response = await post("/v1/ebet/logout", { username }, apiKey());
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ vendor: "ebet", ok: true, alreadyLoggedOut: false });
    expect(simulators.sims.ebet.isPlaying(username)).toBe(false);
  });

  it("logs a FunGame token out", async () => {
    const token = await simulators.fungameToken();
    const response = await fetch(`${url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ vendor: "fungame", ok: true, alreadyLoggedOut: false });
    expect(simulators.sims.fungame.state().revokedJtis).toHaveLength(1);
  });

  it("logs a OneAccess session out", async () => {
    const sessionToken = await simulators.sdkAuthSession();
    const response = await post("/v1/sdk-auth/logout", { sessionToken, device: DEVICE });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ vendor: "sdk-auth", ok: true, alreadyLoggedOut: false });
    expect(simulators.sims.sdkAuth.hasSession(sessionToken)).toBe(false);
  });

  it("logs a Lancens user out", async () => {
    const { username, token } = await simulators.lancensLogin();
    const response = await post("/v1/lancens/logout", { username, token });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ vendor: "lancens", ok: true, alreadyLoggedOut: false });
    expect(simulators.sims.lancens.isTokenValid(token)).toBe(false);
  });

  it("refuses an eBET logout with a wrong API key: 401 problem, no upstream call", async () => {
    const username = await simulators.ebetUser();
    const before = simulators.sims.ebet.calls.length;
    const response = await post(
      "/v1/ebet/logout",
      { username },
      { authorization: "Bearer not-a-known-key" },
    );
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const body = await json(response);
    expect(body).toMatchObject({ status: 401, kind: "unauthorized", vendor: "ebet" });
    expect(JSON.stringify(body)).not.toContain("not-a-known-key");
    expect(simulators.sims.ebet.calls.length).toBe(before);
    expect(simulators.sims.ebet.isPlaying(username)).toBe(true);
  });

  it("fans a logout out and answers 207 when one vendor is down", async () => {
    const username = await simulators.ebetUser();
    const token = await simulators.fungameToken();
    const lancens = await simulators.lancensLogin();
    simulators.setDown("lancens", true);
    try {
      const response = await post(
        "/v1/logout",
        { ebet: { username }, fungame: { token }, lancens },
        apiKey(),
      );
      const body = await json(response);
      expect(response.status, JSON.stringify(body)).toBe(207);
      const results = resultsByVendor(body);
      expect(results.ebet).toMatchObject({ ok: true });
      expect(results.fungame).toMatchObject({ ok: true });
      expect(results.lancens).toMatchObject({ kind: "unavailable", retryable: true });
      expect(results.lancens?.ok).not.toBe(true);
    } finally {
      simulators.setDown("lancens", false);
    }
    expect(simulators.sims.ebet.isPlaying(username)).toBe(false);
    expect(simulators.sims.lancens.isTokenValid(lancens.token)).toBe(true);
  });

  it("serves /openapi.json with every route of the contract", async () => {
    const response = await fetch(`${url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = await json(response);
    expect(String(document.openapi)).toMatch(/^3\./);
    const paths = document.paths as Record<string, Record<string, unknown>>;
    for (const [method, path] of CONTRACT_ROUTES) {
      expect(paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
    }
  });

  it("serves /docs and its scripts and styles from the proxy itself", async () => {
    const response = await fetch(`${url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      const assetResponse = await fetch(new URL(asset as string, response.url));
      expect(assetResponse.status, asset).toBe(200);
      expect(assetResponse.headers.get("content-type"), asset).toMatch(/javascript|css/);
      await assetResponse.arrayBuffer();
    }
  });

  it("rate limits callers by their socket address, never by X-Forwarded-For", async () => {
    const limited = await startEntry(runtime, { ...simulators.env, PROXY_RATE_LIMIT: "2/3600" });
    try {
      const get = (forwarded: string) =>
        fetch(`${limited.url}/openapi.json`, { headers: { "x-forwarded-for": forwarded } });
      expect((await get("198.51.100.1")).status).toBe(200);
      expect((await get("198.51.100.2")).status).toBe(200);
      const refused = await get("198.51.100.3");
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get("retry-after"));
      if (runtime === "deno") {
        // Deno KV counts in fixed windows of the period, aligned to the clock: the wait is the
        // rest of the window.
        const rest = 3600 - (Math.floor(Date.now() / 1000) % 3600);
        expect(Math.abs(retryAfter - rest)).toBeLessThanOrEqual(2);
      } else {
        // A bucket in this process: one request comes back after 3600 / 2 s.
        expect(retryAfter).toBe(1800);
      }
      expect(await json(refused)).toMatchObject({ code: "RATE_LIMITED", vendor: null });
      expect((await fetch(`${limited.url}/healthz`)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it("behind a trusted proxy, gives each forwarded client its own budget", async () => {
    // The test's connections come from 127.0.0.1: trusted here, so X-Forwarded-For is read.
    const limited = await startEntry(runtime, {
      ...simulators.env,
      PROXY_RATE_LIMIT: "1/3600",
      PROXY_TRUSTED_PROXIES: "127.0.0.1, ::1",
    });
    try {
      const get = (forwarded: string) =>
        fetch(`${limited.url}/openapi.json`, { headers: { "x-forwarded-for": forwarded } });
      expect((await get("198.51.100.1")).status).toBe(200);
      expect((await get("198.51.100.2")).status).toBe(200);
      // A spoofed left-most entry does not give the first client a new budget.
      const again = await get("203.0.113.77, 198.51.100.1");
      expect(again.status).toBe(429);
      expect(await json(again)).toMatchObject({ code: "RATE_LIMITED" });
      expect((await get("2001:db8::1")).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const limited = await startEntry(runtime, {
      ...simulators.env,
      PROXY_RATE_LIMIT: "1/3600",
      PROXY_TRUSTED_PROXIES: "10.0.0.0/8",
    });
    try {
      const get = (forwarded: string) =>
        fetch(`${limited.url}/openapi.json`, { headers: { "x-forwarded-for": forwarded } });
      expect((await get("198.51.100.1")).status).toBe(200);
      expect((await get("198.51.100.2")).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });

  it("refuses a bad PROXY_TRUSTED_PROXIES entry by name at startup", async () => {
    const group = spawnEntry(runtime, { PROXY_TRUSTED_PROXIES: "10.0.0.0/8, proxy.internal" });
    const exit = await Promise.race([
      group.exited,
      runtimes.sleep(20_000).then(() => ({ code: "timeout", signal: null })),
    ]);
    await runtimes.stopGroup(group);
    const output = group.output.join("\n");
    expect(exit.code, output).toBe(1);
    expect(output).toMatch(/PROXY_TRUSTED_PROXIES: .*"proxy\.internal"/);
  });

  it("refuses a bad configuration: every variable by name, no secret, no stack trace, exit 1", async () => {
    const secret = "-----BEGIN PRIVATE KEY-----\nnot-really-a-key!\n-----END PRIVATE KEY-----";
    const group = spawnEntry(runtime, {
      EBET_BASE_URL: "ftp://ebet.example",
      EBET_CHANNEL_ID: "zero",
      EBET_PRIVATE_KEY: secret,
      PROXY_API_KEY_SHA256: "abc",
      UPSTREAM_TIMEOUT_MS: "-5",
    });
    const exit = await Promise.race([
      group.exited,
      runtimes.sleep(20_000).then(() => ({ code: "timeout", signal: null })),
    ]);
    await runtimes.stopGroup(group);
    const output = group.output.join("\n");
    expect(exit.code, output).toBe(1);
    for (const name of [
      "EBET_BASE_URL",
      "EBET_CHANNEL_ID",
      "PROXY_API_KEY_SHA256",
      "UPSTREAM_TIMEOUT_MS",
    ]) {
      expect(output).toContain(name);
    }
    expect(output).not.toContain("not-really-a-key");
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain("listening on");
  });

  it("stops cleanly on SIGTERM", async () => {
    const running = proxy as RunningEntry;
    proxy = undefined;
    const pid = running.group.child.pid as number;
    process.kill(pid, "SIGTERM");
    const exit = await Promise.race([
      running.group.exited,
      runtimes.sleep(10_000).then(() => ({ code: "timeout", signal: null })),
    ]);
    await running.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

type Result = Record<string, unknown> & { ok?: unknown };

/** The per-vendor results of a fan-out answer, whether listed or keyed by vendor. */
function resultsByVendor(body: Record<string, unknown>): Record<string, Result | undefined> {
  const results = body.results;
  if (Array.isArray(results)) {
    return Object.fromEntries(
      (results as Result[]).map((result) => [vendorKey(String(result.vendor)), result]),
    );
  }
  if (results && typeof results === "object") return results as Record<string, Result>;
  throw new Error(`no per-vendor results in ${JSON.stringify(body)}`);
}

function vendorKey(vendor: string): string {
  return vendor === "sdk-auth" ? "sdkAuth" : vendor;
}
