// The live display in a real pseudo-terminal (util-linux script): drawn and redrawn, its rows, its
// last frame, the report after it, no token anywhere; and plain progress lines off a terminal.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FaultSwitch } from "@x/core-signing/testing";
import { sendKitRequests } from "@x/core-signing/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVendors, type Vendors } from "./simulators.ts";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const SCRIPT = "/usr/bin/script";
/** Sessions per vendor: with two in flight and a slowed eBET, the run lasts for many frames. */
const SESSIONS = 200;
const EBET_DELAY_MS = 30;
/** Lancens sessions logged out before the run: the command finds them already gone. */
const ALREADY = 5;
/** FunGame calls answered with a gateway's 400 page: sessions that fail. */
const FAILED = 3;
/** The longest a run may take before the test gives up on it. */
const RUN_LIMIT_MS = 50_000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes are the subject
const ESCAPE = /\u001b\[[0-9;?]*[A-Za-z]/g;
const ERASE_LINE = "\u001b[2K";
const CURSOR_UP = "\u001b[1A";

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end (bounded), keeping its standard input open, collecting its output. */
function run(command: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
    });
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    const limit = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} did not finish within ${RUN_LIMIT_MS} ms:\n${stdout}${stderr}`));
    }, RUN_LIMIT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr });
    });
  });
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * What a terminal shows after these bytes: text, line feeds, carriage returns, erase-line, cursor-up
 * and cursor-to-column (the moves log-update makes); colours and cursor visibility change nothing.
 */
function screen(bytes: string): string[] {
  const rows: string[] = [""];
  let row = 0;
  let col = 0;
  for (let i = 0; i < bytes.length; ) {
    const char = bytes[i] as string;
    if (char === "\u001b") {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape codes are the subject
      const match = /^\u001b\[([0-9;?]*)([A-Za-z])/.exec(bytes.slice(i, i + 16));
      if (match === null) throw new Error(`an escape the screen model does not know at ${i}`);
      const [all, argument = "", verb] = match;
      const n = argument === "" ? 1 : Number(argument);
      if (verb === "A") row = Math.max(0, row - n);
      else if (verb === "G") col = n - 1;
      else if (verb === "K" && argument === "2") rows[row] = "";
      else if (verb !== "m" && verb !== "h" && verb !== "l") {
        throw new Error(`an escape the screen model does not know: ${JSON.stringify(all)}`);
      }
      i += all.length;
      continue;
    }
    if (char === "\n") {
      row++;
      rows[row] ??= "";
    } else if (char === "\r") col = 0;
    else {
      const line = (rows[row] ?? "").padEnd(col);
      rows[row] = line.slice(0, col) + char + line.slice(col + 1);
      col++;
    }
    i++;
  }
  return rows.map((line) => line.trimEnd());
}

describe("x-logout's progress display", () => {
  let vendors: Vendors;
  let folder: string;
  let secrets: string[];
  let baseEnv: Record<string, string>;

  /** Writes a fresh list (and slows eBET, fails some FunGame calls) for one run. */
  async function prepare(name: string): Promise<string> {
    const lines = await vendors.lines(SESSIONS);
    secrets = lines.flatMap((line) => [
      (line.fungame as { token: string }).token,
      (line.sdkAuth as { sessionToken: string }).sessionToken,
      (line.lancens as { token: string }).token,
    ]);
    const lancens = vendors.sims.lancens;
    const early = await lancens.direct(
      lines.slice(0, ALREADY).map((line) => line.lancens),
      vendors.served.lancens.url,
    );
    for (const requests of early) {
      await sendKitRequests(globalThis.fetch, requests, vendors.served.lancens.url);
    }
    const faults = (sim: unknown) => (sim as { faults: FaultSwitch }).faults;
    faults(vendors.sims.ebet.simulator).set({ delayMs: EBET_DELAY_MS });
    faults(vendors.sims.fungame.simulator).set({ status: 400, times: FAILED });
    const path = join(folder, name);
    writeFileSync(path, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
    return path;
  }

  beforeAll(async () => {
    vendors = await startVendors(4 * SESSIONS);
    folder = mkdtempSync(join(tmpdir(), "x-logout-tty-"));
    baseEnv = { PATH: process.env.PATH ?? "", HOME: folder, ...vendors.env };
  });

  afterAll(async () => {
    await vendors?.close();
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
  });

  it("draws and redraws a live table on a terminal, ends on a full frame, then the report", async () => {
    const list = await prepare("incident.jsonl");
    const command = `stty cols 120 rows 40; exec ${quote(process.execPath)} ${quote(BIN)} ${quote(list)} --concurrency 2`;
    const ran = await run(SCRIPT, ["-q", "-e", "-c", command, "/dev/null"], {
      ...baseEnv,
      TERM: "xterm-256color",
    });
    const capture = ran.stdout;
    expect(ran.code, capture + ran.stderr).toBe(1);

    // Redrawn in place: log-update erases the last frame's lines and moves up over them.
    expect(capture).toContain(ERASE_LINE);
    expect(capture).toContain(CURSOR_UP);
    const frames = capture
      .split(`${ERASE_LINE}\u001b[G`)
      // The terminal's line discipline sends each line feed as CR LF.
      .map((part) => part.replace(ESCAPE, "").replaceAll("\r\n", "\n"))
      .filter((part) => /^x-logout · \d/.test(part))
      // A frame is its title, the column heads and a row per vendor; the report follows the last.
      .map((part) => part.split("\n").slice(0, 6).join("\n"));
    expect(frames.length).toBeGreaterThanOrEqual(5);

    const header = /^ *vendor +done +ended +already +earlier +failed +rate +ETA$/m;
    for (const frame of frames) {
      expect(frame).toMatch(header);
      for (const label of ["eBET", "FunGame", "OneAccess", "Lancens"]) {
        expect(frame).toMatch(
          new RegExp(
            `^${label} +\\d+/${SESSIONS} +\\d+ +\\d+ +\\d+ +\\d+ +[\\d.]+/s +(done|–|\\d+[smh][\\dms]*)`,
            "m",
          ),
        );
      }
    }
    // While it ran, a frame showed eBET part-way, with a rate and an ETA in time.
    expect(
      frames.some((frame) => /^eBET +([1-9]\d*)\/\d+ .* [\d.]+\/s +\d+[smh]/m.test(frame)),
    ).toBe(true);

    // The last frame (drawn again at the stop) shows every session done, and the outcomes.
    const last = frames.at(-1) as string;
    const row = (label: string) =>
      (new RegExp(`^${label} .*$`, "m").exec(last)?.[0] ?? "").split(/ {2,}/);
    // vendor, done, ended, already, earlier (none: a first run), failed
    expect(row("eBET").slice(0, 6)).toEqual([
      "eBET",
      `${SESSIONS}/${SESSIONS}`,
      String(SESSIONS),
      "0",
      "0",
      "0",
    ]);
    expect(row("eBET")[7]).toBe("done");
    expect(row("FunGame").slice(0, 6)).toEqual([
      "FunGame",
      `${SESSIONS}/${SESSIONS}`,
      String(SESSIONS - FAILED),
      "0",
      "0",
      String(FAILED),
    ]);
    expect(row("OneAccess").slice(0, 6)).toEqual([
      "OneAccess",
      `${SESSIONS}/${SESSIONS}`,
      String(SESSIONS),
      "0",
      "0",
      "0",
    ]);
    expect(row("Lancens").slice(0, 6)).toEqual([
      "Lancens",
      `${SESSIONS}/${SESSIONS}`,
      String(SESSIONS - ALREADY),
      String(ALREADY),
      "0",
      "0",
    ]);

    // On the screen: the last frame once, nothing left of the earlier ones, the report below it.
    const shown = screen(capture).filter((line) => line !== "");
    const lastLines = last.trimEnd().split("\n");
    const start = shown.indexOf(lastLines[0] as string);
    expect(start).toBe(0);
    expect(shown.slice(0, lastLines.length)).toEqual(lastLines);
    expect(shown.filter((line) => line.startsWith("x-logout ·"))).toHaveLength(1);
    expect(shown[lastLines.length]).toBe("x-logout report");
    expect(shown.at(-1)).toBe("Not every session ended.");
    expect(shown.join("\n")).toMatch(new RegExp(`FunGame +400 +upstream +${FAILED}`));

    // No token of the list on the terminal, in the journal or in the report.
    const journal = readFileSync(`${list}.journal`, "utf8");
    for (const secret of secrets) {
      expect(capture.includes(secret)).toBe(false);
      expect(journal.includes(secret)).toBe(false);
    }
    // Every session was ended by one call.
    const endings = vendors.endings();
    expect([...endings.ebet.values()].every((count) => count === 1)).toBe(true);
    expect([...endings["sdk-auth"].values()].filter((count) => count === 1)).toHaveLength(SESSIONS);

    console.info(`tty: ${frames.length} frames`);
  });

  it("prints plain progress lines, without escape codes, when standard error is not a terminal", async () => {
    const list = await prepare("plain.jsonl");
    const ran = await run(
      process.execPath,
      [BIN, list, "--concurrency", "2", "--progress-every", "1"],
      { ...baseEnv, TERM: "xterm-256color" },
    );
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stderr).not.toContain("\u001b");
    expect(ran.stdout).not.toContain("\u001b");
    const lines = ran.stderr.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const plain =
      /^x-logout: \d+[smh]\S* · eBET \d+\/\d+ \(ended \d+, already \d+, earlier \d+, failed \d+\) [\d.]+\/s (done|ETA \S+)( · |$)/;
    for (const line of lines) expect(line).toMatch(plain);
    for (const label of ["FunGame", "OneAccess", "Lancens"]) {
      expect(lines.at(-1)).toContain(` · ${label} ${SESSIONS}/${SESSIONS} (`);
    }
    expect(lines.at(-1)).toContain(
      `Lancens ${SESSIONS}/${SESSIONS} (ended ${SESSIONS - ALREADY}, already ${ALREADY}, earlier 0, failed 0)`,
    );
    expect(ran.stdout).toMatch(/^x-logout report\n/);
    for (const secret of secrets) {
      expect(ran.stderr.includes(secret) || ran.stdout.includes(secret)).toBe(false);
    }
    console.info(`plain: ${lines.length} lines`);
  });
});
