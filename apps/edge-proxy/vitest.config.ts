// Tests run inside workerd (the Workers runtime) with wrangler.toml's bindings: Durable Object, assets, vars.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["test/**/*.test.ts"],
    watch: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
