// `wrangler deploy --dry-run` (with `--universal-logout`, the script built with it) into a temporary folder, then prints the Worker bundle's size (raw and gzip).
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const app = join(dirname(fileURLToPath(import.meta.url)), "..");
// `--universal-logout`: the script built with universal logout, as `npm run deploy:universal-logout` deploys it.
const universal = process.argv.includes("--universal-logout");
const given = process.argv.slice(2).find((arg) => arg !== "--universal-logout");
const outdir = given ?? (await mkdtemp(join(tmpdir(), "edge-proxy-dry-run-")));
const keep = given !== undefined;
const define = universal ? ["--define", "globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__:true"] : [];

const copy = spawnSync(process.execPath, [join(app, "scripts", "copy-docs-assets.mjs")], {
  stdio: "inherit",
});
if (copy.status !== 0) process.exit(copy.status ?? 1);

const wrangler = join(app, "node_modules", "wrangler", "bin", "wrangler.js");
const run = spawnSync(
  process.execPath,
  [wrangler, "deploy", "--dry-run", "--outdir", outdir, ...define],
  {
    cwd: app,
    stdio: "inherit",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  },
);
if (run.status !== 0) process.exit(run.status ?? 1);

let raw = 0;
let gzip = 0;
const lines = [];
for (const name of (await readdir(outdir)).sort()) {
  if (name.endsWith(".map")) continue;
  const bytes = await readFile(join(outdir, name));
  const zipped = gzipSync(bytes).length;
  raw += bytes.length;
  gzip += zipped;
  lines.push(
    `  ${name}: ${(bytes.length / 1024).toFixed(1)} KiB (gzip ${(zipped / 1024).toFixed(1)} KiB)`,
  );
}
console.log(`bundle in ${outdir}:`);
for (const line of lines) console.log(line);
console.log(`bundle size: ${(raw / 1024).toFixed(1)} KiB, gzip ${(gzip / 1024).toFixed(1)} KiB`);
if (!keep) await rm(outdir, { recursive: true, force: true });
