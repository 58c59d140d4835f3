// The processes tests, the bench and the load start: they take the proxy's variables only from what
// the caller passes, never from the shell that runs them.
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
