// @x/cli: the x-logout command, and its parts for scripts that log sessions out in bulk.
import { main } from "./cli.ts";
import { programArgs, runProcess } from "./host.ts";

export {
  type CliIo,
  EXIT_INTERRUPTED,
  EXIT_NOT_ALL_ENDED,
  EXIT_OK,
  EXIT_USAGE,
  main,
  PROXY_KEY_VARIABLE,
  parseConcurrency,
  VERSION,
} from "./cli.ts";
export { processIo, runProcess } from "./host.ts";
export {
  CSV_HEADERS,
  CsvError,
  formatOfName,
  type InputFormat,
  type LineIssue,
  MAX_LINE_LENGTH,
  type ParsedInput,
  parseCsv,
  parseJsonLines,
  parseSessions,
  type SessionLine,
} from "./input.ts";
export {
  Journal,
  JournalError,
  type JournalRecord,
  type Outcome,
  readJournal,
  type SessionState,
} from "./journal.ts";
export {
  type RunEvent,
  type RunOptions,
  type RunResult,
  runTasks,
  type Task,
  type TaskStatus,
} from "./runner.ts";
export {
  type AttemptError,
  type AttemptResult,
  directSender,
  type ProxyTarget,
  proxySender,
  retryAfterMs,
  type Sender,
  settleInDoubt,
} from "./senders.ts";
export {
  checkMember,
  MEMBER_OF,
  type Member,
  MemberError,
  sessionKey,
  VENDOR_NAMES,
  type VendorName,
} from "./sessions.ts";
export { readSettings, type Settings, SettingsError } from "./settings.ts";

// `deno run -A jsr:@x/cli` runs this module as the program: it is then the command.
if ((import.meta as { main?: boolean }).main === true) {
  await runProcess(programArgs(), main);
}
