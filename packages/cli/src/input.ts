// Session lists: JSON Lines or CSV, one session per line with the proxy's fan-out members; each bad
// line reported by its number and field, never by its values.
import { parse as parseCsvText } from "csv-parse/sync";
import {
  checkMember,
  type FieldIssue,
  MEMBER_OF,
  MEMBERS,
  type Member,
  MemberError,
  VENDOR_NAMES,
  type VendorName,
  vendorOfMember,
} from "./sessions.ts";

/** One line of the list: its number in the file (1-based) and each vendor's checked member. */
export interface SessionLine {
  line: number;
  members: Partial<Record<VendorName, Member>>;
}

/** A line that cannot be used, by number; `field` is "(line)" when the line as a whole is at fault. */
export interface LineIssue extends FieldIssue {
  line: number;
}

export interface ParsedInput {
  lines: SessionLine[];
  issues: LineIssue[];
}

export type InputFormat = "jsonl" | "csv";

/** The longest line read, in characters: a session is a few hundred. */
export const MAX_LINE_LENGTH = 65_536;

/** The format a file's name says, undefined when it says none. */
export function formatOfName(name: string): InputFormat | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson") || lower.endsWith(".json")) {
    return "jsonl";
  }
  return undefined;
}

/** Checks one line's object: its members are vendors' members, at least one, each checked. */
function checkLine(object: Record<string, unknown>, line: number): SessionLine | LineIssue {
  const members: Partial<Record<VendorName, Member>> = {};
  const keys = Object.keys(object);
  for (const key of keys) {
    if (vendorOfMember(key) === undefined) {
      return { line, field: key, message: `is not a vendor (one of ${MEMBERS.join(", ")})` };
    }
  }
  for (const vendor of VENDOR_NAMES) {
    const member = MEMBER_OF[vendor];
    if (!Object.hasOwn(object, member) || object[member] === undefined) continue;
    try {
      members[vendor] = checkMember(vendor, object[member]);
    } catch (error) {
      if (error instanceof MemberError) return { line, ...error.issue };
      throw error;
    }
  }
  if (Object.keys(members).length === 0) {
    return { line, field: "(line)", message: `names no vendor (${MEMBERS.join(", ")})` };
  }
  return { line, members };
}

function isIssue(value: SessionLine | LineIssue): value is LineIssue {
  return "field" in value;
}

/** Reads JSON Lines: blank lines are skipped, every other line is one JSON object. */
export function parseJsonLines(text: string): ParsedInput {
  const lines: SessionLine[] = [];
  const issues: LineIssue[] = [];
  const rows = text.split("\n");
  rows.forEach((raw, index) => {
    const line = index + 1;
    const row = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (row.trim() === "") return;
    if (row.length > MAX_LINE_LENGTH) {
      issues.push({
        line,
        field: "(line)",
        message: `is longer than ${MAX_LINE_LENGTH} characters`,
      });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(line === 1 ? row.replace(/^\uFEFF/, "") : row);
    } catch {
      // The parser's message quotes the line: it is not repeated.
      issues.push({ line, field: "(line)", message: "is not valid JSON" });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      issues.push({ line, field: "(line)", message: "must be a JSON object" });
      return;
    }
    const checked = checkLine(value as Record<string, unknown>, line);
    if (isIssue(checked)) issues.push(checked);
    else lines.push(checked);
  });
  return { lines, issues };
}

/** CSV columns: each vendor's fields, by dotted path. */
const CSV_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  ebet: ["username"],
  fungame: ["token"],
  sdkAuth: [
    "sessionToken",
    "device.osVersion",
    "device.fingerprint",
    "device.agent",
    "device.ip",
    "device.language",
  ],
  lancens: ["username", "token"],
};

export const CSV_HEADERS: readonly string[] = Object.entries(CSV_COLUMNS).flatMap(
  ([member, fields]) => fields.map((field) => `${member}.${field}`),
);

/** The CSV could not be read past a line (an unclosed quote, say): nothing can be trusted after it. */
export class CsvError extends Error {
  override name = "CsvError";
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: string): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1) as string] = value;
}

/**
 * Reads CSV with a header row of dotted columns (`ebet.username`, `sdkAuth.device.agent`…); an empty
 * cell is an absent field, a vendor whose cells are all empty is not named on that line.
 */
export function parseCsv(text: string): ParsedInput {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsvText(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      max_record_size: MAX_LINE_LENGTH,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    const line = (error as { lines?: unknown }).lines;
    const code = (error as { code?: unknown }).code;
    throw new CsvError(
      typeof line === "number" ? line : 1,
      `the CSV cannot be read from here on${typeof code === "string" ? ` (${code})` : ""}`,
    );
  }
  const [header, ...rows] = records;
  if (header === undefined) return { lines: [], issues: [] };
  const columns = header.record.map((name) => name.trim());
  const issues: LineIssue[] = [];
  const unknown = columns.filter((name) => !CSV_HEADERS.includes(name));
  const repeated = columns.filter((name, index) => columns.indexOf(name) !== index);
  if (unknown.length > 0 || repeated.length > 0 || columns.length === 0) {
    const field = unknown[0] ?? repeated[0] ?? "(header)";
    const message =
      unknown.length > 0
        ? `is not a known column (${CSV_HEADERS.join(", ")})`
        : "appears twice in the header";
    throw new CsvError(header.info.lines, `${field}: ${message}`);
  }
  const lines: SessionLine[] = [];
  for (const { record, info } of rows) {
    const line = info.lines;
    if (record.length !== columns.length) {
      issues.push({
        line,
        field: "(line)",
        message: `has ${record.length} cells, the header ${columns.length}`,
      });
      continue;
    }
    const object: Record<string, unknown> = {};
    record.forEach((cell, index) => {
      if (cell === "") return;
      setPath(object, (columns[index] as string).split("."), cell);
    });
    const checked = checkLine(object, line);
    if (isIssue(checked)) issues.push(checked);
    else lines.push(checked);
  }
  return { lines, issues };
}

/** Reads a list in the given format. */
export function parseSessions(text: string, format: InputFormat): ParsedInput {
  return format === "csv" ? parseCsv(text) : parseJsonLines(text);
}
