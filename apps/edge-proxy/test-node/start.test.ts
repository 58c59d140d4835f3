// `npm start`: simulators + wrangler dev, the printed curls work as printed, and Ctrl-C leaves nothing behind.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VENDORS as LISTED } from "../src/vendors/index.ts";
import { type ProcessGroup, processesMatching, runtimes, waitForLine } from "./harness.ts";

const run = promisify(execFile);
const START_SCRIPT = join(runtimes.APP, "scripts", "start.mjs");
const NPM_START = join(runtimes.ROOT, "tooling", "start.mjs");
/** wrangler dev's first start bundles the worker and boots workerd. */
const READY_TIMEOUT_MS = 100_000;
const STOP_TIMEOUT_MS = 20_000;

/** Every vendor of the proxy's list, by name and by member (the simulators are listed by member). */
const VENDORS = LISTED.map((vendor) => vendor.name);
/** The universal-logout demo's curl is printed under this heading, beside the vendors'. */
const UNIVERSAL = "universal-logout";
const MEMBERS = LISTED.map((vendor) => vendor.member);

interface Printed {
  proxyUrl: string;
  docsUrl: string;
  curls: Map<string, string>;
  simulatorUrls: string[];
}

/** What the start script printed: the proxy and /docs URLs, one curl per vendor, the simulators' URLs. */
function parseOutput(lines: string[]): Printed {
  const text = lines.join("\n");
  const proxyUrl = /is ready: (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
  const docsUrl = /API reference:\s+(\S+)/.exec(text)?.[1];
  if (!proxyUrl || !docsUrl) throw new Error(`no proxy or /docs URL in:\n${text}`);
  const curls = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const vendor = /^# ([a-z-]+) \(checked: /.exec(lines[i] ?? "")?.[1];
    const next = lines[i + 1] ?? "";
    if (vendor && next.startsWith("curl ")) curls.set(vendor, next);
  }
  const simulatorUrls = lines
    .map((line) => /^\s+(\w+)\s+(http:\/\/127\.0\.0\.1:\d+)$/.exec(line))
    .filter((match) => match !== null && MEMBERS.includes(match[1] as string))
    .map((match) => (match as RegExpExecArray)[2] as string);
  return { proxyUrl, docsUrl, curls, simulatorUrls };
}

function portOf(url: string): string {
  return new URL(url).port;
}

async function exitWithin(group: ProcessGroup, ms: number) {
  return Promise.race([
    group.exited,
    runtimes.sleep(ms).then(() => ({ code: "still running", signal: null })),
  ]);
}

/** Fails unless nothing listens at the URL any more and no process mentions its port. */
async function expectGone(url: string) {
  await expect(fetch(url, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  const port = portOf(url);
  const left = processesMatching(new RegExp(`127\\.0\\.0\\.1:${port}\\b|--port[= ]${port}\\b`));
  expect(left, `processes left behind for ${url}`).toEqual([]);
}

describe("scripts/start.mjs with START_EXIT_AFTER_READY=1", () => {
  let group: ProcessGroup | undefined;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "edge-proxy-state-"));
  });
  afterAll(async () => {
    if (group) await runtimes.stopGroup(group);
    await rm(stateDir, { recursive: true, force: true });
  });

  it(
    "starts everything, checks one curl per vendor, prints them, and stops everything",
    async () => {
      group = runtimes.spawnGroup(process.execPath, [START_SCRIPT], {
        env: { START_EXIT_AFTER_READY: "1", EDGE_PROXY_STATE_DIR: stateDir },
      });
      const exit = await exitWithin(group, READY_TIMEOUT_MS + STOP_TIMEOUT_MS);
      const output = group.output;
      expect(exit, output.join("\n")).toEqual({ code: 0, signal: null });
      const printed = parseOutput(output);
      expect([...printed.curls.keys()].sort()).toEqual([...VENDORS, UNIVERSAL].sort());
      for (const vendor of [...VENDORS, UNIVERSAL]) {
        const heading = output.find((line) => line.startsWith(`# ${vendor} (checked: `));
        expect(heading).toBe(`# ${vendor} (checked: ok)`);
      }
      expect(printed.docsUrl).toBe(`${printed.proxyUrl}/docs`);
      expect(output).toContain("start: stopped");
      expect(printed.simulatorUrls).toHaveLength(MEMBERS.length);
      for (const url of [printed.proxyUrl, ...printed.simulatorUrls]) await expectGone(url);
      // Nothing secret is printed but the demo's own credentials inside the curls.
      expect(output.join("\n")).not.toMatch(/BEGIN (RSA )?PRIVATE KEY/);
    },
    READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 15_000,
  );
});

describe("`npm start` (tooling/start.mjs) until Ctrl-C", () => {
  let group: ProcessGroup | undefined;
  let printed: Printed;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "edge-proxy-state-"));
    group = runtimes.spawnGroup(process.execPath, [NPM_START], {
      env: { EDGE_PROXY_STATE_DIR: stateDir },
    });
    await waitForLine(group, /^Press Ctrl-C/, READY_TIMEOUT_MS);
    printed = parseOutput(group.output);
  }, READY_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (group) await runtimes.stopGroup(group);
    await rm(stateDir, { recursive: true, force: true });
  });

  it("prints one curl per vendor, each logging a live session out as printed", async () => {
    expect(existsSync("/usr/bin/curl") || existsSync("/bin/curl"), "curl is needed").toBe(true);
    expect([...printed.curls.keys()].sort()).toEqual([...VENDORS, UNIVERSAL].sort());
    for (const [vendor, command] of printed.curls) {
      if (vendor === UNIVERSAL) continue;
      const { stdout } = await run("sh", ["-c", command], { timeout: 20_000 });
      const body = JSON.parse(stdout) as Record<string, unknown>;
      expect(body, `${vendor}: ${stdout}`).toMatchObject({
        vendor,
        ok: true,
        alreadyLoggedOut: false,
      });
    }
  });

  it("prints a back-channel logout curl that the Node entry takes once, as printed", async () => {
    const command = printed.curls.get(UNIVERSAL) as string;
    expect(command).toMatch(/\/v1\/backchannel-logout /);
    const first = await run("sh", ["-c", command], { timeout: 20_000 });
    expect(first.stdout.trim()).toBe("200");
    // Its jti was accepted: the same logout token again is refused.
    const again = await run("sh", ["-c", command], { timeout: 20_000 });
    expect(again.stdout.trim()).toBe("400");
  });

  it("serves /docs and /openapi.json", async () => {
    const docs = await fetch(printed.docsUrl);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/<html/i);
    const openapi = await fetch(`${printed.proxyUrl}/openapi.json`);
    expect(openapi.status).toBe(200);
  });

  it("stops wrangler, workerd and the simulators on Ctrl-C (SIGINT), leaving no process", async () => {
    const running = group as ProcessGroup;
    process.kill(running.child.pid as number, "SIGINT");
    const exit = await exitWithin(running, STOP_TIMEOUT_MS);
    expect(exit, running.output.slice(-30).join("\n")).toEqual({ code: 0, signal: null });
    expect(running.output).toContain("start: stopped");
    for (const url of [printed.proxyUrl, ...printed.simulatorUrls]) await expectGone(url);
  });
});
