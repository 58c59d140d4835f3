// Bundle-size budgets: esbuild bundles of each package's main entry and the Worker script, minified and gzipped.
//
//   node size/check-size.mjs           check: prints the sizes, exits 1 when a budget is exceeded
//                                      or a bundle holds what it must not (see below)
//   node size/check-size.mjs --bench   the same figures as a benchmark (table + `BENCH {json}` lines),
//                                      exit 0 unless the measurement itself fails
//
// Sizes are deterministic, unlike times, so this check gates `npm test`. It needs the packages'
// dist (the build) and runs `wrangler deploy --dry-run` for the Worker. Budgets are in KiB (1024
// bytes), gzip at zlib's default level, of esbuild bundles (minified, ESM, platform neutral):
// - @x/core-signing: `export * from "@x/core-signing"`, the main entry whole, <= 6 KiB. Its other
//   entries (`@x/core-signing/rsa`: keys, PKCS#1 v1.5, OAEP; `@x/core-signing/md5`: MD5withRSA) have
//   no budget of their own and are reported: alone, and on top of the main entry.
// - each vendor of the proxy's list (apps/edge-proxy/src/vendors/index.ts, its `package`): its main
//   entry "on top of core" <= 4.25 KiB unless the vendor's name has a budget of its own, where "core" is every @x/core-signing
//   entry the vendor's main entry imports, each whole, always with the main entry:
//     gzip(core entries + vendor) - gzip(core entries)
//   e.g. eBET imports the main entry, /rsa and /md5, so all three are its baseline; Lancens only the
//   main entry. The entries the vendor imports are read from esbuild's metafile (a bundle with
//   @x/core-signing external), not listed by hand. So core code counts once, as core, whichever
//   entry it sits in, and everything the vendor package itself holds (its own code and its npm
//   dependencies) counts on top. Also reported: `gzipBytesOwn`, the vendor bundled with every core
//   entry external (its own code compressed alone, without core's strings to share), and
//   `gzipBytesAlone`, the vendor bundled with what it uses of core: what an app that imports only
//   this vendor's main entry ships.
// - a vendor's other entries (e.g. `@x/fungame/verify`) are reported on top of core and the
//   vendor's main entry, without a budget.
// - the Worker script written by `wrangler deploy --dry-run --outdir` (modules only: no source map,
//   no static assets) <= 60 KiB.
// Besides sizes, a bundle must not hold what belongs elsewhere: a vendor's bundle no other vendor,
// no testing code, no Hono; core's main entry no vendor, no testing code, no key parsing
// (keys.js) and no MD5 (@noble/hashes); FunGame's main entry no jose; the Worker no simulator, no
// Swagger UI and no in-memory rate limiter (it counts with Cloudflare's Rate Limiting binding).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { VENDORS as LISTED } from "../../apps/edge-proxy/src/vendors/index.ts";

const TOOLING = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = dirname(TOOLING);
const APP = join(ROOT, "apps", "edge-proxy");
const KIB = 1024;

export const CORE = "@x/core-signing";
/** The vendor packages, from the proxy's vendor list: every one is measured. */
export const VENDORS = LISTED.map((vendor) => vendor.package);
export const BUDGETS = {
  [CORE]: 6 * KIB,
  // 4 KiB until the vendors refused redirects, read vendor text by own entries only and took
  // nothing but HTTP 200 for success: eBET and OneAccess, at the edge before, grew past it.
  vendorOnTopOfCore: 4.25 * KIB,
  /** A vendor's own budget on top of core, by its name in the list, where it differs from the above. */
  vendorOnTopOfCoreByName: {},
  worker: 60 * KIB,
  /**
   * The Worker built with universal logout (`npm run deploy:universal-logout`): the session
   * registry, the three triggers and their JWS checks come to about 11 KiB on top of the default
   * script, so this build cannot keep the 60 KiB of the default one (docs/performance.md).
   */
  "worker+universal-logout": 72 * KIB,
};

/** The define that builds the Worker with universal logout (apps/edge-proxy/package.json). */
const UNIVERSAL_LOGOUT_DEFINE = "globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__:true";

/** A vendor package's budget on top of core: its own by name, else the default. */
export function vendorBudget(name) {
  const vendor = LISTED.find((listed) => listed.package === name);
  return BUDGETS.vendorOnTopOfCoreByName[vendor?.name] ?? BUDGETS.vendorOnTopOfCore;
}

/** Inputs an entry's bundle must not hold, with why: what the entry split keeps apart. */
const FORBIDDEN = {
  "@x/core-signing": [
    [/core-signing\/dist\/keys\.js$/, "key parsing belongs to @x/core-signing/rsa"],
    [/node_modules\/@noble\/hashes\//, "MD5 belongs to @x/core-signing/md5"],
  ],
  "@x/fungame": [[/node_modules\/jose\//, "jose belongs to @x/fungame/verify"]],
};

/** Wire strings only a vendor's own code holds, by its name in the list (besides its quoted name). */
const WIRE_MARKERS = {
  ebet: ["/api/callback"],
  fungame: ["FunGame Web API"],
  "sdk-auth": ["/api/v2/sdk/logout"],
  lancens: ["/v1/api/user/message/token"],
};

/**
 * Strings only a vendor's own code holds, by package: its name as error contracts spell it (every
 * vendor of the list), and its wire strings where listed above.
 */
export const MARKERS = Object.fromEntries(
  LISTED.map((vendor) => [
    vendor.package,
    [`"${vendor.name}"`, ...(WIRE_MARKERS[vendor.name] ?? [])],
  ]),
);

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
    /** The external modules the bundle imports, e.g. "@x/core-signing/rsa". */
    externalImports: [
      ...new Set((output.imports ?? []).filter((i) => i.external).map((i) => i.path)),
    ].sort(),
  };
}

/** `export * from` each of `entries`, one statement per line. */
const reexport = (entries) => entries.map((entry) => `export * from "${entry}";`).join("\n");

/** A package's entries other than "." from its package.json `exports` (not ./testing, not ./package.json). */
export function subpathsOf(name) {
  const manifest = JSON.parse(readFileSync(join(ROOT, folderOf(name), "package.json"), "utf8"));
  return Object.keys(manifest.exports ?? {})
    .filter((key) => key !== "." && key !== "./testing" && key !== "./package.json")
    .map((key) => `${name}${key.slice(1)}`);
}

/** The @x/core-signing entries a bundle imports, the main entry always first. */
export function coreEntriesImported(externalImports) {
  const used = externalImports.filter((path) => path.startsWith(`${CORE}/`));
  return [CORE, ...used.filter((path) => path !== CORE)];
}

function forbiddenProblems(name, result) {
  const problems = [];
  for (const { path, bytes } of result.inputs) {
    if (bytes === 0) continue;
    for (const [pattern, why] of FORBIDDEN[name] ?? []) {
      if (pattern.test(path)) problems.push(`${name} bundles ${path}: ${why}`);
    }
  }
  return problems;
}

/** Folder of a workspace package under packages/, as it shows in metafile paths. */
const folderOf = (name) => `packages/${name.slice("@x/".length).split("/")[0]}/`;

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
function separationProblems(name, result, { ownMarkers = true } = {}) {
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
  for (const marker of ownMarkers ? (MARKERS[name] ?? []) : []) {
    if (!result.text.includes(marker)) {
      problems.push(`${name} lacks its own marker ${marker}: update MARKERS in check-size.mjs`);
    }
  }
  return problems;
}

/** `wrangler deploy --dry-run --outdir` into a temporary folder; the script's modules and the metafile. */
function workerScript(extraArgs = []) {
  const outdir = mkdtempSync(join(tmpdir(), "edge-proxy-size-"));
  try {
    const fromApp = createRequire(join(APP, "package.json"));
    const wrangler = join(dirname(fromApp.resolve("wrangler/package.json")), "bin", "wrangler.js");
    const metafile = join(outdir, "meta.json");
    const run = spawnSync(
      process.execPath,
      [
        wrangler,
        "deploy",
        "--dry-run",
        "--outdir",
        join(outdir, "out"),
        "--metafile",
        metafile,
        ...extraArgs,
      ],
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

/** Every measurement: one row per bundle, with its budget (if any) and what breaks a rule. */
export async function measure() {
  const rows = [];
  const core = await bundle(reexport([CORE]));
  const coreProblems = [...forbiddenProblems(CORE, core)];
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

  /** gzip of `export *` of these entries together, measured once per set. */
  const together = new Map();
  const bundleOf = async (entries) => {
    const key = entries.join(" ");
    if (!together.has(key)) together.set(key, await bundle(reexport(entries)));
    return together.get(key);
  };
  together.set(CORE, core);

  for (const subpath of subpathsOf(CORE)) {
    const alone = await bundle(reexport([subpath]));
    const withMain = await bundleOf([CORE, subpath]);
    rows.push({
      subject: subpath,
      gzipBytes: withMain.gzipBytes - core.gzipBytes,
      rawBytes: withMain.rawBytes - core.rawBytes,
      gzipBytesAlone: alone.gzipBytes,
      budgetBytes: undefined,
      measure: `on top of ${CORE}: gzip(main + ${subpath.slice(CORE.length + 1)}) - gzip(main)`,
      problems: [],
      contributors: contributors(alone.inputs),
    });
  }

  for (const name of VENDORS) {
    const own = await bundle(reexport([name]), [CORE]);
    const coreEntries = coreEntriesImported(own.externalImports);
    const base = await bundleOf(coreEntries);
    const withCore = await bundleOf([...coreEntries, name]);
    const alone = await bundle(reexport([name]));
    const baseNames = coreEntries.map((entry) => entry.slice(CORE.length) || "main").join(" + ");
    rows.push({
      subject: name,
      gzipBytes: withCore.gzipBytes - base.gzipBytes,
      rawBytes: withCore.rawBytes - base.rawBytes,
      gzipBytesOwn: own.gzipBytes,
      gzipBytesAlone: alone.gzipBytes,
      coreEntries,
      budgetBytes: vendorBudget(name),
      measure: `on top of core (${baseNames})`,
      problems: [...separationProblems(name, alone), ...forbiddenProblems(name, alone)],
      contributors: contributors(own.inputs),
    });
    for (const subpath of subpathsOf(name)) {
      const subOwn = await bundle(reexport([subpath]), [CORE, name]);
      const subBaseEntries = [
        ...coreEntriesImported([...own.externalImports, ...subOwn.externalImports]),
        name,
      ];
      const subBase = await bundleOf(subBaseEntries);
      const subWith = await bundleOf([...subBaseEntries, subpath]);
      const subAlone = await bundle(reexport([subpath]));
      rows.push({
        subject: subpath,
        gzipBytes: subWith.gzipBytes - subBase.gzipBytes,
        rawBytes: subWith.rawBytes - subBase.rawBytes,
        gzipBytesAlone: subAlone.gzipBytes,
        budgetBytes: undefined,
        measure: `on top of core and ${name}`,
        problems: separationProblems(name, subAlone, { ownMarkers: false }),
        contributors: contributors(subOwn.inputs),
      });
    }
  }

  for (const [subject, args] of [
    ["worker", []],
    ["worker+universal-logout", ["--define", UNIVERSAL_LOGOUT_DEFINE]],
  ]) {
    const worker = workerScript(args);
    const workerProblems = [];
    for (const { path, bytes } of worker.inputs) {
      if (bytes > 0 && /\/testing\/|swagger-ui|adapters\/memory\/rate-limiter/.test(path)) {
        workerProblems.push(`the ${subject} script bundles ${path}`);
      }
    }
    const universal = worker.inputs.some(
      ({ path, bytes }) => bytes > 0 && /src\/universal-logout\/logout-token\.ts$/.test(path),
    );
    // Each build holds universal logout's code exactly when it is built with it.
    if (universal !== args.length > 0) {
      workerProblems.push(
        `the ${subject} script ${universal ? "holds" : "lacks"} universal logout's code`,
      );
    }
    rows.push({
      subject,
      gzipBytes: worker.gzipBytes,
      rawBytes: worker.rawBytes,
      budgetBytes: BUDGETS[subject],
      measure: `wrangler deploy --dry-run${args.length > 0 ? ` --define ${UNIVERSAL_LOGOUT_DEFINE}` : ""}: ${worker.modules.join(", ")}`,
      problems: workerProblems,
      contributors: contributors(worker.inputs),
    });
  }
  return rows;
}

const kib = (bytes) => `${(bytes / KIB).toFixed(2)} KiB`;

/** Whether a row keeps its budget; rows without a budget are reported only. */
const overBudget = (row) => row.budgetBytes !== undefined && row.gzipBytes > row.budgetBytes;

function table(rows) {
  const header = ["subject", "gzip", "budget", "status", "minified", "alone", "measure"];
  const body = rows.map((row) => [
    row.subject,
    kib(row.gzipBytes),
    row.budgetBytes === undefined ? "none" : `<= ${kib(row.budgetBytes)}`,
    row.budgetBytes === undefined
      ? "reported"
      : overBudget(row)
        ? `OVER by ${kib(row.gzipBytes - row.budgetBytes)} (${row.gzipBytes - row.budgetBytes} B)`
        : "met",
    kib(row.rawBytes),
    row.gzipBytesAlone === undefined ? "" : kib(row.gzipBytesAlone),
    row.measure,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((cell, i) =>
        i === 1 || i === 4 || i === 5 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]),
      )
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

async function main() {
  const benchMode = process.argv.includes("--bench");
  const rows = await measure();
  console.log("bundle sizes (minified + gzip; KiB = 1024 bytes)");
  console.log(table(rows));
  console.log(
    "gzip: the bundle's size, or for a subpath or vendor what it adds on top (see the measure);" +
      " alone: the entry bundled with everything it imports",
  );
  const over = rows.filter(overBudget);
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
      "\nseparation: each vendor bundle holds only its own code and core's (no other vendor, no testing code, no hono);" +
        " core's main entry no key parsing and no MD5; FunGame's main entry no jose;" +
        " the Worker no simulator, no Swagger UI, no in-memory rate limiter",
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
        ...(row.gzipBytesOwn === undefined ? {} : { gzipBytesOwn: row.gzipBytesOwn }),
        ...(row.gzipBytesAlone === undefined ? {} : { gzipBytesAlone: row.gzipBytesAlone }),
        ...(row.coreEntries === undefined ? {} : { coreEntries: row.coreEntries }),
        ...(row.budgetBytes === undefined
          ? {}
          : { budgetBytes: row.budgetBytes, met: !overBudget(row) && row.problems.length === 0 }),
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
