// `npm start`: runs the edge proxy when this checkout has it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./toolchain.mjs";

if (!existsSync(join(ROOT, "apps", "edge-proxy", "package.json"))) {
  process.stderr.write(
    "npm start: the edge proxy (apps/edge-proxy) is not part of this checkout yet.\n",
  );
  process.exit(1);
}
