// Copies each package's version from package.json into its jsr.json, after `changeset version` has
// bumped package.json alone. Run by `pnpm run version-packages`; prints what it changed.
//
//   node tooling/release/sync-jsr-versions.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { publishablePackages } from "./workspace.mjs";

let changed = 0;
for (const pkg of publishablePackages()) {
  const path = join(pkg.dir, "jsr.json");
  const text = readFileSync(path, "utf8");
  const current = JSON.parse(text).version;
  const wanted = pkg.manifest.version;
  if (current === wanted) continue;
  // Only the version line changes, so the file keeps its formatting.
  const updated = text.replace(/("version"\s*:\s*)"[^"]*"/, `$1${JSON.stringify(wanted)}`);
  if (JSON.parse(updated).version !== wanted) {
    throw new Error(`could not set the version in ${path}`);
  }
  writeFileSync(path, updated);
  changed++;
  console.log(`${pkg.relDir}/jsr.json: ${current} -> ${wanted}`);
}
console.log(`sync-jsr-versions: ${changed} jsr.json file(s) updated`);
