// Request bodies: content type (415), size (413), JSON, and schema validation naming every field at fault.
import * as v from "valibot";
import { BodyTooLarge, readBounded } from "./http/bounded.ts";
import { type FieldIssue, ProblemError } from "./problem.ts";

/** The largest request body accepted; every body of the API is a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

function isJsonMediaType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(media);
}

function tooLarge(): ProblemError {
  return new ProblemError({
    kind: "payload_too_large",
    code: "BODY_TOO_LARGE",
    detail: `the request body must be at most ${MAX_BODY_BYTES} bytes`,
  });
}

async function readLimited(request: Request): Promise<string> {
  try {
    return await readBounded(request, MAX_BODY_BYTES, true);
  } catch (error) {
    if (error instanceof BodyTooLarge) throw tooLarge();
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_BODY",
      detail: "the request body could not be read as UTF-8 text",
    });
  }
}

function unsupportedMediaType(): ProblemError {
  return new ProblemError({
    kind: "unsupported_media_type",
    code: "UNSUPPORTED_MEDIA_TYPE",
    detail: "the request body must be JSON, sent with content-type: application/json",
    headers: { "accept-post": "application/json" },
  });
}

/** Parses `text` as a JSON object; parser messages are not repeated (they quote the input). */
function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_JSON",
      detail:
        text.trim() === "" ? "the request body is empty" : "the request body is not valid JSON",
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_BODY",
      detail: "the request body must be a JSON object",
    });
  }
  return value as Record<string, unknown>;
}

/**
 * Reads the body as a JSON object: 415 unless the content type is JSON, 413 over MAX_BODY_BYTES,
 * 400 when it is not JSON or not an object.
 */
export async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(request.headers.get("content-type"))) throw unsupportedMediaType();
  return parseJsonObject(await readLimited(request));
}

/**
 * For routes that take no body: none, an empty one or `{}` is accepted; anything else is refused
 * as a body would be (413 over the limit, 415 not JSON, 400 naming each member).
 */
export async function readNoBody(request: Request): Promise<void> {
  const text = await readLimited(request);
  if (text.trim() === "") return;
  if (!isJsonMediaType(request.headers.get("content-type"))) throw unsupportedMediaType();
  parseWith(v.strictObject({}), parseJsonObject(text));
}

function describeType(expected: string | null): string {
  if (expected === "string") return "a string";
  if (expected === "number") return "a number";
  if (expected === "Object") return "an object";
  if (expected === "boolean") return "a boolean";
  return expected ?? "another type";
}

/** One valibot issue as a field issue; the input value is never quoted, it may be a token. */
function fieldIssue(issue: v.BaseIssue<unknown>, prefix: string): FieldIssue {
  const path = (issue.path ?? []).map((item) => String(item.key)).join(".");
  const field = prefix && path ? `${prefix}.${path}` : prefix || path || "(body)";
  if (issue.type === "strict_object" && issue.expected === "never") {
    return { field, message: "is not a known member" };
  }
  if (issue.kind === "schema") {
    if (issue.received === "undefined") return { field, message: "is required" };
    return { field, message: `must be ${describeType(issue.expected)}` };
  }
  return { field, message: issue.message };
}

/** The first issue names the problem's `field`; all of them are listed under `errors`. */
export function invalidFields(issues: FieldIssue[]): ProblemError {
  const first = issues[0] ?? { field: "(body)", message: "is invalid" };
  return new ProblemError({
    kind: "invalid_request",
    code: "INVALID_FIELD",
    detail: `${first.field}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
    field: first.field,
    extensions: { errors: issues },
  });
}

/** Validates `value` against `schema`, or throws a 400 problem naming each field (under `prefix`). */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  prefix = "",
): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: false });
  if (result.success) return result.output;
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  const add = (issue: FieldIssue) => {
    const id = `${issue.field}\n${issue.message}`;
    if (seen.has(id)) return;
    seen.add(id);
    issues.push(issue);
  };
  for (const issue of result.issues) {
    // valibot stops at an object's first unknown member: name every one of them.
    const unknown = unknownMembers(schema, issue);
    if (unknown === undefined) add(fieldIssue(issue, prefix));
    for (const path of unknown ?? []) {
      add({ field: prefix ? `${prefix}.${path}` : path, message: "is not a known member" });
    }
  }
  throw invalidFields(issues);
}

type SchemaNode = { entries?: Record<string, SchemaNode>; wrapped?: SchemaNode } | undefined;

function unwrap(node: SchemaNode): SchemaNode {
  let current = node;
  while (current?.wrapped !== undefined) current = current.wrapped;
  return current;
}

/** For an unknown-member issue: the paths of every member of that object the schema lacks. */
function unknownMembers(
  schema: v.GenericSchema,
  issue: v.BaseIssue<unknown>,
): string[] | undefined {
  if (issue.type !== "strict_object" || issue.expected !== "never") return undefined;
  const items = issue.path ?? [];
  const parent = items.at(-1)?.input;
  if (typeof parent !== "object" || parent === null || Array.isArray(parent)) return undefined;
  const keys = items.slice(0, -1).map((item) => String(item.key));
  let node = schema as unknown as SchemaNode;
  for (const key of keys) node = unwrap(node)?.entries?.[key];
  const entries = unwrap(node)?.entries;
  if (entries === undefined) return undefined;
  return Object.keys(parent)
    .filter((key) => !Object.hasOwn(entries, key))
    .map((key) => [...keys, key].join("."));
}
