// `npm run types`: writes the Env of wrangler.toml's bindings (src/adapters/workers/worker-configuration.d.ts) with wrangler's type generator, offline.
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { experimental_generateTypes } from "wrangler";

const app = join(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the declaration lives, relative to the app: its imports of the entry are relative to it. */
const TYPES = "src/adapters/workers/worker-configuration.d.ts";

// Relative paths keep the header's command the same on every machine.
const out = resolve(process.argv[2] ?? join(app, TYPES));
process.chdir(app);
const { content } = await experimental_generateTypes({
  config: "wrangler.toml",
  path: TYPES,
  // No .dev.vars or .env of a developer: the proxy reads its secrets by name and declares none.
  envFile: ["/dev/null"],
  // Runtime types come from @cloudflare/workers-types; variables may be anything a deployment sets.
  includeRuntime: false,
  strictVars: false,
});
await writeFile(out, content);
console.log(`wrote ${out}`);
