// Environment -> typed, validated proxy configuration; every invalid variable is reported at once, by name.
import * as v from "valibot";
import { type Cidr, isSecureOrLoopback, parseTrustedProxies } from "./client-address.ts";
import { baseUrl, hs256Secret, isWholeNumber, wholeNumber } from "./config-schemas.ts";
import type { RateLimitPolicy } from "./ports.ts";
import {
  readUniversalLogout,
  UNIVERSAL_LOGOUT_VARIABLES,
  type UniversalLogoutSettings,
} from "./universal-logout/settings.ts";
import type { AnyVendor } from "./vendors/descriptor.ts";
import { VENDORS } from "./vendors/index.ts";

export interface CallerAuthConfig {
  /** SHA-256 digests (32 bytes each) of the accepted API keys. */
  apiKeyDigests: Uint8Array[];
  jwksUrl: string | undefined;
  /** HS256 secret for user JWTs. A secret. */
  jwtSecret: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
}

export const MAX_RATE_LIMIT = 1_000_000;
export const MAX_RATE_WINDOW_SEC = 86_400;

/**
 * Reads PROXY_RATE_LIMIT's form `<requests>/<seconds>` (e.g. "120/60"). Returns the policy, or
 * the message that says what is wrong (the value is not secret, but is not repeated either).
 */
export function parseRateLimit(value: string): RateLimitPolicy | string {
  const match = /^(\d{1,7})\s*\/\s*(\d{1,5})$/.exec(value.trim());
  const message = 'must be <requests>/<seconds>, e.g. "120/60"';
  if (!match) return message;
  const limit = Number(match[1]);
  const windowSec = Number(match[2]);
  if (limit < 1 || limit > MAX_RATE_LIMIT || windowSec < 1 || windowSec > MAX_RATE_WINDOW_SEC) {
    return message;
  }
  return { limit, windowSec };
}

/** The validated configuration. */
export interface ProxyConfig {
  /** Each configured vendor's own settings, by vendor name; a vendor not here is off (404). */
  vendors: ReadonlyMap<string, unknown>;
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
  /** The trusted identity providers and the session registry's limits; undefined when off. */
  universalLogout: UniversalLogoutSettings | undefined;
}

/** How the outbox retries a vendor and how long it keeps a job. */
export interface OutboxPolicy {
  /**
   * Attempts per vendor, the first included; undefined (the default): as many as the job's age
   * allows, so that a long vendor outage does not exhaust a job.
   */
  maxAttempts: number | undefined;
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
const HOUR_MS = 3_600_000;
const DAY_SEC = 86_400;
/** The least retry wait when only a job's age bounds its attempts. */
const MIN_UNCAPPED_DELAY_MS = 1_000;

/**
 * Outbox defaults: attempts from 2 s doubling up to 10 min (with jitter, 5 to 10 min apart) for as
 * long as the job's age allows (a day: about 150 to 290 attempts), no count of its own; kept 7 days; at most 10,000 jobs not finished,
 * 100 per caller.
 */
export const DEFAULT_OUTBOX_POLICY: OutboxPolicy = {
  maxAttempts: undefined,
  baseDelayMs: 2_000,
  maxDelayMs: 600_000,
  maxAgeMs: DAY_SEC * 1000,
  retentionMs: 7 * DAY_SEC * 1000,
  maxOpenJobs: 10_000,
  maxOpenJobsPerCaller: 100,
};

/** The proxy's own variables (each vendor declares its own in its descriptor). */
export const PROXY_VARIABLES = [
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

/** Every variable the proxy reads with these vendors: theirs first, then its own. */
export function configVariables(vendors: readonly AnyVendor[] = VENDORS): string[] {
  return [
    ...vendors.flatMap((vendor) => Object.keys(vendor.variables)),
    ...PROXY_VARIABLES,
    ...UNIVERSAL_LOGOUT_VARIABLES,
  ];
}

/** Variables whose values are never repeated in a message. */
export function secretVariables(vendors: readonly AnyVendor[] = VENDORS): ReadonlySet<string> {
  return new Set([
    ...vendors.flatMap((vendor) =>
      Object.entries(vendor.variables)
        .filter(([, spec]) => spec.secret === true)
        .map(([name]) => name),
    ),
    "PROXY_JWT_SECRET",
    "PROXY_API_KEY_SHA256",
  ]);
}

/** Every variable the proxy reads with its vendors. */
export const CONFIG_VARIABLES: readonly string[] = configVariables();
export type ConfigVariable = string;

/** Variables whose values are never repeated in a message. */
export const SECRET_VARIABLES: ReadonlySet<string> = secretVariables();

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

/** The proxy's own variables' schemas. */
const PROXY_SCHEMA = {
  PROXY_API_KEY_SHA256: apiKeyDigests,
  PROXY_JWKS_URL: v.pipe(
    baseUrl,
    v.check(
      isSecureOrLoopback,
      "must be an https URL (http only to localhost, 127.0.0.0/8 or ::1)",
    ),
  ),
  PROXY_JWT_SECRET: hs256Secret,
  PROXY_JWT_ISSUER: v.pipe(v.string(), v.maxLength(512, "must be at most 512 characters")),
  PROXY_JWT_AUDIENCE: v.pipe(v.string(), v.maxLength(512, "must be at most 512 characters")),
  PROXY_CORS_ORIGINS: corsOrigins,
  PROXY_RATE_LIMIT: rateLimit,
  PROXY_TRUSTED_PROXIES: trustedProxies,
  UPSTREAM_TIMEOUT_MS: wholeNumber(1, MAX_TIMEOUT_MS),
  UPSTREAM_DEADLINE_MS: wholeNumber(1, 2 * MAX_TIMEOUT_MS),
  LOGOUT_RETRY_MAX_ATTEMPTS: wholeNumber(1, 100_000),
  LOGOUT_RETRY_BASE_MS: wholeNumber(1, HOUR_MS),
  LOGOUT_RETRY_MAX_DELAY_MS: wholeNumber(1, 24 * HOUR_MS),
  LOGOUT_JOB_MAX_AGE_SEC: wholeNumber(1, 30 * DAY_SEC),
  LOGOUT_JOB_RETENTION_SEC: wholeNumber(0, 90 * DAY_SEC),
  LOGOUT_MAX_OPEN_JOBS: wholeNumber(1, 1_000_000),
  LOGOUT_MAX_OPEN_JOBS_PER_CALLER: wholeNumber(1, 1_000_000),
} satisfies Record<(typeof PROXY_VARIABLES)[number], v.GenericSchema<string, unknown>>;

type ProxyValues = {
  [K in keyof typeof PROXY_SCHEMA]?: v.InferOutput<(typeof PROXY_SCHEMA)[K]>;
};

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * Reads only the proxy's variables: strings are trimmed (unless a vendor keeps one raw), an empty
 * one counts as absent, numbers (Workers `[vars]` may hold them) become strings. Anything else is
 * kept to fail validation.
 */
function normalise(
  env: Record<string, unknown>,
  names: readonly string[],
  raw: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (value === undefined || value === null) continue;
    if (typeof value === "number" || typeof value === "bigint") out[name] = String(value);
    else if (typeof value === "string") {
      const kept = raw.has(name) ? value : value.trim();
      if (kept.trim().length > 0) out[name] = kept;
    } else out[name] = value;
  }
  return out;
}

function issueMessage(
  name: string,
  issue: v.BaseIssue<unknown>,
  secrets: ReadonlySet<string>,
): string {
  if (issue.kind === "schema" && issue.type === "string") return "must be a string";
  const message = issue.message;
  // A secret's value never appears in a message, whatever produced it.
  if (secrets.has(name) && message.includes("got ")) {
    return message.slice(0, message.indexOf("got ")).replace(/[,\s]+$/, "");
  }
  return message;
}

/**
 * Validates the environment once and returns the typed configuration, or throws ConfigError listing
 * every invalid variable by name (never echoing a secret). A vendor whose variables are all absent is
 * off; a vendor with some of its variables set must have all it needs (its descriptor says which).
 */
export function loadConfig(
  env: Record<string, unknown>,
  vendors: readonly AnyVendor[] = VENDORS,
): ProxyConfig {
  const names = configVariables(vendors);
  const secretNames = secretVariables(vendors);
  const raw = new Set(
    vendors.flatMap((vendor) =>
      Object.entries(vendor.variables)
        .filter(([, spec]) => spec.raw === true)
        .map(([name]) => name),
    ),
  );
  const input = normalise(env, names, raw);
  const schema = v.object(
    Object.fromEntries([
      ...vendors.flatMap((vendor) =>
        Object.entries(vendor.variables).map(([name, spec]) => [name, v.optional(spec.schema)]),
      ),
      ...Object.entries(PROXY_SCHEMA).map(([name, item]) => [name, v.optional(item)]),
    ]),
  );
  const parsed = v.safeParse(schema, input, { abortEarly: false });
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  // Another variable's message may quote a value that is also a secret's: it is never repeated.
  const secrets = [...secretNames]
    .map((name) => input[name])
    .filter((value): value is string => typeof value === "string" && value.trim().length >= 4);
  const report = (name: string, message: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const quoted = message.indexOf("got ");
    const leaked = secrets.filter((secret) => message.includes(secret.trim()));
    let safe = message;
    if (leaked.length > 0 && quoted !== -1) safe = message.slice(0, quoted).replace(/[,\s]+$/, "");
    // However a message came to quote a secret, the secret goes.
    for (const secret of leaked) safe = safe.split(secret.trim()).join("(a secret value)");
    issues.push({ name, message: safe });
  };
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const key = issue.path?.[0]?.key;
      if (typeof key === "string") report(key, issueMessage(key, issue, secretNames));
    }
  }
  const has = (name: string) => input[name] !== undefined;
  const values: Record<string, unknown> = parsed.success ? parsed.output : {};

  const configured = new Map<string, unknown>();
  for (const vendor of vendors) {
    const own = Object.fromEntries(
      Object.keys(vendor.variables)
        .filter((name) => values[name] !== undefined)
        .map((name) => [name, values[name]]),
    );
    const config = vendor.configure(own, { has, report });
    if (config !== undefined) configured.set(vendor.name, config);
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
  // Without LOGOUT_RETRY_MAX_ATTEMPTS only the job's age bounds the attempts: a wait under a
  // second would allow millions of them.
  if (
    !has("LOGOUT_RETRY_MAX_ATTEMPTS") &&
    isWholeNumber(cap, 1, 24 * HOUR_MS) &&
    Number(cap) < MIN_UNCAPPED_DELAY_MS
  ) {
    report(
      "LOGOUT_RETRY_MAX_DELAY_MS",
      `must be at least ${MIN_UNCAPPED_DELAY_MS} without LOGOUT_RETRY_MAX_ATTEMPTS`,
    );
  }

  const universalLogout =
    globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ !== false
      ? readUniversalLogout(input, (issue) => report(issue.name, issue.message))
      : undefined;
  if (
    globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ !== false &&
    universalLogout !== undefined &&
    !jwtOn &&
    !has("PROXY_API_KEY_SHA256")
  ) {
    report(
      "PROXY_API_KEY_SHA256",
      "universal logout needs caller auth for POST /v1/sessions: set PROXY_API_KEY_SHA256, PROXY_JWKS_URL or PROXY_JWT_SECRET",
    );
  }

  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  const o = values as ProxyValues;
  return {
    vendors: configured,
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
    universalLogout,
  };
}

/** Whether any proxy caller credential (API key, user token) is configured. */
export function callerAuthConfigured(config: ProxyConfig): boolean {
  return (
    config.auth.apiKeyDigests.length > 0 ||
    config.auth.jwksUrl !== undefined ||
    config.auth.jwtSecret !== undefined
  );
}
