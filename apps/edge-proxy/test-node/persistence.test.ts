// The FunGame deny-list (a SQLite Durable Object) outlives a restart of `wrangler dev` on the same --persist-to folder.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  type ProcessGroup,
  processesMatching,
  runtimes,
  type Simulators,
  startSimulators,
} from "./harness.ts";

/** wrangler dev bundles the worker and boots workerd before /healthz answers. */
const READY_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;
const LOGOUT_PATH = "/user/logout";

interface Proxy {
  url: string;
  port: number;
  group: ProcessGroup;
}

/** The `jti` claim of a JWT, read without verifying it. */
function jtiOf(token: string): string {
  const payload = token.split(".")[1] ?? "";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
    jti?: unknown;
  };
  if (typeof claims.jti !== "string") throw new Error("the FunGame token has no jti");
  return claims.jti;
}

describe("the FunGame deny-list under wrangler dev --persist-to", () => {
  let simulators: Simulators | undefined;
  let envFile: string;
  const groups: ProcessGroup[] = [];
  const folders: string[] = [];

  beforeAll(async () => {
    simulators = await startSimulators();
    // The simulators' configuration, FUNGAME_JWT_SECRET included, in a private file outside the repository.
    const envDir = await mkdtemp(join(tmpdir(), "edge-proxy-persist-env-"));
    folders.push(envDir);
    envFile = join(envDir, "proxy.env");
    expect(simulators.env.FUNGAME_JWT_SECRET, "the proxy must verify tokens itself").toBeTruthy();
    const lines = Object.entries(simulators.env).map(
      ([name, value]) => `${name}=${JSON.stringify(value)}`,
    );
    await writeFile(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    for (const group of groups) await runtimes.stopGroup(group, STOP_GRACE_MS);
    await simulators?.close();
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  /** Starts `wrangler dev` (workerd) on 127.0.0.1 with the deny-list kept in `persistTo`. */
  async function startProxy(persistTo: string): Promise<Proxy> {
    const port = await runtimes.freePort();
    const group = runtimes.spawnGroup(
      process.execPath,
      runtimes.wranglerDevArgs({
        port,
        inspectorPort: await runtimes.freePort(),
        envFile,
        persistTo,
      }),
      { env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" } },
    );
    groups.push(group);
    const url = `http://127.0.0.1:${port}`;
    await runtimes.waitForHttp(`${url}/healthz`, group, READY_TIMEOUT_MS);
    return { url, port, group };
  }

  /**
   * Stops wrangler dev and workerd, gracefully or with SIGKILL to the whole process group (nothing
   * flushed on the way out), and fails unless nothing of them is left.
   */
  async function stopProxy(proxy: Proxy, kill = false): Promise<void> {
    const pid = proxy.group.child.pid as number;
    if (kill) {
      process.kill(-pid, "SIGKILL");
      await proxy.group.exited;
      await runtimes.stopGroup(proxy.group, STOP_GRACE_MS);
    } else {
      await runtimes.stopGroup(proxy.group, STOP_GRACE_MS);
    }
    expect(() => process.kill(-pid, 0), "wrangler dev's process group is gone").toThrow();
    await expect(
      fetch(`${proxy.url}/healthz`, { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow();
    expect(processesMatching(new RegExp(`--port[= ]${proxy.port}\\b`))).toEqual([]);
  }

  const tokenStatus = async (proxy: Proxy, token: string) => {
    const response = await fetch(`${proxy.url}/v1/fungame/token-status`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body;
  };

  const logout = (proxy: Proxy, token: string) =>
    fetch(`${proxy.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });

  it.each([
    ["stopped (SIGTERM)", false],
    ["killed (SIGKILL)", true],
  ] as const)(
    "survives wrangler dev %s and started again: still revoked, and a logout is done already without calling FunGame",
    async (_, kill) => {
      const stateDir = await mkdtemp(join(tmpdir(), "edge-proxy-persist-state-"));
      folders.push(stateDir);
      const sims = simulators as Simulators;
      const fungame = sims.sims.fungame;
      const logoutCalls = () => fungame.calls.filter((call) => call.path === LOGOUT_PATH).length;

      // First run: log a token out through the proxy.
      const first = await startProxy(stateDir);
      const token = await sims.fungameToken();
      const jti = jtiOf(token);
      expect(await tokenStatus(first, token)).toEqual({ active: true });

      const before = logoutCalls();
      const response = await logout(first, token);
      const body = await json(response);
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({
        vendor: "fungame",
        ok: true,
        alreadyLoggedOut: false,
        result: { denyListed: true },
      });
      expect(logoutCalls()).toBe(before + 1);
      expect(fungame.isRevoked(jti)).toBe(true);
      expect(await tokenStatus(first, token)).toEqual({ active: false, reason: "revoked" });

      // wrangler dev stops completely, and FunGame restarts, forgetting its revocations.
      await stopProxy(first, kill);
      fungame.restart();
      expect(fungame.isRevoked(jti)).toBe(false);
      expect(fungame.state().revokedJtis).toEqual([]);

      // Second run on the same state folder.
      const second = await startProxy(stateDir);
      expect(await tokenStatus(second, token)).toEqual({ active: false, reason: "revoked" });
      // A token never logged out is still active there: the answer above is the deny-list's.
      const fresh = await sims.fungameToken();
      expect(await tokenStatus(second, fresh)).toEqual({ active: true });

      const callsBefore = fungame.calls.length;
      const again = await logout(second, token);
      const done = await json(again);
      expect(again.status, JSON.stringify(done)).toBe(200);
      expect(done).toEqual({
        vendor: "fungame",
        ok: true,
        alreadyLoggedOut: true,
        result: { denyListed: true },
      });
      expect(fungame.calls.length, "a listed token's logout must not reach FunGame").toBe(
        callsBefore,
      );
      expect(fungame.isRevoked(jti)).toBe(false);
    },
    2 * READY_TIMEOUT_MS + 60_000,
  );
});
