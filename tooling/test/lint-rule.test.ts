import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without declarations
import { ROOT } from "../toolchain.mjs";

// A scratch tree with the repository's own biome.json (minus the git integration it cannot use there).
const scratch = mkdtempSync(join(tmpdir(), "x-lint-"));
const config = JSON.parse(readFileSync(join(ROOT, "biome.json"), "utf8"));
config.vcs = { enabled: false };
writeFileSync(join(scratch, "biome.json"), JSON.stringify(config));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
/** Lints `source` placed at `path` in the scratch tree. */
function lint(path: string, source: string) {
  const dir = join(scratch, `case${counter++}`);
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(join(dir, "biome.json"), JSON.stringify({ ...config, root: false, extends: "//" }));
  writeFileSync(file, source);
  const biome = join(ROOT, "node_modules", ".bin", "biome");
  const result = spawnSync(biome, ["lint", path], { cwd: dir, encoding: "utf8" });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe("the runtime-neutrality lint rule for packages/*/src", () => {
  const inPackage = "packages/core-signing/src/probe.ts";

  it.each([
    [
      'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
      "noNodejsModules",
    ],
    ['import crypto from "crypto";\nexport const c = crypto;\n', "noNodejsModules"],
    ['export const bytes = Buffer.from("x");\n', "noRestrictedGlobals"],
    ["export const env = process.env.SECRET;\n", "noRestrictedGlobals"],
  ])("fails on %j", (source, rule) => {
    const result = lint(inPackage, source);
    expect(result.output).toContain(rule);
    expect(result.status).not.toBe(0);
  });

  it("passes web-platform code", () => {
    const result = lint(
      inPackage,
      'export const bytes: Uint8Array = new TextEncoder().encode("x");\n',
    );
    expect(result.output).not.toContain("lint/");
    expect(result.status).toBe(0);
  });

  it("leaves code outside packages/*/src alone", () => {
    const result = lint("apps/edge-proxy/src/entry/node.ts", "export const env = process.env.X;\n");
    expect(result.output).not.toContain("noRestrictedGlobals");
    expect(result.status).toBe(0);
  });
});
