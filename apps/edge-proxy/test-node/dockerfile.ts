// Reads the Dockerfile and its .dockerignore as Docker does, and checks the image's rules, for tests that run without Docker.
import { lstatSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";

/** The instructions this reader understands. Any other is refused, so no rule is checked against text it misread. */
const KEYWORDS = [
  "FROM",
  "WORKDIR",
  "COPY",
  "RUN",
  "ENV",
  "EXPOSE",
  "VOLUME",
  "USER",
  "CMD",
  "ENTRYPOINT",
  "STOPSIGNAL",
  "HEALTHCHECK",
] as const;
export type Keyword = (typeof KEYWORDS)[number];

/** Instructions whose arguments may begin with `--name=value` flags. */
const WITH_FLAGS: ReadonlySet<Keyword> = new Set(["FROM", "COPY", "RUN", "HEALTHCHECK"]);
/** Instructions that take a JSON array (exec form) as well as words. */
const WITH_EXEC: ReadonlySet<Keyword> = new Set([
  "CMD",
  "ENTRYPOINT",
  "RUN",
  "HEALTHCHECK",
  "COPY",
  "VOLUME",
]);
/** Instructions whose words Docker expands `$VARIABLE` in: this reader refuses a `$` there. */
const EXPANDED: ReadonlySet<Keyword> = new Set([
  "FROM",
  "WORKDIR",
  "COPY",
  "EXPOSE",
  "VOLUME",
  "USER",
  "STOPSIGNAL",
]);

export interface Instruction {
  keyword: Keyword;
  /** The line the instruction starts on, from 1. */
  line: number;
  /** `--name=value` before the arguments (`--name` alone is "true"). */
  flags: Record<string, string>;
  /** The arguments after the flags, continued lines joined (for HEALTHCHECK, what follows CMD, or NONE). */
  text: string;
  /** The exec form's array; undefined in shell form. */
  exec: string[] | undefined;
  /** The arguments split at white space (shell form). */
  words: string[];
  /** ENV's names and values, in order. */
  env: [string, string][];
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** A JSON array of strings, or an error naming the line: Docker would run anything else through a shell. */
function execForm(line: number, keyword: string, text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) {
    throw new Error(
      `line ${line}: ${keyword} starts like exec form but is not a JSON array of strings (Docker would run it as a shell command)`,
    );
  }
  return parsed;
}

/** ENV's `name=value` pairs (values quoted or escaped as a shell would), or the older `ENV name value`. */
function envPairs(line: number, text: string): [string, string][] {
  const name = /^[A-Za-z_][A-Za-z0-9_]*/;
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) {
    const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+(\S[\s\S]*)$/.exec(text);
    if (legacy === null || /["'\\$]/.test(legacy[2] as string)) {
      throw new Error(`line ${line}: ENV ${text}: not read by this reader`);
    }
    return [[legacy[1] as string, (legacy[2] as string).trim()]];
  }
  const tokens: string[] = [];
  let token: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quote === undefined && /\s/.test(char)) {
      if (token !== undefined) tokens.push(token);
      token = undefined;
      continue;
    }
    token ??= "";
    if (char === quote) quote = undefined;
    else if (quote === undefined && (char === '"' || char === "'")) quote = char;
    else if (char === "\\" && quote !== "'") token += text[++i] ?? "";
    else if (char === "$" && quote !== "'") {
      throw new Error(`line ${line}: ENV expands $ in ${text}: not read by this reader`);
    } else token += char;
  }
  if (quote !== undefined) throw new Error(`line ${line}: ENV has an unclosed ${quote}`);
  if (token !== undefined) tokens.push(token);
  return tokens.map((pair) => {
    const key = name.exec(pair)?.[0];
    if (key === undefined || pair[key.length] !== "=") {
      throw new Error(`line ${line}: ENV ${pair}: not a name=value pair`);
    }
    return [key, pair.slice(key.length + 1)];
  });
}

function instruction(line: number, source: string): Instruction {
  const match = /^\s*([A-Za-z]+)(?:\s+([\s\S]*))?$/.exec(source);
  const keyword = match?.[1]?.toUpperCase() as Keyword | undefined;
  if (keyword === undefined || !KEYWORDS.includes(keyword)) {
    throw new Error(
      `line ${line}: ${match?.[1] ?? source} is not an instruction this reader knows (${KEYWORDS.join(", ")})`,
    );
  }
  let text = (match?.[2] ?? "").trim();
  const flags: Record<string, string> = {};
  if (WITH_FLAGS.has(keyword)) {
    for (let flag = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(text); flag !== null; ) {
      flags[flag[1] as string] = flag[2] ?? "true";
      text = text.slice(flag[0].length);
      flag = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(text);
    }
  }
  if (keyword === "HEALTHCHECK" && text !== "NONE") {
    const command = /^CMD\s+([\s\S]+)$/i.exec(text);
    if (command === null) throw new Error(`line ${line}: HEALTHCHECK needs CMD or NONE`);
    text = (command[1] as string).trim();
  }
  if (EXPANDED.has(keyword) && text.includes("$")) {
    throw new Error(`line ${line}: ${keyword} expands $ in ${text}: not read by this reader`);
  }
  const exec =
    WITH_EXEC.has(keyword) && text.startsWith("[") ? execForm(line, keyword, text) : undefined;
  return {
    keyword,
    line,
    flags,
    text,
    exec,
    words: text === "" ? [] : text.split(/\s+/),
    env: keyword === "ENV" ? envPairs(line, text) : [],
  };
}

/**
 * The instructions of a Dockerfile: comment lines dropped (inside continuations too), lines ending
 * in `\` joined with the next, as Docker joins them (the backslash and the line break removed).
 */
export function parseDockerfile(source: string): Instruction[] {
  const lines = source.split(/\r?\n/);
  let first = 0;
  // Parser directives: `# name=value` lines at the very top.
  for (let directive = /^#\s*([a-z]+)\s*=\s*(\S*)\s*$/i.exec(lines[0] ?? ""); directive; ) {
    if (directive[1]?.toLowerCase() === "escape" && directive[2] !== "\\") {
      throw new Error(
        `line ${first + 1}: the escape directive ${directive[2]} is not read by this reader`,
      );
    }
    first++;
    directive = /^#\s*([a-z]+)\s*=\s*(\S*)\s*$/i.exec(lines[first] ?? "");
  }
  const instructions: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  for (let i = first; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const continued = /\\\s*$/.test(raw);
    const piece = continued ? raw.replace(/\\\s*$/, "") : raw;
    if (pending === undefined) pending = { line: i + 1, text: piece };
    else pending.text += piece;
    if (!continued) {
      instructions.push(instruction(pending.line, pending.text));
      pending = undefined;
    }
  }
  if (pending !== undefined) {
    throw new Error(`line ${pending.line}: the last instruction ends in a line continuation`);
  }
  return instructions;
}

/** The build stages, each from its FROM. */
export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const item of instructions) {
    if (item.keyword === "FROM") {
      const [image, as, name, ...more] = item.words;
      if (
        image === undefined ||
        (as !== undefined && (as.toUpperCase() !== "AS" || !name)) ||
        more.length > 0
      ) {
        throw new Error(`line ${item.line}: FROM ${item.text}: expected an image and AS <name>`);
      }
      stages.push({ image, name, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined)
        throw new Error(`line ${item.line}: ${item.keyword} before any FROM`);
      stage.instructions.push(item);
    }
  }
  if (stages.length === 0) throw new Error("the Dockerfile has no FROM");
  return stages;
}

/** What `docker build` sends the daemon from `root`, as .dockerignore selects it. */
export interface BuildContext {
  /** Every file (or link) sent, relative to the root, with `/`. */
  files: string[];
  /** Whether `path` is sent: the file itself, or a folder with at least one file sent. */
  holds(path: string): boolean;
}

interface Pattern {
  text: string;
  negated: boolean;
  regex: RegExp;
}

/** A .dockerignore pattern as a regular expression: `**` any folders, `*` and `?` within one name. */
function patternRegex(pattern: string): RegExp {
  if (/[[\\]/.test(pattern)) throw new Error(`.dockerignore ${pattern}: not read by this reader`);
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") {
        i++;
        source += "(?:.*/)?";
      } else source += ".*";
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** The path without `./`, a leading or trailing `/`, or `.` parts. */
function clean(path: string): string {
  const normal = posix.normalize(path).replace(/^\/+|\/+$/g, "");
  return normal === "." ? "" : normal;
}

/** Reads .dockerignore: the last pattern that matches a path or one of its folders decides. */
export function dockerignore(source: string): {
  excluded(path: string): boolean;
  patterns: Pattern[];
} {
  const patterns: Pattern[] = source
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const text = clean(negated ? line.slice(1).trim() : line);
      return { text, negated, regex: patternRegex(text) };
    });
  const excluded = (path: string) => {
    const parts = clean(path).split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let out = false;
    for (const pattern of patterns) {
      if (prefixes.some((prefix) => pattern.regex.test(prefix))) out = !pattern.negated;
    }
    return out;
  };
  return { excluded, patterns };
}

/** The files `docker build <root>` sends with this .dockerignore. */
export function buildContext(root: string, ignore: string): BuildContext {
  const { excluded, patterns } = dockerignore(ignore);
  // A folder left out is walked only when a `!` pattern may bring something under it back.
  const mayComeBack = (dir: string) =>
    patterns.some(
      (pattern) =>
        pattern.negated && (pattern.text.startsWith(`${dir}/`) || pattern.text.startsWith("**")),
    );
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = dir === "" ? name : `${dir}/${name}`;
      if (lstatSync(join(root, path)).isDirectory()) {
        if (!excluded(path) || mayComeBack(path)) walk(path);
      } else if (!excluded(path)) files.push(path);
    }
  };
  walk("");
  return {
    files,
    holds(path) {
      const wanted = clean(path);
      return files.some(
        (file) => wanted === "" || file === wanted || file.startsWith(`${wanted}/`),
      );
    },
  };
}

/** What the image runs, as the last stage declares it. */
export interface Image {
  /** The final WORKDIR. */
  workdir: string;
  /** CMD's exec form. */
  cmd: string[];
  /** The ENV lines, later ones winning. */
  env: Record<string, string>;
  user: string | undefined;
  /** HEALTHCHECK's exec form, when there is one. */
  healthcheck: string[] | undefined;
  /** The build stage's `pnpm --filter @x/edge-proxy deploy …` arguments (without the folder) and folder. */
  deploy: { args: string[]; target: string } | undefined;
  /** The stage and folder the final COPY --from takes, and where it puts it. */
  copied: { from: string; source: string; dest: string } | undefined;
}

const last = (instructions: Instruction[], keyword: Keyword) =>
  instructions.filter((item) => item.keyword === keyword).at(-1);

/** The runtime side of the last stage (no checks: see dockerfileProblems). */
export function imageOf(stages: Stage[]): Image {
  const final = stages.at(-1) as Stage;
  const own = final.instructions;
  const cmd = last(own, "CMD");
  const copy = own.find((item) => item.keyword === "COPY" && item.flags.from !== undefined);
  const copyWords = copy?.exec ?? copy?.words ?? [];
  const copied =
    copy === undefined || copyWords.length !== 2
      ? undefined
      : {
          from: copy.flags.from as string,
          source: copyWords[0] as string,
          dest: copyWords[1] as string,
        };
  const builder = stages.find((stage) => stage.name !== undefined && stage.name === copied?.from);
  let deploy: Image["deploy"];
  for (const run of builder?.instructions.filter((item) => item.keyword === "RUN") ?? []) {
    for (const step of run.text.split(/&&|;|\|\|/)) {
      const words = step.trim().split(/\s+/);
      if (words[0] === "pnpm" && words.includes("deploy") && words.includes("@x/edge-proxy")) {
        deploy = { args: words.slice(1, -1), target: words.at(-1) as string };
      }
    }
  }
  const health = last(own, "HEALTHCHECK");
  return {
    workdir: last(own, "WORKDIR")?.text ?? "/",
    cmd: cmd?.exec ?? [],
    env: Object.fromEntries(own.flatMap((item) => item.env)),
    user: last(own, "USER")?.words[0],
    healthcheck: health?.text === "NONE" ? undefined : health?.exec,
    deploy,
    copied,
  };
}

/** An official Node.js 24 image: node:24, node:24-slim, node:24.1.0-bookworm-slim, with or without a digest. */
const NODE_24 = /^node:24(\.\d+){0,2}(-[a-z0-9]+)*(@sha256:[0-9a-f]{64})?$/;
const ROOT_USERS = new Set(["root", "0"]);
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * Every rule the image breaks, as a sentence naming the instruction; none for a good Dockerfile.
 * `context` is what `docker build` sends, to check the COPY sources against.
 */
export function dockerfileProblems(stages: Stage[], context: BuildContext): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const stage of stages) {
    if (!names.has(stage.image) && !NODE_24.test(stage.image)) {
      problems.push(
        `FROM ${stage.image}: not an official Node.js 24 image (node:24, node:24-slim…)`,
      );
    }
    for (const copy of stage.instructions.filter((item) => item.keyword === "COPY")) {
      const sources = (copy.exec ?? copy.words).slice(0, -1);
      const from = copy.flags.from;
      if (sources.length === 0) problems.push(`line ${copy.line}: COPY names no source`);
      if (from !== undefined && !names.has(from)) {
        problems.push(`line ${copy.line}: COPY --from=${from} names no earlier stage`);
      }
      for (const source of from === undefined ? sources : []) {
        if (!context.holds(source)) {
          problems.push(
            `line ${copy.line}: COPY ${source}: not in the build context (missing, or left out by .dockerignore)`,
          );
        }
      }
    }
    if (stage.name !== undefined) names.add(stage.name);
  }

  const final = stages.at(-1) as Stage;
  const own = final.instructions;
  const image = imageOf(stages);
  const cmd = last(own, "CMD");
  const cmdAt = cmd === undefined ? own.length : own.indexOf(cmd);
  if (cmd === undefined) problems.push("the image has no CMD");
  else if (cmd.exec === undefined) {
    problems.push(
      `line ${cmd.line}: CMD in shell form: /bin/sh would get SIGTERM, not the proxy; write a JSON array`,
    );
  } else if (cmd.exec.length === 0) problems.push(`line ${cmd.line}: CMD is empty`);
  const entrypoint = last(own, "ENTRYPOINT");
  if (entrypoint !== undefined) {
    problems.push(`line ${entrypoint.line}: ENTRYPOINT: the CMD alone must be the command line`);
  }

  const user = own
    .slice(0, cmdAt)
    .filter((item) => item.keyword === "USER")
    .at(-1);
  const userName = user?.words[0]?.split(":")[0];
  if (user === undefined || userName === undefined) {
    problems.push("no USER before CMD: the proxy would run as root");
  } else if (ROOT_USERS.has(userName)) {
    problems.push(`line ${user.line}: USER ${user.text}: the proxy would run as root`);
  }
  if (own.slice(cmdAt).some((item) => item.keyword === "USER")) {
    problems.push("a USER after CMD: the user CMD runs as must come before it");
  }

  const workdir = last(own, "WORKDIR");
  if (workdir === undefined || !workdir.text.startsWith("/")) {
    problems.push("the image needs an absolute WORKDIR: the entry reads public/ and data/ from it");
  }

  const host = image.env.HOST;
  if (host !== "0.0.0.0" && host !== "::") {
    problems.push(
      `ENV HOST=${host ?? "(unset)"}: must be 0.0.0.0 or ::, or the port cannot be reached from outside the container`,
    );
  }
  const volumes = own
    .filter((item) => item.keyword === "VOLUME")
    .flatMap((item) => (item.exec ?? item.words).map(clean).map((path) => `/${path}`));
  const dataDir = image.env.PROXY_DATA_DIR;
  if (dataDir === undefined) problems.push("ENV PROXY_DATA_DIR is not set");
  else if (!volumes.includes(dataDir)) {
    problems.push(
      `ENV PROXY_DATA_DIR=${dataDir} is not a VOLUME (${volumes.join(", ") || "none declared"})`,
    );
  } else if (userName !== undefined) {
    const volumeAt = own.findIndex(
      (item) =>
        item.keyword === "VOLUME" && (item.exec ?? item.words).map(clean).includes(clean(dataDir)),
    );
    const dir = `${literal(dataDir)}(?=$|[\\s&;|])`;
    const prepared = own
      .slice(0, volumeAt)
      .some(
        (item) =>
          item.keyword === "RUN" &&
          new RegExp(`\\bmkdir\\s+(?:-p\\s+)?${dir}`).test(item.text) &&
          new RegExp(`\\bchown\\s+(?:-R\\s+)?${literal(userName)}(?::\\S+)?\\s+${dir}`).test(
            item.text,
          ),
      );
    if (!prepared) {
      problems.push(
        `no RUN before VOLUME ${dataDir} creates it and gives it to ${userName}: the proxy could not write its database there`,
      );
    }
  }

  const port = image.env.PORT;
  const exposed = own
    .filter((item) => item.keyword === "EXPOSE")
    .flatMap((item) => item.words.map((word) => word.replace(/\/tcp$/i, "")));
  if (port === undefined)
    problems.push("ENV PORT is not set, so EXPOSE cannot be checked against it");
  else if (exposed.length !== 1 || exposed[0] !== port) {
    problems.push(`EXPOSE ${exposed.join(" ") || "(none)"}: must be PORT, ${port}, alone`);
  }

  const stop = last(own, "STOPSIGNAL");
  if (stop?.text !== "SIGTERM") {
    problems.push(
      `STOPSIGNAL ${stop?.text ?? "(unset)"}: must be SIGTERM, the signal the entry stops on`,
    );
  }

  const health = last(own, "HEALTHCHECK");
  if (health !== undefined && health.text !== "NONE" && health.exec?.[0] !== "node") {
    problems.push(
      `line ${health.line}: HEALTHCHECK must run node in exec form (slim images have no curl or wget)`,
    );
  }

  for (const copy of own.filter(
    (item) => item.keyword === "COPY" && item.flags.from === undefined,
  )) {
    problems.push(
      `line ${copy.line}: COPY from the build context into the image: only the build stage's deploy output belongs there`,
    );
  }
  const { copied, deploy } = image;
  if (copied === undefined) problems.push("the image copies nothing from a build stage");
  else {
    if (clean(copied.dest) !== "" && clean(copied.dest) !== clean(image.workdir)) {
      problems.push(
        `COPY --from=${copied.from} puts ${copied.source} at ${copied.dest}, not the WORKDIR`,
      );
    }
    if (deploy === undefined) {
      problems.push(
        `stage ${copied.from} runs no \`pnpm --filter @x/edge-proxy deploy … <folder>\``,
      );
    } else if (clean(deploy.target) !== clean(copied.source)) {
      problems.push(
        `COPY --from=${copied.from} takes ${copied.source}, but pnpm deploy writes ${deploy.target}`,
      );
    }
  }
  return problems;
}
