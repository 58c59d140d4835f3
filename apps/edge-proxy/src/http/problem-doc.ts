// The problem document (RFC 9457) as a schema: the OpenAPI document's Problem, and the failed
// members of a fan-out's answer, from one declaration.
import * as v from "valibot";
import { KIND_STATUS, KIND_TITLE, PROBLEM_KINDS, problemType } from "../problem.ts";
import { REQUEST_ID } from "./request-id.ts";

const made = new Map<string, ReturnType<typeof build>>();

function build(vendors: readonly string[]) {
  const statuses = [...new Set(Object.values(KIND_STATUS))].sort((a, b) => a - b);
  return v.pipe(
    v.looseObject({
      type: v.picklist(PROBLEM_KINDS.map(problemType)),
      title: v.picklist([...new Set(PROBLEM_KINDS.map((kind) => KIND_TITLE[kind]))]),
      status: v.picklist(statuses),
      detail: v.string(),
      vendor: v.nullable(vendors.length === 0 ? v.string() : v.picklist(vendors)),
      code: v.pipe(
        v.union([v.string(), v.number()]),
        v.description("The vendor's own code (eBET 4026, OneAccess APP.0007) or the proxy's."),
      ),
      kind: v.pipe(
        v.picklist(PROBLEM_KINDS),
        v.description(PROBLEM_KINDS.map((kind) => `${kind} -> ${KIND_STATUS[kind]}`).join(", ")),
      ),
      retryable: v.boolean(),
      upstreamStatus: v.pipe(
        v.nullable(v.number()),
        v.description("The vendor's HTTP status, when it answered."),
      ),
      requestId: v.pipe(v.string(), v.regex(REQUEST_ID)),
      field: v.optional(
        v.pipe(v.string(), v.description("The request member (dot path) or header at fault.")),
      ),
      errors: v.optional(
        v.pipe(
          v.array(v.object({ field: v.string(), message: v.string() })),
          v.description("Every refused field, for validation problems."),
        ),
      ),
    }),
    v.description("RFC 9457 problem details. `kind` alone decides `status`, `type` and `title`."),
  );
}

/**
 * The problem document of a proxy with these vendors: one schema object per vendor list, so that
 * wherever it is used the generated document refers to its one Problem.
 */
export function problemSchema(vendors: readonly string[]) {
  const key = vendors.join("\n");
  let schema = made.get(key);
  if (schema === undefined) {
    schema = build(vendors);
    made.set(key, schema);
  }
  return schema;
}
