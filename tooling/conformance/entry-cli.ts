// Entry for Node, Bun and Deno: runs the suite and prints its report as one JSON line.
import { runSuite } from "./suite.ts";

const runtime = (globalThis as { CONFORMANCE_RUNTIME?: string }).CONFORMANCE_RUNTIME ?? "cli";
const report = await runSuite(runtime);
console.log(`CONFORMANCE ${JSON.stringify(report)}`);
