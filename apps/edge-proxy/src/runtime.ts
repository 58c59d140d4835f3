// The composition root: from a configuration, the vendors and the stores, the parts every entry and
// the outbox's attempts share (the Retry-After gate, fetch per vendor, the vendors built once, and
// the upstream policy of one call).
import { type FetchLike, fromPlatformFetch } from "@x/core-signing";
import type { ProxyConfig } from "./config.ts";
import { VendorGateway } from "./gateway.ts";
import type { DenyList, MetricsSink, VendorCallMetric } from "./ports.ts";
import { redactCode } from "./problem.ts";
import { RetryAfterGate, type UpstreamEnv, type UpstreamReport } from "./upstream.ts";
import type { AnyVendor } from "./vendors/descriptor.ts";
import { UPSTREAM_MAX_BODY_BYTES } from "./vendors/shared.ts";

export interface RuntimeDeps {
  vendors: readonly AnyVendor[];
  /** The FunGame deny-list. */
  denyList: DenyList;
  /** Upstream calls (vendors, JWKS); defaults to the global fetch. */
  fetch?: FetchLike;
  /** Clock in ms since the epoch; defaults to Date.now. */
  now?: () => number;
  /** Randomness in [0, 1) for retry jitter; defaults to Math.random. */
  random?: () => number;
  /** One JSON-able line per event; defaults to console.log of its JSON. A failing sink is ignored. */
  log?: (line: Record<string, unknown>) => void;
  /** Where each vendor call's figures go; none by default. A failing sink is ignored. */
  metrics?: MetricsSink;
}

/** One call's deadline and where its report goes. */
export interface CallScope {
  /** When all upstream work must be done, on the `now` clock. */
  at: number;
  /** Aborts at that deadline. */
  signal: AbortSignal;
  report?: (report: UpstreamReport) => void;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Retries instead of the vendor's policy (0 for the outbox, which retries on its own schedule). */
  maxRetries?: number;
}

export interface ProxyRuntime {
  config: ProxyConfig;
  gateway: VendorGateway;
  gate: RetryAfterGate;
  /** The base fetch (JWKS and the like). */
  fetch: FetchLike;
  now: () => number;
  random: () => number;
  log: (line: Record<string, unknown>) => void;
  /** Records one vendor call's figures, made only when a sink is set; never throws. */
  metric: (make: () => VendorCallMetric) => void;
  /** The upstream policy of one call to `vendor` within `scope`. */
  upstream(vendor: string, scope: CallScope): UpstreamEnv;
}

export function proxyRuntime(config: ProxyConfig, deps: RuntimeDeps): ProxyRuntime {
  // The platform's own fetch: its answers are marked so, and read whole when their length allows.
  const baseFetch: FetchLike = deps.fetch ?? ((request) => fetch(request).then(fromPlatformFetch));
  const now = deps.now ?? (() => Date.now());
  const random = deps.random ?? Math.random;
  const write = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  // A failing log sink must never fail a request.
  const log = (line: Record<string, unknown>) => {
    try {
      write(line);
    } catch {
      // nothing sensible to do: the answer still goes out
    }
  };
  const sink = deps.metrics;
  const metric = (make: () => VendorCallMetric) => {
    if (sink === undefined) return;
    try {
      sink.write(make());
    } catch {
      // figures are never worth a request
    }
  };
  const gate = new RetryAfterGate(now);
  const fetchFor =
    (vendor: string): FetchLike =>
    async (request) => {
      const response = await baseFetch(request);
      gate.observe(vendor, response);
      return response;
    };
  const gateway = new VendorGateway(deps.vendors, config, (vendor) => ({
    fetch: fetchFor(vendor.name),
    denyList: deps.denyList,
    now,
    log,
    timeoutMs: config.upstreamTimeoutMs,
    maxBodyBytes: UPSTREAM_MAX_BODY_BYTES,
  }));
  return {
    config,
    gateway,
    gate,
    fetch: baseFetch,
    now,
    random,
    log,
    metric,
    upstream(vendor, scope) {
      return {
        fetch: fetchFor(vendor),
        gate,
        now,
        random,
        timeoutMs: config.upstreamTimeoutMs,
        deadlineAt: scope.at,
        deadlineMs: config.upstreamDeadlineMs,
        signal: scope.signal,
        report: scope.report ?? (() => {}),
        retry: gateway.descriptor(vendor).retry,
        ...(scope.sleep === undefined ? {} : { sleep: scope.sleep }),
        ...(scope.maxRetries === undefined ? {} : { maxRetries: scope.maxRetries }),
      };
    },
  };
}

/** The figures of one vendor call from its upstream report, its code kept out if it quotes a secret. */
export function callMetric(
  report: UpstreamReport,
  source: VendorCallMetric["source"],
  route: string,
  secrets: readonly string[],
): VendorCallMetric {
  return {
    vendor: report.vendor,
    source,
    route,
    outcome: report.code === undefined ? "ok" : String(redactCode(report.code, secrets)),
    upstreamStatus: report.upstreamStatus ?? null,
    latencyMs: report.durationMs,
    attempts: report.attempts,
  };
}
