// The committed Env of wrangler.toml's bindings is what `npm run types` (wrangler's type generator) makes of it now.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runtimes } from "./harness.ts";

const SCRIPT = "scripts/worker-types.mjs";
const COMMITTED = "src/adapters/workers/worker-configuration.d.ts";
/** Reading wrangler.toml and the entry's exports; no network. */
const GENERATE_TIMEOUT_MS = 45_000;

describe("npm run types", () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "edge-proxy-types-"));
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it(
    `${COMMITTED} is what wrangler generates from wrangler.toml now`,
    async () => {
      const manifest = JSON.parse(await readFile(join(runtimes.APP, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      };
      expect(manifest.scripts.types).toBe(`node ${SCRIPT}`);

      const out = join(folder, "worker-configuration.d.ts");
      execFileSync(process.execPath, [join(runtimes.APP, SCRIPT), out], {
        cwd: runtimes.APP,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
        timeout: GENERATE_TIMEOUT_MS,
        stdio: "pipe",
      });
      const generated = await readFile(out, "utf8");
      // Every Durable Object binding typed with the entry's export of its class, not left untyped.
      for (const binding of ["DENY_LIST", "LOGOUT_OUTBOX", "OPEN_JOBS", "REPLAY_GUARD"]) {
        expect(generated).toMatch(
          new RegExp(
            `\\b${binding}: DurableObjectNamespace<import\\("\\.\\./\\.\\./entry/worker"\\)\\.`,
          ),
        );
      }
      const committed = await readFile(join(runtimes.APP, COMMITTED), "utf8");
      expect(committed, "stale: run `npm run types` in apps/edge-proxy and commit the file").toBe(
        generated,
      );
    },
    GENERATE_TIMEOUT_MS + 5_000,
  );
});
