// The command's parts on their own: list parsing, member checks and keys, settings, the journal,
// answers in doubt, Retry-After, backoff, the runner's lanes and the report's files.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EBET_TEST_PRIVATE_KEY } from "@x/ebet/testing";
import { afterAll, describe, expect, it } from "vitest";
import { parseConcurrency } from "../src/cli.ts";
import { CsvError, parseCsv, parseJsonLines } from "../src/input.ts";
import { Journal, JournalError, readJournal } from "../src/journal.ts";
import { summarize, writeFailures } from "../src/report.ts";
import { backoffMs, runTasks, type Task, type TaskStatus } from "../src/runner.ts";
import {
  type AttemptError,
  type AttemptResult,
  retryAfterMs,
  type Sender,
  safeCode,
  settleInDoubt,
} from "../src/senders.ts";
import { checkMember, MemberError, sessionKey, type VendorName } from "../src/sessions.ts";
import { readSettings, SettingsError } from "../src/settings.ts";
import { jwt } from "./tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "x-logout-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEVICE = { osVersion: "Android 14", fingerprint: "156aysdna213sc50", agent: "MyApp/2.1" };

describe("JSON Lines", () => {
  it("reads each line's vendors, skipping blank lines, with CRLF and a BOM", () => {
    const text = `\uFEFF{"ebet":{"username":"alice01"}}\r\n\r\n{"lancens":{"username":"lancens-user","token":"t0k"},"sdkAuth":{"sessionToken":"s3","device":${JSON.stringify(DEVICE)}}}\n`;
    const { lines, issues } = parseJsonLines(text);
    expect(issues).toEqual([]);
    expect(lines).toEqual([
      { line: 1, members: { ebet: { username: "alice01" } } },
      {
        line: 3,
        members: {
          lancens: { username: "lancens-user", token: "t0k" },
          "sdk-auth": { sessionToken: "s3", device: DEVICE },
        },
      },
    ]);
  });

  it("names the field of every refusal, never the value", () => {
    const secret = "s3cr3t-token-value";
    const rows = [
      `{"constructor":{"token":"${secret}"}}`,
      `{"ebet":{"username":"alice01","extra":1}}`,
      `{"sdkAuth":{"sessionToken":"${secret}","device":{"osVersion":"x","fingerprint":"y"}}}`,
      `{"sdkAuth":{"sessionToken":"${secret}","device":{"osVersion":"x","fingerprint":"y","agent":"z\\u0000"}}}`,
      `{"fungame":{"token":""}}`,
      `{"fungame":{"token":7}}`,
      `{"lancens":{"username":"abc","token":"${secret}"}}`,
      `{"ebet":{"username":"${"a".repeat(65)}"}}`,
      "{}",
      "null",
      `{"fungame":"${secret}"}`,
      `{"ebet":{"username":"${"a".repeat(70_000)}"}}`,
    ];
    const { lines, issues } = parseJsonLines(rows.join("\n"));
    expect(lines).toEqual([]);
    expect(issues.map(({ line, field }) => `${line} ${field}`)).toEqual([
      "1 constructor",
      "2 ebet.extra",
      "3 sdkAuth.device.agent",
      "4 sdkAuth.device.agent",
      "5 fungame.token",
      "6 fungame.token",
      "7 lancens.username",
      "8 ebet.username",
      "9 (line)",
      "10 (line)",
      "11 fungame",
      "12 (line)",
    ]);
    expect(issues[2]?.message).toBe("is required");
    expect(issues[11]?.message).toBe("is longer than 65536 characters");
    expect(JSON.stringify(issues)).not.toContain(secret);
  });
});

describe("CSV", () => {
  it("reads dotted columns; an empty cell is absent, a vendor with none is not named", () => {
    const text = [
      "ebet.username,lancens.username,lancens.token,sdkAuth.sessionToken,sdkAuth.device.osVersion,sdkAuth.device.fingerprint,sdkAuth.device.agent",
      'alice01,,,s1,"Android 14, build 7",fp,agent',
      ",lancens-user,tok,,,,",
    ].join("\n");
    expect(parseCsv(text)).toEqual({
      lines: [
        {
          line: 2,
          members: {
            ebet: { username: "alice01" },
            "sdk-auth": {
              sessionToken: "s1",
              device: { osVersion: "Android 14, build 7", fingerprint: "fp", agent: "agent" },
            },
          },
        },
        { line: 3, members: { lancens: { username: "lancens-user", token: "tok" } } },
      ],
      issues: [],
    });
  });

  it("names a row with the wrong cell count or a bad field, and refuses a bad header or an unclosed quote", () => {
    const { issues } = parseCsv("fungame.token,ebet.username\nabc\n,UPPER\n");
    expect(issues).toEqual([
      { line: 2, field: "(line)", message: "has 1 cells, the header 2" },
      { line: 3, field: "ebet.username", message: "must be lower-case letters and digits" },
    ]);
    expect(() => parseCsv("fungame.token,__proto__.x\n")).toThrow(CsvError);
    expect(() => parseCsv(`ebet.username\nalice01\n${"a".repeat(70_000)}\n`)).toThrow(
      /line 3: the CSV cannot be read from here on/,
    );
    expect(() => parseCsv("fungame.token,fungame.token\n")).toThrow(/appears twice/);
    const unclosed = (() => {
      try {
        parseCsv('ebet.username\nalice01\n"bob\n');
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(unclosed).toBeInstanceOf(CsvError);
    expect((unclosed as CsvError).line).toBeGreaterThanOrEqual(3);
  });
});

describe("session keys", () => {
  it("name a session by vendor and member, whatever the member order, without its token", async () => {
    const token = jwt(2_000_000_000);
    const a = await sessionKey(
      "sdk-auth",
      checkMember("sdk-auth", { sessionToken: token, device: DEVICE }),
    );
    const b = await sessionKey(
      "sdk-auth",
      checkMember("sdk-auth", {
        device: {
          agent: DEVICE.agent,
          fingerprint: DEVICE.fingerprint,
          osVersion: DEVICE.osVersion,
        },
        sessionToken: token,
      }),
    );
    expect(a).toBe(b);
    expect(a).toMatch(/^sdk-auth:[A-Za-z0-9_-]{22}$/);
    expect(await sessionKey("fungame", { token })).not.toBe(
      await sessionKey("lancens", { username: "abcdef", token }),
    );
    expect(a).not.toContain(token.slice(0, 10));
    expect(() => checkMember("ebet", [])).toThrow(MemberError);
  });
});

describe("settings", () => {
  const ebet = {
    EBET_BASE_URL: "https://ebet.example",
    EBET_CHANNEL_ID: "42",
    EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
  };

  it("turns on each vendor whose variables are set, and reads the timeout", () => {
    expect(readSettings({})).toEqual({ vendors: {}, timeoutMs: 5_000 });
    const settings = readSettings({
      ...ebet,
      EBET_TIMESTAMP_UNIT: "ms",
      FUNGAME_BASE_URL: "https://fg.example/",
      FUNGAME_TREAT_500_AS_LOGGED_OUT: "true",
      SDK_AUTH_BASE_URL: "https://tenant.example",
      SDK_AUTH_CLIENT_ID: "client-1",
      LANCENS_BASE_URL: "https://weixin.lancens.com:6443",
      UPSTREAM_TIMEOUT_MS: "2500",
    });
    expect(settings.timeoutMs).toBe(2_500);
    expect(settings.vendors.ebet).toMatchObject({ channelId: 42, timestampUnit: "ms" });
    expect(settings.vendors.fungame).toEqual({
      baseUrl: "https://fg.example",
      treat500AsLoggedOut: true,
    });
    expect(settings.vendors["sdk-auth"]).toEqual({
      baseUrl: "https://tenant.example",
      clientId: "client-1",
      tenantId: undefined,
    });
    expect(settings.vendors.lancens).toEqual({ baseUrl: "https://weixin.lancens.com:6443" });
  });

  it("names every variable at fault at once, never with a value", () => {
    let error: SettingsError | undefined;
    try {
      readSettings({
        EBET_BASE_URL: "https://user:hunter2@ebet.example",
        EBET_CHANNEL_ID: "0",
        EBET_TIMESTAMP_UNIT: "minutes",
        FUNGAME_TREAT_500_AS_LOGGED_OUT: "yes",
        SDK_AUTH_CLIENT_ID: "has space",
        UPSTREAM_TIMEOUT_MS: "999999",
      });
    } catch (caught) {
      error = caught as SettingsError;
    }
    expect(error).toBeInstanceOf(SettingsError);
    expect(error?.issues.map((issue) => issue.name).sort()).toEqual(
      [
        "EBET_BASE_URL",
        "EBET_CHANNEL_ID",
        "EBET_PRIVATE_KEY",
        "EBET_TIMESTAMP_UNIT",
        "FUNGAME_BASE_URL",
        "SDK_AUTH_BASE_URL",
        "SDK_AUTH_CLIENT_ID",
        "UPSTREAM_TIMEOUT_MS",
      ].sort(),
    );
    expect(error?.message).not.toContain("hunter2");
    expect(() => readSettings({ ...ebet, EBET_PRIVATE_KEY: "not a key" })).toThrow(
      /EBET_PRIVATE_KEY: is not a usable RSA private key/,
    );
  });

  it("reads a config file under the environment, refusing names it does not know", () => {
    const settings = readSettings(
      { LANCENS_BASE_URL: "https://env.example" },
      { LANCENS_BASE_URL: "https://file.example", UPSTREAM_TIMEOUT_MS: 900 },
    );
    expect(settings).toEqual({
      vendors: { lancens: { baseUrl: "https://env.example" } },
      timeoutMs: 900,
    });
    expect(() => readSettings({}, { LANCENS_URL: "https://x.example" })).toThrow(
      /LANCENS_URL: is not a setting/,
    );
    expect(() => readSettings({}, { LANCENS_BASE_URL: ["https://x.example"] })).toThrow(
      /LANCENS_BASE_URL: must be a string/,
    );
  });
});

describe("the journal", () => {
  it("says which sessions ended and which are in doubt", () => {
    const text = [
      '{"t":"journal","v":1,"at":"x"}',
      '{"t":"send","k":"a","at":1}',
      '{"t":"done","k":"a","outcome":"ended","attempts":1,"at":2}',
      '{"t":"send","k":"b","at":1}',
      '{"t":"send","k":"c","at":1}',
      '{"t":"fail","k":"c","code":4038,"kind":"rate_limited","status":200,"attempts":1,"doubt":false,"at":2}',
      '{"t":"send","k":"d","at":1}',
      '{"t":"fail","k":"d","code":"TIMEOUT","kind":"unavailable","status":null,"attempts":1,"doubt":true,"at":2}',
      '{"t":"send","k":"e","at',
    ].join("\n");
    const states = readJournal(text);
    expect(states.get("a")).toMatchObject({ outcome: "ended", inDoubt: false });
    expect(states.get("b")).toMatchObject({ outcome: undefined, inDoubt: true });
    expect(states.get("c")).toMatchObject({
      inDoubt: false,
      lastFailure: { code: 4038, kind: "rate_limited" },
    });
    expect(states.get("d")).toMatchObject({ inDoubt: true });
    // The cut line never counted.
    expect(states.has("e")).toBe(false);
    expect(() => readJournal('{"t":"journal","v":1}\nnot json\n{"t":"send","k":"a"}\n')).toThrow(
      JournalError,
    );
    expect(() => readJournal('{"t":"run"}\n')).toThrow(/is not an x-logout journal/);
  });

  it("drops a cut last line on open, appends after it, and is readable by its owner only", () => {
    const path = join(dir, "cut.journal");
    writeFileSync(
      path,
      '{"t":"journal","v":1,"at":"x"}\n{"t":"send","k":"a","at":1}\n{"t":"done","k":"a","outc',
      { mode: 0o600 },
    );
    const journal = Journal.open(path);
    expect(journal.states.get("a")).toMatchObject({ inDoubt: true });
    journal.done("a", "already", 2, "note");
    journal.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[2] as string)).toMatchObject({ t: "done", k: "a", outcome: "already" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("is refused while a live process holds its lock, and taken over from a dead one", () => {
    const path = join(dir, "locked.journal");
    writeFileSync(`${path}.lock`, `${process.pid}\n`);
    expect(() => Journal.open(path)).toThrow(/another run \(process \d+\) is using this journal/);
    // A process id no process has (beyond the kernel's limit).
    writeFileSync(`${path}.lock`, "4194305\n");
    const journal = Journal.open(path);
    expect(readFileSync(`${path}.lock`, "utf8")).toBe(`${process.pid}\n`);
    journal.close();
    expect(() => statSync(`${path}.lock`)).toThrow();
  });
});

describe("answers", () => {
  it("reads Retry-After in seconds or as a date, at most ten minutes", () => {
    expect(retryAfterMs(null)).toBe(0);
    expect(retryAfterMs("3")).toBe(3_000);
    expect(retryAfterMs("99999")).toBe(600_000);
    expect(retryAfterMs("soon")).toBe(0);
    expect(retryAfterMs("-1")).toBe(0);
    const now = Date.parse("2026-12-05T00:00:00Z");
    expect(retryAfterMs("Sat, 05 Dec 2026 00:00:07 GMT", now)).toBe(7_000);
    expect(retryAfterMs("Fri, 04 Dec 2026 00:00:07 GMT", now)).toBe(0);
  });

  it("keeps a code's form only, never a token in it", () => {
    expect(safeCode(4038, [])).toBe(4038);
    expect(safeCode("APP.0007", [])).toBe("APP.0007");
    expect(safeCode("has space", [])).toBe("UNREADABLE_CODE");
    expect(safeCode({}, [])).toBe("UNREADABLE_CODE");
    expect(safeCode("x-abcd1234", ["abcd1234"])).toBe("REDACTED");
  });

  const refused = (code: string | number, kind: string): AttemptResult => ({
    ok: false,
    error: {
      code,
      kind,
      retryable: false,
      status: 401,
      maybeSent: false,
      halt: false,
      retryAfterMs: 0,
    },
  });

  it("takes OneAccess APP.0007 and FunGame's refusal of a live token as the lost attempt's success, only in doubt", () => {
    const session = { sessionToken: "s", device: DEVICE };
    expect(
      settleInDoubt("sdk-auth", session, refused("APP.0007", "unauthorized"), { inDoubt: true }),
    ).toMatchObject({ ok: true, already: true });
    expect(
      settleInDoubt("sdk-auth", session, refused("APP.0007", "unauthorized"), { inDoubt: false })
        .ok,
    ).toBe(false);
    expect(
      settleInDoubt("sdk-auth", session, refused("APP.0001", "invalid_request"), { inDoubt: true })
        .ok,
    ).toBe(false);
    const now = Date.parse("2026-12-05T00:00:00Z");
    const alive = { token: jwt(now / 1000 + 60) };
    const expired = { token: jwt(now / 1000 - 301) };
    expect(
      settleInDoubt("fungame", alive, refused(401, "unauthorized"), { inDoubt: true }, now),
    ).toMatchObject({ ok: true, already: true });
    expect(
      settleInDoubt("fungame", expired, refused(401, "unauthorized"), { inDoubt: true }, now).ok,
    ).toBe(false);
    expect(
      settleInDoubt("fungame", alive, refused(401, "unauthorized"), { inDoubt: false }, now).ok,
    ).toBe(false);
    expect(
      settleInDoubt(
        "fungame",
        { token: "not.a.jwt" },
        refused(401, "unauthorized"),
        { inDoubt: true },
        now,
      ).ok,
    ).toBe(false);
    expect(
      settleInDoubt("ebet", { username: "a" }, refused(4037, "not_found"), { inDoubt: true }).ok,
    ).toBe(false);
  });
});

describe("backoff", () => {
  it("asks a rate-limiting vendor again within seconds, and waits longer on one that does not answer", () => {
    const most = () => 0.999_999;
    const least = () => 0;
    expect(backoffMs("rate_limited", 1, 15_000, most)).toBe(1_000);
    expect(backoffMs("rate_limited", 1, 15_000, least)).toBe(500);
    expect(backoffMs("rate_limited", 10, 15_000, most)).toBe(4_000);
    expect(backoffMs("unavailable", 1, 15_000, most)).toBe(500);
    expect(backoffMs("unavailable", 4, 15_000, most)).toBe(4_000);
    expect(backoffMs("unavailable", 60, 15_000, most)).toBe(15_000);
  });
});

describe("the runner", () => {
  const error = (init: Partial<AttemptError>): AttemptError => ({
    code: "X",
    kind: "upstream",
    retryable: false,
    status: null,
    maybeSent: false,
    halt: false,
    retryAfterMs: 0,
    ...init,
  });
  const task = (vendor: VendorName, n: number): Task => ({
    key: `${vendor}:${n}`,
    vendor,
    member: { username: `u${n}` },
    lines: [n],
    attempts: 0,
    inDoubt: false,
    firstAt: undefined,
    lastError: undefined,
  });
  const sender = (
    answer: (n: number, inDoubt: boolean) => AttemptResult | Promise<AttemptResult>,
  ): Sender & { seen: number } => {
    const own = {
      seen: 0,
      attempt: async (member: unknown, context: { inDoubt: boolean }) => {
        own.seen++;
        return answer(Number((member as { username: string }).username.slice(1)), context.inDoubt);
      },
      check: async () => {},
    };
    return own;
  };

  it("stops a vendor whose call would always fail the same way, journals every attempt, and goes on with the others", async () => {
    const path = join(dir, "runner.journal");
    const journal = Journal.open(path);
    const ebet = sender(() => ({
      ok: false,
      error: error({ code: 4026, kind: "misconfigured", halt: true }),
    }));
    const lancens = sender((n) =>
      n % 2 === 0 ? { ok: true, already: false } : { ok: true, already: true },
    );
    // The first FunGame attempt of each session times out (in doubt), the retry is refused as done.
    const fungame = sender((_, inDoubt) =>
      inDoubt
        ? { ok: true, already: true, note: "lost" }
        : {
            ok: false,
            error: error({
              code: "TIMEOUT",
              kind: "unavailable",
              retryable: true,
              maybeSent: true,
            }),
          },
    );
    const thrower = sender(() => {
      throw new TypeError("a defect");
    });
    const tasks = [
      ...[1, 2, 3].map((n) => task("ebet", n)),
      ...[1, 2, 3, 4].map((n) => task("lancens", n)),
      ...[1, 2].map((n) => task("fungame", n)),
      task("sdk-auth", 1),
    ];
    const result = await runTasks({
      tasks,
      senders: { ebet, lancens, fungame, "sdk-auth": thrower },
      concurrency: { ebet: 1, lancens: 2, fungame: 1, "sdk-auth": 1 },
      journal,
      retryForMs: 60_000,
      maxBackoffMs: 10,
      stop: new AbortController().signal,
    });
    journal.close();
    const status = (key: string) => [...result.settled].find(([t]) => t.key === key)?.[1];
    expect(ebet.seen).toBe(1);
    expect(result.halted.ebet?.code).toBe(4026);
    expect(status("ebet:1")).toMatchObject({ status: "failed" });
    expect(status("ebet:2")).toMatchObject({
      status: "pending",
      reason: "ebet was stopped for the run (4026)",
    });
    expect(
      ["lancens:1", "lancens:2", "lancens:3", "lancens:4"].map((key) => status(key)?.status),
    ).toEqual(["already", "ended", "already", "ended"]);
    expect(status("fungame:1")).toEqual({ status: "already", note: "lost" });
    expect(status("sdk-auth:1")).toMatchObject({
      status: "failed",
      error: { code: "INTERNAL_ERROR" },
    });
    const records = readFileSync(path, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    // Each attempt's send comes before its outcome.
    for (const key of ["fungame:1", "lancens:3"]) {
      const own = records.filter((record) => record.k === key).map((record) => record.t);
      expect(own[0]).toBe("send");
      expect(own.at(-1)).toBe("done");
    }
    expect(records.filter((record) => record.k === "fungame:1").map((r) => r.t)).toEqual([
      "send",
      "fail",
      "send",
      "done",
    ]);
  });

  it("gives a session up once its retries have lasted --retry-for, and starts nothing once stopped", async () => {
    const journal = Journal.open(join(dir, "runner2.journal"));
    const down = sender(() => ({
      ok: false,
      error: error({
        code: "NETWORK_ERROR",
        kind: "unavailable",
        retryable: true,
        maybeSent: true,
      }),
    }));
    const result = await runTasks({
      tasks: [task("lancens", 1)],
      senders: { lancens: down },
      concurrency: { ebet: 1, lancens: 1, fungame: 1, "sdk-auth": 1 },
      journal,
      retryForMs: 50,
      maxBackoffMs: 5,
      stop: new AbortController().signal,
    });
    expect([...result.settled.values()][0]).toMatchObject({
      status: "failed",
      error: { code: "NETWORK_ERROR" },
    });
    expect(down.seen).toBeGreaterThan(1);
    const stop = new AbortController();
    stop.abort();
    const never = sender(() => ({ ok: true, already: false }));
    const stopped = await runTasks({
      tasks: [task("ebet", 1)],
      senders: { ebet: never },
      concurrency: { ebet: 1, lancens: 1, fungame: 1, "sdk-auth": 1 },
      journal,
      retryForMs: 50,
      stop: stop.signal,
    });
    journal.close();
    expect(never.seen).toBe(0);
    expect(stopped.stopped).toBe(true);
    expect([...stopped.settled.values()][0]).toMatchObject({ status: "pending" });
  });
});

describe("the report", () => {
  it("writes the sessions that did not end, by their first line, readable by the owner only", () => {
    const path = join(dir, "failures.jsonl");
    const t = (vendor: VendorName, lines: number[], member: unknown): Task => ({
      key: `${vendor}:${lines[0]}`,
      vendor,
      member: member as Task["member"],
      lines,
      attempts: 1,
      inDoubt: false,
      firstAt: 0,
      lastError: undefined,
    });
    const failed = {
      status: "failed" as const,
      error: {
        code: 4037,
        kind: "not_found",
        retryable: false,
        status: 200,
        maybeSent: false,
        halt: false,
        retryAfterMs: 0,
      },
    };
    const settled = new Map<Task, TaskStatus>([
      [t("ebet", [5, 2], { username: "bob" }), failed],
      [
        t("fungame", [2], { token: "tok" }),
        { status: "pending" as const, error: undefined, reason: "stopped" },
      ],
      [t("lancens", [1], { username: "ended-user", token: "x" }), { status: "ended" as const }],
    ]);
    const count = writeFailures(path, { settled, halted: {}, stopped: false });
    expect(count).toBe(2);
    expect(readFileSync(path, "utf8")).toBe(
      '{"ebet":{"username":"bob"},"fungame":{"token":"tok"}}\n',
    );
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("exits 0 only when everything ended, 1 otherwise, 130 when stopped", () => {
    const counts = (failed: number) =>
      new Map([
        [
          "ebet" as VendorName,
          {
            total: 2,
            skipped: 1,
            ended: 1 - failed,
            already: 0,
            failed,
            pending: 0,
            attempts: 1,
            retries: 0,
            waiting: undefined,
            halted: undefined,
          },
        ],
      ]);
    const none = { settled: new Map(), halted: {}, stopped: false };
    expect(summarize(counts(0), none, [], 0, undefined).exitCode).toBe(0);
    expect(summarize(counts(1), none, [], 0, undefined).exitCode).toBe(1);
    expect(
      summarize(counts(0), none, [{ line: 3, field: "(line)", message: "x" }], 0, undefined)
        .exitCode,
    ).toBe(1);
    expect(summarize(counts(0), { ...none, stopped: true }, [], 0, undefined).exitCode).toBe(130);
  });
});

describe("--concurrency", () => {
  it("sets every vendor, or one by name or member", () => {
    expect(parseConcurrency("4")).toEqual({ ebet: 4, fungame: 4, "sdk-auth": 4, lancens: 4 });
    expect(parseConcurrency("4,ebet=1,sdkAuth=2")).toEqual({
      ebet: 1,
      fungame: 4,
      "sdk-auth": 2,
      lancens: 4,
    });
    expect(() => parseConcurrency("0")).toThrow(/from 1 to 256/);
    expect(() => parseConcurrency("okta=2")).toThrow(/okta is not a vendor/);
    expect(() => parseConcurrency("ebet=x")).toThrow(/from 1 to 256/);
  });
});
