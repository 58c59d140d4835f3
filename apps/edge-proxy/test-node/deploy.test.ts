// `npm run deploy:dry-run`: `wrangler deploy --dry-run --outdir` builds the Worker bundle and its size is printed.
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessGroup, runtimes } from "./harness.ts";

const SCRIPT = "scripts/deploy-dry-run.mjs";
/** Copying the /docs assets, bundling with esbuild and wrangler's checks. */
const DRY_RUN_TIMEOUT_MS = 90_000;

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

describe("npm run deploy:dry-run", () => {
  let group: ProcessGroup | undefined;
  let outdir: string;

  beforeAll(async () => {
    outdir = await mkdtemp(join(tmpdir(), "edge-proxy-deploy-"));
  });

  afterAll(async () => {
    if (group) await runtimes.stopGroup(group);
    await rm(outdir, { recursive: true, force: true });
  });

  it(
    "`wrangler deploy --dry-run --outdir` works and the bundle size is printed",
    async () => {
      const manifest = JSON.parse(await readFile(join(runtimes.APP, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      };
      expect(manifest.scripts["deploy:dry-run"]).toBe(`node ${SCRIPT}`);

      // The script keeps a folder it is given, so the bundle can be inspected here.
      group = runtimes.spawnGroup(process.execPath, [join(runtimes.APP, SCRIPT), outdir], {
        env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
      });
      const exit = await Promise.race([
        group.exited,
        runtimes.sleep(DRY_RUN_TIMEOUT_MS).then(() => "still running" as const),
      ]);
      const output = group.output.join("\n");
      expect(exit, output).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/--dry-run: exiting now/);

      // The Worker script, with the entry's default export and the Durable Object class.
      const files = (await readdir(outdir)).sort();
      expect(files, output).toContain("worker.js");
      const worker = await readFile(join(outdir, "worker.js"), "utf8");
      expect(worker.length).toBeGreaterThan(0);
      expect(worker).toMatch(/export\s*\{[^}]*\bDenyListObject\b[^}]*\bas default\b[^}]*\}/);

      // wrangler's own size line, and the script's, which must match the files written.
      expect(output).toMatch(/^Total Upload: \d+(\.\d+)? KiB \/ gzip: \d+(\.\d+)? KiB$/m);
      let total = 0;
      for (const name of files.filter((file) => !file.endsWith(".map"))) {
        total += (await stat(join(outdir, name))).size;
      }
      const workerSize = (await stat(join(outdir, "worker.js"))).size;
      expect(output).toMatch(
        new RegExp(`^ {2}worker\\.js: ${kib(workerSize)} KiB \\(gzip \\d+\\.\\d KiB\\)$`, "m"),
      );
      const sizeLine = /^bundle size: (\d+\.\d) KiB, gzip (\d+\.\d) KiB$/m.exec(output);
      expect(sizeLine, output).not.toBeNull();
      expect(sizeLine?.[1]).toBe(kib(total));
      expect(Number(sizeLine?.[2])).toBeGreaterThan(0);
      expect(Number(sizeLine?.[2])).toBeLessThan(Number(sizeLine?.[1]));
    },
    DRY_RUN_TIMEOUT_MS + 15_000,
  );
});
