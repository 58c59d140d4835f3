// The universal-logout settings: the identity providers whose logout tokens, Security Event Tokens
// and revocation requests the proxy obeys, and the session registry's limits; every entry checked,
// each refusal naming its variable and the entry's member.
import { fromHex } from "@x/core-signing";
import { isSecureOrLoopback } from "../client-address.ts";
import type { ConfigIssue } from "../config.ts";
import type { RevocationCaller } from "./gtr.ts";
import { LogoutProviders, ProviderConfigError, type TrustedProvider } from "./logout-token.ts";
import { MAX_PER_SUBJECT, type RegistryLimits } from "./registry.ts";
import { DEFAULT_SET_ALGORITHMS, type Transmitter } from "./set.ts";

/** The variables read here, beside the proxy's own. */
export const UNIVERSAL_LOGOUT_VARIABLES = [
  "UNIVERSAL_LOGOUT_OIDC",
  "UNIVERSAL_LOGOUT_SSF",
  "UNIVERSAL_LOGOUT_GTR",
  "SESSION_MAX_PER_SUBJECT",
  "SESSION_MAX_LIFETIME_SEC",
] as const;

export interface UniversalLogoutSettings {
  /** OpenID Connect Back-Channel Logout: the providers whose logout tokens are obeyed. */
  oidc: TrustedProvider[];
  /** Shared Signals (CAEP session-revoked, RFC 8935 push): the transmitters obeyed. */
  ssf: Transmitter[];
  /** Global Token Revocation: the callers obeyed. */
  gtr: RevocationCaller[];
  limits: RegistryLimits;
}

/** Registrations per subject and their lifetime, unless set: 16, and 30 days. */
export const DEFAULT_REGISTRY_LIMITS: RegistryLimits = {
  maxPerSubject: 16,
  // 30 days. Written out: esbuild keeps a product at the top level even where nothing uses it.
  maxLifetimeMs: 2_592_000_000,
};
/** 366 days. */
const MAX_LIFETIME_SEC = 31_622_400;

type Report = (name: string, message: string) => void;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A variable's list of entries: a JSON array (a string, or an array in Workers `[vars]`). */
function entries(name: string, value: unknown, report: Report): unknown[] | undefined {
  if (value === undefined) return [];
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      report(name, "must be a JSON array of objects (it is not valid JSON)");
      return undefined;
    }
  }
  if (!Array.isArray(parsed) || !parsed.every(isObject)) {
    report(name, "must be a JSON array of objects");
    return undefined;
  }
  return parsed;
}

/** SHA-256 digests, comma-separated hex or a list of them. */
function digests(value: unknown): Uint8Array[] | undefined {
  const items =
    typeof value === "string"
      ? value.split(",").map((item) => item.trim())
      : Array.isArray(value)
        ? value
        : undefined;
  if (items === undefined || items.length === 0) return undefined;
  if (!items.every((item) => typeof item === "string" && /^[0-9a-fA-F]{64}$/.test(item))) {
    return undefined;
  }
  return items.map((item) => fromHex((item as string).toLowerCase()));
}

/** An https URL, or http to this machine only (as key sets are read), with no credentials in it. */
function secureUrl(value: unknown): boolean {
  if (typeof value !== "string" || !isSecureOrLoopback(value)) return false;
  const url = new URL(value);
  return url.username === "" && url.password === "";
}

const URL_RULE = "must be an https URL (http only to localhost, 127.0.0.0/8 or ::1)";

/** Checks each member an entry may have: only these names, each by its own rule. */
function members(
  entry: Record<string, unknown>,
  at: string,
  rules: Readonly<Record<string, (value: unknown) => string | undefined>>,
  required: readonly string[],
): string | undefined {
  for (const key of Object.keys(entry)) {
    if (!Object.hasOwn(rules, key)) {
      return `${at}.${key} is not a known member (${Object.keys(rules).join(", ")})`;
    }
  }
  for (const key of required) {
    if (entry[key] === undefined) return `${at}.${key} is required`;
  }
  for (const [key, rule] of Object.entries(rules)) {
    if (entry[key] === undefined) continue;
    const problem = rule(entry[key]);
    if (problem !== undefined) return `${at}.${key} ${problem}`;
  }
  return undefined;
}

const issuerRule = (value: unknown) => (secureUrl(value) ? undefined : URL_RULE);
const digestRule = (value: unknown) =>
  digests(value) === undefined
    ? "must list SHA-256 digests of the bearer tokens (64 hexadecimal characters each)"
    : undefined;
const issuersRule = (value: unknown) =>
  Array.isArray(value) && value.length > 0 && value.every((item) => secureUrl(item))
    ? undefined
    : "must list issuer URLs";
const secondsRule = (max: number) => (value: unknown) =>
  Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= max
    ? undefined
    : `must be a whole number of seconds from 1 to ${max}`;

function transmitters(name: string, list: unknown[], report: Report): Transmitter[] {
  const out: Transmitter[] = [];
  list.forEach((raw, index) => {
    const entry = raw as Record<string, unknown>;
    const at = `[${index}]`;
    const problem = members(
      entry,
      at,
      {
        issuer: issuerRule,
        jwksUrl: (value) => (secureUrl(value) ? undefined : URL_RULE),
        audience: (value) =>
          typeof value === "string" && value !== "" ? undefined : "must be a non-empty string",
        bearerSha256: digestRule,
        algorithms: (value) =>
          Array.isArray(value) &&
          value.length > 0 &&
          value.every((alg) => DEFAULT_SET_ALGORITHMS.includes(alg as string))
            ? undefined
            : `must list algorithms of ${DEFAULT_SET_ALGORITHMS.join(", ")}`,
        subjectIssuers: issuersRule,
        // A jti is remembered for the window and the skew: within the replay guards' hour.
        maxAgeSec: secondsRule(3000),
        clockSkewSec: secondsRule(300),
      },
      ["issuer", "jwksUrl", "audience", "bearerSha256"],
    );
    if (problem !== undefined) {
      report(name, problem);
      return;
    }
    if (out.some((other) => other.issuer === entry.issuer)) {
      report(name, `${at}.issuer is listed twice`);
      return;
    }
    out.push({
      ...(entry as unknown as Transmitter),
      bearerSha256: digests(entry.bearerSha256) as Uint8Array[],
    });
  });
  return out;
}

function callers(name: string, list: unknown[], report: Report): RevocationCaller[] {
  const out: RevocationCaller[] = [];
  list.forEach((raw, index) => {
    const entry = raw as Record<string, unknown>;
    const at = `[${index}]`;
    const problem = members(
      entry,
      at,
      { issuer: issuerRule, bearerSha256: digestRule, subjectIssuers: issuersRule },
      ["issuer", "bearerSha256"],
    );
    if (problem !== undefined) {
      report(name, problem);
      return;
    }
    out.push({
      issuer: entry.issuer as string,
      bearerSha256: digests(entry.bearerSha256) as Uint8Array[],
      ...(entry.subjectIssuers === undefined
        ? {}
        : { subjectIssuers: entry.subjectIssuers as string[] }),
    });
  });
  return out;
}

function providers(name: string, list: unknown[], report: Report): TrustedProvider[] {
  try {
    // Made only to check the entries: nothing is fetched before a token arrives.
    new LogoutProviders(list as TrustedProvider[], {
      fetch: () => Promise.reject(new Error("not fetched")),
      now: Date.now,
    });
  } catch (error) {
    if (!(error instanceof ProviderConfigError)) throw error;
    report(
      name,
      `${error.field.replace(/^providers/, "")} ${error.message.slice(error.field.length + 1)}`,
    );
    return [];
  }
  return list as TrustedProvider[];
}

function wholeNumber(
  name: string,
  value: unknown,
  min: number,
  max: number,
  report: Report,
): number | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    report(name, `must be a whole number from ${min} to ${max}`);
    return undefined;
  }
  return Number(text);
}

/**
 * Reads the universal-logout variables of `input` (the proxy's normalised environment: trimmed
 * strings, absent when empty). Undefined when no provider of any kind is set; the limits alone
 * mean nothing. Every fault is reported through `report`, by variable.
 */
export function readUniversalLogout(
  input: Readonly<Record<string, unknown>>,
  report: (issue: ConfigIssue) => void,
): UniversalLogoutSettings | undefined {
  const say: Report = (name, message) => report({ name, message });
  const oidcList = entries("UNIVERSAL_LOGOUT_OIDC", input.UNIVERSAL_LOGOUT_OIDC, say);
  const ssfList = entries("UNIVERSAL_LOGOUT_SSF", input.UNIVERSAL_LOGOUT_SSF, say);
  const gtrList = entries("UNIVERSAL_LOGOUT_GTR", input.UNIVERSAL_LOGOUT_GTR, say);
  const oidc = oidcList === undefined ? [] : providers("UNIVERSAL_LOGOUT_OIDC", oidcList, say);
  const ssf = ssfList === undefined ? [] : transmitters("UNIVERSAL_LOGOUT_SSF", ssfList, say);
  const gtr = gtrList === undefined ? [] : callers("UNIVERSAL_LOGOUT_GTR", gtrList, say);
  const perSubject = wholeNumber(
    "SESSION_MAX_PER_SUBJECT",
    input.SESSION_MAX_PER_SUBJECT,
    1,
    MAX_PER_SUBJECT,
    say,
  );
  const lifetimeSec = wholeNumber(
    "SESSION_MAX_LIFETIME_SEC",
    input.SESSION_MAX_LIFETIME_SEC,
    60,
    MAX_LIFETIME_SEC,
    say,
  );
  if (oidc.length + ssf.length + gtr.length === 0) return undefined;
  return {
    oidc,
    ssf,
    gtr,
    limits: {
      maxPerSubject: perSubject ?? DEFAULT_REGISTRY_LIMITS.maxPerSubject,
      maxLifetimeMs:
        lifetimeSec === undefined ? DEFAULT_REGISTRY_LIMITS.maxLifetimeMs : lifetimeSec * 1000,
    },
  };
}

/** The issuers a registration may name: every trusted provider's, of any kind. */
export function trustedIssuers(settings: UniversalLogoutSettings): Set<string> {
  return new Set([
    ...settings.oidc.map((provider) => provider.issuer),
    ...settings.ssf.flatMap((transmitter) => [
      transmitter.issuer,
      ...(transmitter.subjectIssuers ?? []),
    ]),
    ...settings.gtr.flatMap((caller) => [caller.issuer, ...(caller.subjectIssuers ?? [])]),
  ]);
}
