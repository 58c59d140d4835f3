import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without declarations
import { NODE_VERSIONS, ROOT } from "../toolchain.mjs";

const emptyCache = mkdtempSync(join(tmpdir(), "x-toolchain-"));
afterAll(() => rmSync(emptyCache, { recursive: true, force: true }));

/**
 * Runs bootstrap.mjs as if on Node 20 (so that it needs Node 24) on `platform`, with an empty
 * toolchain cache, so that it must fetch a Node build for that platform.
 */
function bootstrapOn(platform: string) {
  const fake = [
    'Object.defineProperty(process.versions,"node",{value:"20.0.0"})',
    `Object.defineProperty(process,"platform",{value:${JSON.stringify(platform)}})`,
  ].join(";");
  const args = [
    "--import",
    `data:text/javascript,${fake}`,
    join(ROOT, "tooling", "bootstrap.mjs"),
    "test",
  ];
  return spawnSync(process.execPath, args, {
    encoding: "utf8",
    env: { ...process.env, X_TOOLCHAIN_CACHE: emptyCache, X_SYSTEM_NODE: "" },
  });
}

describe("bootstrap", () => {
  it("pins Node 20 and 24 releases", () => {
    expect(NODE_VERSIONS[20]).toMatch(/^20\.\d+\.\d+$/);
    expect(NODE_VERSIONS[24]).toMatch(/^24\.\d+\.\d+$/);
  });

  it("stops on an unsupported platform with a message that says what to install", () => {
    const result = bootstrapOn("aix");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("This platform (aix-x64)");
    expect(result.stderr).toContain(`Install Node.js ${NODE_VERSIONS[24]} or newer yourself`);
    expect(result.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it("refuses an unknown command before fetching anything", () => {
    const result = spawnSync(
      process.execPath,
      [join(ROOT, "tooling", "bootstrap.mjs"), "deploy-everything"],
      {
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'unknown command "deploy-everything"; one of: test, build, bench, fuzz, start, load',
    );
  });
});
