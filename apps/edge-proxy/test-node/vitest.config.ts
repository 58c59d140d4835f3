// The node-side tests: the Bun, Deno and Node entries, `npm start` and /docs in Chromium, run as processes.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["test-node/**/*.test.ts"],
    environment: "node",
    watch: false,
    // Every test waits on processes; the waits inside are bounded well below these.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
