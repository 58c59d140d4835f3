// The stores on one Deno KV: the deny-list, the replay guard, the outbox on KV queues and, when asked,
// the rate limit, shared by every process on the same KV (Deno Deploy's managed KV, or a file).
import type { ProxyConfig } from "../../config.ts";
import type { SealingKeys } from "../../sealed.ts";
import { jobLeaseMs, type LocalStores } from "../local-stores.ts";
import { KvDenyList } from "./deny-list.ts";
import type { Kv } from "./kv.ts";
import { KvOutbox } from "./outbox.ts";
import { KvRateLimiter } from "./rate-limiter.ts";
import { KvSessionRegistry } from "./registry.ts";
import { KvReplayGuard } from "./replay-guard.ts";

/** The stores on `kv`; `stop` hands running jobs back, then closes it. */
export function kvStores(
  kv: Kv & { close(): void },
  description: string,
  config: Pick<ProxyConfig, "outbox" | "rateLimit" | "upstreamDeadlineMs"> &
    Partial<Pick<ProxyConfig, "universalLogout">>,
  options: { log?: (line: Record<string, unknown>) => void; sealing?: SealingKeys } = {},
): LocalStores {
  const outboxes: KvOutbox[] = [];
  return {
    description,
    inMemory: false,
    denyList: new KvDenyList(kv),
    replayGuard: new KvReplayGuard(kv),
    rateLimiter:
      config.rateLimit === undefined ? undefined : new KvRateLimiter(kv, config.rateLimit),
    registry:
      config.universalLogout === undefined || options.sealing === undefined
        ? undefined
        : new KvSessionRegistry(kv, {
            sealing: options.sealing,
            limits: config.universalLogout.limits,
            ...(options.log === undefined
              ? {}
              : {
                  onError: (error: unknown) =>
                    options.log?.({
                      event: "registration_unreadable",
                      error: error instanceof Error ? error.name : "error",
                    }),
                }),
          }),
    outbox:
      options.sealing === undefined
        ? undefined
        : (run, vendors) => {
            const outbox = new KvOutbox(kv, run, {
              sealing: options.sealing as SealingKeys,
              policy: config.outbox,
              vendors,
              leaseMs: jobLeaseMs(config.upstreamDeadlineMs),
              ...(options.log === undefined ? {} : { log: options.log }),
            });
            outboxes.push(outbox);
            return outbox;
          },
    pause() {
      for (const outbox of outboxes) outbox.pause();
    },
    async stop(graceMs) {
      await Promise.all(outboxes.map((outbox) => outbox.stop(graceMs)));
      kv.close();
    },
  };
}
