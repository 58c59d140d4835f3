// Bundles the conformance suite into one self-contained ES module per entry, the same bytes for every
// runtime, and writes how many cases the suite registers, the count every runtime must report.
//   node conformance/build.mjs [outdir]   (default: dist)
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const outdir = resolve(process.argv[2] ?? "dist");

await build({
  entryPoints: {
    "conformance-cli": "conformance/entry-cli.ts",
    "conformance-worker": "conformance/entry-worker.ts",
    "conformance-suite": "conformance/suite.ts",
  },
  outdir,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  outExtension: { ".js": ".mjs" },
  logLevel: "warning",
});

// The suite's own count, from the bundled cases (registering a case runs nothing).
const { cases } = await import(pathToFileURL(resolve(outdir, "conformance-suite.mjs")).href);
writeFileSync(
  resolve(outdir, "conformance-cases.json"),
  `${JSON.stringify({ count: cases.length, names: cases.map((testCase) => testCase.name) }, null, 2)}\n`,
);
