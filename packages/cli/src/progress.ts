// What people and machines see while a run goes: per vendor done, already logged out, failed,
// rate and ETA; a live table on a terminal (log-update), plain lines every few seconds off one,
// JSON lines with --json.
import { createLogUpdate } from "log-update";
import pc from "picocolors";
import type { Terminal } from "./host.ts";
import type { RunEvent } from "./runner.ts";
import { LABEL_OF, type VendorName } from "./sessions.ts";

/** One vendor's figures. */
export interface VendorCounts {
  /** Sessions of this vendor in the list (each once). */
  total: number;
  /** Ended by an earlier run with this journal: not sent again. */
  skipped: number;
  ended: number;
  already: number;
  failed: number;
  /** Not finished (the vendor or the run was stopped). */
  pending: number;
  attempts: number;
  retries: number;
  /** Why the vendor waits, while it does. */
  waiting: string | undefined;
  halted: string | undefined;
}

export type ProgressMode = "tty" | "plain" | "json" | "none";

/** Where progress goes: a writable stream's write, and whether it is a terminal. */
export interface ProgressOutput {
  write(text: string): void;
  columns?: number;
}

/** The window over which the rate is measured. */
const RATE_WINDOW_MS = 10_000;

export function emptyCounts(total: number, skipped: number): VendorCounts {
  return {
    total,
    skipped,
    ended: 0,
    already: 0,
    failed: 0,
    pending: 0,
    attempts: 0,
    retries: 0,
    waiting: undefined,
    halted: undefined,
  };
}

/** Sessions of a vendor with an outcome (this run's or an earlier one's). */
export function finished(counts: VendorCounts): number {
  return counts.skipped + counts.ended + counts.already + counts.failed + counts.pending;
}

/** Time since the start, whole seconds (rounded down). */
function elapsed(ms: number): string {
  return duration(Math.floor(ms / 1000) * 1000);
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

export class Progress {
  readonly counts: Map<VendorName, VendorCounts>;
  readonly #mode: ProgressMode;
  readonly #output: ProgressOutput;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #started: number;
  readonly #recent = new Map<VendorName, number[]>();
  readonly #live: ReturnType<typeof createLogUpdate> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    counts: Map<VendorName, VendorCounts>,
    mode: ProgressMode,
    output: ProgressOutput & { stream?: Terminal },
    intervalMs: number,
    now: () => number = Date.now,
  ) {
    this.counts = counts;
    this.#mode = mode;
    this.#output = output;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#started = now();
    this.#live =
      mode === "tty" && output.stream !== undefined
        ? createLogUpdate(output.stream, { showCursor: true })
        : undefined;
  }

  /** Starts drawing (tty, every 100 ms) or printing (plain and json, every interval). */
  start(): void {
    if (this.#mode === "none") return;
    const every = this.#mode === "tty" ? 100 : this.#intervalMs;
    this.#timer = setInterval(() => this.#draw(), every);
    // The display never keeps a finished run alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  onEvent(event: RunEvent): void {
    const counts = this.counts.get(event.vendor);
    if (counts === undefined) return;
    switch (event.type) {
      case "attempt":
        counts.attempts++;
        counts.waiting = undefined;
        break;
      case "retry":
        counts.retries++;
        counts.waiting = `waits ${duration(event.waitMs)} after ${event.error.kind} (${event.error.code})`;
        break;
      case "halt":
        counts.halted = `stopped: ${event.error.kind} (${event.error.code})`;
        break;
      case "settled": {
        const status = event.result.status;
        if (status === "ended") counts.ended++;
        else if (status === "already") counts.already++;
        else if (status === "failed") counts.failed++;
        else counts.pending++;
        if (status === "ended" || status === "already") {
          const times = this.#recent.get(event.vendor) ?? [];
          times.push(this.#now());
          this.#recent.set(event.vendor, times);
        }
        break;
      }
    }
  }

  /** Sessions per second over the last ten seconds. */
  rate(vendor: VendorName): number {
    const times = this.#recent.get(vendor) ?? [];
    const from = this.#now() - RATE_WINDOW_MS;
    while (times.length > 0 && (times[0] as number) < from) times.shift();
    const span = Math.min(RATE_WINDOW_MS, Math.max(1, this.#now() - this.#started));
    return (times.length * 1000) / span;
  }

  /** The figures as one JSON-ready object. */
  snapshot(): Record<string, unknown> {
    const vendors: Record<string, unknown> = {};
    for (const [vendor, counts] of this.counts) {
      const left = counts.total - finished(counts);
      const rate = this.rate(vendor);
      vendors[vendor] = {
        total: counts.total,
        ended: counts.ended,
        already: counts.already,
        failed: counts.failed,
        pending: counts.pending,
        skipped: counts.skipped,
        attempts: counts.attempts,
        retries: counts.retries,
        ratePerSecond: Math.round(rate * 10) / 10,
        etaSeconds: left === 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
        ...(counts.halted === undefined ? {} : { halted: counts.halted }),
        ...(counts.waiting === undefined ? {} : { waiting: counts.waiting }),
      };
    }
    return { elapsedMs: this.#now() - this.#started, vendors };
  }

  /** The live table; its columns keep their width from frame to frame. */
  table(): string {
    const header = ["vendor", "done", "ended", "already", "earlier", "failed", "rate", "ETA"];
    const vendors = [...this.counts];
    const totalWidth = Math.max(...vendors.map(([, counts]) => String(counts.total).length), 1);
    const widths = [
      Math.max(6, ...vendors.map(([vendor]) => LABEL_OF[vendor].length)),
      Math.max(4, 2 * totalWidth + 1),
      ...[2, 3, 4, 5].map((i) => Math.max((header[i] as string).length, totalWidth)),
      8,
      6,
    ];
    const pad = (cells: string[]) =>
      cells.map((cell, i) =>
        i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
      );
    const rows = vendors.map(([vendor, counts]) => {
      const done = finished(counts);
      const left = counts.total - done;
      const rate = this.rate(vendor);
      const eta = left === 0 ? "done" : rate > 0 ? duration((left / rate) * 1000) : "–";
      const cells = pad([
        LABEL_OF[vendor],
        `${done}/${counts.total}`,
        String(counts.ended),
        String(counts.already),
        String(counts.skipped),
        String(counts.failed),
        `${rate.toFixed(rate < 10 ? 1 : 0)}/s`,
        eta,
      ]);
      if (counts.failed > 0) cells[5] = pc.red(cells[5] as string);
      const note = counts.halted ?? counts.waiting;
      const text = cells.join("  ");
      return note === undefined
        ? text
        : `${text}  ${counts.halted ? pc.red(note) : pc.yellow(note)}`;
    });
    return [
      pc.bold(`x-logout · ${elapsed(this.#now() - this.#started)}`),
      pc.dim(pad(header).join("  ")),
      ...rows,
    ].join("\n");
  }

  /** Writes a message above the live table (or as a line of its own off a terminal). */
  notice(text: string): void {
    if (this.#mode === "tty" && this.#live !== undefined) {
      this.#live.clear();
      this.#output.write(text);
      this.#live(this.table());
      return;
    }
    this.#output.write(text);
  }

  /** One plain line. */
  line(): string {
    const parts = [...this.counts].map(([vendor, counts]) => {
      const left = counts.total - finished(counts);
      const rate = this.rate(vendor);
      const eta =
        left === 0 ? "done" : rate > 0 ? `ETA ${duration((left / rate) * 1000)}` : "ETA –";
      const note = counts.halted ?? counts.waiting;
      return `${LABEL_OF[vendor]} ${finished(counts)}/${counts.total} (ended ${counts.ended}, already ${counts.already}, earlier ${counts.skipped}, failed ${counts.failed}) ${rate.toFixed(1)}/s ${eta}${note ? `, ${note}` : ""}`;
    });
    return `x-logout: ${elapsed(this.#now() - this.#started)} · ${parts.join(" · ")}\n`;
  }

  #draw(): void {
    if (this.#mode === "tty") this.#live?.(this.table());
    else if (this.#mode === "plain") this.#output.write(this.line());
    else if (this.#mode === "json") {
      this.#output.write(`${JSON.stringify({ type: "progress", ...this.snapshot() })}\n`);
    }
  }

  /** Stops drawing; the terminal keeps the last table. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#mode === "tty") {
      this.#live?.(this.table());
      this.#live?.done();
    } else if (this.#mode === "plain") this.#output.write(this.line());
  }
}
