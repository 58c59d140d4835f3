// How many cases each property runs: FUZZ_RUNS, else 20,000 under `npm run fuzz` and 1,000 in tests.
const LONG_RUNS = 20_000;
const DEFAULT_RUNS = 1_000;

function runCount(): number {
  const given = process.env.FUZZ_RUNS;
  if (given !== undefined && /^\d+$/.test(given) && Number(given) > 0) return Number(given);
  return process.env.npm_lifecycle_event === "fuzz" ? LONG_RUNS : DEFAULT_RUNS;
}

export const RUNS = runCount();

/** fast-check parameters: a fixed seed per property so a failure replays, and the run count. */
export function params(seed: number): { seed: number; numRuns: number } {
  return { seed, numRuns: RUNS };
}
