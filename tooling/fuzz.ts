// Run counts of the property-based fuzz tests: FUZZ_RUNS when set, else 20,000 cases per property
// under `npm run fuzz` (a package's `fuzz` script) and 1,000 in the tests. Seeds are fixed per property.
const LONG_RUNS = 20_000;
const DEFAULT_RUNS = 1_000;

function runCount(): number {
  const given = process.env.FUZZ_RUNS;
  if (given !== undefined && /^\d+$/.test(given) && Number(given) > 0) return Number(given);
  return process.env.npm_lifecycle_event === "fuzz" ? LONG_RUNS : DEFAULT_RUNS;
}

/** Cases per property in this run. */
export const FUZZ_RUNS = runCount();

/** fast-check parameters of one property: its fixed seed (a failure replays) and the run count. */
export function fuzzParams(seed: number): { seed: number; numRuns: number } {
  return { seed, numRuns: FUZZ_RUNS };
}

/** Content types a vendor's answer may come with, right and wrong. */
export const ANSWER_CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "text/html",
  "application/problem+json",
  "",
] as const;

/** Statuses whose answers have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([204, 205, 304]);

/** A vendor's answer: any status from 200 to 599, any body text or bytes, any content type. */
export function answer(status: number, body: string | Uint8Array, contentType: string): Response {
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  const response = new Response(NULL_BODY.has(status) ? null : payload, {
    status,
    headers: { "content-type": contentType },
  });
  if (contentType === "") response.headers.delete("content-type");
  return response;
}
