// Edge cases of the journal, the in-doubt rule, the runner's deadline, the proxy's answers and the
// command's file paths, each read as an adversary would arrange it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliIo, main } from "../src/cli.ts";
import { Journal, JournalError } from "../src/journal.ts";
import { runTasks, type Task } from "../src/runner.ts";
import { type AttemptResult, proxySender, type Sender, settleInDoubt } from "../src/senders.ts";
import { jwt } from "./tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "x-logout-review-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(env: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const own = {
    out: "",
    err: "",
    env,
    readStdin: async () => "",
    stdout: {
      write: (text: string) => {
        own.out += text;
      },
    },
    stderr: {
      write: (text: string) => {
        own.err += text;
      },
    },
  };
  return own;
}

describe("the journal", () => {
  it("refuses a file that is not a journal and has no newline, leaving it as it was", () => {
    const path = join(dir, "one-line.jsonl");
    const text = '{"ebet":{"username":"alice01"}}';
    writeFileSync(path, text);
    expect(() => Journal.open(path)).toThrow(JournalError);
    expect(readFileSync(path, "utf8")).toBe(text);
  });

  it("still takes a journal whose first record was cut by a kill", () => {
    const path = join(dir, "cut-header.journal");
    writeFileSync(path, '{"t":"journal","v":1,"at":"2026-');
    const journal = Journal.open(path);
    journal.close();
    expect(JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string)).toMatchObject({
      t: "journal",
      v: 1,
    });
  });
});

describe("the command's files", () => {
  it("refuses a --failures file that is the journal, which would be overwritten", async () => {
    const list = join(dir, "list.jsonl");
    const journal = join(dir, "list.journal");
    writeFileSync(list, '{"nobody":{}}\n');
    const own = io();
    const code = await main([list, "--journal", journal, "--failures", journal], own);
    expect(code).toBe(2);
    expect(own.err).toContain("--failures");
    expect(() => readFileSync(journal, "utf8")).toThrow();
  });
});

describe("the in-doubt rule", () => {
  it("does not take a FunGame refusal that FunGame did not give (a proxy's own token check) as ended", () => {
    const now = Date.parse("2026-12-05T00:00:00Z");
    const alive = { token: jwt(now / 1000 + 60) };
    const refused: AttemptResult = {
      ok: false,
      error: {
        code: "TOKEN_BAD_SIGNATURE",
        kind: "unauthorized",
        retryable: false,
        status: null,
        maybeSent: false,
        halt: false,
        retryAfterMs: 0,
      },
    };
    expect(settleInDoubt("fungame", alive, refused, { inDoubt: true }, now).ok).toBe(false);
  });
});

describe("the runner's deadline", () => {
  it("sends no retry once --retry-for has passed, even when the vendor asked for a longer pause", async () => {
    const journal = Journal.open(join(dir, "deadline.journal"));
    let seen = 0;
    const sender: Sender = {
      attempt: async () => {
        seen++;
        return seen === 1
          ? {
              ok: false,
              error: {
                code: 503,
                kind: "unavailable",
                retryable: true,
                status: 503,
                maybeSent: true,
                halt: false,
                retryAfterMs: 300,
              },
            }
          : { ok: true, already: false };
      },
      check: async () => {},
    };
    const task: Task = {
      key: "lancens:1",
      vendor: "lancens",
      member: { username: "lancens-user", token: "t0k" },
      lines: [1],
      attempts: 0,
      inDoubt: false,
      firstAt: undefined,
      lastError: undefined,
    };
    const result = await runTasks({
      tasks: [task],
      senders: { lancens: sender },
      concurrency: { ebet: 1, lancens: 1, fungame: 1, "sdk-auth": 1 },
      journal,
      retryForMs: 50,
      maxBackoffMs: 5,
      stop: new AbortController().signal,
    });
    journal.close();
    expect(seen).toBe(1);
    expect(result.settled.get(task)).toMatchObject({ status: "failed", error: { code: 503 } });
  });
});

describe("the proxy's answers", () => {
  const answer = (body: unknown, status = 200) =>
    proxySender("fungame", { url: "http://127.0.0.1:9", apiKey: "key-123456" }, 1000, async () =>
      Response.json(body, { status }),
    );
  const token = jwt(Math.floor(Date.now() / 1000) + 600);

  it("does not take a result that names another vendor as this one's", async () => {
    const result = await answer({
      ok: true,
      results: { fungame: { vendor: "ebet", ok: true, alreadyLoggedOut: false } },
    }).attempt({ token }, { inDoubt: false });
    expect(result.ok).toBe(false);
  });

  it("takes this vendor's own result", async () => {
    const result = await answer({
      ok: true,
      results: { fungame: { vendor: "fungame", ok: true, alreadyLoggedOut: true } },
    }).attempt({ token }, { inDoubt: false });
    expect(result).toEqual({ ok: true, already: true });
  });
});
