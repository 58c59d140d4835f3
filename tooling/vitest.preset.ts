// The vitest settings every package shares: node environment, test/ folder, no watch, bounded time,
// and a run that fails on a focused test (`.only`) anywhere, not only under CI.
import type { ViteUserConfig } from "vitest/config";

export const preset: ViteUserConfig = {
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    watch: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
    allowOnly: false,
  },
};
