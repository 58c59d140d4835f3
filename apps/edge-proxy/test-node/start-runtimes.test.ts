// The processes tests, the bench and the load start: they take the proxy's variables only from what
// the caller passes, never from the shell that runs them.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runtimes } from "./harness.ts";

const NAMES = [
  "DATABASE_URL",
  "HOST",
  "PORT",
  "SHUTDOWN_GRACE_MS",
  "PROXY_STORE",
  "PROXY_DATA_DIR",
];

describe("spawnGroup", () => {
  const saved = new Map(NAMES.map((name) => [name, process.env[name]]));
  afterEach(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("passes none of the entries' own variables on from the shell, only those it is given", async () => {
    for (const name of NAMES) process.env[name] = `from-the-shell-${name}`;
    const script = `console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(NAMES)}.map((n) => [n, process.env[n] ?? null]))))`;
    const group = runtimes.spawnGroup(process.execPath, ["-e", script], {
      env: { HOST: "0.0.0.0" },
    });
    const exit = await group.exited;
    expect(exit.code, group.output.join("\n")).toBe(0);
    const seen = JSON.parse(group.output.find((line) => line.startsWith("{")) ?? "{}");
    expect(seen).toEqual({
      DATABASE_URL: null,
      HOST: "0.0.0.0",
      PORT: null,
      SHUTDOWN_GRACE_MS: null,
      PROXY_STORE: null,
      PROXY_DATA_DIR: null,
    });
  });
});

describe("the built Node entry", () => {
  it("is the one the tests run, and matches its sources", () => {
    expect(runtimes.builtEntryProblem()).toBeUndefined();
    expect(runtimes.entryCommand("node").args).toEqual([
      join(runtimes.APP, "dist", "node", "node.mjs"),
    ]);
  });

  it("is refused, naming the build, when missing, or built from a file changed or gone since", () => {
    const app = mkdtempSync(join(tmpdir(), "edge-proxy-built-"));
    try {
      expect(runtimes.builtEntryProblem(app)).toMatch(
        /node\.mjs is not built: run `npm run build`/,
      );
      mkdirSync(join(app, "src"));
      mkdirSync(join(app, "dist", "node"), { recursive: true });
      const source = "export const answer = 42;\n";
      writeFileSync(join(app, "src", "a.ts"), source);
      const digest = createHash("sha256").update(source).digest("hex");
      writeFileSync(
        join(app, "dist", "node", "inputs.json"),
        JSON.stringify({ "src/a.ts": digest }),
      );
      expect(runtimes.builtEntryProblem(app)).toMatch(/is not built/);
      writeFileSync(join(app, "dist", "node", "node.mjs"), "");
      expect(runtimes.builtEntryProblem(app)).toBeUndefined();
      writeFileSync(join(app, "src", "a.ts"), source.replace("42", "43"));
      expect(runtimes.builtEntryProblem(app)).toMatch(
        /was built from an older src\/a\.ts: run `npm run build`/,
      );
      rmSync(join(app, "src", "a.ts"));
      expect(runtimes.builtEntryProblem(app)).toMatch(/built from src\/a\.ts, which is gone/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
