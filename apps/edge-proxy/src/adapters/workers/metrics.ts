// Figures on Workers, when the METRICS binding is configured (docs/operations.md has the queries):
// one Analytics Engine data point per vendor call, and one per change of a store object's size.
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

let gaugeSink: ((point: AnalyticsEngineDataPoint) => void) | undefined;

/** Where store sizes go instead of the METRICS binding (tests read them there); undefined resets. */
export function configureGauges(sink: ((point: AnalyticsEngineDataPoint) => void) | undefined) {
  gaugeSink = sink;
}

/**
 * A store object's size now: index1 and blob1 the store ("deny-list", "replay-guard",
 * "open-jobs"), blob2 "gauge", blob3 the object's name; double1 its rows. Never throws.
 */
export function writeGauge(
  env: { METRICS?: AnalyticsEngineDataset },
  store: string,
  id: DurableObjectId,
  rows: number,
): void {
  const point = {
    indexes: [store],
    blobs: [store, "gauge", id.name ?? id.toString()],
    doubles: [rows],
  };
  try {
    if (gaugeSink !== undefined) gaugeSink(point);
    else env.METRICS?.writeDataPoint(point);
  } catch {
    // a figure is never worth a store's write
  }
}
