// One logout attempt of one session at one vendor, directly with the vendor's package or through a
// deployed proxy, and its answer as the run keeps it: ended, already ended, or an error with no text
// from the vendor.
import { defineVendor, type FetchLike, isVendorError, type VendorError } from "@x/core-signing";
import { signMd5WithRsa } from "@x/core-signing/md5";
import { importPrivateKey } from "@x/core-signing/rsa";
import { EbetClient } from "@x/ebet";
import { FunGameClient, inspectToken } from "@x/fungame";
import { isLancensError, LancensClient } from "@x/lancens";
import { OneAccessClient } from "@x/sdk-auth";
import {
  type EbetMember,
  type FunGameMember,
  type LancensMember,
  MEMBER_OF,
  type Member,
  type SdkAuthMember,
  secretsOf,
  type VendorName,
  withoutField,
} from "./sessions.ts";
import { type Settings, SettingsError, VARIABLES } from "./settings.ts";

/** A failed attempt, without any text from the vendor (it may quote a token). */
export interface AttemptError {
  /** The vendor's own code (eBET 4038, OneAccess APP.0007) or the client's (TIMEOUT). */
  code: string | number;
  kind: string;
  retryable: boolean;
  /** The vendor's HTTP status, null when no answer came. */
  status: number | null;
  /**
   * The request may have reached the vendor and been acted on (a timeout, a cut connection, an
   * answer that could not be read): a later attempt is a retry after an unknown outcome.
   */
  maybeSent: boolean;
  /**
   * Every later call of this vendor would fail the same way (bad settings, a refused signature or
   * address, an exhausted quota, the proxy refusing the caller): the vendor is stopped for the run.
   */
  halt: boolean;
  /** How long the vendor asked to be left alone (Retry-After), in ms; 0 when it did not. */
  retryAfterMs: number;
}

export type AttemptResult =
  | {
      ok: true;
      /** The vendor said the session was already gone. */
      already: boolean;
      /** Said only when the outcome rests on an earlier attempt whose answer was lost. */
      note?: string;
    }
  | { ok: false; error: AttemptError };

export interface AttemptContext {
  /** An earlier attempt of this session may have been acted on (its answer was lost). */
  inDoubt: boolean;
}

/** Logs sessions of one vendor out. */
export interface Sender {
  attempt(member: Member, context: AttemptContext): Promise<AttemptResult>;
  /** Checks what can be checked without sending anything (keys import, settings hold). */
  check(): Promise<void>;
}

/** Retry-After as milliseconds (seconds or an HTTP date), at most 10 minutes; 0 without one. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number {
  if (value === null) return 0;
  const text = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return 0;
    ms = at - now;
  }
  return Math.max(0, Math.min(ms, 600_000));
}

/** A code as the journal and the report keep it: its form only, never a value that may be a token. */
export function safeCode(code: unknown, secrets: readonly string[]): string | number {
  if (typeof code === "number" && Number.isFinite(code)) return code;
  if (typeof code !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(code)) return "UNREADABLE_CODE";
  if (secrets.some((secret) => secret.length >= 4 && code.includes(secret))) return "REDACTED";
  return code;
}

/** A fetch that notes the Retry-After of the answers it gets. */
function observing(fetch: FetchLike): { fetch: FetchLike; retryAfter: () => number } {
  let waitMs = 0;
  return {
    fetch: async (request) => {
      const response = await fetch(request);
      waitMs = Math.max(waitMs, retryAfterMs(response.headers.get("retry-after")));
      return response;
    },
    retryAfter: () => waitMs,
  };
}

/** Errors after which every later call fails the same way. */
function halts(error: { kind: string; retryable: boolean; code: string | number }): boolean {
  return (
    error.kind === "misconfigured" ||
    (error.kind === "rate_limited" && !error.retryable) ||
    error.code === "REDIRECT"
  );
}

function failure(
  error: VendorError,
  secrets: readonly string[],
  retryAfter: number,
): { ok: false; error: AttemptError } {
  const code = safeCode(error.code, secrets);
  return {
    ok: false,
    error: {
      code,
      kind: error.kind,
      retryable: error.retryable,
      status: error.upstreamStatus ?? null,
      maybeSent: error.kind === "unavailable" || error.kind === "upstream",
      halt: halts(error),
      retryAfterMs: retryAfter,
    },
  };
}

/** FunGame refuses its tokens for 300 s past `exp` at most (its clock skew). */
const FUNGAME_SKEW_SEC = 300;

/**
 * After an attempt whose answer was lost, some refusals are that attempt's success: FunGame refuses
 * a token it revoked (while the token is alive, no other cause is left), OneAccess answers APP.0007
 * for a session it ended. Anything else stands as it is.
 */
export function settleInDoubt(
  vendor: VendorName,
  member: Member,
  result: AttemptResult,
  context: AttemptContext,
  now: number = Date.now(),
): AttemptResult {
  if (result.ok || !context.inDoubt) return result;
  const note = "the answer to an earlier attempt was lost; the vendor now refuses the session";
  if (vendor === "sdk-auth" && result.error.code === "APP.0007") {
    return { ok: true, already: true, note };
  }
  // FunGame's own 401 only: a refusal made before FunGame was reached (a proxy's token check) proves nothing.
  if (vendor === "fungame" && result.error.kind === "unauthorized" && result.error.status === 401) {
    try {
      const { exp } = inspectToken((member as FunGameMember).token);
      if (typeof exp === "number" && now < (exp + FUNGAME_SKEW_SEC) * 1000) {
        return { ok: true, already: true, note };
      }
    } catch {
      // A token that cannot be read proves nothing.
    }
  }
  return result;
}

/** Runs one call, its failure as an AttemptResult (anything but a vendor error is a defect: thrown). */
async function attemptWith(
  secrets: readonly string[],
  call: (fetch: FetchLike) => Promise<{ already: boolean }>,
  fetch: FetchLike,
): Promise<AttemptResult> {
  const observed = observing(fetch);
  try {
    const { already } = await call(observed.fetch);
    return { ok: true, already };
  } catch (error) {
    if (!isVendorError(error)) throw error;
    return failure(error, secrets, observed.retryAfter());
  }
}

/** A client option's name -> the variable that sets it. */
const OPTION_VARIABLES: Readonly<Record<string, string>> = {
  channelId: "EBET_CHANNEL_ID",
  privateKey: "EBET_PRIVATE_KEY",
  timestampUnit: "EBET_TIMESTAMP_UNIT",
  clientId: "SDK_AUTH_CLIENT_ID",
  tenantId: "SDK_AUTH_TENANT_ID",
};

/**
 * Makes a vendor's client (or checks its key): a refused option is the settings' fault, named by its
 * variable. The client's message names the option and its problem, never a key's value.
 */
function construct<T>(vendor: VendorName, make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (!isVendorError(error)) throw error;
    const field = error.field ?? "";
    const name =
      (Object.hasOwn(OPTION_VARIABLES, field) ? OPTION_VARIABLES[field] : undefined) ??
      (field === "baseUrl" ? VARIABLES[vendor].required[0] : undefined) ??
      (vendor === "ebet" ? "EBET_PRIVATE_KEY" : (VARIABLES[vendor].required[0] as string));
    throw new SettingsError([{ name: name as string, message: withoutField(error) }]);
  }
}

/** The direct sender of a vendor, from its settings; undefined when the vendor is off. */
export function directSender(
  vendor: VendorName,
  settings: Settings,
  fetch: FetchLike = (request) => globalThis.fetch(request),
): Sender | undefined {
  const timeoutMs = settings.timeoutMs;
  switch (vendor) {
    case "ebet": {
      const own = settings.vendors.ebet;
      if (own === undefined) return undefined;
      const client = construct("ebet", () => new EbetClient({ ...own, timeoutMs }));
      return {
        attempt: (member) =>
          attemptWith(
            [],
            async (f) => {
              await client.logout(
                { username: (member as EbetMember).username },
                { fetch: f, timeoutMs },
              );
              return { already: false };
            },
            fetch,
          ),
        // Signs once: a key of the right form that does not import fails here, before any call.
        check: async () => {
          await construct("ebet", () =>
            signMd5WithRsa(importPrivateKey(own.privateKey), "x-logout key check"),
          );
        },
      };
    }
    case "fungame": {
      const own = settings.vendors.fungame;
      if (own === undefined) return undefined;
      const client = construct("fungame", () => new FunGameClient({ ...own, timeoutMs }));
      return {
        attempt: async (member, context) => {
          const { token } = member as FunGameMember;
          const result = await attemptWith(
            [token],
            async (f) => {
              const answer = await client.logout(token, { fetch: f, timeoutMs });
              return { already: answer.alreadyLoggedOut };
            },
            fetch,
          );
          return settleInDoubt("fungame", member, result, context);
        },
        check: async () => {},
      };
    }
    case "sdk-auth": {
      const own = settings.vendors["sdk-auth"];
      if (own === undefined) return undefined;
      const client = construct(
        "sdk-auth",
        () =>
          new OneAccessClient({
            baseUrl: own.baseUrl,
            clientId: own.clientId,
            ...(own.tenantId === undefined ? {} : { tenantId: own.tenantId }),
            fetch,
            timeoutMs,
          }),
      );
      return {
        attempt: async (member, context) => {
          const session = member as SdkAuthMember;
          const result = await attemptWith(
            [session.sessionToken],
            async (f) => {
              // The application key and the clock offset are loaded once, through the shared fetch.
              await client.warm({ timeoutMs });
              await client.logout(
                { sessionToken: session.sessionToken, device: session.device },
                { fetch: f, timeoutMs },
              );
              return { already: false };
            },
            fetch,
          );
          return settleInDoubt("sdk-auth", member, result, context);
        },
        check: async () => {},
      };
    }
    case "lancens": {
      const own = settings.vendors.lancens;
      if (own === undefined) return undefined;
      const client = construct(
        "lancens",
        () => new LancensClient({ baseUrl: own.baseUrl, fetch, timeoutMs }),
      );
      return {
        attempt: (member) => {
          const { username, token } = member as LancensMember;
          return attemptWith(
            [token],
            async (f) => {
              const flow = await client.logoutFully({ username, token }, { fetch: f, timeoutMs });
              // The push-token steps may fail without failing the logout; the logout step decides.
              if (isLancensError(flow.session)) throw flow.session;
              return { already: flow.alreadyLoggedOut };
            },
            fetch,
          );
        },
        check: async () => {},
      };
    }
  }
}

/** A deployed proxy, and the caller credential it asks for (sent as a Bearer token). */
export interface ProxyTarget {
  url: string;
  apiKey: string | undefined;
}

const proxyKit = defineVendor("proxy");

/** The most read of a proxy's answer. */
const PROXY_MAX_BODY_BYTES = 256 * 1024;

function proxyError(init: Partial<AttemptError> & Pick<AttemptError, "code" | "kind">): {
  ok: false;
  error: AttemptError;
} {
  return {
    ok: false,
    error: {
      retryable: false,
      status: null,
      maybeSent: false,
      halt: false,
      retryAfterMs: 0,
      ...init,
    },
  };
}

/**
 * The sender of a vendor through a deployed proxy: one `POST /v1/logout` per session with only that
 * vendor's member. Redirects are never followed; the proxy's refusal of the caller (401, 403), of a
 * vendor it has off (404 VENDOR_NOT_CONFIGURED) or of too many requests (429, Retry-After) is read
 * as such.
 */
export function proxySender(
  vendor: VendorName,
  target: ProxyTarget,
  timeoutMs: number,
  fetch: FetchLike = (request) => globalThis.fetch(request),
): Sender {
  const member = MEMBER_OF[vendor];
  const url = `${target.url}/v1/logout`;
  return {
    async attempt(session, context) {
      const secrets = [...secretsOf(vendor, session), ...(target.apiKey ? [target.apiKey] : [])];
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (target.apiKey !== undefined) headers.authorization = `Bearer ${target.apiKey}`;
      const request = new Request(url, {
        method: "POST",
        headers,
        body: JSON.stringify({ [member]: session }),
      });
      let status = 0;
      let retryAfter = 0;
      let body: unknown;
      try {
        body = await proxyKit.call(request, { fetch, timeoutMs }, async (response) => {
          status = response.status;
          retryAfter = retryAfterMs(response.headers.get("retry-after"));
          return proxyKit.readJson(response, PROXY_MAX_BODY_BYTES);
        });
      } catch (error) {
        if (!isVendorError(error)) throw error;
        if (status === 0 || error.code === "REDIRECT") return failure(error, secrets, retryAfter);
        // An answer that is not JSON: a gateway's page, a cut body.
        return proxyError({
          code: error.code,
          kind: status >= 500 ? "unavailable" : "upstream",
          retryable: status >= 500 || status === 429,
          status,
          maybeSent: true,
          retryAfterMs: retryAfter,
        });
      }
      const document = (typeof body === "object" && body !== null ? body : {}) as Record<
        string,
        unknown
      >;
      const result =
        (status === 200 || status === 207) &&
        typeof document.results === "object" &&
        document.results !== null &&
        Object.hasOwn(document.results, member)
          ? ((document.results as Record<string, unknown>)[member] as Record<string, unknown>)
          : undefined;
      // A result that names another vendor is not this one's.
      if (
        result !== undefined &&
        typeof result === "object" &&
        result !== null &&
        (result.vendor === undefined || result.vendor === vendor)
      ) {
        if (result.ok === true) {
          return { ok: true, already: result.alreadyLoggedOut === true };
        }
        if (result.ok === false) {
          return settleInDoubt(
            vendor,
            session,
            {
              ok: false,
              error: {
                code: safeCode(result.code, secrets),
                kind: typeof result.kind === "string" ? result.kind : "upstream",
                retryable: result.retryable === true,
                status: typeof result.upstreamStatus === "number" ? result.upstreamStatus : null,
                maybeSent: result.kind === "unavailable" || result.kind === "upstream",
                halt: halts({
                  kind: String(result.kind),
                  retryable: result.retryable === true,
                  code: String(result.code),
                }),
                retryAfterMs: retryAfter,
              },
            },
            context,
          );
        }
      }
      // A problem about the request as a whole: the proxy's own refusal.
      const code = safeCode(document.code ?? `HTTP_${status}`, secrets);
      if (status === 401 || status === 403) {
        return proxyError({ code, kind: "unauthorized", status, halt: true });
      }
      if (status === 404 && code === "VENDOR_NOT_CONFIGURED") {
        return proxyError({ code, kind: "misconfigured", status, halt: true });
      }
      if (status === 429 || status === 503) {
        return proxyError({
          code,
          kind: status === 429 ? "rate_limited" : "unavailable",
          retryable: true,
          status,
          retryAfterMs: retryAfter,
        });
      }
      if (status >= 500) {
        return proxyError({ code, kind: "unavailable", retryable: true, status, maybeSent: true });
      }
      // 2xx without this vendor's result, or a 4xx the proxy should not give: nothing says it ended.
      return proxyError({
        code,
        kind: status === 400 ? "invalid_request" : "upstream",
        status,
        maybeSent: status < 400,
      });
    },
    check: async () => {},
  };
}
