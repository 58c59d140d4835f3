// Where each runtime's binary is: Node builds from the toolchain cache, Bun and Deno from the binaries
// their npm packages ship in platform-specific optional dependencies, with the environment each needs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { CACHE, nodeBinary, nodeMajor, platformSuffix } from "../toolchain.mjs";

const require = createRequire(import.meta.url);

/** The binary a registry package ships inside its platform-specific optional dependency. */
export function optionalBinary(wrapper, platformPackage, relative) {
  const fromWrapper = createRequire(require.resolve(`${wrapper}/package.json`));
  return join(dirname(fromWrapper.resolve(`${platformPackage}/package.json`)), relative);
}

/** The machine's own Node when it is of this major (the bootstrap passes it on), else the pinned one. */
export function systemNode(major) {
  if (nodeMajor() === major) return process.execPath;
  const candidate = process.env.X_SYSTEM_NODE;
  if (candidate && existsSync(candidate)) {
    const probe = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" });
    if (probe.status === 0 && nodeMajor(probe.stdout.trim()) === major) return candidate;
  }
  return nodeBinary(major);
}

/** The Bun binary of the `bun` package. */
export function bunBinary() {
  return optionalBinary(
    "bun",
    `@oven/bun-${platformSuffix().replace("arm64", "aarch64")}`,
    "bin/bun",
  );
}

/** The Deno binary of the `deno` package. */
export function denoBinary() {
  const suffix = `${platformSuffix()}${process.platform === "linux" ? "-glibc" : ""}`;
  return optionalBinary("deno", `@deno/${suffix}`, "deno");
}

/** Environment for Bun: no transpiler cache written into the user's home. */
export const BUN_ENV = { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };

/** Environment for Deno: its cache in the git-ignored toolchain cache, no update check, no colours. */
export const DENO_ENV = { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: join(CACHE, "deno"), NO_COLOR: "1" };
