// Bundles the conformance suite into one self-contained ES module per entry, the same bytes for every runtime.
import { build } from "esbuild";

await build({
  entryPoints: {
    "conformance-cli": "conformance/entry-cli.ts",
    "conformance-worker": "conformance/entry-worker.ts",
  },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  outExtension: { ".js": ".mjs" },
  logLevel: "warning",
});
