// Builds the Node entry as JavaScript: src/entry/node.ts and everything it imports, in one module
// (dist/node/node.mjs) and, for what it loads only when chosen (PostgreSQL's client, the node:sqlite
// adapter), chunks beside it. Node then parses plain JavaScript: no type stripping at start, and
// about 40 MB less resident memory than running the TypeScript source (docs/performance.md).
// The entry finds public/ two folders up, as src/entry/node.ts does.
import { createHash } from "node:crypto";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const APP = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(APP, "dist", "node");

await rm(OUT, { recursive: true, force: true });
const result = await build({
  absWorkingDir: APP,
  entryPoints: { node: "src/entry/node.ts" },
  outdir: OUT,
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  // The oldest Node the entry supports (node:sqlite, fetch, Response.json).
  target: "node22",
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});
// What the bundle was built from, each file with a digest of its content, for `nodeEntry`
// (scripts/start-runtimes.mjs) to tell a bundle that no longer matches its sources.
const inputs = {};
for (const file of Object.keys(result.metafile.inputs).sort()) {
  inputs[file] = createHash("sha256")
    .update(await readFile(join(APP, file)))
    .digest("hex");
}
await writeFile(join(OUT, "inputs.json"), `${JSON.stringify(inputs, null, 1)}\n`);
let bytes = 0;
for (const file of Object.keys(result.metafile.outputs)) {
  if (file.endsWith(".mjs")) bytes += (await stat(join(APP, file))).size;
}
console.log(`built dist/node/node.mjs (${(bytes / 1024).toFixed(0)} KiB of JavaScript)`);
