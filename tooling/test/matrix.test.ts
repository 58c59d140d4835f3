// The conformance matrix fails a runtime that runs fewer cases than the suite registers, and the build
// counts the suite's cases for it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cases } from "../conformance/suite.ts";
// @ts-expect-error: plain JavaScript module without declarations
import { cliRuntime, expectedCases, runMatrix } from "../runtimes/matrix.mjs";
// @ts-expect-error: plain JavaScript module without declarations
import { ROOT } from "../toolchain.mjs";

const scratch = mkdtempSync(join(tmpdir(), "x-matrix-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
/** A runtime stub: a Node process that prints the CONFORMANCE line of a run of `passed` and `failed`. */
function stub(name: string, passed: number, failed = 0) {
  const script = join(scratch, `stub${counter++}.mjs`);
  const failures = Array.from({ length: failed }, (_, i) => ({
    name: `case ${i}`,
    error: "broke",
  }));
  const report = { runtime: name, passed, failed, failures };
  writeFileSync(
    script,
    `console.log(${JSON.stringify(`CONFORMANCE ${JSON.stringify(report)}`)});\n`,
  );
  return cliRuntime(name, () => process.execPath, [script]);
}

async function matrix(runtimes: unknown[], expected: number) {
  const lines: string[] = [];
  const code = await runMatrix(runtimes, expected, (line: string) => lines.push(line));
  return { code, output: lines.join("\n") };
}

const { VENDORS: LISTED } = (await import(
  new URL("../../apps/edge-proxy/src/vendors/index.ts", import.meta.url).href
)) as { VENDORS: readonly { name: string }[] };

describe("the conformance suite", () => {
  it("has cases for core and for every vendor of the proxy's list: a new vendor cannot be left out", () => {
    const perPackage = new Map<string, number>();
    for (const { name } of cases) {
      const owner = name.split(" › ")[0] ?? "";
      perPackage.set(owner, (perPackage.get(owner) ?? 0) + 1);
    }
    for (const owner of ["core-signing", ...LISTED.map((vendor) => vendor.name)]) {
      expect(perPackage.get(owner) ?? 0, owner).toBeGreaterThanOrEqual(10);
    }
  });
});

describe("the conformance matrix", () => {
  it("passes when every runtime passes every case", async () => {
    const { code, output } = await matrix([stub("node24", 5), stub("bun", 5)], 5);
    expect(output).toContain("node24: 5 passed, 0 failed\nbun: 5 passed, 0 failed");
    expect(code).toBe(0);
  });

  it("fails a runtime that reports fewer cases than the suite holds, and says how many of how many", async () => {
    const { code, output } = await matrix([stub("node24", 5), stub("deno", 3)], 5);
    expect(output).toContain("deno: 3 passed, 0 failed (ran 3 of 5 cases)");
    expect(output).toContain("FAIL deno: ran 3 of 5 cases");
    expect(output).not.toContain("FAIL node24");
    expect(code).toBe(1);
  });

  it("fails a runtime that ran nothing: 0 passed, 0 failed is no success", async () => {
    const { code, output } = await matrix([stub("workerd", 0)], 114);
    expect(output).toContain("FAIL workerd: ran 0 of 114 cases");
    expect(code).toBe(1);
  });

  it("fails a runtime that reports more cases than the suite holds", async () => {
    const { code, output } = await matrix([stub("bun", 6)], 5);
    expect(output).toContain("FAIL bun: ran 6 of 5 cases");
    expect(code).toBe(1);
  });

  it("fails on failed cases even when the count is right", async () => {
    const { code, output } = await matrix([stub("node20", 4, 1)], 5);
    expect(output).toContain("node20: FAIL case 0");
    expect(output).toContain("node20: 4 passed, 1 failed");
    expect(code).toBe(1);
  });

  it("refuses to run without the suite's count", () => {
    expect(() => expectedCases(join(scratch, "missing.json"))).toThrow(/build the tooling first/);
    const zero = join(scratch, "zero.json");
    writeFileSync(zero, '{ "count": 0 }');
    expect(() => expectedCases(zero)).toThrow(/no case count of at least 1/);
  });
});

describe("the conformance build", () => {
  it("counts every case the suite registers", () => {
    const outdir = join(scratch, "dist");
    const built = spawnSync(process.execPath, ["conformance/build.mjs", outdir], {
      cwd: join(ROOT, "tooling"),
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(built.stderr).toBe("");
    expect(built.status).toBe(0);
    const file = join(outdir, "conformance-cases.json");
    const written = JSON.parse(readFileSync(file, "utf8"));
    expect(cases.length).toBeGreaterThan(100);
    expect(expectedCases(file)).toBe(cases.length);
    expect(written.names).toEqual(cases.map((testCase) => testCase.name));
  });
});
