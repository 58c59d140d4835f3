// Tests run inside workerd (the Workers runtime) with wrangler.toml's bindings: Durable Object, assets, vars.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        // The rate limit is off in wrangler.toml. Tests hand this binding to the Worker as its
        // RATE_LIMITER (with PROXY_RATE_LIMIT "2/60"): a burst of a few requests goes over it.
        ratelimits: {
          TEST_RATE_LIMITER: { namespace_id: "1001", simple: { limit: 2, period: 60 } },
        },
      },
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // The script built with universal logout: vitest.universal-logout.config.ts.
    exclude: ["test/universal-logout/**"],
    watch: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
