// Global Token Revocation (draft-parecki-oauth-global-token-revocation-06): caller and request checked.
import { bearerCredential, digestListed, sha256 } from "../auth.ts";
import { parseSubjectId, SubjectIdError, subjectRefOf } from "./subject-id.ts";
import type { LogoutTrigger } from "./types.ts";

/** A request is one small JSON object; a body over this is refused. */
export const MAX_REVOCATION_BYTES = 8 * 1024;

/** The statuses of the draft's §3.4 (204 is success, with no body). */
export type RevocationStatus = 400 | 401 | 403 | 404 | 422;

/**
 * A revocation request refused, with the draft's status. The draft defines no body; the route
 * renders `error` and `description` as its problem document. Never echoes the subject or a token.
 */
export class RevocationError extends Error {
  override name = "RevocationError";
  readonly status: RevocationStatus;
  readonly error: string;
  readonly description: string;
  constructor(status: RevocationStatus, error: string, description: string) {
    super(`${status} ${error}: ${description}`);

    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/** A provider (or security tool) allowed to request revocations, as configured. */
export interface RevocationCaller {
  /** The provider's issuer: `email` and `opaque` subjects are taken as this issuer's. */
  issuer: string;
  /** SHA-256 digests of its bearer tokens (more than one while rotating). */
  bearerSha256: Uint8Array[];
  /** Issuers whose subjects an `iss_sub` may name; defaults to its own. Others are 403. */
  subjectIssuers?: string[];
}

/**
 * The caller an Authorization header proves: its bearer token's SHA-256 compared in constant time
 * with every configured caller's. Missing or unknown: 401 (draft §3.4.2).
 */
export async function authenticateRevocation(
  authorization: string | null,
  callers: readonly RevocationCaller[],
): Promise<RevocationCaller> {
  const credential = bearerCredential(authorization);
  if (credential === undefined) {
    throw new RevocationError(
      401,
      "invalid_token",
      "the request needs Authorization: Bearer <token>",
    );
  }
  const digest = await sha256(credential);
  let found: RevocationCaller | undefined;
  for (const caller of callers) {
    // Every caller is compared, so the time taken does not say which one matched.
    const listed = digestListed(digest, caller.bearerSha256);
    if (listed && found === undefined) found = caller;
  }
  if (found === undefined) {
    throw new RevocationError(
      401,
      "invalid_token",
      "the bearer token is not a revocation caller's",
    );
  }
  return found;
}

function malformed(description: string): RevocationError {
  return new RevocationError(400, "invalid_request", description);
}

/**
 * Reads a revocation request of an authenticated caller: a POST of `application/json` holding the
 * single member `sub_id`, an RFC 9493 subject identifier of format iss_sub, email or opaque
 * (draft §3.2). Malformed or unsupported: 400; an `iss_sub` of an issuer the caller may not
 * revoke for: 403. Whether the subject is known (404) or can be logged out (422) is for the route
 * to say after asking the registry: see `subjectUnknown` and `cannotLogOut`.
 */
export function parseGlobalRevocation(
  body: string,
  contentType: string | null,
  caller: RevocationCaller,
): LogoutTrigger {
  if (contentType?.split(";")[0]?.trim().toLowerCase() !== "application/json") {
    throw malformed("the Content-Type must be application/json");
  }
  if (new TextEncoder().encode(body).byteLength > MAX_REVOCATION_BYTES) {
    throw malformed(`the body is over ${MAX_REVOCATION_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw malformed("the body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw malformed("the body must be a JSON object");
  }
  const other = Object.keys(parsed).find((name) => name !== "sub_id");
  if (other !== undefined) {
    throw malformed(`the body has the member "${other.slice(0, 40)}"; it holds only sub_id`);
  }
  const value = (parsed as { sub_id?: unknown }).sub_id;
  if (value === undefined) throw malformed("the body has no sub_id");
  let target: { issuer: string; subject: string };
  try {
    target = subjectRefOf(parseSubjectId(value, "sub_id"), caller.issuer);
  } catch (error) {
    if (error instanceof SubjectIdError) throw malformed(error.message);
    throw error;
  }
  const allowed = caller.subjectIssuers ?? [caller.issuer];
  if (!allowed.includes(target.issuer)) {
    throw new RevocationError(
      403,
      "insufficient_scope",
      "this caller may not revoke sessions of sub_id.iss",
    );
  }
  return { kind: "global-token-revocation", target: { ...target, sid: undefined }, jti: undefined };
}

/** 404 (draft §3.4.2): no live registration names the subject. */
export function subjectUnknown(): RevocationError {
  return new RevocationError(404, "subject_not_found", "no session of this subject is registered");
}

/** 422 (draft §3.4.2): the subject is known but its sessions cannot be logged out; says why. */
export function cannotLogOut(reason: string): RevocationError {
  return new RevocationError(422, "unable_to_log_out", reason);
}
