// Shared Signals push receiver: a CAEP session-revoked SET (RFC 8935, RFC 8417) checked into a trigger.
import { type FetchLike, fromBase64Url, utf8Decode } from "@x/core-signing";
import { type CompactVerifyGetKey, compactVerify, type JWTHeaderParameters } from "jose";
import { bearerCredential, digestHex, digestListed, sha256 } from "../auth.ts";
import { JwksNoKey, JwksUnavailable, remoteKeySet } from "../jwks.ts";
import type { ReplayGuard } from "../ports.ts";
import { parseSubjectId, SubjectIdError, sameTarget, subjectRefOf } from "./subject-id.ts";
import type { LogoutTrigger, SubjectRef } from "./types.ts";

/** The CAEP event this receiver acts on. */
export const SESSION_REVOKED =
  "https://schemas.openid.net/secevent/caep/event-type/session-revoked";

/** The media type of a pushed SET (RFC 8417 §2.3, RFC 8935 §2). */
export const SET_MEDIA_TYPE = "application/secevent+jwt";

/** A SET is a few hundred bytes; a body over this is refused unread. */
export const MAX_SET_BYTES = 16 * 1024;

/** Asymmetric algorithms only: a public key from the JWKS must never act as an HMAC secret. */
export const DEFAULT_SET_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"];

/** The `err` codes of RFC 8935 §2.4 (IANA "Security Event Token Error Codes"). */
export type SetErrorCode =
  | "invalid_request"
  | "invalid_key"
  | "invalid_issuer"
  | "invalid_audience"
  | "authentication_failed"
  | "access_denied";

/**
 * A SET refused: the route answers 400 with `{ "err": err, "description": description }`
 * (RFC 8935 §2.3). The description names the failed rule and never echoes the SET or a credential.
 */
export class SetError extends Error {
  override name = "SetError";
  readonly status = 400;
  readonly err: SetErrorCode;
  readonly description: string;
  constructor(err: SetErrorCode, description: string) {
    super(`${err}: ${description}`);

    this.err = err;
    this.description = description;
  }

  /** The RFC 8935 §2.3 error body. */
  toJSON(): { err: SetErrorCode; description: string } {
    return { err: this.err, description: this.description };
  }
}

/**
 * A SET whose `jti` this transmitter already delivered and the proxy accepted. It is an
 * `invalid_request` for a route that answers every refusal alike; a route may instead acknowledge
 * it (202) without queueing again, as a transmitter resends a SET whose answer it did not get.
 */
export class DuplicateSet extends SetError {
  override name = "DuplicateSet";
  constructor() {
    super("invalid_request", "a SET with this jti was already received from this transmitter");
  }
}

/**
 * The transmitter's keys or the replay guard could not be reached: the proxy's outage, not the
 * transmitter's fault. The route answers 503 so that the transmitter delivers the SET again.
 */
export class SetUnavailable extends Error {
  override name = "SetUnavailable";
}

/** A trusted SSF transmitter, as configured. */
export interface Transmitter {
  /** Its issuer identifier: the SET's `iss` must be exactly this. */
  issuer: string;
  /** Its key set (https, or http on a loopback address for tests). */
  jwksUrl: string;
  /** What the SET's `aud` must contain: the proxy as this transmitter's receiver. */
  audience: string;
  /** SHA-256 digests of the bearer tokens it authenticates with (more than one while rotating). */
  bearerSha256: Uint8Array[];
  /** Accepted signing algorithms; defaults to DEFAULT_SET_ALGORITHMS. Never `none`, never HS*. */
  algorithms?: string[];
  /**
   * Issuers whose subjects an `iss_sub` identifier may name; defaults to the transmitter's own.
   * A provider relaying for another (a hub) lists that one too; any other is `access_denied`.
   */
  subjectIssuers?: string[];
  /**
   * How old `iat` may be, in seconds (default 3000, at most 3000): also how long a `jti` is
   * remembered, which the replay guards hold for an hour at most.
   */
  maxAgeSec?: number;
  /** Tolerated clock difference for `iat` in the future, in seconds (default 60). */
  clockSkewSec?: number;
}

export interface SetDeps {
  fetch: FetchLike;
  now: () => number;
  replay: ReplayGuard;
  /** Deadline of a key set download, in ms (default 5000). */
  timeoutMs?: number;
}

const DEFAULT_MAX_AGE_SEC = 3000;
const DEFAULT_SKEW_SEC = 60;
const MAX_JTI_LENGTH = 256;
const INITIATING_ENTITIES = new Set(["admin", "user", "policy", "system"]);

/**
 * Each transmitter's key resolver (src/jwks.ts), kept with its configuration object so that the
 * key set is downloaded once and then cached, with the fetch and clock of the first delivery.
 */
const resolvers = new WeakMap<Transmitter, (header: JWTHeaderParameters) => Promise<unknown>>();

function resolverOf(transmitter: Transmitter, deps: SetDeps) {
  let resolver = resolvers.get(transmitter);
  if (resolver === undefined) {
    resolver = remoteKeySet(transmitter.jwksUrl, {
      fetch: deps.fetch,
      now: deps.now,
      timeoutMs: deps.timeoutMs ?? 5000,
    });
    resolvers.set(transmitter, resolver);
  }
  return resolver;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(description: string): SetError {
  return new SetError("invalid_request", description);
}

/** The JSON object a base64url segment of the compact JWS encodes; `part` names it in errors. */
function segmentObject(segment: string, part: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Decode(fromBase64Url(segment)));
  } catch {
    throw invalid(`the SET's ${part} is not base64url-encoded JSON`);
  }
  if (!isObject(parsed)) throw invalid(`the SET's ${part} is not a JSON object`);
  return parsed;
}

/** Whether a Content-Type header names `application/secevent+jwt` (parameters aside). */
function isSetMediaType(contentType: string | null): boolean {
  if (contentType === null) return false;
  return contentType.split(";")[0]?.trim().toLowerCase() === SET_MEDIA_TYPE;
}

/** `typ` is "secevent+jwt"; RFC 7515 §4.1.9 lets the "application/" prefix be present too. */
function isSetTyp(typ: unknown): boolean {
  if (typeof typ !== "string") return false;
  const lower = typ.toLowerCase();
  return lower === "secevent+jwt" || lower === SET_MEDIA_TYPE;
}

async function authenticate(authorization: string | null, transmitter: Transmitter) {
  const credential = bearerCredential(authorization);
  if (credential === undefined) {
    throw new SetError(
      "authentication_failed",
      "the request needs Authorization: Bearer <the transmitter's token>",
    );
  }
  if (!digestListed(await sha256(credential), transmitter.bearerSha256)) {
    throw new SetError("authentication_failed", "the bearer token is not this transmitter's");
  }
}

/** Verifies the JWS with the transmitter's keys. */
async function verifySignature(
  token: string,
  transmitter: Transmitter,
  algorithms: string[],
  deps: SetDeps,
): Promise<void> {
  const resolver = resolverOf(transmitter, deps);
  try {
    await compactVerify(token, resolver as CompactVerifyGetKey, { algorithms });
  } catch (error) {
    if (error instanceof JwksUnavailable) {
      throw new SetUnavailable("the transmitter's key set could not be downloaded", {
        cause: error,
      });
    }
    if (error instanceof JwksNoKey) {
      throw new SetError(
        "invalid_key",
        "no single key of the transmitter's key set fits the SET's header",
      );
    }
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
      throw new SetError(
        "invalid_key",
        "the SET's signature does not verify with the transmitter's key",
      );
    }
    if (typeof code !== "string") {
      // A key of the set that cannot be imported is the transmitter's published set at fault.
      throw new SetError("invalid_key", "the transmitter's key for this SET cannot be used");
    }
    throw invalid("the SET is not a valid JWS");
  }
}

/** The subject a session-revoked event names: top-level `sub_id` (SSF 1.0) or the event's `subject`. */
function targetOf(
  payload: Record<string, unknown>,
  event: Record<string, unknown>,
  transmitter: Transmitter,
): SubjectRef {
  const fromSubId =
    payload.sub_id === undefined ? undefined : subjectOf(payload.sub_id, "sub_id", transmitter);
  const fromEvent =
    event.subject === undefined
      ? undefined
      : subjectOf(event.subject, "the event's subject", transmitter);
  if (fromSubId === undefined && fromEvent === undefined) {
    throw invalid("the SET names no subject: neither sub_id nor the event's subject is present");
  }
  if (fromSubId !== undefined && fromEvent !== undefined && !sameTarget(fromSubId, fromEvent)) {
    throw invalid("sub_id and the event's subject name different subjects");
  }
  return (fromSubId ?? fromEvent) as SubjectRef;
}

function subjectOf(value: unknown, field: string, transmitter: Transmitter): SubjectRef {
  try {
    if (
      isObject(value) &&
      (value.format === "complex" || (value.format === undefined && isComplex(value)))
    ) {
      return complexSubject(value, field, transmitter);
    }
    const id = parseSubjectId(value, field);
    return { ...subjectRefOf(id, transmitter.issuer, field), sid: undefined };
  } catch (error) {
    if (error instanceof SubjectIdError) throw invalid(error.message);
    throw error;
  }
}

/** Pre-1.0 CAEP examples write a complex subject without `"format": "complex"`. */
function isComplex(value: Record<string, unknown>): boolean {
  return "user" in value || "session" in value;
}

/**
 * A complex subject (SSF 1.0 §3.3): its `user` names the subject, its `session` (an opaque id) the
 * provider's session. Other members (device, tenant, ...) narrow the sessions in CAEP; the proxy's
 * registrations carry none of them, so the logout covers all of the user's sessions: wider, never
 * narrower.
 */
function complexSubject(
  value: Record<string, unknown>,
  field: string,
  transmitter: Transmitter,
): SubjectRef {
  let sid: string | undefined;
  if (value.session !== undefined) {
    const session = parseSubjectId(value.session, `${field}.session`);
    if (session.format !== "opaque") {
      throw invalid(`${field}.session must be an opaque session id`);
    }
    sid = session.id;
  }
  if (value.user !== undefined) {
    const user = parseSubjectId(value.user, `${field}.user`);
    return { ...subjectRefOf(user, transmitter.issuer, `${field}.user`), sid };
  }
  if (sid === undefined) {
    throw invalid(`${field} names neither a user nor a session`);
  }
  return { issuer: transmitter.issuer, subject: undefined, sid };
}

/** Checks the session-revoked event's members that CAEP 1.0 defines, when present. */
function checkEvent(event: Record<string, unknown>): void {
  const timestamp = event.event_timestamp;
  if (timestamp !== undefined && (typeof timestamp !== "number" || !Number.isFinite(timestamp))) {
    throw invalid("the event's event_timestamp must be a JSON number");
  }
  const initiating = event.initiating_entity;
  if (initiating !== undefined && !INITIATING_ENTITIES.has(initiating as string)) {
    throw invalid("the event's initiating_entity must be one of admin, user, policy, system");
  }
}

/**
 * Validates one pushed SET and returns the logout it asks for. In order: the transmitter's bearer
 * token (`authentication_failed`); the media type, the compact JWS and its header: `typ`
 * "secevent+jwt" (SSF 1.0 §4.1.1 requires it), an allowed asymmetric `alg` (`invalid_request`,
 * `invalid_key`); `iss` (`invalid_issuer`); the signature (`invalid_key`); `aud` (`invalid_audience`);
 * `iat`, `jti`, no `exp` and no `sub` (SSF 1.0 §4.1), `events` holding a session-revoked object,
 * the subject (`invalid_request`); the subject's issuer (`access_denied`); and last the `jti`,
 * never accepted twice (DuplicateSet). Keys or guard out of reach: SetUnavailable.
 */
export async function verifySet(
  body: string,
  contentType: string | null,
  transmitter: Transmitter,
  headers: Headers,
  deps: SetDeps,
): Promise<LogoutTrigger> {
  await authenticate(headers.get("authorization"), transmitter);
  if (!isSetMediaType(contentType)) {
    throw invalid(`the Content-Type must be ${SET_MEDIA_TYPE}`);
  }
  if (new TextEncoder().encode(body).byteLength > MAX_SET_BYTES) {
    throw invalid(`the SET is over ${MAX_SET_BYTES} bytes`);
  }
  const token = body.trim();
  const parts = token.split(".");
  if (parts.length === 5)
    throw invalid("encrypted SETs (JWE) are not accepted; sign the SET (JWS)");
  if (parts.length !== 3) throw invalid("the body is not a compact JWS");
  const header = segmentObject(parts[0] as string, "header");
  const claims = segmentObject(parts[1] as string, "payload");

  if (!isSetTyp(header.typ)) throw invalid('the SET\'s "typ" header must be "secevent+jwt"');
  const algorithms = (transmitter.algorithms ?? DEFAULT_SET_ALGORITHMS).filter(
    (alg) => alg !== "none" && !/^HS/i.test(alg),
  );
  if (typeof header.alg !== "string" || !algorithms.includes(header.alg)) {
    throw new SetError("invalid_key", `the SET's algorithm is not one of ${algorithms.join(", ")}`);
  }
  // The issuer is compared before the signature so that a SET of another issuer is named as such.
  if (typeof claims.iss !== "string") throw invalid('the SET has no "iss" claim');
  if (claims.iss !== transmitter.issuer) {
    throw new SetError("invalid_issuer", "the SET's iss is not this transmitter's issuer");
  }

  // The signature covers exactly the payload bytes read above: from here on they are verified.
  await verifySignature(token, transmitter, algorithms, deps);
  const payload = claims;

  const aud = payload.aud;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(transmitter.audience)) {
    throw new SetError("invalid_audience", "the SET's aud does not name this receiver");
  }

  const nowSec = deps.now() / 1000;
  const maxAge = transmitter.maxAgeSec ?? DEFAULT_MAX_AGE_SEC;
  const skew = transmitter.clockSkewSec ?? DEFAULT_SKEW_SEC;
  const iat = payload.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat))
    throw invalid('the SET has no numeric "iat" claim');
  if (iat > nowSec + skew) throw invalid("the SET's iat is in the future");
  if (iat < nowSec - maxAge) throw invalid(`the SET's iat is more than ${maxAge} s old`);
  const jti = payload.jti;
  if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) {
    throw invalid(
      `the SET's "jti" must be a non-empty string of at most ${MAX_JTI_LENGTH} characters`,
    );
  }
  if (payload.exp !== undefined) throw invalid('an SSF SET must not carry an "exp" claim');
  if (payload.sub !== undefined)
    throw invalid('an SSF SET must not carry a "sub" claim; use sub_id');

  const events = payload.events;
  if (!isObject(events)) throw invalid('the SET\'s "events" claim must be a JSON object');
  const event = events[SESSION_REVOKED];
  if (event === undefined) throw invalid("the SET carries no CAEP session-revoked event");
  if (!isObject(event)) throw invalid("the session-revoked event must be a JSON object");
  checkEvent(event);

  const target = targetOf(payload, event, transmitter);
  const allowed = transmitter.subjectIssuers ?? [transmitter.issuer];
  if (!allowed.includes(target.issuer)) {
    throw new SetError(
      "access_denied",
      "this transmitter may not end sessions of the subject's issuer",
    );
  }

  // Held until the SET could no longer be accepted anyway: iat + max age + skew.
  const holdMs = Math.max(1000, Math.ceil((iat + maxAge + skew) * 1000 - deps.now()));
  // Replay guards take keys that are SHA-256 digests in hex, as every caller of theirs makes them.
  const key = await digestHex(`ssf-jti:${JSON.stringify([transmitter.issuer, jti])}`);
  const owner = crypto.randomUUID();
  let claimed: boolean;
  try {
    claimed = await deps.replay.claim(key, owner, holdMs);
  } catch (error) {
    throw new SetUnavailable("the replay guard is unreachable", { cause: error });
  }
  if (!claimed) throw new DuplicateSet();
  return { kind: "ssf-caep", target, jti, claim: { key, owner } };
}
