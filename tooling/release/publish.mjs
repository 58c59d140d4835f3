// Publishes every package whose version is not on the registries yet: to npm through changesets
// (pnpm replaces workspace: and catalog: ranges; NPM_CONFIG_PROVENANCE=true in CI adds provenance),
// then to JSR through the Deno workspace in packages/ (deno skips versions JSR already has).
// Expects built packages (`pnpm turbo run build`). With --dry-run nothing leaves the machine.
//
//   node tooling/release/publish.mjs --dry-run
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { DENO_ENV, denoBinary } from "../runtimes/binaries.mjs";
import { pnpm, publishablePackages, ROOT, withDenoNodeTypes } from "./workspace.mjs";

const dryRun = process.argv.includes("--dry-run");

function step(label, command, args, options = {}) {
  console.log(`\n> ${label}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", ...options });
  if (result.error) throw new Error(`${label} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    console.error(`publish: ${label} failed with ${result.signal ?? result.status}`);
    process.exit(1);
  }
}

const filters = publishablePackages().flatMap((pkg) => ["--filter", `./${pkg.relDir}`]);
if (dryRun) {
  const [command, args] = pnpm(...filters, "publish", "--dry-run", "--no-git-checks");
  step("npm (dry run): pnpm -r publish --dry-run", command, args);
} else {
  const [command, args] = pnpm("exec", "changeset", "publish");
  step("npm: changeset publish", command, args);
}

await withDenoNodeTypes(() =>
  step(
    `JSR${dryRun ? " (dry run)" : ""}: deno publish`,
    denoBinary(),
    ["publish", ...(dryRun ? ["--dry-run", "--allow-dirty"] : [])],
    { cwd: join(ROOT, "packages"), env: { ...process.env, ...DENO_ENV } },
  ),
);
