// The command end to end against the four vendors' simulators: thousands of sessions on Node, Bun and
// Deno, a kill and a resume, a vendor rate-limiting, a vendor down, Ctrl-C, bad lines and files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VENDOR_NAMES, type VendorName } from "../src/sessions.ts";
import { JSR_ENTRY, journalRecords, RUNTIMES, run, secretsOfLines, sleep, start } from "./run.ts";
import { startVendors, type Vendors } from "./simulators.ts";

let vendors: Vendors;
let dir: string;
let serial = 0;

beforeAll(async () => {
  vendors = await startVendors(20_000);
  dir = mkdtempSync(join(tmpdir(), "x-logout-e2e-"));
});

afterAll(async () => {
  await vendors?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A list of `count` lines, each naming a fresh session of every vendor (or of `only`). */
async function list(count: number, only?: readonly VendorName[]) {
  const lines = await vendors.lines(count, only);
  const path = join(dir, `list-${++serial}.jsonl`);
  writeFileSync(path, lines.map((line) => JSON.stringify(line)).join("\n"));
  return { path, lines };
}

/** How many times each session of these lines was ended at each vendor, from the simulators' logs. */
function endingsOf(lines: readonly Record<string, unknown>[]): Record<string, number[]> {
  const all = vendors.endings();
  const out: Record<string, number[]> = {};
  for (const vendor of VENDOR_NAMES) {
    const member = { ebet: "ebet", fungame: "fungame", "sdk-auth": "sdkAuth", lancens: "lancens" }[
      vendor
    ];
    const counts = lines
      .filter((line) => line[member] !== undefined)
      .map((line) => all[vendor].get(vendors.keyOf(vendor, line[member])) ?? 0);
    out[vendor] = [...new Set(counts)].sort();
  }
  return out;
}

const EXACTLY_ONCE = { ebet: [1], fungame: [1], "sdk-auth": [1], lancens: [1] };

interface SummaryJson {
  ok: boolean;
  invalidLines: number;
  vendors: Record<
    VendorName,
    {
      total: number;
      ended: number;
      already: number;
      failed: number;
      pending: number;
      skipped: number;
      retries: number;
    }
  >;
}

function summaryOf(stdout: string): SummaryJson {
  const line = stdout.split("\n").find((text) => text.startsWith('{"type":"summary"'));
  if (line === undefined) throw new Error(`no summary in ${stdout.slice(-2000)}`);
  return JSON.parse(line) as SummaryJson;
}

/** Outcomes the journal holds so far (0 before it exists). */
function doneCount(path: string): number {
  try {
    return readFileSync(`${path}.journal`, "utf8").split('"t":"done"').length - 1;
  } catch {
    return 0;
  }
}

function expectNoSecrets(texts: readonly string[], lines: readonly Record<string, unknown>[]) {
  const secrets = secretsOfLines(lines);
  for (const text of texts) {
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
  }
}

describe.each(RUNTIMES)("on %s", (runtime) => {
  it("ends 10,000 sessions across the four vendors, each exactly once, and writes no token", async () => {
    const { path, lines } = await list(2_500);
    const result = await run([path, "--json", "--concurrency", "16"], vendors.env, runtime);
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary.ok).toBe(true);
    for (const vendor of VENDOR_NAMES) {
      expect(summary.vendors[vendor]).toMatchObject({
        total: 2_500,
        ended: 2_500,
        failed: 0,
        pending: 0,
      });
    }
    expect(endingsOf(lines)).toEqual(EXACTLY_ONCE);
    const journal = readFileSync(`${path}.journal`, "utf8");
    expect(journal.split("\n").filter((line) => line.includes('"t":"done"'))).toHaveLength(10_000);
    expectNoSecrets([journal, result.stdout, result.stderr], lines);
    // The failures file is there, and empty: nothing to feed back in.
    expect(readFileSync(`${path}.failures.jsonl`, "utf8")).toBe("");
  }, 240_000);
});

describe("the module JSR publishes", () => {
  it("is the command when Deno runs it as its program (deno run -A jsr:@x/cli)", async () => {
    const { path, lines } = await list(50);
    const result = await run([path, "--json"], vendors.env, "deno", undefined, JSR_ENTRY);
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(summaryOf(result.stdout).ok).toBe(true);
    expect(endingsOf(lines)).toEqual(EXACTLY_ONCE);
  }, 120_000);
});

describe("a run killed at a random moment", () => {
  it("resumes from its journal: every session ended exactly once over both runs", async () => {
    const { path, lines } = await list(1_000);
    // SIGKILL once a random share (20 to 80 %) of the outcomes is journaled.
    const share = 0.2 + Math.random() * 0.6;
    const first = start([path, "--progress", "none", "--concurrency", "8"], vendors.env);
    for (let i = 0; i < 2_000 && doneCount(path) < share * 4_000; i++) await sleep(5);
    first.child.kill("SIGKILL");
    const killed = await first.done;
    expect(killed.signal).toBe("SIGKILL");
    const before = journalRecords(`${path}.journal`);
    const doneBefore = before.filter((record) => record.t === "done").length;
    expect(doneBefore).toBeGreaterThan(0);
    expect(doneBefore).toBeLessThan(4_000);

    const second = await run([path, "--json"], vendors.env);
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    const summary = summaryOf(second.stdout);
    const skipped = VENDOR_NAMES.reduce((sum, vendor) => sum + summary.vendors[vendor].skipped, 0);
    // What the first run journaled as done is not sent again.
    expect(skipped).toBe(doneBefore);
    expect(endingsOf(lines)).toEqual(EXACTLY_ONCE);
  }, 240_000);
});

describe("Ctrl-C", () => {
  it("finishes the attempts in flight, exits 130, and a rerun sends nothing twice", async () => {
    const { path, lines } = await list(800, ["ebet"]);
    const ebet = vendors.sims.ebet.simulator as { calls: { call: string }[] };
    const callsBefore = ebet.calls.filter((call) => call.call === "logout").length;
    const first = start([path, "--progress", "none", "--concurrency", "2"], vendors.env);
    for (let i = 0; i < 2_000 && doneCount(path) < 100; i++) await sleep(5);
    first.child.kill("SIGINT");
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain("finishing the attempts in flight");
    expect(stopped.stdout).toContain("Stopped before the end");
    const records = journalRecords(`${path}.journal`);
    const sends = records.filter((record) => record.t === "send").length;
    const outcomes = records.filter((record) => record.t === "done" || record.t === "fail").length;
    // Every attempt sent has its outcome: nothing is left in doubt.
    expect(outcomes).toBe(sends);

    const second = await run([path, "--json"], vendors.env);
    expect(second.code).toBe(0);
    expect(endingsOf(lines).ebet).toEqual([1]);
    // 800 players, 800 logout calls in all: nothing was sent twice.
    expect(ebet.calls.filter((call) => call.call === "logout").length - callsBefore).toBe(800);
  }, 120_000);
});

describe("a vendor rate-limiting half-way", () => {
  it("waits as eBET (4038) and Lancens (429, Retry-After) ask, and ends everything once", async () => {
    const { path, lines } = await list(600, ["ebet", "lancens"]);
    const running = start(
      [path, "--json", "--progress", "none", "--concurrency", "4"],
      vendors.env,
    );
    for (let i = 0; i < 2_000 && doneCount(path) < 600; i++) await sleep(5);
    const ebet = vendors.sims.ebet.simulator as {
      forceStatus(status: number, times: number): void;
    };
    ebet.forceStatus(4038, 6);
    vendors.served.lancens.setAnswer({ status: 429, headers: { "retry-after": "1" } });
    await sleep(1_500);
    vendors.served.lancens.setAnswer(undefined);
    const result = await running.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const summary = summaryOf(result.stdout);
    expect(summary.vendors.ebet.retries).toBeGreaterThan(0);
    expect(summary.vendors.lancens.retries).toBeGreaterThan(0);
    expect(summary.vendors.ebet).toMatchObject({ ended: 600, failed: 0 });
    expect(summary.vendors.lancens).toMatchObject({ failed: 0 });
    expect(summary.vendors.lancens.ended + summary.vendors.lancens.already).toBe(600);
    const endings = endingsOf(lines);
    expect(endings.ebet).toEqual([1]);
    expect(endings.lancens).toEqual([1]);
  }, 120_000);
});

describe("a vendor down for a minute", () => {
  it("keeps probing OneAccess, then ends every session once it is back", async () => {
    const { path, lines } = await list(300, ["sdk-auth", "fungame"]);
    vendors.served["sdk-auth"].setDown(true);
    const running = start([path, "--json", "--progress", "none"], vendors.env);
    await sleep(60_000);
    const during = running.stdout();
    vendors.served["sdk-auth"].setDown(false);
    const result = await running.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    // FunGame went on meanwhile.
    expect(during).toBe("");
    const summary = summaryOf(result.stdout);
    expect(summary.vendors["sdk-auth"]).toMatchObject({ ended: 300, failed: 0 });
    expect(summary.vendors["sdk-auth"].retries).toBeGreaterThan(3);
    expect(summary.vendors.fungame).toMatchObject({ ended: 300, failed: 0 });
    expect(endingsOf(lines)).toMatchObject({ "sdk-auth": [1], fungame: [1] });
  }, 180_000);
});

describe("bad lines and bad files", () => {
  it("names each bad line by number and field, never its values, and ends the good ones", async () => {
    const good = await vendors.lines(2, ["fungame"]);
    const token = (good[0] as { fungame: { token: string } }).fungame.token;
    const text = [
      JSON.stringify(good[0]),
      "{not json",
      JSON.stringify({ fungame: { token: `${token}\r\nx` } }),
      JSON.stringify({ ebet: { username: "Has Spaces" } }),
      JSON.stringify({ lancens: { username: "someone" } }),
      `{"__proto__":{"token":${JSON.stringify(token)}}}`,
      JSON.stringify({ okta: { token } }),
      "[]",
      "",
      JSON.stringify(good[1]),
    ].join("\n");
    const path = join(dir, "bad.jsonl");
    writeFileSync(path, text);
    const dry = await run([path, "--dry-run"], vendors.env);
    expect(dry.code).toBe(1);
    const expected = [
      "line 2: (line): is not valid JSON",
      "line 3: fungame.token: must not contain CR or LF",
      "line 4: ebet.username: must be lower-case letters and digits",
      "line 5: lancens.token: is required",
      "line 6: __proto__: is not a vendor",
      "line 7: okta: is not a vendor",
      "line 8: (line): must be a JSON object",
    ];
    for (const message of expected) expect(dry.stderr).toContain(message);
    expect(dry.stdout).toContain("nothing was sent");
    expect(endingsOf(good).fungame).toEqual([0]);

    const real = await run([path, "--json", "--progress", "none"], vendors.env);
    expect(real.code).toBe(1);
    const summary = summaryOf(real.stdout);
    expect(summary).toMatchObject({ ok: false, invalidLines: 7 });
    expect(summary.vendors.fungame).toMatchObject({ total: 2, ended: 2 });
    expect(endingsOf(good).fungame).toEqual([1]);
    expectNoSecrets([dry.stdout, dry.stderr, real.stdout, real.stderr], good);
  });

  it("refuses an unreadable list, a vendor it has no settings for, and bad settings, sending nothing", async () => {
    const missing = await run([join(dir, "nope.jsonl")], vendors.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.jsonl: no such file");
    const folder = await run([dir], vendors.env);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain("is a folder");

    const { path, lines } = await list(3, ["ebet", "lancens"]);
    const { LANCENS_BASE_URL: _off, ...withoutLancens } = vendors.env;
    const off = await run([path], withoutLancens);
    expect(off.code).toBe(2);
    expect(off.stderr).toContain(
      "lancens: Lancens is named from line 1 on but is not configured: set LANCENS_BASE_URL",
    );

    const badUrl = await run([path], {
      ...vendors.env,
      EBET_BASE_URL: "http://user:s3cret@127.0.0.1:1",
    });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("EBET_BASE_URL");
    expect(badUrl.stderr).not.toContain("s3cret");
    const badKey = await run([path], {
      ...vendors.env,
      EBET_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain("EBET_PRIVATE_KEY: ");

    const stdin = await run([], vendors.env, "node", readFileSync(path, "utf8"));
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toContain("--journal is required");
    expect(endingsOf(lines)).toMatchObject({ ebet: [0], lancens: [0] });
  });

  it("lets only one run use a journal at a time", async () => {
    const { path } = await list(400, ["ebet"]);
    const first = start([path, "--progress", "none", "--concurrency", "1"], vendors.env);
    for (let i = 0; i < 1_000; i++) {
      try {
        readFileSync(`${path}.journal.lock`);
        break;
      } catch {
        await sleep(5);
      }
    }
    const second = await run([path], vendors.env);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another run \(process \d+\) is using this journal/);
    const result = await first.done;
    expect(result.code).toBe(0);
  }, 120_000);
});
