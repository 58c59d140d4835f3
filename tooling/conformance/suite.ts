// The conformance suite: every package's cases, run unchanged on Node 20, Node 24, Bun, Deno and workerd.
import { cases as coreSigning } from "./cases/core-signing.ts";
import { cases as ebet } from "./cases/ebet.ts";
import { cases as fungame } from "./cases/fungame.ts";
import { cases as lancens } from "./cases/lancens.ts";
import { cases as sdkAuth } from "./cases/sdk-auth.ts";
import { type ConformanceCase, type ConformanceReport, runCases } from "./harness.ts";

export const cases: ConformanceCase[] = [
  ...coreSigning,
  ...ebet,
  ...fungame,
  ...sdkAuth,
  ...lancens,
];

export function runSuite(runtime: string): Promise<ConformanceReport> {
  return runCases(runtime, cases);
}
