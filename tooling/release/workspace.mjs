// What the release checks share: the publishable packages, pnpm, packing, temporary folders, and
// child processes that cannot outlive their time limit.
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { npmCommand, pnpmCommand, ROOT } from "../toolchain.mjs";

export { ROOT };

/** The repository every package points at, from the root package.json. */
export function rootManifest() {
  return readJson(join(ROOT, "package.json"));
}

export function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Every package under packages/ that is published, in name order: `{ name, dir, relDir, manifest }`. */
export function publishablePackages() {
  const packagesDir = join(ROOT, "packages");
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const dir = join(packagesDir, entry.name);
      let manifest;
      try {
        manifest = readJson(join(dir, "package.json"));
      } catch {
        return undefined;
      }
      return { name: manifest.name, dir, relDir: `packages/${entry.name}`, manifest };
    })
    .filter((pkg) => pkg !== undefined && pkg.manifest.private !== true)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The default catalog of pnpm-workspace.yaml: `{ name: version }`. */
export function readCatalog() {
  const text = readFileSync(join(ROOT, "pnpm-workspace.yaml"), "utf8");
  const catalog = {};
  let inside = false;
  for (const line of text.split("\n")) {
    if (/^catalog:\s*$/.test(line)) {
      inside = true;
      continue;
    }
    if (!inside || line.trim() === "" || line.trimStart().startsWith("#")) continue;
    if (!/^\s/.test(line)) break;
    const match = /^\s+"?([^":\s]+)"?\s*:\s*"?([^"\s]+)"?\s*$/.exec(line);
    if (match) catalog[match[1]] = match[2];
  }
  return catalog;
}

/** `[command, args]` that run the pnpm pinned in package.json's packageManager with this Node. */
export function pnpm(...args) {
  const pinned = /^pnpm@(\d+\.\d+\.\d+)$/.exec(rootManifest().packageManager ?? "");
  if (!pinned) throw new Error('package.json must pin "packageManager": "pnpm@<x.y.z>"');
  return [process.execPath, [pnpmCommand(pinned[1]).script, ...args]];
}

/** A fresh folder under the system's temporary directory, refused when that lies inside the workspace. */
export function makeTempDir(prefix) {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  const fromRoot = relative(realpathSync(ROOT), dir);
  if (!fromRoot.startsWith(`..${sep}`) && fromRoot !== "..") {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `the temporary directory ${dir} is inside the workspace; set TMPDIR to a folder outside it`,
    );
  }
  return dir;
}

/**
 * Runs a command to completion, capturing its output; kills its process group when it passes
 * `timeoutMs`. Resolves to `{ code, signal, stdout, stderr, timedOut, ms }`; never rejects on exit.
 */
export function run(command, args, { cwd = ROOT, env = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: process.platform !== "win32",
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${command} could not start: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: performance.now() - started });
    });
  });
}

/** One line saying how a finished command failed, with the end of its output. */
export function describeFailure(label, result, tail = 3000) {
  const how = result.timedOut
    ? "did not finish in time and was stopped"
    : `exited with ${result.signal ?? result.code}`;
  const output = `${result.stdout}\n${result.stderr}`.trim();
  return `${label} ${how}${output ? `:\n${indent(output.slice(-tail))}` : ""}`;
}

export function indent(text, by = "    ") {
  return text.replace(/^/gm, by);
}

/**
 * Packs every publishable package with pnpm (which turns `workspace:` and `catalog:` ranges into
 * real ones) into `destination`. Resolves to `Map<name, tarball path>`.
 */
export async function packAll(destination) {
  const packages = publishablePackages();
  const [command, args] = pnpm(
    ...packages.flatMap((pkg) => ["--filter", `./${pkg.relDir}`]),
    "pack",
    "--pack-destination",
    destination,
    "--json",
  );
  const result = await run(command, args, { timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(describeFailure("pnpm pack", result));
  const parsed = JSON.parse(result.stdout);
  const reports = Array.isArray(parsed) ? parsed : [parsed];
  const tarballs = new Map(reports.map((report) => [report.name, report.filename]));
  for (const pkg of packages) {
    if (!tarballs.has(pkg.name)) throw new Error(`pnpm pack made no tarball for ${pkg.name}`);
  }
  return tarballs;
}

/** Seconds since `started` (a performance.now() reading), for progress lines. */
export function seconds(started) {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

/**
 * Makes `dir` a user's project (a private ESM package.json) and `npm install`s the given tarballs
 * into it; their other dependencies come from the npm registry. Resolves to the run's result.
 */
export function installTarballs(dir, tarballs, { timeoutMs = 150_000 } = {}) {
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "x-release-check", private: true, type: "module" }, null, 2)}\n`,
  );
  // `npm test` leaves variables about the workspace that must not steer this install elsewhere.
  const env = { ...process.env, npm_config_update_notifier: "false" };
  for (const key of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_/i.test(key) || /^npm_config_(local_)?prefix$/i.test(key)) {
      delete env[key];
    }
  }
  const [npm, npmArgs] = npmCommand();
  const flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"];
  return run(npm, [...npmArgs, "install", ...flags, "--loglevel=error", ...tarballs], {
    cwd: dir,
    env,
    timeoutMs,
  });
}

/** Every package of `scope` (e.g. "@x") anywhere under a node_modules folder, nested ones included. */
export function scopedPackagesUnder(nodeModules, scope, found = []) {
  if (!existsSync(nodeModules)) return found;
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (entry.name.startsWith("@")) {
      for (const inner of readdirSync(join(nodeModules, entry.name), { withFileTypes: true })) {
        const name = `${entry.name}/${inner.name}`;
        if (entry.name === scope) found.push(name);
        scopedPackagesUnder(join(nodeModules, name, "node_modules"), scope, found);
      }
    } else {
      scopedPackagesUnder(join(nodeModules, entry.name, "node_modules"), scope, found);
    }
  }
  return found;
}

/**
 * Deno type-checks `node:` imports (the command's, @x/cli) against npm:@types/node, which it looks for
 * in the Deno workspace's own node_modules (packages/node_modules) and which pnpm installs under the
 * package instead. Links the command's copy there for the run of `fn`, then removes the link.
 */
export async function withDenoNodeTypes(fn) {
  const target = join(ROOT, "packages", "cli", "node_modules", "@types", "node");
  const link = join(ROOT, "packages", "node_modules", "@types", "node");
  const made = existsSync(target) && !existsSync(link);
  if (made) {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link, "dir");
  }
  try {
    return await fn();
  } finally {
    if (made) rmSync(join(ROOT, "packages", "node_modules"), { recursive: true, force: true });
  }
}
