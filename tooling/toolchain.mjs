// Fetches pinned Node.js and pnpm builds from the npm registry into a git-ignored cache.
// Plain JavaScript that runs on the oldest Node the project supports (20), with no dependencies.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where fetched toolchains live; X_TOOLCHAIN_CACHE moves it (tests use an empty one). */
export const CACHE = process.env.X_TOOLCHAIN_CACHE ?? join(ROOT, ".cache", "toolchain");

/** The exact Node.js releases the project runs under; the registry packages are node-<os>-<arch>. */
export const NODE_VERSIONS = { 20: "20.20.2", 24: "24.21.0" };
/** The toolchain (wrangler, miniflare, vitest, changesets) needs at least this major. */
export const TOOLCHAIN_NODE_MAJOR = 22;

const PLATFORMS = {
  "linux-x64": "linux-x64",
  "linux-arm64": "linux-arm64",
  "darwin-x64": "darwin-x64",
  "darwin-arm64": "darwin-arm64",
};

export class ToolchainError extends Error {}

/** The node-<os>-<arch> suffix for this machine, or a ToolchainError that says what to install. */
export function platformSuffix() {
  const key = `${process.platform}-${process.arch}`;
  const suffix = PLATFORMS[key];
  if (!suffix) {
    throw new ToolchainError(
      `This platform (${key}) has no Node.js build in the npm registry that the bootstrap can use.\n` +
        `Install Node.js ${NODE_VERSIONS[24]} or newer yourself (https://nodejs.org), then run the same command again with it;\n` +
        "the bootstrap then only fetches pnpm and the project's dependencies.",
    );
  }
  return suffix;
}

/** `[command, args]` that run npm: npm's own CLI under `npm run`, else `npm` from PATH. */
export function npmCommand() {
  // Under `npm run`, npm_execpath points at npm's own CLI script: run it with this Node.
  const execpath = process.env.npm_execpath;
  if (execpath && /npm-cli\.js$/.test(execpath)) return [process.execPath, [execpath]];
  return [process.platform === "win32" ? "npm.cmd" : "npm", []];
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ["ignore", "pipe", "inherit"], ...options });
  if (result.error) throw new ToolchainError(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new ToolchainError(`${command} ${args.join(" ")} exited with ${result.status}`);
  }
  return result.stdout ? result.stdout.toString() : "";
}

/**
 * Downloads `spec` (name@version) with `npm pack` and unpacks the members under `members`
 * into `target`. npm checks the tarball against the registry's integrity hash.
 */
function fetchPackage(spec, target, members) {
  const staging = `${target}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const [npm, npmArgs] = npmCommand();
  process.stderr.write(`bootstrap: fetching ${spec} from the npm registry\n`);
  const out = run(npm, [...npmArgs, "pack", spec, "--silent", "--pack-destination", staging], {
    cwd: staging,
  });
  const tarball = out.trim().split("\n").pop();
  run("tar", ["-xzf", join(staging, tarball), "-C", staging, ...members]);
  rmSync(join(staging, tarball));
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
}

/** Path of the node binary of the given major, fetched on first use. */
export function nodeBinary(major) {
  const version = NODE_VERSIONS[major];
  if (!version) throw new ToolchainError(`no pinned Node.js release for major ${major}`);
  const target = join(CACHE, `node-${version}`);
  const binary = join(target, "package", "bin", "node");
  if (!existsSync(binary)) {
    fetchPackage(`node-${platformSuffix()}@${version}`, target, ["package/bin/node"]);
  }
  return binary;
}

/**
 * pnpm at the version pinned in package.json's packageManager: its CLI script, and a folder with a
 * `pnpm` command in it for PATH (turbo looks the package manager up there).
 */
export function pnpmCommand(version) {
  const target = join(CACHE, `pnpm-${version}`);
  const script = join(target, "package", "bin", "pnpm.cjs");
  if (!existsSync(script)) fetchPackage(`pnpm@${version}`, target, ["package"]);
  const binDir = join(target, "bin");
  const shim = join(binDir, "pnpm");
  if (!existsSync(shim)) {
    mkdirSync(binDir, { recursive: true });
    writeFileSync(shim, `#!/bin/sh\nexec node "${script}" "$@"\n`);
    chmodSync(shim, 0o755);
  }
  return { script, binDir };
}

export function nodeMajor(versionString = process.versions.node) {
  return Number(versionString.split(".")[0]);
}
