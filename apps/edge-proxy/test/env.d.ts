// Types of the test worker's bindings and exports, as wrangler.toml declares them.
import type { DenyListObject } from "../src/entry/deny-list.ts";

declare global {
  namespace Cloudflare {
    interface Env {
      DENY_LIST: DurableObjectNamespace<DenyListObject>;
      ASSETS: Fetcher;
      UPSTREAM_TIMEOUT_MS: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/entry/worker.ts");
      durableNamespaces: "DenyListObject";
    }
  }
}
