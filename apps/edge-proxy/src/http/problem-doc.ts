// The problem document (RFC 9457) as a schema, for the OpenAPI document and the fan-out's results.
import * as v from "valibot";
import { KIND_STATUS, PROBLEM_KINDS } from "../problem.ts";

/** The members of every problem document. */
export function problemEntries() {
  return {
    type: v.pipe(v.string(), v.url()),
    title: v.string(),
    status: v.picklist([...new Set(Object.values(KIND_STATUS))]),
    detail: v.string(),
    vendor: v.nullable(v.string()),
    code: v.pipe(
      v.union([v.string(), v.number()]),
      v.description("The vendor's own code (eBET 4026, OneAccess APP.0007) or the proxy's."),
    ),
    kind: v.picklist(PROBLEM_KINDS),
    retryable: v.boolean(),
    upstreamStatus: v.pipe(
      v.nullable(v.number()),
      v.description("The vendor's HTTP status, when it answered."),
    ),
    requestId: v.string(),
    field: v.optional(
      v.pipe(v.string(), v.description("The request member (dot path) or header at fault.")),
    ),
    errors: v.optional(
      v.pipe(
        v.array(v.object({ field: v.string(), message: v.string() })),
        v.description("Every refused field, for validation problems."),
      ),
    ),
  };
}

/** A problem document; vendors may add members (Lancens: `steps`). */
export function problemSchema() {
  return v.looseObject(problemEntries());
}
