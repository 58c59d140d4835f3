// Property-based fuzzing of the proxy's parsers in Node: fixed seeds, FUZZ_RUNS cases per property.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["test-fuzz/**/*.test.ts"],
    environment: "node",
    watch: false,
    // Bounded by run count, never by time: a long `npm run fuzz` must not time out.
    testTimeout: 3_600_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
