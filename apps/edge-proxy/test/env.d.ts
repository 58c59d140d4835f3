// Types of the test worker's bindings and exports, as wrangler.toml declares them.
import type { DenyListObject } from "../src/entry/deny-list.ts";
import type { OpenJobsObject } from "../src/entry/open-jobs.ts";
import type { LogoutOutboxObject } from "../src/entry/outbox.ts";
import type { ReplayGuardObject } from "../src/entry/replay-guard.ts";

declare global {
  namespace Cloudflare {
    interface Env {
      DENY_LIST: DurableObjectNamespace<DenyListObject>;
      LOGOUT_OUTBOX: DurableObjectNamespace<LogoutOutboxObject>;
      OPEN_JOBS: DurableObjectNamespace<OpenJobsObject>;
      REPLAY_GUARD: DurableObjectNamespace<ReplayGuardObject>;
      ASSETS: Fetcher;
      UPSTREAM_TIMEOUT_MS: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/entry/worker.ts");
      durableNamespaces:
        | "DenyListObject"
        | "LogoutOutboxObject"
        | "OpenJobsObject"
        | "ReplayGuardObject";
    }
  }
}
