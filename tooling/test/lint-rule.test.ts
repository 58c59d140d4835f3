import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without declarations
import { ROOT } from "../toolchain.mjs";

// A scratch tree with the repository's own biome.json (minus the git integration it cannot use there,
// its plugins named by their place in the repository).
const scratch = mkdtempSync(join(tmpdir(), "x-lint-"));
const config = JSON.parse(readFileSync(join(ROOT, "biome.json"), "utf8"));
config.vcs = { enabled: false };
config.plugins = (config.plugins as string[]).map((plugin) => join(ROOT, plugin));
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

describe("the rule that every test runs, every time", () => {
  const places = [
    "packages/ebet/test/probe.test.ts",
    "apps/edge-proxy/test-node/probe.test.ts",
    "tooling/test/probe.test.ts",
  ];
  const header = 'import { describe, it, test } from "vitest";\n';

  it.each([
    ['it.only("runs alone", () => {});\n', "noFocusedTests"],
    ['describe.only("runs alone", () => {});\n', "noFocusedTests"],
    ['it.only.each([1])("runs alone %s", () => {});\n', "noFocusedTests"],
    ['test.sequential.only("runs alone", () => {});\n', "Every test runs, every time"],
    ['it.skip("never runs", () => {});\n', "noSkippedTests"],
    ['describe.skip("never runs", () => {});\n', "noSkippedTests"],
    ['describe.skip.each([1])("never runs %s", () => {});\n', "Every test runs, every time"],
    ['test.skipIf(process.platform === "win32")("runs sometimes", () => {});\n', "skipIf"],
    ['it.runIf(process.env.BUN)("runs sometimes", () => {});\n', "runIf"],
    ['it.concurrent.skipIf(true)("runs sometimes", () => {});\n', "skipIf"],
    ['it.todo("runs later");\n', "todo"],
  ])("fails on %j wherever tests live", (source, rule) => {
    for (const place of places) {
      const result = lint(place, header + source);
      expect(result.output, place).toContain(rule);
      expect(result.status, place).not.toBe(0);
    }
  });

  it("passes tests that always run, and members that merely share the names", () => {
    const result = lint(
      places[0] as string,
      `${header}describe("all", () => {\n  it.each([1, 2])("runs %s", () => {});\n  test("runs", () => {});\n});\n` +
        "const plan = { only: 1, skip: 2, todo: 3 };\nexport const total = plan.only + plan.skip + plan.todo;\n",
    );
    expect(result.output).not.toContain("lint/");
    expect(result.output).not.toContain("plugin");
    expect(result.status).toBe(0);
  });
});
