// Vendor call figures on Workers: one Analytics Engine data point per call, when the METRICS
// binding is configured (docs/operations.md has the queries).
import type { MetricsSink, VendorCallMetric } from "../../ports.ts";

/**
 * The data point of one call. The layout is the queries' contract: index1 and blob1 the vendor,
 * blob2 the source ("request" or "job"), blob3 the route, blob4 the outcome ("ok" or a code);
 * double1 the latency in ms, double2 the vendor's HTTP status (0: no answer), double3 the attempts,
 * double4 1 when the call succeeded.
 */
export function dataPointOf(metric: VendorCallMetric): AnalyticsEngineDataPoint {
  return {
    indexes: [metric.vendor],
    blobs: [metric.vendor, metric.source, metric.route, metric.outcome],
    doubles: [
      metric.latencyMs,
      metric.upstreamStatus ?? 0,
      metric.attempts,
      metric.outcome === "ok" ? 1 : 0,
    ],
  };
}

/** The sink of the Worker's METRICS binding; undefined without one. */
export function metricsOf(env: { METRICS?: AnalyticsEngineDataset }): MetricsSink | undefined {
  const dataset = env.METRICS;
  if (dataset === undefined) return undefined;
  return { write: (metric) => dataset.writeDataPoint(dataPointOf(metric)) };
}
