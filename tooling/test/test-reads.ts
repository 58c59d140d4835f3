// Finds the files a workspace's tests read, from the sources themselves: its test folders and vitest
// configs, then every repository file their code names (imports, `new URL(…)`, `join(ROOT, "a", "b")`,
// spawned scripts), followed through the files found. Checked against turbo's task inputs.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, posix } from "node:path";
// @ts-expect-error: plain JavaScript module without declarations
import { ROOT } from "../toolchain.mjs";

/** Files whose text can name other files: code and JSON configuration. */
const SCANNED = /\.(?:[cm]?[jt]s|json)$/;
const LITERAL = String.raw`(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\x60[^\x60$\\]*\x60)`;
const ONE_LITERAL = new RegExp(LITERAL, "g");
/** A first argument and the literal arguments after it, up to the call's end: `join(ROOT, "a", "b")`. */
const JOINED = new RegExp(
  String.raw`([\w$.]+)\s*,\s*(${LITERAL}(?:\s*,\s*${LITERAL})*)\s*,?\s*\)`,
  "g",
);
/** A call of two or more literal arguments only: `join("tooling", "start.mjs")`. */
const LITERAL_CALL = new RegExp(String.raw`\(\s*(${LITERAL}(?:\s*,\s*${LITERAL})+)\s*,?\s*\)`, "g");
/** The leading folder of a template literal with a hole: `../scripts/${name}` names ../scripts/. */
const TEMPLATE_FOLDER = /\x60([^\x60$\\]*\/)\$\{/g;
const WHOLE_LINE_COMMENTS = /^[ \t]*(?:\/\/.*|\/\*[\s\S]*?\*\/)$/gm;
const PATHLIKE = /^[\w.@-][\w./@-]*$/;

/** Every file git tracks (or would, being untracked but not ignored), relative to the root. */
export function repositoryFiles(): Set<string> {
  const listed = spawnSync(
    "git",
    ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  return new Set(listed.stdout.split("\0").filter((path) => path !== ""));
}

/** The workspace folder (packages/x, apps/x, tooling) a repository path lies in, or "" for the root. */
function workspaceOf(path: string): string {
  const parts = path.split("/");
  if ((parts[0] === "packages" || parts[0] === "apps") && parts.length > 2) {
    return `${parts[0]}/${parts[1]}`;
  }
  return parts[0] === "tooling" ? "tooling" : "";
}

const unquote = (literal: string): string => literal.slice(1, -1);

/**
 * The repository files one file names, by these readings of its string literals (a literal that
 * names no existing file is data, not a path):
 * - `./x`, `../x` (imports, `new URL(…, import.meta.url)`): from the file's folder;
 * - the literal arguments after a first one, joined: from the root after a `…ROOT` first argument
 *   (`join(ROOT, "tooling", "start.mjs")`), else from the file's folder and its workspace
 *   (`join(APP, "package.json")`); two or more literal arguments alone (`join("tooling", "x.mjs")`,
 *   from the root as a working folder), from all three;
 * - a literal with a slash (`"scripts/deploy-dry-run.mjs"`): from the file's workspace;
 * - any literal, from a folder a template literal names (`../scripts/${name}`).
 * Never dist/ or node_modules/: those are build outputs and installs, hashed elsewhere. Comments
 * that fill their lines are left out.
 */
function filesNamedBy(path: string, files: Set<string>): string[] {
  // Whole-line comments hold examples, not reads.
  const text = readFileSync(join(ROOT, path), "utf8").replace(WHOLE_LINE_COMMENTS, "");
  const here = posix.dirname(path);
  const workspace = workspaceOf(path);
  const candidates: [string, string[]][] = [];
  const literals = [...text.matchAll(ONE_LITERAL)].map(([literal]) => unquote(literal));
  const folders = [...text.matchAll(TEMPLATE_FOLDER)].map((m) => posix.join(here, m[1] ?? ""));
  for (const literal of literals) {
    if (!PATHLIKE.test(literal)) continue;
    // A relative specifier names a file next to the one that holds it, never one of the workspace's.
    if (literal.startsWith("./") || literal.startsWith("../")) candidates.push([literal, [here]]);
    else if (literal.includes("/")) candidates.push([literal, [workspace]]);
    candidates.push([literal, folders]);
  }
  const joined = (run: string) =>
    [...run.matchAll(ONE_LITERAL)].map(([literal]) => unquote(literal)).join("/");
  for (const [, first = "", run = ""] of text.matchAll(JOINED)) {
    candidates.push([joined(run), /\bROOT$/.test(first) ? [""] : [here, workspace]]);
  }
  for (const [, run = ""] of text.matchAll(LITERAL_CALL)) {
    candidates.push([joined(run), [here, workspace, ""]]);
  }
  const found = new Set<string>();
  for (const [named, bases] of candidates) {
    if (!PATHLIKE.test(named)) continue;
    for (const base of bases) {
      const candidate = posix.normalize(posix.join(base, named));
      if (/(?:^|\/)(?:dist|node_modules)\//.test(candidate)) continue;
      if (files.has(candidate)) found.add(candidate);
    }
  }
  return [...found];
}

/** The vitest configs a workspace's `test` script runs: `--config <file>` each, and vitest.config.ts. */
function testConfigs(workspace: string, files: Set<string>): string[] {
  const manifest = JSON.parse(readFileSync(join(ROOT, workspace, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  const script = manifest.scripts?.test ?? "";
  const configs = [...script.matchAll(/--config[= ](\S+)/g)].map((m) => m[1] ?? "");
  if (/\bvitest\b/.test(script)) configs.push("vitest.config.ts");
  return configs.map((config) => posix.join(workspace, config)).filter((file) => files.has(file));
}

/**
 * Every repository file the tests of `workspace` read: its test folders (test/, test-node/…) and
 * vitest configs, and every file they name, followed transitively: each (relative to the root)
 * with the file that named it. `notRun` lists, per file, the files it names that the tests never
 * reach through it (a command the tests do not give): they are not followed from there.
 */
export function filesTestsRead(
  workspace: string,
  files: Set<string>,
  notRun: ReadonlyMap<string, readonly string[]> = new Map(),
): Map<string, string> {
  const start = [
    ...[...files].filter((file) => file.startsWith(`${workspace}/test`)),
    ...testConfigs(workspace, files),
    // vite compiles every TypeScript file with the compiler options of the nearest tsconfig.json.
    ...[`${workspace}/tsconfig.json`].filter((file) => files.has(file)),
  ];
  const namedBy = new Map<string, string>(start.map((file) => [file, "the test folders"]));
  const queue = [...start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (!SCANNED.test(file)) continue;
    for (const named of filesNamedBy(file, files)) {
      if (namedBy.has(named) || notRun.get(file)?.includes(named)) continue;
      namedBy.set(named, file);
      queue.push(named);
    }
  }
  return namedBy;
}

/** One task of `turbo run … --dry=json`: its id, folder, hashed inputs and the tasks it needs. */
export interface DryTask {
  taskId: string;
  directory: string;
  inputs: Record<string, string>;
  dependencies: string[];
}

/** `turbo run <task> --dry=json`: the tasks turbo would run and the files each one hashes. */
export function turboDryRun(task: string): DryTask[] {
  const turbo = join(ROOT, "node_modules", ".bin", "turbo");
  const result = spawnSync(turbo, ["run", task, "--dry=json"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", TURBO_NO_UPDATE_NOTIFIER: "1" },
  });
  if (result.status !== 0) throw new Error(`turbo --dry=json failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { tasks: DryTask[] }).tasks;
}

/**
 * The files of `reads` (root-relative) that change no hash of `taskId`: neither its own inputs nor
 * those of the tasks it depends on, transitively (a dependency's build covers its sources).
 */
export function filesOutsideInputs(tasks: DryTask[], taskId: string, reads: string[]): string[] {
  const byId = new Map(tasks.map((task) => [task.taskId, task]));
  const hashed = new Set<string>();
  const pending = [taskId];
  const visited = new Set<string>();
  while (pending.length > 0) {
    const id = pending.pop() as string;
    if (visited.has(id)) continue;
    visited.add(id);
    const task = byId.get(id);
    if (task === undefined) throw new Error(`the dry run has no task ${id}`);
    for (const input of Object.keys(task.inputs)) {
      hashed.add(posix.normalize(posix.join(task.directory, input)));
    }
    pending.push(...task.dependencies);
  }
  return reads.filter((file) => !hashed.has(file));
}
