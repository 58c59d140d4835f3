// Bundle-size budgets: esbuild bundles of each package's main entry and the Worker script, minified and gzipped.
//
//   node size/check-size.mjs           check: prints the sizes, exits 1 when a budget is exceeded
//                                      or a vendor bundle holds another vendor's or testing code
//   node size/check-size.mjs --bench   the same figures as a benchmark (table + `BENCH {json}` lines),
//                                      exit 0 unless the measurement itself fails
//
// Sizes are deterministic, unlike times, so this check may gate `npm test`. It needs the packages'
// dist (the build) and runs `wrangler deploy --dry-run` for the Worker. Budgets are in KiB (1024 bytes):
// - @x/core-signing: a bundle of `export * from "@x/core-signing"` <= 6 KiB gzip;
// - each vendor: "on top of core" = gzip(core + vendor, whole) - gzip(core) <= 4 KiB;
// - the Worker script written by `wrangler deploy --dry-run --outdir` (modules only: no source map,
//   no static assets) <= 60 KiB gzip.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const TOOLING = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = dirname(TOOLING);
const APP = join(ROOT, "apps", "edge-proxy");
const KIB = 1024;

export const CORE = "@x/core-signing";
export const VENDORS = ["@x/ebet", "@x/fungame", "@x/sdk-auth", "@x/lancens"];
export const BUDGETS = {
  [CORE]: 6 * KIB,
  vendorOnTopOfCore: 4 * KIB,
  worker: 60 * KIB,
};

/** Strings only a vendor's own code holds: its name as error contracts spell it, and its wire paths. */
const MARKERS = {
  "@x/ebet": ['"ebet"', "/api/callback"],
  "@x/fungame": ['"fungame"', "FunGame Web API"],
  "@x/sdk-auth": ['"sdk-auth"', "/api/v2/sdk/logout"],
  "@x/lancens": ['"lancens"', "/v1/api/user/message/token"],
};

/** gzip as wrangler and `npm run deploy:dry-run` report it (zlib's default level). */
export function gzipBytes(bytes) {
  return gzipSync(bytes).length;
}

/** A minified ESM bundle of `source` (resolved from tooling/, which depends on every package). */
async function bundle(source, external = []) {
  const result = await build({
    stdin: { contents: source, resolveDir: TOOLING, loader: "js", sourcefile: "entry.js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    write: false,
    metafile: true,
    external,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  const output = Object.values(result.metafile.outputs)[0];
  return {
    rawBytes: code.length,
    gzipBytes: gzipBytes(code),
    text: new TextDecoder().decode(code),
    inputs: Object.entries(output.inputs).map(([path, info]) => ({
      path,
      bytes: info.bytesInOutput,
    })),
  };
}

/** Folder of a workspace package under packages/, as it shows in metafile paths. */
const folderOf = (name) => `packages/${name.slice("@x/".length)}/`;

/** The biggest inputs of a bundle, grouped by package (npm) or by file (workspace). */
export function contributors(inputs, limit = 8) {
  const totals = new Map();
  for (const { path, bytes } of inputs) {
    if (bytes === 0) continue;
    const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path);
    const key = npm ? npm[1] : path.replace(/^(\.\.\/)+/, "");
    totals.set(key, (totals.get(key) ?? 0) + bytes);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
}

/** What a vendor bundle must not hold: other vendors' files and strings, simulators, Hono. */
function separationProblems(name, result) {
  const problems = [];
  const others = VENDORS.filter((vendor) => vendor !== name);
  for (const { path, bytes } of result.inputs) {
    if (bytes === 0) continue;
    for (const other of others) {
      if (path.includes(folderOf(other))) problems.push(`${name} bundles ${other}: ${path}`);
    }
    if (/\/testing\//.test(path)) problems.push(`${name} bundles testing code: ${path}`);
    if (/node_modules\/hono\//.test(path)) problems.push(`${name} bundles hono: ${path}`);
  }
  for (const other of others) {
    for (const marker of MARKERS[other]) {
      if (result.text.includes(marker)) problems.push(`${name} holds ${other}'s marker ${marker}`);
    }
  }
  for (const marker of MARKERS[name] ?? []) {
    if (!result.text.includes(marker)) {
      problems.push(`${name} lacks its own marker ${marker}: update MARKERS in check-size.mjs`);
    }
  }
  return problems;
}

/** `wrangler deploy --dry-run --outdir` into a temporary folder; the script's modules and the metafile. */
function workerScript() {
  const outdir = mkdtempSync(join(tmpdir(), "edge-proxy-size-"));
  try {
    const fromApp = createRequire(join(APP, "package.json"));
    const wrangler = join(dirname(fromApp.resolve("wrangler/package.json")), "bin", "wrangler.js");
    const metafile = join(outdir, "meta.json");
    const run = spawnSync(
      process.execPath,
      [wrangler, "deploy", "--dry-run", "--outdir", join(outdir, "out"), "--metafile", metafile],
      {
        cwd: APP,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
      },
    );
    if (run.status !== 0) {
      throw new Error(
        `wrangler deploy --dry-run failed (${run.error?.message ?? `exit ${run.status}`}):\n${run.stdout}\n${run.stderr}`,
      );
    }
    const modules = readdirSync(join(outdir, "out")).filter((file) => /\.(m?js|wasm)$/.test(file));
    if (modules.length === 0) throw new Error("wrangler deploy --dry-run wrote no script");
    let rawBytes = 0;
    let gzip = 0;
    let text = "";
    for (const file of modules) {
      const bytes = readFileSync(join(outdir, "out", file));
      rawBytes += bytes.length;
      gzip += gzipBytes(bytes);
      text += bytes.toString("utf8");
    }
    const meta = JSON.parse(readFileSync(metafile, "utf8"));
    const inputs = Object.values(meta.outputs).flatMap((output) =>
      Object.entries(output.inputs ?? {}).map(([path, info]) => ({
        path,
        bytes: info.bytesInOutput,
      })),
    );
    return { rawBytes, gzipBytes: gzip, text, inputs, modules };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Every measurement: one row per bundle, with its budget and what breaks a rule. */
export async function measure() {
  const rows = [];
  const core = await bundle(`export * from "${CORE}";`);
  const coreProblems = [];
  for (const { path, bytes } of core.inputs) {
    if (bytes === 0) continue;
    if (VENDORS.some((vendor) => path.includes(folderOf(vendor)))) {
      coreProblems.push(`${CORE} bundles vendor code: ${path}`);
    }
    if (/\/testing\//.test(path)) coreProblems.push(`${CORE} bundles testing code: ${path}`);
  }
  rows.push({
    subject: CORE,
    gzipBytes: core.gzipBytes,
    rawBytes: core.rawBytes,
    budgetBytes: BUDGETS[CORE],
    measure: "export * from the main entry",
    problems: coreProblems,
    contributors: contributors(core.inputs),
  });

  for (const name of VENDORS) {
    const withCore = await bundle(`export * from "${CORE}";\nexport * from "${name}";`);
    const alone = await bundle(`export * from "${name}";`);
    const own = await bundle(`export * from "${name}";`, [CORE]);
    rows.push({
      subject: name,
      gzipBytes: withCore.gzipBytes - core.gzipBytes,
      rawBytes: withCore.rawBytes - core.rawBytes,
      gzipBytesAlone: alone.gzipBytes,
      budgetBytes: BUDGETS.vendorOnTopOfCore,
      measure: "on top of core: gzip(core + vendor) - gzip(core)",
      problems: separationProblems(name, alone),
      contributors: contributors(own.inputs),
    });
  }

  const worker = workerScript();
  const workerProblems = [];
  for (const { path, bytes } of worker.inputs) {
    if (bytes > 0 && /\/testing\/|swagger-ui/.test(path)) {
      workerProblems.push(`the Worker script bundles ${path}`);
    }
  }
  rows.push({
    subject: "worker",
    gzipBytes: worker.gzipBytes,
    rawBytes: worker.rawBytes,
    budgetBytes: BUDGETS.worker,
    measure: `wrangler deploy --dry-run: ${worker.modules.join(", ")}`,
    problems: workerProblems,
    contributors: contributors(worker.inputs),
  });
  return rows;
}

const kib = (bytes) => `${(bytes / KIB).toFixed(2)} KiB`;

function table(rows) {
  const header = ["subject", "gzip", "budget", "status", "minified", "measure"];
  const body = rows.map((row) => [
    row.subject,
    kib(row.gzipBytes),
    `<= ${kib(row.budgetBytes)}`,
    row.gzipBytes <= row.budgetBytes
      ? "met"
      : `OVER by ${kib(row.gzipBytes - row.budgetBytes)} (${row.gzipBytes - row.budgetBytes} B)`,
    kib(row.rawBytes),
    row.measure,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((cell, i) => (i === 1 || i === 4 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main() {
  const benchMode = process.argv.includes("--bench");
  const rows = await measure();
  console.log("bundle sizes (minified + gzip; KiB = 1024 bytes)");
  console.log(table(rows));
  const over = rows.filter((row) => row.gzipBytes > row.budgetBytes);
  for (const row of over) {
    console.log(
      `\n${row.subject} is over budget; its biggest inputs (minified bytes in the bundle):`,
    );
    for (const [input, bytes] of row.contributors)
      console.log(`  ${String(bytes).padStart(7)}  ${input}`);
  }
  const problems = rows.flatMap((row) => row.problems);
  if (problems.length === 0) {
    console.log(
      "\nseparation: each vendor bundle holds only its own code and core's (no other vendor, no testing code, no hono)",
    );
  } else {
    console.log("\nseparation problems:");
    for (const problem of problems) console.log(`  ${problem}`);
  }
  if (benchMode) {
    console.log("");
    for (const row of rows) {
      const record = {
        case: "bundle",
        subject: row.subject,
        gzipBytes: row.gzipBytes,
        rawBytes: row.rawBytes,
        ...(row.gzipBytesAlone === undefined ? {} : { gzipBytesAlone: row.gzipBytesAlone }),
        budgetBytes: row.budgetBytes,
        met: row.gzipBytes <= row.budgetBytes && row.problems.length === 0,
      };
      console.log(`BENCH ${JSON.stringify(record)}`);
    }
    return 0;
  }
  if (over.length > 0 || problems.length > 0) {
    console.error(
      `\nsize check failed: ${[
        ...over.map((row) => `${row.subject} over budget by ${row.gzipBytes - row.budgetBytes} B`),
        ...problems,
      ].join("; ")}`,
    );
    return 1;
  }
  console.log("\nsize check passed");
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = await main();
  } catch (error) {
    console.error(`size check could not measure: ${error?.stack ?? error}`);
    process.exitCode = 1;
  }
}
