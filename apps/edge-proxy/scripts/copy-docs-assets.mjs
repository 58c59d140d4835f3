// Copies the Swagger UI files /docs needs from swagger-ui-dist into public/docs (no CDN at run time),
// and writes public/openapi.json, generated from the declared routes: the Worker serves both as
// static assets, so neither is part of its script.
import { copyFile, mkdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const source = dirname(require.resolve("swagger-ui-dist/package.json"));
const target = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "docs");

/** The files index.html loads, plus the licence that travels with them. */
const FILES = [
  ["swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui.css", "swagger-ui.css"],
  ["favicon-16x16.png", "favicon-16x16.png"],
  ["favicon-32x32.png", "favicon-32x32.png"],
  ["LICENSE", "swagger-ui-LICENSE.txt"],
];

await mkdir(target, { recursive: true });
let bytes = 0;
for (const [from, to] of FILES) {
  await copyFile(join(source, from), join(target, to));
  bytes += (await stat(join(target, to))).size;
}
console.log(
  `copied ${FILES.length} Swagger UI files (${(bytes / 1024).toFixed(0)} KiB) to public/docs`,
);

const { allRoutes, documentInfo } = await import("../src/http/routes.ts");
const { documentOf } = await import("../src/openapi/generate.ts");
const document = documentOf(allRoutes(), documentInfo());
await writeFile(join(target, "..", "openapi.json"), document);
console.log(`wrote public/openapi.json (${(document.length / 1024).toFixed(0)} KiB)`);
