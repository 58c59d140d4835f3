// The append-only journal of a run: a record before each attempt is sent and one for each outcome,
// each written with one write(2) before the run goes on, so that a kill loses no outcome and a rerun
// knows which sessions are done and which attempts may have been acted on. No token is written.
import { type AppendFile, openAppend, removeFile, takeLockFile } from "./host.ts";
import type { VendorName } from "./sessions.ts";

export const JOURNAL_VERSION = 1;
/** How a journal's first record starts, as `JSON.stringify` writes it. */
const HEADER_START = '{"t":"journal"';

/** How a session ended. */
export type Outcome = "ended" | "already";

/** One journal line. */
export type JournalRecord =
  | { t: "journal"; v: number; at: string }
  | { t: "run"; run: string; at: string; mode: "direct" | "proxy"; input: string }
  | { t: "send"; k: string; at: number }
  | { t: "done"; k: string; outcome: Outcome; attempts: number; at: number; note?: string }
  | {
      t: "fail";
      k: string;
      code: string | number;
      kind: string;
      status: number | null;
      attempts: number;
      doubt: boolean;
      at: number;
    }
  | { t: "stop"; run: string; at: string; reason: string };

/** What the journal says of one session. */
export interface SessionState {
  outcome: Outcome | undefined;
  /** An attempt was sent and no outcome followed it, or its failure left it open. */
  inDoubt: boolean;
  /** The last failure recorded, when the session has not ended. */
  lastFailure: { code: string | number; kind: string } | undefined;
}

/** The journal cannot be used: another run holds it, or it is not a journal. */
export class JournalError extends Error {
  override name = "JournalError";
}

/** Reads a journal's text: every record, and each session's state. A cut last line is left out. */
export function readJournal(text: string, path = "journal"): Map<string, SessionState> {
  const states = new Map<string, SessionState>();
  const lines = text.split("\n");
  // The text after the last newline: empty, or a line cut by a kill, which never counted.
  lines.pop();
  lines.forEach((line, index) => {
    let record: JournalRecord;
    try {
      record = JSON.parse(line) as JournalRecord;
    } catch {
      throw new JournalError(`${path}, line ${index + 1}: is not a journal record`);
    }
    if (index === 0) {
      if (record?.t !== "journal" || record.v !== JOURNAL_VERSION) {
        throw new JournalError(`${path}: is not an x-logout journal (version ${JOURNAL_VERSION})`);
      }
      return;
    }
    if (typeof record !== "object" || record === null || typeof record.t !== "string") {
      throw new JournalError(`${path}, line ${index + 1}: is not a journal record`);
    }
    if (record.t !== "send" && record.t !== "done" && record.t !== "fail") return;
    if (typeof record.k !== "string") {
      throw new JournalError(`${path}, line ${index + 1}: has no session key`);
    }
    const state = states.get(record.k) ?? {
      outcome: undefined,
      inDoubt: false,
      lastFailure: undefined,
    };
    if (record.t === "send") state.inDoubt = state.outcome === undefined;
    else if (record.t === "done") {
      state.outcome = record.outcome;
      state.inDoubt = false;
    } else if (state.outcome === undefined) {
      state.inDoubt = record.doubt === true;
      state.lastFailure = { code: record.code, kind: record.kind };
    }
    states.set(record.k, state);
  });
  return states;
}

/**
 * An open journal: `send`, `done` and `fail` append one line each with one write. The journal is
 * locked by `<path>.lock` (holding the process id) while it is open: two runs on one journal would
 * log sessions out twice.
 */
export class Journal {
  readonly path: string;
  readonly states: Map<string, SessionState>;
  readonly #file: AppendFile;
  readonly #lock: string;
  #closed = false;
  #unsynced = 0;

  private constructor(
    path: string,
    file: AppendFile,
    lock: string,
    states: Map<string, SessionState>,
  ) {
    this.path = path;
    this.#file = file;
    this.#lock = lock;
    this.states = states;
  }

  /** Opens (or creates) the journal at `path`, reads what it holds, and takes its lock. */
  static open(path: string): Journal {
    const lock = `${path}.lock`;
    const taken = takeLockFile(lock);
    if (!taken.taken) {
      throw new JournalError(
        taken.owner > 0
          ? `${path}: another run (process ${taken.owner}) is using this journal; wait for it or stop it`
          : `${path}: could not lock ${lock}`,
      );
    }
    let file: AppendFile | undefined;
    try {
      file = openAppend(path);
      const read = file.bytes.length;
      const text = new TextDecoder().decode(file.bytes);
      const states = read === 0 ? new Map() : readJournal(text, path);
      // A line cut by a kill is dropped, so the next record starts on a line of its own.
      const whole = text.lastIndexOf("\n") + 1;
      // With no whole line, only a cut first record may be dropped: any other file is not emptied.
      if (
        whole === 0 &&
        read > 0 &&
        !text.startsWith(HEADER_START) &&
        !HEADER_START.startsWith(text)
      ) {
        throw new JournalError(`${path}: is not an x-logout journal (version ${JOURNAL_VERSION})`);
      }
      if (whole < read) file.truncate(new TextEncoder().encode(text.slice(0, whole)).length);
      const journal = new Journal(path, file, lock, states);
      if (whole === 0) {
        journal.#append({ t: "journal", v: JOURNAL_VERSION, at: new Date().toISOString() });
      }
      return journal;
    } catch (error) {
      file?.close();
      removeFile(lock);
      throw error;
    }
  }

  #append(record: JournalRecord): void {
    if (this.#closed) throw new JournalError(`${this.path}: the journal is closed`);
    this.#file.append(new TextEncoder().encode(`${JSON.stringify(record)}\n`));
    this.#unsynced++;
  }

  run(run: string, mode: "direct" | "proxy", input: string): void {
    this.#append({ t: "run", run, at: new Date().toISOString(), mode, input });
  }

  /** Before an attempt is sent: from here on, a kill leaves the session in doubt. */
  send(key: string): void {
    this.#append({ t: "send", k: key, at: Date.now() });
  }

  done(key: string, outcome: Outcome, attempts: number, note?: string): void {
    this.#append({
      t: "done",
      k: key,
      outcome,
      attempts,
      at: Date.now(),
      ...(note === undefined ? {} : { note }),
    });
  }

  fail(
    key: string,
    error: { code: string | number; kind: string; status: number | null },
    attempts: number,
    doubt: boolean,
  ): void {
    this.#append({
      t: "fail",
      k: key,
      code: error.code,
      kind: error.kind,
      status: error.status,
      attempts,
      doubt,
      at: Date.now(),
    });
  }

  stop(run: string, reason: string): void {
    this.#append({ t: "stop", run, at: new Date().toISOString(), reason });
  }

  /** Flushes the journal to the disk (a kill loses nothing without it; a power loss may). */
  sync(): void {
    if (this.#closed || this.#unsynced === 0) return;
    this.#file.sync();
    this.#unsynced = 0;
  }

  close(): void {
    if (this.#closed) return;
    this.sync();
    this.#file.close();
    this.#closed = true;
    removeFile(this.#lock);
  }
}

/** The vendor of a session key (`ebet:…`). */
export function vendorOfKey(key: string): VendorName {
  return key.slice(0, key.indexOf(":")) as VendorName;
}
