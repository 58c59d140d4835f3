// The Deno KV stores' tests (test-deno/), run by the real deno binary on real KV files: each file's
// Deno tests all pass, or this fails with Deno's output.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimes } from "./harness.ts";

const FILES = [
  "expiring-set.test.ts",
  "rate-limiter.test.ts",
  "outbox.test.ts",
  "registry.test.ts",
];

/** No Deno test file takes nearly this long; a hung one is killed. */
const DENO_TIMEOUT_MS = 50_000;

/** Runs `deno test` on one file, its KV files under `temp`; answers its exit code and output. */
function denoTest(file: string, temp: string): Promise<{ code: number | null; output: string }> {
  const { command, env } = runtimes.entryCommand("deno");
  const args = [
    "test",
    "--unstable-kv",
    "--no-lock",
    // tsc checks these files (tsconfig.node.json); Deno's own check would meet their local Deno types.
    "--no-check",
    `--allow-read=${runtimes.ROOT},${temp}`,
    `--allow-write=${temp}`,
    join(runtimes.APP, "test-deno", file),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: runtimes.APP,
      env: { ...process.env, ...env, TMPDIR: temp },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const chunks: string[] = [];
    child.stdout.on("data", (chunk) => chunks.push(String(chunk)));
    child.stderr.on("data", (chunk) => chunks.push(String(chunk)));
    const timer = setTimeout(() => child.kill("SIGKILL"), DENO_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output: chunks.join("") });
    });
  });
}

describe("the Deno KV stores, on deno", () => {
  let temp: string;

  beforeAll(async () => {
    temp = await mkdtemp(join(tmpdir(), "edge-proxy-deno-kv-"));
  });

  afterAll(async () => {
    await rm(temp, { recursive: true, force: true });
  });

  it.each(FILES)("test-deno/%s passes", async (file) => {
    const { code, output } = await denoTest(file, temp);
    expect(code, output).toBe(0);
    const summary = /^ok \| (\d+) passed \| 0 failed/m.exec(output);
    expect(summary, output).not.toBeNull();
    const ran = [...output.matchAll(/^running (\d+) tests? from /gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    expect(Number(summary?.[1]), output).toBe(ran);
    expect(ran, output).toBeGreaterThan(3);
  });
});
