// The Worker built with universal logout (`npm run deploy:universal-logout` sets this define): its
// session registry's Durable Objects and the five routes, in workerd with wrangler.toml's bindings.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  define: { "globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__": "true" },
  test: {
    include: ["test/universal-logout/**/*.test.ts"],
    globalSetup: ["test/universal-logout/global-setup.ts"],
    watch: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
