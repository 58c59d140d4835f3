// OpenID Connect Back-Channel Logout 1.0 logout tokens: the trusted providers and their keys, and
// the validation of the specification's §2.6 that turns one token into one logout trigger.
import type { FetchLike } from "@x/core-signing";
import { base64url, compactVerify, type JWK, type JWTHeaderParameters } from "jose";
import { MAX_LEASE_MS } from "../adapters/expiring-keys.ts";
import { ASYMMETRIC_ALGORITHMS, digestHex } from "../auth.ts";
import { isSecureOrLoopback } from "../client-address.ts";
import { readBounded } from "../http/bounded.ts";
import { JwksNoKey, JwksUnavailable, remoteKeySet } from "../jwks.ts";
import type { ReplayGuard } from "../ports.ts";
import { CLAIM_MARGIN_MS } from "../replay.ts";
import type { LogoutTrigger } from "./types.ts";

/** The member of `events` that makes a JWT a logout token (§2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** The algorithms a provider's logout tokens may use unless it lists its own. */
export const DEFAULT_LOGOUT_ALGORITHMS: readonly string[] = ["RS256", "PS256", "ES256", "EdDSA"];
/** How old a token's `iat` may be, in seconds, unless the provider says otherwise. */
export const DEFAULT_MAX_AGE_SEC = 300;
/** How far the provider's clock may be from ours, in seconds, unless the provider says otherwise. */
export const DEFAULT_CLOCK_SKEW_SEC = 60;
/** A logout token is a few hundred bytes: a longer one is refused before it is decoded. */
export const MAX_LOGOUT_TOKEN_LENGTH = 16 * 1024;
/** A discovery document larger than this is refused, never buffered whole. */
export const MAX_DISCOVERY_BYTES = 64 * 1024;
/** The longest `sub`, `sid` or `jti` taken: identifiers, never documents. */
export const MAX_IDENTIFIER_LENGTH = 1024;
/** The least time between two discovery downloads for a provider whose last one failed. */
const DISCOVERY_COOLDOWN_MS = 30_000;
/** The default deadline of a discovery or key set download. */
const DEFAULT_TIMEOUT_MS = 5_000;

/** One identity provider whose logout tokens the proxy obeys. */
export interface TrustedProvider {
  /** Its issuer identifier: the tokens' `iss` and the discovery document's `issuer`, compared exactly. */
  issuer: string;
  /** Its key set; when absent, the key set named by its discovery document. */
  jwksUrl?: string;
  /** Its discovery document; `<issuer>/.well-known/openid-configuration` when absent. */
  discoveryUrl?: string;
  /** The client id the proxy has at this provider: a token's `aud` must hold it. */
  audience: string;
  /** The signing algorithms accepted; asymmetric only. */
  algorithms?: string[];
  /** Refuse tokens without the `typ` header `logout+jwt` (tokens of older providers lack it). */
  requireTyp?: boolean;
  /** How old `iat` may be, in seconds. */
  maxAgeSec?: number;
  /** How far the provider's clock may be from ours, in seconds. */
  clockSkewSec?: number;
}

/**
 * The logout token is refused (any §2.6 rule): the route answers 400 with the specification's
 * JSON error, `{ "error": "invalid_request", "error_description": <description> }`. The
 * description names the rule that failed and never quotes the token or its claims.
 */
export class LogoutTokenError extends Error {
  override name = "LogoutTokenError";
  readonly error = "invalid_request";
  readonly status = 400;
  readonly description: string;
  constructor(description: string) {
    super(description);
    this.description = description;
  }
}

/**
 * The provider's keys cannot be had (discovery or key set download failed, or the discovery
 * document names another issuer or an unsafe key set): the token is neither valid nor invalid.
 * The route answers 503 with Retry-After rather than §2.8's 400, so that the provider records a
 * delivery failure (and retries, if it does) instead of a refusal of its token.
 */
export class ProviderUnavailable extends Error {
  override name = "ProviderUnavailable";
  readonly status = 503;
  readonly issuer: string;
  readonly description: string;
  constructor(issuer: string, description: string, options?: ErrorOptions) {
    super(description, options);

    this.issuer = issuer;
    this.description = description;
  }
}

/** A trusted provider's setting is invalid; `field` names it (e.g. `providers[1].audience`). */
export class ProviderConfigError extends Error {
  override name = "ProviderConfigError";
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field} ${message}`);
    this.field = field;
  }
}

/** A provider with its settings filled in, as the checks use it. */
export interface Provider {
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  requireTyp: boolean;
  maxAgeSec: number;
  clockSkewSec: number;
  jwksUrl: string | undefined;
  discoveryUrl: string;
}

type KeyResolver = (header: JWTHeaderParameters) => Promise<JWK>;

/** Whether `value` is a JSON object (not null, not an array). */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function wholeSeconds(value: unknown, fallback: number, max: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new ProviderConfigError(field, `must be a whole number of seconds from 0 to ${max}`);
  }
  return value;
}

function checkedProvider(config: TrustedProvider, at: string): Provider {
  if (!isObject(config)) throw new ProviderConfigError(at, "must be an object");
  const urlField = (name: "issuer" | "jwksUrl" | "discoveryUrl"): string | undefined => {
    const value = config[name];
    if (value === undefined && name !== "issuer") return undefined;
    if (typeof value !== "string" || !isSecureOrLoopback(value)) {
      throw new ProviderConfigError(
        `${at}.${name}`,
        "must be an https URL (http only to localhost, 127.0.0.0/8 or ::1)",
      );
    }
    return value;
  };
  const issuer = urlField("issuer") as string;
  const jwksUrl = urlField("jwksUrl");
  const discoveryUrl = urlField("discoveryUrl");
  if (jwksUrl !== undefined && discoveryUrl !== undefined) {
    throw new ProviderConfigError(`${at}.discoveryUrl`, "cannot be set with jwksUrl: set one");
  }
  if (typeof config.audience !== "string" || config.audience === "") {
    throw new ProviderConfigError(`${at}.audience`, "must be the client id (a non-empty string)");
  }
  const algorithms = config.algorithms ?? DEFAULT_LOGOUT_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new ProviderConfigError(`${at}.algorithms`, "must list at least one algorithm");
  }
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.includes(alg)) {
      throw new ProviderConfigError(
        `${at}.algorithms`,
        `must list asymmetric algorithms only (${ASYMMETRIC_ALGORITHMS.join(", ")}); never none or HS*`,
      );
    }
  }
  if (config.requireTyp !== undefined && typeof config.requireTyp !== "boolean") {
    throw new ProviderConfigError(`${at}.requireTyp`, "must be true or false");
  }
  const maxAgeSec = wholeSeconds(config.maxAgeSec, DEFAULT_MAX_AGE_SEC, 3000, `${at}.maxAgeSec`);
  const clockSkewSec = wholeSeconds(
    config.clockSkewSec,
    DEFAULT_CLOCK_SKEW_SEC,
    300,
    `${at}.clockSkewSec`,
  );
  // A jti is held until a token issued at the skew's far end leaves the window, plus the claim
  // margin: that must fit the replay guards' longest hold.
  const widest = Math.floor((MAX_LEASE_MS - CLAIM_MARGIN_MS) / 1000) - 2 * clockSkewSec;
  if (maxAgeSec > widest) {
    throw new ProviderConfigError(
      `${at}.maxAgeSec`,
      `must be at most ${widest} with clockSkewSec ${clockSkewSec} (the token's jti is held for the window, twice the skew and ${CLAIM_MARGIN_MS / 1000} s, within the replay guards' hour)`,
    );
  }
  return {
    issuer,
    audience: config.audience,
    algorithms: [...algorithms],
    requireTyp: config.requireTyp ?? false,
    maxAgeSec,
    clockSkewSec,
    jwksUrl,
    discoveryUrl: discoveryUrl ?? `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`,
  };
}

/**
 * The trusted providers and, per provider, its key set: the configured one, or the one its
 * discovery document names (read once, then kept; a failed read is retried at most every 30 s).
 * Each request downloads on its own, as src/jwks.ts does, so no request awaits another's.
 */
export class LogoutProviders {
  readonly #providers = new Map<string, Provider>();
  readonly #keys = new Map<string, KeyResolver>();
  readonly #discoveryFailedAt = new Map<string, number>();
  readonly #deps: { fetch: FetchLike; now: () => number; timeoutMs: number };

  constructor(
    configs: readonly TrustedProvider[],
    deps: { fetch: FetchLike; now: () => number; timeoutMs?: number },
  ) {
    this.#deps = { ...deps, timeoutMs: deps.timeoutMs ?? DEFAULT_TIMEOUT_MS };
    configs.forEach((config, index) => {
      const provider = checkedProvider(config, `providers[${index}]`);
      if (this.#providers.has(provider.issuer)) {
        throw new ProviderConfigError(`providers[${index}].issuer`, "is listed twice");
      }
      this.#providers.set(provider.issuer, provider);
      if (provider.jwksUrl !== undefined) {
        this.#keys.set(provider.issuer, remoteKeySet(provider.jwksUrl, this.#deps));
      }
    });
  }

  /** The provider whose issuer identifier is exactly `issuer`. */
  provider(issuer: string): Provider | undefined {
    return this.#providers.get(issuer);
  }

  /** The key resolver of `provider`, reading its discovery document first if need be. */
  async keys(provider: Provider): Promise<KeyResolver> {
    const known = this.#keys.get(provider.issuer);
    if (known !== undefined) return known;
    const failedAt = this.#discoveryFailedAt.get(provider.issuer);
    if (failedAt !== undefined && this.#deps.now() - failedAt < DISCOVERY_COOLDOWN_MS) {
      throw new ProviderUnavailable(
        provider.issuer,
        "the provider's discovery document could not be read moments ago",
      );
    }
    let jwksUri: string;
    try {
      jwksUri = await this.#discover(provider);
    } catch (error) {
      this.#discoveryFailedAt.set(provider.issuer, this.#deps.now());
      throw error;
    }
    const resolver = this.#keys.get(provider.issuer) ?? remoteKeySet(jwksUri, this.#deps);
    this.#keys.set(provider.issuer, resolver);
    return resolver;
  }

  /** The `jwks_uri` of the provider's discovery document, once its `issuer` is checked. */
  async #discover(provider: Provider): Promise<string> {
    const unavailable = (description: string, cause?: unknown) =>
      new ProviderUnavailable(provider.issuer, description, { cause });
    let document: unknown;
    try {
      const response = await this.#deps.fetch(
        new Request(provider.discoveryUrl, {
          headers: { accept: "application/json" },
          redirect: "manual",
          signal: AbortSignal.timeout(this.#deps.timeoutMs),
        }),
      );
      const text = await readBounded(response, MAX_DISCOVERY_BYTES);
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = JSON.parse(text);
    } catch (error) {
      throw unavailable("the provider's discovery document could not be downloaded", error);
    }
    if (!isObject(document)) {
      throw unavailable("the provider's discovery document is not a JSON object");
    }
    // OpenID Connect Discovery §4.3: the issuer it states must be the configured one, exactly.
    if (document.issuer !== provider.issuer) {
      throw unavailable(
        "the provider's discovery document states another issuer than the configured one",
      );
    }
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== "string" || !isSecureOrLoopback(jwksUri)) {
      throw unavailable(
        "the provider's discovery document has no jwks_uri that is https (or http to this machine)",
      );
    }
    return jwksUri;
  }
}

export interface LogoutTokenDeps {
  now: () => number;
  /** Holds each accepted `jti`, scoped by issuer, for as long as its token could be accepted. */
  replay: ReplayGuard;
}

const refuse = (description: string): LogoutTokenError => new LogoutTokenError(description);

/** The JSON object a base64url segment holds, or undefined when it holds anything else. */
function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(base64url.decode(segment)));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a `typ` header names logout+jwt: media types are case-insensitive, "application/" optional. */
function isLogoutTyp(typ: string): boolean {
  const lower = typ.toLowerCase();
  return lower === "logout+jwt" || lower === "application/logout+jwt";
}

/** An identifier claim (`sub`, `sid`, `jti`): absent, or a non-empty string of bounded length. */
function identifier(payload: Record<string, unknown>, claim: string): string | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > MAX_IDENTIFIER_LENGTH) {
    throw refuse(
      `the "${claim}" claim must be a non-empty string of at most ${MAX_IDENTIFIER_LENGTH} characters`,
    );
  }
  return value;
}

/** Checks the JWS signature with the provider's key; returns the signed claims. */
async function verifiedClaims(
  token: string,
  provider: Provider,
  keys: KeyResolver,
): Promise<Record<string, unknown>> {
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(
      token,
      (header) => keys(header as JWTHeaderParameters) as Promise<never>,
      { algorithms: [...provider.algorithms] },
    ));
  } catch (error) {
    if (error instanceof JwksUnavailable) {
      throw new ProviderUnavailable(
        provider.issuer,
        "the provider's key set could not be downloaded",
        { cause: error },
      );
    }
    if (error instanceof JwksNoKey) {
      throw refuse("no single key of the provider's key set fits the token's kid and alg");
    }
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
      throw refuse("the signature does not verify with the provider's key");
    }
    // A key of the set that cannot be imported is the provider's fault, not the token's.
    if (typeof code !== "string") {
      throw new ProviderUnavailable(provider.issuer, "the provider's key cannot be used", {
        cause: error,
      });
    }
    throw refuse("the token is not a valid JWS");
  }
  let claims: unknown;
  try {
    claims = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(payload),
    );
  } catch {
    throw refuse("the token's payload is not JSON");
  }
  if (!isObject(claims)) throw refuse("the token's payload is not a JSON object");
  return claims;
}

/** `aud` (and `azp`), `iat` and `exp`, checked as for an ID Token (§2.6 step 4). */
function checkTimesAndParties(claims: Record<string, unknown>, provider: Provider, now: number) {
  // `iss` picked the provider, hence the keys that verified these very bytes: it is the issuer.
  const aud = claims.aud;
  const audiences = typeof aud === "string" ? [aud] : aud;
  if (!Array.isArray(audiences) || !audiences.every((entry) => typeof entry === "string")) {
    throw refuse('the "aud" claim must be a string or an array of strings');
  }
  if (!audiences.includes(provider.audience)) {
    throw refuse('the "aud" claim does not name this client');
  }
  // OpenID Connect Core §3.1.3.7: an authorized party, when named, must be this client.
  if (claims.azp !== undefined && claims.azp !== provider.audience) {
    throw refuse('the "azp" claim names another client');
  }
  const nowSec = now / 1000;
  const iat = claims.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) {
    throw refuse('the "iat" claim is required (a number of seconds)');
  }
  if (iat > nowSec + provider.clockSkewSec) {
    throw refuse('the "iat" claim is in the future');
  }
  if (nowSec - iat > provider.maxAgeSec + provider.clockSkewSec) {
    throw refuse(`the "iat" claim is more than ${provider.maxAgeSec} s old`);
  }
  // Required since errata set 1 (§2.4 lists exp as REQUIRED; §2.6 validates it as for ID Tokens).
  const exp = claims.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    throw refuse('the "exp" claim is required (a number of seconds)');
  }
  if (exp + provider.clockSkewSec <= nowSec) throw refuse('the "exp" claim is past');
  return iat;
}

/**
 * Validates a logout token as OpenID Connect Back-Channel Logout 1.0 (errata set 1) §2.6 says:
 * no encryption taken; an allowed asymmetric `alg` and the `typ` header (§4.1: `logout+jwt` when
 * present, or when the provider requires it) read first; the signature with the key set of the
 * provider its `iss` names; `aud`, `iat`, `exp`; `sub` or `sid`; the `events` member; no `nonce`;
 * and last the `jti`, never accepted twice. Throws LogoutTokenError (400) or ProviderUnavailable (503).
 */
export async function verifyLogoutToken(
  token: string,
  providers: LogoutProviders,
  deps: LogoutTokenDeps,
): Promise<LogoutTrigger> {
  if (typeof token !== "string" || token === "") throw refuse("the logout_token is missing");
  if (token.length > MAX_LOGOUT_TOKEN_LENGTH) {
    throw refuse(`the logout_token is over ${MAX_LOGOUT_TOKEN_LENGTH} characters`);
  }
  const segments = token.split(".");
  if (segments.length === 5) {
    throw refuse("the logout_token is encrypted (JWE): only signed tokens are accepted");
  }
  if (segments.length !== 3) throw refuse("the logout_token is not a compact JWS");
  const header = decodeSegment(segments[0] as string);
  if (header === undefined) throw refuse("the token's header is not a base64url JSON object");
  const alg = header.alg;
  if (typeof alg !== "string") throw refuse('the "alg" header is missing');
  if (alg.toLowerCase() === "none") throw refuse('the "alg" header "none" is never accepted');
  if (/^HS/i.test(alg)) throw refuse('a symmetric "alg" (HS*) is never accepted');
  // The claims are read before the signature is checked only to pick the provider (its keys).
  const unverified = decodeSegment(segments[1] as string);
  if (unverified === undefined) throw refuse("the token's payload is not a base64url JSON object");
  if (typeof unverified.iss !== "string") throw refuse('the "iss" claim is missing');
  const provider = providers.provider(unverified.iss);
  if (provider === undefined) throw refuse('the "iss" claim names no trusted provider');
  if (!provider.algorithms.includes(alg)) {
    throw refuse(`the "alg" header is not one this provider may use (${provider.algorithms})`);
  }
  const typ = header.typ;
  if (typ !== undefined && (typeof typ !== "string" || !isLogoutTyp(typ))) {
    throw refuse('the "typ" header is not "logout+jwt"');
  }
  if (typ === undefined && provider.requireTyp) {
    throw refuse('the "typ" header "logout+jwt" is required by this provider\'s settings');
  }

  const claims = await verifiedClaims(token, provider, await providers.keys(provider));
  const now = deps.now();
  const iat = checkTimesAndParties(claims, provider, now);
  const subject = identifier(claims, "sub");
  const sid = identifier(claims, "sid");
  if (subject === undefined && sid === undefined) {
    throw refuse('the token names neither a "sub" nor a "sid"');
  }
  const events = claims.events;
  if (!isObject(events)) throw refuse('the "events" claim must be a JSON object');
  if (!Object.hasOwn(events, BACKCHANNEL_LOGOUT_EVENT)) {
    throw refuse(`the "events" claim does not hold the member ${BACKCHANNEL_LOGOUT_EVENT}`);
  }
  if (!isObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    throw refuse(`the "events" member ${BACKCHANNEL_LOGOUT_EVENT} must be a JSON object`);
  }
  // A nonce would let an ID Token pass as a logout token, or the reverse (§2.4).
  if (Object.hasOwn(claims, "nonce")) throw refuse('the "nonce" claim must not be present');
  const jti = identifier(claims, "jti");
  if (jti === undefined) throw refuse('the "jti" claim is required');

  // Held until the token's iat falls out of the window, and a margin for the guard's own clock.
  const holdMs = Math.ceil(
    (iat + provider.maxAgeSec + provider.clockSkewSec) * 1000 - now + CLAIM_MARGIN_MS,
  );
  const key = await digestHex(`oidc-backchannel:${JSON.stringify([provider.issuer, jti])}`);
  const owner = crypto.randomUUID();
  if (!(await deps.replay.claim(key, owner, holdMs))) {
    throw refuse('the "jti" was already accepted: the logout token is replayed');
  }
  return {
    kind: "oidc-backchannel",
    target: { issuer: provider.issuer, subject, sid },
    jti,
    claim: { key, owner },
  };
}
