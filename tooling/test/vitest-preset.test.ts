// The shared vitest preset refuses a focused test: a committed `.only` fails the run, CI or not.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without declarations
import { ROOT } from "../toolchain.mjs";

const scratch = mkdtempSync(join(tmpdir(), "x-preset-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
/** Runs vitest with the shared preset on one test file, outside CI. */
function runPreset(source: string) {
  const dir = join(scratch, `case${counter++}`);
  mkdirSync(join(dir, "test"), { recursive: true });
  symlinkSync(join(ROOT, "tooling", "node_modules"), join(dir, "node_modules"), "dir");
  const preset = JSON.stringify(join(ROOT, "tooling", "vitest.preset.ts"));
  writeFileSync(
    join(dir, "vitest.config.mjs"),
    `import { preset } from ${preset};\nexport default preset;\n`,
  );
  writeFileSync(join(dir, "test", "probe.test.ts"), source);
  const vitest = join(ROOT, "tooling", "node_modules", ".bin", "vitest");
  const env = { ...process.env };
  delete env.CI;
  const result = spawnSync(vitest, ["run", "--config", "vitest.config.mjs"], {
    cwd: dir,
    encoding: "utf8",
    env,
    timeout: 120_000,
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe("the shared vitest preset", () => {
  it("fails a run that holds a focused test, outside CI too", () => {
    const result = runPreset(
      'import { it } from "vitest";\nit.only("alone", () => {});\nit("other", () => {});\n',
    );
    expect(result.output).toContain(".only");
    expect(result.status).not.toBe(0);
  });

  it("passes a run of tests that all run", () => {
    const result = runPreset('import { it } from "vitest";\nit("runs", () => {});\n');
    expect(result.output).toContain("1 passed");
    expect(result.status).toBe(0);
  });
});
