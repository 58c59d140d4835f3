// Environment -> typed, validated proxy configuration; every invalid variable is reported at once, by name.
import { checkKeyForm, KeyFormatError } from "@x/core-signing";
import * as v from "valibot";
import { type Cidr, inRanges, parseIp, parseTrustedProxies } from "./client-address.ts";
import { parseRateLimit, type RateLimitPolicy } from "./rate-limit.ts";

export type TimestampUnit = "s" | "ms";

export interface EbetConfig {
  baseUrl: string;
  channelId: number;
  /** The channel's RSA private key (PEM or base64 DER). A secret. */
  privateKey: string;
  timestampUnit: TimestampUnit;
}

export interface FunGameConfig {
  baseUrl: string;
  /** FunGame's `Jwt:Key`: when set, the proxy verifies tokens itself. A secret. */
  jwtSecret: string | undefined;
  /** Newer servers' logout 500 "退出登录失败！服务器可能暂时无法处理此请求。" counts as already logged out. */
  treat500AsLoggedOut: boolean;
}

export interface SdkAuthConfig {
  baseUrl: string;
  clientId: string;
  tenantId: string | undefined;
}

export interface LancensConfig {
  baseUrl: string;
}

export interface CallerAuthConfig {
  /** SHA-256 digests (32 bytes each) of the accepted API keys. */
  apiKeyDigests: Uint8Array[];
  jwksUrl: string | undefined;
  /** HS256 secret for user JWTs. A secret. */
  jwtSecret: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
}

/** The validated configuration; a vendor that is `undefined` is off (its routes answer 404). */
export interface ProxyConfig {
  ebet: EbetConfig | undefined;
  fungame: FunGameConfig | undefined;
  sdkAuth: SdkAuthConfig | undefined;
  lancens: LancensConfig | undefined;
  auth: CallerAuthConfig;
  /** Deadline of one upstream request, in ms. */
  upstreamTimeoutMs: number;
  /** Deadline of all upstream work for one proxy request, retries included, in ms. */
  upstreamDeadlineMs: number;
  /** Requests per window per caller; undefined when the rate limit is off. */
  rateLimit: RateLimitPolicy | undefined;
  /**
   * Reverse proxies whose X-Forwarded-For the Bun, Deno and Node entries read (PROXY_TRUSTED_PROXIES);
   * empty when the socket's peer is the client. The Workers entry refuses it.
   */
  trustedProxies: Cidr[];
  /** Origins allowed by CORS; empty means CORS is off. `["*"]` allows any origin. */
  corsOrigins: string[];
  /** Retries and lifetime of asynchronous logouts (`Prefer: respond-async`). */
  outbox: OutboxPolicy;
}

/** How the outbox retries a vendor and how long it keeps a job. */
export interface OutboxPolicy {
  /** Attempts per vendor, the first included. */
  maxAttempts: number;
  /** Backoff before the second attempt; it doubles per attempt up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** No attempt starts later than this after the job was accepted. */
  maxAgeMs: number;
  /** A finished job is kept this long, then deleted. */
  retentionMs: number;
  /** Jobs not finished at once, all callers together (on Workers, split over the counter shards). */
  maxOpenJobs: number;
  /** Jobs not finished at once per caller (API key, token subject or client address). */
  maxOpenJobsPerCaller: number;
}

export interface ConfigIssue {
  /** The variable's name, e.g. "EBET_CHANNEL_ID". */
  name: string;
  /** What is wrong; never the value of a secret. */
  message: string;
}

/** The configuration does not validate; `issues` names every variable at fault. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(
      `invalid configuration: ${issues.map((issue) => `${issue.name}: ${issue.message}`).join("; ")}`,
    );
    this.issues = issues;
  }
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 5_000;
const MAX_TIMEOUT_MS = 300_000;
const MIN_HS256_SECRET_BYTES = 32;
const HOUR_MS = 3_600_000;
const DAY_SEC = 86_400;

/**
 * Outbox defaults: 8 attempts from 2 s doubling up to 10 min, for at most a day; kept 7 days; at
 * most 10,000 jobs not finished, 100 per caller.
 */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  maxAttempts: 8,
  baseDelayMs: 2_000,
  maxDelayMs: 600_000,
  maxAgeMs: DAY_SEC * 1000,
  retentionMs: 7 * DAY_SEC * 1000,
  maxOpenJobs: 10_000,
  maxOpenJobsPerCaller: 100,
};

/** Every variable the proxy reads. */
export const CONFIG_VARIABLES = [
  "EBET_BASE_URL",
  "EBET_CHANNEL_ID",
  "EBET_PRIVATE_KEY",
  "EBET_TIMESTAMP_UNIT",
  "FUNGAME_BASE_URL",
  "FUNGAME_JWT_SECRET",
  "FUNGAME_TREAT_500_AS_LOGGED_OUT",
  "SDK_AUTH_BASE_URL",
  "SDK_AUTH_CLIENT_ID",
  "SDK_AUTH_TENANT_ID",
  "LANCENS_BASE_URL",
  "PROXY_API_KEY_SHA256",
  "PROXY_JWKS_URL",
  "PROXY_JWT_SECRET",
  "PROXY_JWT_ISSUER",
  "PROXY_JWT_AUDIENCE",
  "PROXY_CORS_ORIGINS",
  "PROXY_RATE_LIMIT",
  "PROXY_TRUSTED_PROXIES",
  "UPSTREAM_TIMEOUT_MS",
  "UPSTREAM_DEADLINE_MS",
  "LOGOUT_RETRY_MAX_ATTEMPTS",
  "LOGOUT_RETRY_BASE_MS",
  "LOGOUT_RETRY_MAX_DELAY_MS",
  "LOGOUT_JOB_MAX_AGE_SEC",
  "LOGOUT_JOB_RETENTION_SEC",
  "LOGOUT_MAX_OPEN_JOBS",
  "LOGOUT_MAX_OPEN_JOBS_PER_CALLER",
] as const;

export type ConfigVariable = (typeof CONFIG_VARIABLES)[number];

/** Variables whose values are never repeated in a message. */
export const SECRET_VARIABLES: ReadonlySet<ConfigVariable> = new Set([
  "EBET_PRIVATE_KEY",
  "FUNGAME_JWT_SECRET",
  "PROXY_JWT_SECRET",
  "PROXY_API_KEY_SHA256",
]);

const encoder = new TextEncoder();

function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === "https:" || url.protocol === "http:") &&
    !url.username &&
    !url.password &&
    !url.search &&
    !url.hash
  );
}

const URL_MESSAGE = "must be an absolute http(s) URL without credentials, query or fragment";

const baseUrl = v.pipe(
  v.string(),
  v.check(isHttpUrl, URL_MESSAGE),
  v.transform((value) => value.replace(/\/+$/, "")),
);

const headerSafe = v.pipe(
  v.string(),
  v.maxLength(256, "must be at most 256 characters"),
  v.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without blanks"),
);

function isWholeNumber(value: unknown, min: number, max: number): boolean {
  return (
    typeof value === "string" && /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max
  );
}

function wholeNumber(min: number, max: number) {
  const range =
    max === Number.MAX_SAFE_INTEGER
      ? "a positive whole number"
      : `a whole number from ${min} to ${max}`;
  return v.pipe(
    v.string(),
    v.check(
      (value) => isWholeNumber(value, min, max),
      (issue) => `must be ${range}, got ${JSON.stringify(issue.input)}`,
    ),
    v.transform(Number),
  );
}

const hs256Secret = v.pipe(
  v.string(),
  v.check(
    (value) => encoder.encode(value).length >= MIN_HS256_SECRET_BYTES,
    `must be at least ${MIN_HS256_SECRET_BYTES} bytes (HS256 needs a 256-bit key)`,
  ),
);

/**
 * What is wrong with the key's form, checked without importing it (core-signing's checkKeyForm: PEM
 * labels and base64 body, base64 DER down to the structure of its outer SEQUENCE, or a JWK), as the
 * KeyFormatError's problem; undefined when it is the form of a private key.
 */
function privateKeyFormProblem(value: string): string | undefined {
  try {
    checkKeyForm(value, "private");
    return undefined;
  } catch (error) {
    if (error instanceof KeyFormatError) return error.problem;
    throw error;
  }
}

/**
 * Only the key's form is checked here: importing it (parsing and checking the RSA numbers) waits for
 * the first eBET call, which caches it, so startup and routes that never sign do no key work. A key
 * of the right form that still cannot be imported fails that call with VENDOR_SETTINGS_INVALID.
 */
const privateKey = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = privateKeyFormProblem(dataset.value);
    if (problem !== undefined) {
      addIssue({
        message: `is not a usable RSA private key (${problem}): give a PKCS#8 or PKCS#1 PEM, or its base64 DER`,
      });
    }
  }),
);

const apiKeyDigests = v.pipe(
  v.string(),
  v.transform((value) =>
    value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  ),
  v.check((items) => items.length > 0, "must list at least one SHA-256 digest"),
  v.check(
    (items) => items.every((item) => /^[0-9a-fA-F]{64}$/.test(item)),
    "must be comma-separated SHA-256 digests of 64 hexadecimal characters each",
  ),
  v.transform((items) => items.map(hexToBytes)),
);

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

const corsOrigins = v.pipe(
  v.string(),
  v.transform((value) =>
    value
      .split(",")
      .map((item) => item.trim().replace(/\/+$/, ""))
      .filter((item) => item.length > 0),
  ),
  v.check(
    (items) => (items.length === 1 && items[0] === "*") || items.every(isOrigin),
    'must be "*" or comma-separated origins such as https://app.example (scheme, host, optional port)',
  ),
);

const rateLimit = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const policy = parseRateLimit(dataset.value);
    if (typeof policy === "string") {
      addIssue({ message: policy });
      return NEVER;
    }
    return policy;
  }),
);

const trustedProxies = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ranges = parseTrustedProxies(dataset.value);
    if (typeof ranges === "string") {
      addIssue({ message: ranges });
      return NEVER;
    }
    return ranges;
  }),
);

const LOOPBACK = parseTrustedProxies("127.0.0.0/8, ::1") as Cidr[];

/** An https URL, or http to this machine only (localhost, 127.0.0.0/8, ::1): keys are never read in clear. */
function isSecureOrLoopback(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const address = parseIp(host);
  return host === "localhost" || (address !== undefined && inRanges(address, LOOPBACK));
}

const EnvSchema = v.object({
  EBET_BASE_URL: v.optional(baseUrl),
  EBET_CHANNEL_ID: v.optional(wholeNumber(1, Number.MAX_SAFE_INTEGER)),
  EBET_PRIVATE_KEY: v.optional(privateKey),
  EBET_TIMESTAMP_UNIT: v.optional(
    v.picklist(["s", "ms"], (issue) => `must be "s" or "ms", got ${JSON.stringify(issue.input)}`),
  ),
  FUNGAME_BASE_URL: v.optional(baseUrl),
  FUNGAME_JWT_SECRET: v.optional(hs256Secret),
  FUNGAME_TREAT_500_AS_LOGGED_OUT: v.optional(
    v.picklist(
      ["true", "false"],
      (issue) => `must be "true" or "false", got ${JSON.stringify(issue.input)}`,
    ),
  ),
  SDK_AUTH_BASE_URL: v.optional(baseUrl),
  SDK_AUTH_CLIENT_ID: v.optional(headerSafe),
  SDK_AUTH_TENANT_ID: v.optional(headerSafe),
  LANCENS_BASE_URL: v.optional(baseUrl),
  PROXY_API_KEY_SHA256: v.optional(apiKeyDigests),
  PROXY_JWKS_URL: v.optional(
    v.pipe(
      baseUrl,
      v.check(
        isSecureOrLoopback,
        "must be an https URL (http only to localhost, 127.0.0.0/8 or ::1)",
      ),
    ),
  ),
  PROXY_JWT_SECRET: v.optional(hs256Secret),
  PROXY_JWT_ISSUER: v.optional(
    v.pipe(v.string(), v.maxLength(512, "must be at most 512 characters")),
  ),
  PROXY_JWT_AUDIENCE: v.optional(
    v.pipe(v.string(), v.maxLength(512, "must be at most 512 characters")),
  ),
  PROXY_CORS_ORIGINS: v.optional(corsOrigins),
  PROXY_RATE_LIMIT: v.optional(rateLimit),
  PROXY_TRUSTED_PROXIES: v.optional(trustedProxies),
  UPSTREAM_TIMEOUT_MS: v.optional(wholeNumber(1, MAX_TIMEOUT_MS)),
  UPSTREAM_DEADLINE_MS: v.optional(wholeNumber(1, 2 * MAX_TIMEOUT_MS)),
  LOGOUT_RETRY_MAX_ATTEMPTS: v.optional(wholeNumber(1, 100)),
  LOGOUT_RETRY_BASE_MS: v.optional(wholeNumber(1, HOUR_MS)),
  LOGOUT_RETRY_MAX_DELAY_MS: v.optional(wholeNumber(1, 24 * HOUR_MS)),
  LOGOUT_JOB_MAX_AGE_SEC: v.optional(wholeNumber(1, 30 * DAY_SEC)),
  LOGOUT_JOB_RETENTION_SEC: v.optional(wholeNumber(0, 90 * DAY_SEC)),
  LOGOUT_MAX_OPEN_JOBS: v.optional(wholeNumber(1, 1_000_000)),
  LOGOUT_MAX_OPEN_JOBS_PER_CALLER: v.optional(wholeNumber(1, 1_000_000)),
});

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * Reads only the proxy's variables: strings are trimmed, an empty one counts as absent, numbers
 * (Workers `[vars]` may hold them) become strings. Anything else is kept to fail validation.
 */
function normalise(env: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of CONFIG_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw === null) continue;
    if (typeof raw === "number" || typeof raw === "bigint") out[name] = String(raw);
    else if (typeof raw === "string") {
      const trimmed = name === "EBET_PRIVATE_KEY" ? raw : raw.trim();
      if (trimmed.trim().length > 0) out[name] = trimmed;
    } else out[name] = raw;
  }
  return out;
}

function issueMessage(name: string, issue: v.BaseIssue<unknown>): string {
  if (issue.kind === "schema" && issue.type === "string") return "must be a string";
  const message = issue.message;
  // A secret's value never appears in a message, whatever produced it.
  if (SECRET_VARIABLES.has(name as ConfigVariable) && message.includes("got ")) {
    return message.slice(0, message.indexOf("got ")).replace(/[,\s]+$/, "");
  }
  return message;
}

/**
 * Validates the environment once and returns the typed configuration, or throws ConfigError listing
 * every invalid variable by name (never echoing a secret). A vendor whose variables are all absent is
 * off; a vendor with some of its variables set must have all it needs.
 */
export function loadConfig(env: Record<string, unknown>): ProxyConfig {
  const input = normalise(env);
  const parsed = v.safeParse(EnvSchema, input, { abortEarly: false });
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  // Another variable's message may quote a value that is also a secret's: it is never repeated.
  const secrets = [...SECRET_VARIABLES]
    .map((name) => input[name])
    .filter((value): value is string => typeof value === "string" && value.trim().length >= 4);
  const report = (name: string, message: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const quoted = message.indexOf("got ");
    const leaks = secrets.some((secret) => message.includes(secret.trim()));
    issues.push({
      name,
      message: leaks && quoted !== -1 ? message.slice(0, quoted).replace(/[,\s]+$/, "") : message,
    });
  };
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const key = issue.path?.[0]?.key;
      if (typeof key === "string") report(key, issueMessage(key, issue));
    }
  }
  const has = (name: ConfigVariable) => input[name] !== undefined;

  const ebetNames = ["EBET_BASE_URL", "EBET_CHANNEL_ID", "EBET_PRIVATE_KEY"] as const;
  const ebetOn = ebetNames.some(has) || has("EBET_TIMESTAMP_UNIT");
  if (ebetOn) {
    for (const name of ebetNames) {
      if (!has(name)) report(name, "is required when eBET is configured (another EBET_* is set)");
    }
  }
  const fungameOn = has("FUNGAME_BASE_URL") || has("FUNGAME_JWT_SECRET");
  if (fungameOn && !has("FUNGAME_BASE_URL")) {
    report("FUNGAME_BASE_URL", "is required when FUNGAME_JWT_SECRET is set");
  }
  const sdkNames = ["SDK_AUTH_BASE_URL", "SDK_AUTH_CLIENT_ID"] as const;
  const sdkOn = sdkNames.some(has) || has("SDK_AUTH_TENANT_ID");
  if (sdkOn) {
    for (const name of sdkNames) {
      if (!has(name)) report(name, "is required when OneAccess is configured (SDK_AUTH_* is set)");
    }
  }
  const jwtOn = has("PROXY_JWKS_URL") || has("PROXY_JWT_SECRET");
  if (has("PROXY_JWKS_URL") && has("PROXY_JWT_SECRET")) {
    report("PROXY_JWT_SECRET", "set either PROXY_JWKS_URL or PROXY_JWT_SECRET, not both");
  }
  for (const name of ["PROXY_JWT_ISSUER", "PROXY_JWT_AUDIENCE"] as const) {
    if (has(name) && !jwtOn)
      report(name, "has no effect without PROXY_JWKS_URL or PROXY_JWT_SECRET");
    // An identity provider signs tokens for many applications with the same keys: only the
    // issuer and audience tell a token minted for this proxy from one minted for another.
    if (!has(name) && has("PROXY_JWKS_URL")) report(name, "is required with PROXY_JWKS_URL");
  }
  if (ebetOn && !has("PROXY_API_KEY_SHA256") && !jwtOn) {
    report(
      "PROXY_API_KEY_SHA256",
      "eBET routes need caller auth: set PROXY_API_KEY_SHA256, PROXY_JWKS_URL or PROXY_JWT_SECRET",
    );
  }
  const timeout = isWholeNumber(input.UPSTREAM_TIMEOUT_MS, 1, MAX_TIMEOUT_MS)
    ? Number(input.UPSTREAM_TIMEOUT_MS)
    : DEFAULT_UPSTREAM_TIMEOUT_MS;
  const deadline = input.UPSTREAM_DEADLINE_MS;
  if (isWholeNumber(deadline, 1, 2 * MAX_TIMEOUT_MS) && Number(deadline) < timeout) {
    report("UPSTREAM_DEADLINE_MS", `must be at least UPSTREAM_TIMEOUT_MS (${timeout})`);
  }

  const base = input.LOGOUT_RETRY_BASE_MS;
  const cap = input.LOGOUT_RETRY_MAX_DELAY_MS;
  if (
    isWholeNumber(base, 1, HOUR_MS) &&
    isWholeNumber(cap, 1, 24 * HOUR_MS) &&
    Number(cap) < Number(base)
  ) {
    report("LOGOUT_RETRY_MAX_DELAY_MS", `must be at least LOGOUT_RETRY_BASE_MS (${base})`);
  }

  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const o = parsed.output;
  return {
    ebet:
      ebetOn && o.EBET_BASE_URL && o.EBET_CHANNEL_ID !== undefined && o.EBET_PRIVATE_KEY
        ? {
            baseUrl: o.EBET_BASE_URL,
            channelId: o.EBET_CHANNEL_ID,
            privateKey: o.EBET_PRIVATE_KEY,
            timestampUnit: o.EBET_TIMESTAMP_UNIT ?? "s",
          }
        : undefined,
    fungame: o.FUNGAME_BASE_URL
      ? {
          baseUrl: o.FUNGAME_BASE_URL,
          jwtSecret: o.FUNGAME_JWT_SECRET,
          treat500AsLoggedOut: o.FUNGAME_TREAT_500_AS_LOGGED_OUT === "true",
        }
      : undefined,
    sdkAuth:
      o.SDK_AUTH_BASE_URL && o.SDK_AUTH_CLIENT_ID
        ? {
            baseUrl: o.SDK_AUTH_BASE_URL,
            clientId: o.SDK_AUTH_CLIENT_ID,
            tenantId: o.SDK_AUTH_TENANT_ID,
          }
        : undefined,
    lancens: o.LANCENS_BASE_URL ? { baseUrl: o.LANCENS_BASE_URL } : undefined,
    auth: {
      apiKeyDigests: o.PROXY_API_KEY_SHA256 ?? [],
      jwksUrl: o.PROXY_JWKS_URL,
      jwtSecret: o.PROXY_JWT_SECRET,
      jwtIssuer: o.PROXY_JWT_ISSUER,
      jwtAudience: o.PROXY_JWT_AUDIENCE,
    },
    upstreamTimeoutMs: timeout,
    upstreamDeadlineMs: o.UPSTREAM_DEADLINE_MS ?? Math.min(3 * timeout, 2 * MAX_TIMEOUT_MS),
    rateLimit: o.PROXY_RATE_LIMIT,
    trustedProxies: o.PROXY_TRUSTED_PROXIES ?? [],
    corsOrigins: o.PROXY_CORS_ORIGINS ?? [],
    outbox: {
      maxAttempts: o.LOGOUT_RETRY_MAX_ATTEMPTS ?? DEFAULT_OUTBOX_POLICY.maxAttempts,
      baseDelayMs: o.LOGOUT_RETRY_BASE_MS ?? DEFAULT_OUTBOX_POLICY.baseDelayMs,
      maxDelayMs:
        o.LOGOUT_RETRY_MAX_DELAY_MS ??
        Math.max(DEFAULT_OUTBOX_POLICY.maxDelayMs, o.LOGOUT_RETRY_BASE_MS ?? 0),
      maxAgeMs:
        o.LOGOUT_JOB_MAX_AGE_SEC === undefined
          ? DEFAULT_OUTBOX_POLICY.maxAgeMs
          : o.LOGOUT_JOB_MAX_AGE_SEC * 1000,
      retentionMs:
        o.LOGOUT_JOB_RETENTION_SEC === undefined
          ? DEFAULT_OUTBOX_POLICY.retentionMs
          : o.LOGOUT_JOB_RETENTION_SEC * 1000,
      maxOpenJobs: o.LOGOUT_MAX_OPEN_JOBS ?? DEFAULT_OUTBOX_POLICY.maxOpenJobs,
      maxOpenJobsPerCaller:
        o.LOGOUT_MAX_OPEN_JOBS_PER_CALLER ?? DEFAULT_OUTBOX_POLICY.maxOpenJobsPerCaller,
    },
  };
}
