// The shared run counts (FUZZ_RUNS; 20,000 under `npm run fuzz`, 1,000 in tests) and arbitraries.
export { anyCodePoint, FUZZ_RUNS as RUNS, fuzzParams as params } from "../../../tooling/fuzz.ts";
