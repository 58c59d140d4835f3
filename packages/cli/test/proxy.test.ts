// The command through a running edge proxy (its Node entry, stores in memory) in front of the four
// vendor simulators: every session ended once, the caller refused, the proxy pacing, a redirect.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_NOT_ALL_ENDED, EXIT_OK } from "../src/report.ts";
import {
  MEMBER_OF,
  type Member,
  sessionKey,
  VENDOR_NAMES,
  type VendorName,
} from "../src/sessions.ts";
import {
  type CommandRun,
  type Front,
  type RunningProxy,
  runCommand,
  startFront,
  startProxy,
  workFolder,
  writeList,
} from "./proxy-harness.ts";
import { type Served, serve, startVendors, type Vendors } from "./simulators.ts";

const SESSIONS = 200;
const CAPACITY = 4 * SESSIONS;

let vendors: Vendors;
let proxy: RunningProxy;
let folder: Awaited<ReturnType<typeof workFolder>>;
let lists = 0;

beforeAll(async () => {
  vendors = await startVendors(CAPACITY);
  proxy = await startProxy(vendors.env);
  folder = await workFolder();
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await vendors?.close();
  await folder?.remove();
});

/** A list of `count` fresh sessions of every vendor, written to a file of its own. */
async function freshList(
  count: number,
): Promise<{ path: string; lines: Record<string, unknown>[] }> {
  const lines = await vendors.lines(count);
  lists++;
  const path = join(folder.path, `sessions-${lists}.jsonl`);
  await writeList(path, lines);
  return { path, lines };
}

/** Every value in these lines that is a credential (tokens, session tokens), and the given ones. */
function secretsIn(lines: readonly Record<string, unknown>[], more: readonly string[]): string[] {
  const out = [...more];
  for (const line of lines) {
    const fungame = line.fungame as { token: string };
    const sdkAuth = line.sdkAuth as { sessionToken: string };
    const lancens = line.lancens as { token: string };
    out.push(fungame.token, sdkAuth.sessionToken, lancens.token);
  }
  return out;
}

/**
 * Fails naming where a secret showed, never the secret itself. The failures file is left out: it is
 * a session list to rerun, tokens and all.
 */
function expectNoSecret(run: CommandRun, secrets: readonly string[]): void {
  for (const [where, text] of Object.entries({
    stdout: run.stdout,
    stderr: run.stderr,
    journal: run.journal,
  })) {
    const leaked = secrets.filter((secret) => text.includes(secret)).length;
    expect(leaked, `credentials in ${where}`).toBe(0);
  }
}

/** The journal's `done` records' session keys. */
function endedKeys(journal: string): Set<string> {
  const keys = new Set<string>();
  for (const line of journal.split("\n")) {
    if (line === "") continue;
    const record = JSON.parse(line) as { t: string; k?: string };
    if (record.t === "done" && typeof record.k === "string") keys.add(record.k);
  }
  return keys;
}

async function keysOf(
  lines: readonly Record<string, unknown>[],
  vendor: VendorName,
): Promise<string[]> {
  return Promise.all(lines.map((line) => sessionKey(vendor, line[MEMBER_OF[vendor]] as Member)));
}

/** How many of these lines' sessions each vendor's simulator saw ended, and how many times. */
function endingsOf(lines: readonly Record<string, unknown>[]): Record<VendorName, number[]> {
  const endings = vendors.endings();
  const out = {} as Record<VendorName, number[]>;
  for (const vendor of VENDOR_NAMES) {
    out[vendor] = lines.map(
      (line) => endings[vendor].get(vendors.keyOf(vendor, line[MEMBER_OF[vendor]])) ?? 0,
    );
  }
  return out;
}

const once = (count: number) => Array.from({ length: count }, () => 1);
const never = (count: number) => Array.from({ length: count }, () => 0);

describe("x-logout --proxy against a running edge proxy", () => {
  it("ends every session of every vendor exactly once; the proxy then calls the FunGame tokens revoked", async () => {
    const { path, lines } = await freshList(SESSIONS);
    const run = await runCommand(path, ["--proxy", proxy.url, "--concurrency", "16"], {
      X_LOGOUT_PROXY_KEY: proxy.apiKey,
    });
    expect(run.code, run.stderr + run.stdout).toBe(EXIT_OK);
    const endings = endingsOf(lines);
    for (const vendor of VENDOR_NAMES) expect(endings[vendor], vendor).toEqual(once(SESSIONS));
    expect(endedKeys(run.journal).size).toBe(4 * SESSIONS);

    const statuses = await Promise.all(
      lines.map(async (line) => {
        const response = await fetch(`${proxy.url}/v1/fungame/token-status`, {
          headers: { authorization: `Bearer ${(line.fungame as { token: string }).token}` },
        });
        return { status: response.status, body: await response.json() };
      }),
    );
    for (const answer of statuses) {
      expect(answer).toEqual({ status: 200, body: { active: false, reason: "revoked" } });
    }
    expectNoSecret(run, secretsIn(lines, [proxy.apiKey]));
  }, 120_000);

  it("halts eBET when the proxy refuses the caller key, records none of its sessions as ended, and a rerun with the right key ends them", async () => {
    const count = 40;
    const { path, lines } = await freshList(count);
    const wrongKey = `cli_wrong_${"0".repeat(24)}`;
    const refused = await runCommand(path, ["--proxy", proxy.url], {
      X_LOGOUT_PROXY_KEY: wrongKey,
    });
    expect(refused.code, refused.stderr + refused.stdout).toBe(EXIT_NOT_ALL_ENDED);
    expect(refused.stdout + refused.stderr).toMatch(/eBET[^\n]*(stopped|halted)/i);
    const ebetKeys = await keysOf(lines, "ebet");
    const ended = endedKeys(refused.journal);
    expect(ebetKeys.filter((key) => ended.has(key))).toEqual([]);
    expect(endingsOf(lines).ebet).toEqual(never(count));
    expectNoSecret(refused, secretsIn(lines, [proxy.apiKey, wrongKey]));

    const rerun = await runCommand(path, ["--proxy", proxy.url], {
      X_LOGOUT_PROXY_KEY: proxy.apiKey,
    });
    expect(rerun.code, rerun.stderr + rerun.stdout).toBe(EXIT_OK);
    const endings = endingsOf(lines);
    for (const vendor of VENDOR_NAMES) expect(endings[vendor], vendor).toEqual(once(count));
    const endedNow = endedKeys(rerun.journal);
    expect(ebetKeys.filter((key) => !endedNow.has(key))).toEqual([]);
    expectNoSecret(rerun, secretsIn(lines, [proxy.apiKey, wrongKey]));
  }, 120_000);

  describe("behind a front", () => {
    let front: Front;
    let elsewhere: Served;
    let elsewhereSeen = 0;

    beforeAll(async () => {
      front = await startFront(proxy.url);
      elsewhere = await serve(() => {
        elsewhereSeen++;
        return new Response(JSON.stringify({ results: {} }), {
          headers: { "content-type": "application/json" },
        });
      });
    });
    afterAll(async () => {
      await front?.close();
      await elsewhere?.close();
    });

    it("waits out the proxy's 429s (Retry-After) and then ends every session", async () => {
      const count = 30;
      const { path, lines } = await freshList(count);
      // Per vendor (the member a request names): when it was refused, and how long until its next request.
      const refusedAt = new Map<string, number>();
      const gaps: number[] = [];
      let refusals = 0;
      front.setFault(async (request) => {
        const [member] = Object.keys((await request.json()) as Record<string, unknown>);
        const at = performance.now();
        const since = refusedAt.get(member as string);
        if (since !== undefined) {
          gaps.push(at - since);
          refusedAt.delete(member as string);
        }
        if (refusals >= 8) return undefined;
        refusals++;
        refusedAt.set(member as string, performance.now());
        return Response.json(
          { code: "RATE_LIMITED" },
          { status: 429, headers: { "retry-after": "1" } },
        );
      });
      try {
        // One attempt in flight per vendor: its next request follows the answer it waited on.
        const run = await runCommand(path, ["--proxy", front.url, "--concurrency", "1"], {
          X_LOGOUT_PROXY_KEY: proxy.apiKey,
        });
        expect(run.code, run.stderr + run.stdout).toBe(EXIT_OK);
        expect(refusals).toBe(8);
        expect(gaps).toHaveLength(8);
        // Retry-After: 1 holds the vendor back at least a second (less a timer's coarseness).
        for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(950);
        const endings = endingsOf(lines);
        for (const vendor of VENDOR_NAMES) expect(endings[vendor], vendor).toEqual(once(count));
        expectNoSecret(run, secretsIn(lines, [proxy.apiKey]));
      } finally {
        front.setFault(undefined);
      }
    }, 120_000);

    it("never follows a 302: the redirect target gets no request and nothing is taken as ended", async () => {
      const count = 10;
      const { path, lines } = await freshList(count);
      front.setFault(
        () =>
          new Response(null, { status: 302, headers: { location: `${elsewhere.url}/v1/logout` } }),
      );
      try {
        const run = await runCommand(path, ["--proxy", front.url], {
          X_LOGOUT_PROXY_KEY: proxy.apiKey,
        });
        expect(run.code, run.stderr + run.stdout).toBe(EXIT_NOT_ALL_ENDED);
        expect(elsewhereSeen).toBe(0);
        expect(endedKeys(run.journal).size).toBe(0);
        expect(run.stdout + run.stderr).toMatch(/REDIRECT/);
        const endings = endingsOf(lines);
        for (const vendor of VENDOR_NAMES) expect(endings[vendor], vendor).toEqual(never(count));
        expectNoSecret(run, secretsIn(lines, [proxy.apiKey]));
      } finally {
        front.setFault(undefined);
      }
    }, 60_000);
  });
});
