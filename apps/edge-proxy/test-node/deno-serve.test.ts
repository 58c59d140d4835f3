// The Deno module for `deno serve` and Deno Deploy (export default { fetch }), served by `deno serve`
// itself: its stores in Deno KV, a logout, a revocation kept across a restart, SIGTERM.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  type ProcessGroup,
  runtimes,
  type Simulators,
  START_TIMEOUT_MS,
  startSimulators,
  waitForLine,
} from "./harness.ts";

const REQUEST_TIMEOUT_MS = 15_000;

describe("deno serve on src/entry/deno-serve.ts", () => {
  let simulators: Simulators;
  let dataDir: string;
  const groups: ProcessGroup[] = [];

  beforeAll(async () => {
    simulators = await startSimulators();
    dataDir = await mkdtemp(join(tmpdir(), "edge-proxy-deno-serve-"));
  });

  afterAll(async () => {
    for (const group of groups) await runtimes.stopGroup(group);
    await simulators?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** `deno serve` on a free port, the entry's stores in the test's data directory. */
  async function serve(): Promise<{ url: string; group: ProcessGroup }> {
    const port = await runtimes.freePort();
    const { command, env } = runtimes.entryCommand("deno", { PROXY_DATA_DIR: dataDir });
    const group = runtimes.spawnGroup(
      command,
      [
        "serve",
        "--no-prompt",
        "--no-lock",
        "--unstable-kv",
        "--host=127.0.0.1",
        `--port=${port}`,
        "--allow-env",
        "--allow-net=127.0.0.1",
        `--allow-read=${runtimes.ROOT},${dataDir}`,
        `--allow-write=${dataDir}`,
        join(runtimes.APP, "src", "entry", "deno-serve.ts"),
      ],
      { env: { ...env, ...simulators.env, PROXY_DATA_DIR: dataDir } },
    );
    groups.push(group);
    await waitForLine(group, /Listening on http:\/\/127\.0\.0\.1:\d+/, START_TIMEOUT_MS);
    const url = `http://127.0.0.1:${port}`;
    await runtimes.waitForHttp(`${url}/healthz`, group, START_TIMEOUT_MS);
    return { url, group };
  }

  const tokenStatus = async (url: string, token: string) => {
    const response = await fetch(`${url}/v1/fungame/token-status`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return json(response);
  };

  it("serves the proxy on Deno KV, and a revocation outlives a restart", async () => {
    const first = await serve();
    expect(first.group.output.join("\n")).toMatch(/edge-proxy: stores in Deno KV, \/.*\.kv$/m);
    const token = await simulators.fungameToken();
    const response = await fetch(`${first.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ vendor: "fungame", ok: true, result: { denyListed: true } });

    // SIGTERM while a logout is being answered: it is answered, then the process exits 0.
    const slowToken = await simulators.fungameToken();
    simulators.sims.fungame.faults.set({ delayMs: 1_500, times: 1 });
    const slow = fetch(`${first.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${slowToken}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await runtimes.sleep(300);
    process.kill(-(first.group.child.pid as number), "SIGTERM");
    const answered = await slow;
    expect(answered.status, JSON.stringify(await json(answered))).toBe(200);
    const exit = await Promise.race([
      first.group.exited,
      runtimes.sleep(20_000).then(() => ({ code: "timeout", signal: null })),
    ]);
    expect(exit.code, first.group.output.join("\n")).toBe(0);
    expect(first.group.output).toContain("edge-proxy: stopped");

    simulators.sims.fungame.restart();
    const second = await serve();
    expect(await tokenStatus(second.url, token)).toEqual({ active: false, reason: "revoked" });
  });
});
