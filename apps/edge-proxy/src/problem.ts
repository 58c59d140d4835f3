// RFC 9457 problem documents: the proxy's error kinds, the one kind -> HTTP status map, and rendering.
import { ERROR_KINDS, isVendorError, type VendorError } from "@x/core-signing";

/** The proxy's kinds: the vendors' shared vocabulary plus what only the proxy itself refuses. */
export const PROBLEM_KINDS = [
  ...ERROR_KINDS,
  "forbidden",
  "method_not_allowed",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "internal",
] as const;

export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** The one place where a kind becomes an HTTP status. */
export const KIND_STATUS: Readonly<Record<ProblemKind, number>> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  misconfigured: 500,
  internal: 500,
  upstream: 502,
  unavailable: 503,
};

/** Each kind's `title`: the same for every problem of that kind. */
export const KIND_TITLE: Readonly<Record<ProblemKind, string>> = {
  invalid_request: "Invalid request",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  payload_too_large: "Request body too large",
  unsupported_media_type: "Unsupported media type",
  rate_limited: "Rate limited",
  misconfigured: "Proxy misconfigured",
  internal: "Internal error",
  upstream: "Bad answer from the vendor",
  unavailable: "Vendor unavailable",
};

/** The `type` URI of a problem of this kind. */
export function problemType(kind: ProblemKind): string {
  return `urn:x-edge-proxy:problem:${kind}`;
}

/** Whether `kind` is one of ours: an own key of the table, never a name inherited from Object. */
export function isProblemKind(kind: unknown): kind is ProblemKind {
  return typeof kind === "string" && Object.hasOwn(KIND_STATUS, kind);
}

/** A kind no table knows (a vendor's error of another vocabulary) is a bad answer from upstream. */
function knownKind(kind: unknown): ProblemKind {
  return isProblemKind(kind) ? kind : "upstream";
}

export function statusOf(kind: ProblemKind): number {
  return KIND_STATUS[knownKind(kind)];
}

/** One refused input member: where it is in the body (dot path) and what is wrong, never its value. */
export interface FieldIssue {
  field: string;
  message: string;
}

export interface ProblemInit {
  kind: ProblemKind;
  code: string | number;
  detail: string;
  vendor?: string | undefined;
  retryable?: boolean | undefined;
  upstreamStatus?: number | undefined;
  field?: string | undefined;
  /** Further members of the problem document (e.g. `errors`, `steps`). */
  extensions?: Record<string, unknown> | undefined;
  /** Response headers that go with the problem (WWW-Authenticate, Allow, Retry-After). */
  headers?: Record<string, string> | undefined;
}

/** A refusal or failure the proxy itself decides; thrown in routes, rendered by the error handler. */
export class ProblemError extends Error {
  override name = "ProblemError";
  readonly init: ProblemInit;

  constructor(init: ProblemInit) {
    super(init.detail);
    this.init = init;
  }
}

/** The document every error answer carries. `vendor` and `upstreamStatus` are null when none applies. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  vendor: string | null;
  code: string | number;
  kind: ProblemKind;
  retryable: boolean;
  upstreamStatus: number | null;
  requestId: string;
  field?: string;
  [extension: string]: unknown;
}

/** A problem ready to send: the document and its headers. */
export interface Problem {
  document: ProblemDocument;
  headers: Record<string, string>;
}

/** A VendorError as a problem init; `field` is rewritten by the caller when it is a body path. */
export function fromVendorError(error: VendorError): ProblemInit {
  return {
    kind: error.kind,
    code: error.code,
    detail: error.message,
    vendor: error.vendor,
    retryable: error.retryable,
    upstreamStatus: error.upstreamStatus,
    field: error.field,
  };
}

/** Any thrown value as a problem init: ours, a vendor's, or an unexpected error (a generic 500). */
export function toProblemInit(error: unknown): ProblemInit {
  if (error instanceof ProblemError) return error.init;
  if (isVendorError(error)) return fromVendorError(error);
  return {
    kind: "internal",
    code: "INTERNAL_ERROR",
    detail: "The proxy failed unexpectedly; the request id identifies the log line.",
  };
}

export function buildProblem(init: ProblemInit, requestId: string): Problem {
  const kind = knownKind(init.kind);
  const status = KIND_STATUS[kind];
  const document: ProblemDocument = {
    type: problemType(kind),
    title: KIND_TITLE[kind],
    status,
    detail: init.detail,
    vendor: init.vendor ?? null,
    code: init.code,
    kind,
    retryable: init.retryable ?? (kind === "unavailable" || kind === "rate_limited"),
    upstreamStatus: init.upstreamStatus ?? null,
    requestId,
    ...(init.field === undefined ? {} : { field: init.field }),
    ...init.extensions,
  };
  const headers: Record<string, string> = { ...init.headers };
  if (status === 401 && headers["www-authenticate"] === undefined) {
    headers["www-authenticate"] = 'Bearer realm="edge-proxy"';
  }
  return { document, headers };
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponse(problem: Problem): Response {
  const headers = new Headers(problem.headers);
  headers.set("content-type", PROBLEM_CONTENT_TYPE);
  headers.set("cache-control", "no-store");
  return new Response(JSON.stringify(problem.document), {
    status: problem.document.status,
    headers,
  });
}

/** What a log line may say of an error: its class's name, never its message (it may quote input). */
export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/**
 * A vendor's code as the proxy keeps it in logs and job records: a number, or a short identifier
 * that quotes none of the request's secrets; anything else is VENDOR_ERROR (a vendor may echo a
 * token into its code).
 */
export function redactCode(code: string | number, secrets: readonly string[]): string | number {
  if (typeof code === "number") return code;
  const quotes = secrets.some((secret) => secret.length >= 4 && code.includes(secret));
  return /^[A-Za-z0-9_.-]{1,40}$/.test(code) && !quotes ? code : "VENDOR_ERROR";
}
