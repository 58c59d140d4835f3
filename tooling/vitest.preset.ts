// The vitest settings every package shares: node environment, test/ folder, no watch, bounded time.
import type { ViteUserConfig } from "vitest/config";

export const preset: ViteUserConfig = {
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    watch: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
};
