// The four vendors behind one shape: clients made once per app, each call under policy, one success shape.
import { type FetchLike, isVendorError } from "@x/core-signing";
import { EbetClient } from "@x/ebet";
import {
  FunGameClient,
  FunGameError,
  inspectToken,
  isFunGameError,
  type TokenClaims,
} from "@x/fungame";
import { verifyToken } from "@x/fungame/verify";
import { isLancensError, LancensClient, type LogoutFlowResult, type StepOutcome } from "@x/lancens";
import { OneAccessClient } from "@x/sdk-auth";
import type { ProxyConfig } from "./config.ts";
import type { ClaimOutcome, DenyList } from "./ports.ts";
import { fromVendorError, ProblemError } from "./problem.ts";
import { ebetRefused } from "./replay.ts";
import type { EbetCallbackInput, EbetLogoutInput, LancensInput, SdkAuthInput } from "./schemas.ts";
import { type AttemptOptions, callUpstream, type UpstreamEnv } from "./upstream.ts";

export type { ClaimingDenyList, ClaimOutcome, DenyList } from "./ports.ts";

export const VENDORS = ["ebet", "fungame", "sdk-auth", "lancens"] as const;

/**
 * The most the proxy reads of any vendor's answer, in bytes: the answers it parses are a few hundred
 * bytes. A longer body is a 502 BAD_RESPONSE, and the rest of it is never read.
 */
export const UPSTREAM_MAX_BODY_BYTES = 64 * 1024;
export type VendorName = (typeof VENDORS)[number];

/** Every successful vendor call answers this. */
export interface VendorSuccess {
  vendor: VendorName;
  ok: true;
  alreadyLoggedOut: boolean;
  result: unknown;
}

/** What token-status answers. */
export interface TokenStatus {
  active: boolean;
  reason?: string;
}

/** The request's view of upstream policy: a fresh UpstreamEnv per vendor call. */
export type UpstreamFor = (vendor: VendorName) => UpstreamEnv;

/** Where a vendor's input fields sit in the caller's request, e.g. username -> "ebet.username". */
export type FieldMap = Readonly<Record<string, string>>;

export function prefixed(prefix: string, fields: readonly string[]): FieldMap {
  return Object.fromEntries(fields.map((field) => [field, prefix ? `${prefix}.${field}` : field]));
}

export function notConfigured(vendor: VendorName): ProblemError {
  return new ProblemError({
    kind: "not_found",
    code: "VENDOR_NOT_CONFIGURED",
    detail: `vendor not configured: ${vendor} is off on this proxy`,
    vendor,
  });
}

/**
 * A vendor error as the caller should see it: a refused input field is renamed to where it sits in
 * the request; a refused client option is the proxy's misconfiguration, never the caller's fault.
 */
export function asProblem(error: unknown, vendor: VendorName, fields: FieldMap): unknown {
  if (!isVendorError(error)) return error;
  // Own members only: a vendor may name a field "constructor" or "__proto__".
  const mapped =
    error.field !== undefined && Object.hasOwn(fields, error.field)
      ? fields[error.field]
      : undefined;
  if (mapped !== undefined) {
    const message = error.message.startsWith(`${error.field}:`)
      ? `${mapped}${error.message.slice(error.field?.length ?? 0)}`
      : error.message;
    return new ProblemError({ ...fromVendorError(error), field: mapped, detail: message });
  }
  if (error.code === "INVALID_INPUT" && error.kind === "invalid_request") {
    return new ProblemError({
      kind: "misconfigured",
      code: "VENDOR_SETTINGS_INVALID",
      detail: `the proxy's ${vendor} settings are refused: ${error.message}`,
      vendor,
    });
  }
  return new ProblemError({ ...fromVendorError(error), vendor });
}

function stepJson(step: StepOutcome): Record<string, unknown> {
  if (!isLancensError(step)) return { outcome: step };
  return {
    outcome: "failed",
    error: {
      code: step.code,
      kind: step.kind,
      retryable: step.retryable,
      upstreamStatus: step.upstreamStatus ?? null,
      detail: step.message,
    },
  };
}

function lancensSteps(result: LogoutFlowResult): Record<string, unknown> {
  return {
    ringPushToken: stepJson(result.ringPushToken),
    messagePushToken: stepJson(result.messagePushToken),
    session: stepJson(result.session),
  };
}

const TOKEN_REASONS: ReadonlyMap<string | number, string> = new Map([
  ["TOKEN_EXPIRED", "expired"],
  ["TOKEN_BAD_SIGNATURE", "invalid_signature"],
  ["TOKEN_ALGORITHM_REFUSED", "algorithm_refused"],
  ["TOKEN_NOT_YET_VALID", "not_yet_valid"],
  ["TOKEN_WRONG_ISSUER", "wrong_issuer"],
  ["TOKEN_WRONG_AUDIENCE", "wrong_audience"],
  ["TOKEN_CLAIM_INVALID", "invalid_claims"],
  ["TOKEN_EXP_TOO_FAR", "invalid_claims"],
  ["MALFORMED_TOKEN", "malformed"],
  ["INVALID_INPUT", "malformed"],
]);

/** The token-status reason of a refused FunGame token's error code. */
export function tokenReason(code: string | number): string {
  return TOKEN_REASONS.get(code) ?? "invalid";
}

/** FunGame tokens live 30 min, and its server accepts one up to 300 s past `exp` (VENDORS.md). */
export const FUNGAME_TOKEN_LIFETIME_SEC = 1_800;
export const FUNGAME_CLOCK_SKEW_SEC = 300;
/** A claim lasts its attempt's deadline and this much more, then lapses (an attempt that died). */
export const CLAIM_LEASE_MARGIN_MS = 5_000;
/** The longest jti a deny-list keys (FunGame's is a 36-character GUID). */
export const MAX_JTI_LENGTH = 256;

/** The deny-list key of a token: a jti of 1 to 256 characters and a whole-second exp. */
function listKey({ jti, exp }: TokenClaims): { jti: string; exp: number } {
  if (
    jti === undefined ||
    jti === "" ||
    jti.length > MAX_JTI_LENGTH ||
    !Number.isSafeInteger(exp)
  ) {
    throw new FunGameError({
      code: "TOKEN_CLAIM_INVALID",
      kind: "unauthorized",
      field: "jwt",
      message: `jwt: needs a jti of 1 to ${MAX_JTI_LENGTH} characters and a whole-second exp`,
    });
  }
  return { jti, exp: exp as number };
}

/** The deny-list did not answer: 503, retryable; FunGame is not called on its account. */
function denyListUnavailable(): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "DENY_LIST_UNAVAILABLE",
    detail: "the FunGame deny-list is unavailable",
    vendor: "fungame",
    retryable: true,
  });
}

export interface VendorDeps {
  fetchFor: (vendor: VendorName) => FetchLike;
  denyList: DenyList;
  now: () => number;
  log: (line: Record<string, unknown>) => void;
}

/** The vendors of one app: clients made on first use, kept for the app's life (keys imported once). */
export class VendorGateway {
  readonly #config: ProxyConfig;
  readonly #deps: VendorDeps;
  #ebet: EbetClient | undefined;
  #fungame: FunGameClient | undefined;
  #sdkAuth: OneAccessClient | undefined;
  #lancens: LancensClient | undefined;

  constructor(config: ProxyConfig, deps: VendorDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  configured(vendor: VendorName): boolean {
    switch (vendor) {
      case "ebet":
        return this.#config.ebet !== undefined;
      case "fungame":
        return this.#config.fungame !== undefined;
      case "sdk-auth":
        return this.#config.sdkAuth !== undefined;
      case "lancens":
        return this.#config.lancens !== undefined;
    }
  }

  /** Throws the 404 problem when `vendor` is off. */
  require(vendor: VendorName): void {
    if (!this.configured(vendor)) throw notConfigured(vendor);
  }

  #client<T>(vendor: VendorName, make: () => T): T {
    try {
      return make();
    } catch (error) {
      throw asProblem(error, vendor, {});
    }
  }

  #ebetClient(): EbetClient {
    const config = this.#config.ebet;
    if (config === undefined) throw notConfigured("ebet");
    this.#ebet ??= this.#client(
      "ebet",
      () =>
        new EbetClient({
          baseUrl: config.baseUrl,
          channelId: config.channelId,
          privateKey: config.privateKey,
          timestampUnit: config.timestampUnit,
          fetch: this.#deps.fetchFor("ebet"),
          now: this.#deps.now,
          maxBodyBytes: UPSTREAM_MAX_BODY_BYTES,
        }),
    );
    return this.#ebet;
  }

  #fungameClient(): FunGameClient {
    const config = this.#config.fungame;
    if (config === undefined) throw notConfigured("fungame");
    this.#fungame ??= this.#client(
      "fungame",
      () =>
        new FunGameClient({
          baseUrl: config.baseUrl,
          treat500AsLoggedOut: config.treat500AsLoggedOut,
          fetch: this.#deps.fetchFor("fungame"),
          maxBodyBytes: UPSTREAM_MAX_BODY_BYTES,
        }),
    );
    return this.#fungame;
  }

  #sdkAuthClient(): OneAccessClient {
    const config = this.#config.sdkAuth;
    if (config === undefined) throw notConfigured("sdk-auth");
    this.#sdkAuth ??= this.#client(
      "sdk-auth",
      () =>
        new OneAccessClient({
          baseUrl: config.baseUrl,
          clientId: config.clientId,
          tenantId: config.tenantId,
          fetch: this.#deps.fetchFor("sdk-auth"),
          now: this.#deps.now,
          timeoutMs: this.#config.upstreamTimeoutMs,
          maxBodyBytes: UPSTREAM_MAX_BODY_BYTES,
        }),
    );
    return this.#sdkAuth;
  }

  #lancensClient(): LancensClient {
    const config = this.#config.lancens;
    if (config === undefined) throw notConfigured("lancens");
    this.#lancens ??= this.#client(
      "lancens",
      () =>
        new LancensClient({
          baseUrl: config.baseUrl,
          fetch: this.#deps.fetchFor("lancens"),
          maxBodyBytes: UPSTREAM_MAX_BODY_BYTES,
        }),
    );
    return this.#lancens;
  }

  async #run<T>(
    vendor: VendorName,
    upstream: UpstreamFor,
    fields: FieldMap,
    attempt: (options: AttemptOptions) => Promise<T>,
    successStatus?: number,
  ): Promise<T> {
    try {
      return await callUpstream(vendor, attempt, upstream(vendor), successStatus);
    } catch (error) {
      throw asProblem(error, vendor, fields);
    }
  }

  async ebetLogout(
    input: EbetLogoutInput,
    upstream: UpstreamFor,
    prefix = "",
  ): Promise<VendorSuccess> {
    const client = this.#ebetClient();
    const result = await this.#run(
      "ebet",
      upstream,
      prefixed(prefix, ["username"]),
      ({ fetch, signal, timeoutMs }) =>
        client.logout({ username: input.username }, { fetch, signal, timeoutMs }),
    );
    return { vendor: "ebet", ok: true, alreadyLoggedOut: false, result };
  }

  /**
   * The login notification, sent at most once: eBET may act on a request that timed out or failed,
   * so only an answer in which eBET refused it (EBET_REFUSALS, e.g. 4038) is retried.
   */
  async ebetCallback(input: EbetCallbackInput, upstream: UpstreamFor): Promise<VendorSuccess> {
    const client = this.#ebetClient();
    const account = await this.#run(
      "ebet",
      (vendor) => ({ ...upstream(vendor), mayRetry: (error) => ebetRefused(error.code) }),
      prefixed("", ["username", "accessToken", "subChannelId"]),
      ({ fetch, signal, timeoutMs }) =>
        client.callback(
          {
            username: input.username,
            accessToken: input.accessToken,
            ...(input.subChannelId === undefined ? {} : { subChannelId: input.subChannelId }),
          },
          { fetch, signal, timeoutMs },
        ),
    );
    return { vendor: "ebet", ok: true, alreadyLoggedOut: false, result: account };
  }

  /**
   * The token's claims: verified when FUNGAME_JWT_SECRET is set (with FunGame's own 300 s skew),
   * else only read. An `exp` beyond FunGame's token lifetime is refused: no such token exists.
   */
  async #readToken(token: string): Promise<TokenClaims> {
    const secret = this.#config.fungame?.jwtSecret;
    const claims =
      secret === undefined
        ? inspectToken(token)
        : await verifyToken(token, {
            secret,
            now: this.#deps.now,
            clockToleranceSec: FUNGAME_CLOCK_SKEW_SEC,
          });
    const limit = FUNGAME_TOKEN_LIFETIME_SEC + FUNGAME_CLOCK_SKEW_SEC;
    if (claims.exp !== undefined && claims.exp > this.#deps.now() / 1000 + limit) {
      throw new FunGameError({
        code: "TOKEN_EXP_TOO_FAR",
        kind: "unauthorized",
        field: "jwt",
        message: `jwt: exp is more than ${limit} s ahead; FunGame tokens live ${FUNGAME_TOKEN_LIFETIME_SEC} s`,
      });
    }
    return claims;
  }

  /**
   * Logs a FunGame token out. The token is claimed first (under `claimId`: a retry of the same
   * job passes the same id), so one attempt at a time calls FunGame; another meets a 409, and a
   * claim that fails is a 503 (FunGame is not called). A token whose logout is recorded is done
   * already, without calling FunGame (FunGame forgets its own revocations on restart). A logout
   * FunGame accepted is recorded until `exp` plus its skew; `denyListed: false` when that failed.
   */
  async fungameLogout(
    token: string,
    upstream: UpstreamFor,
    tokenField: string,
    claimId: string = crypto.randomUUID(),
    /** A retry after an attempt whose outcome is unknown: FunGame's refusal of the token is done. */
    retry = false,
  ): Promise<VendorSuccess> {
    const client = this.#fungameClient();
    const fields: FieldMap = { bearerToken: tokenField, jwt: tokenField };
    let jti: string;
    let exp: number;
    try {
      ({ jti, exp } = listKey(await this.#readToken(token)));
    } catch (error) {
      throw fungameTokenProblem(error, tokenField);
    }
    const env = upstream("fungame");
    const leaseMs = Math.ceil(Math.max(0, env.deadlineAt - env.now())) + CLAIM_LEASE_MARGIN_MS;
    const claim = await this.#claim(jti, claimId, leaseMs);
    if (claim === "pending") {
      throw new ProblemError({
        kind: "conflict",
        code: "LOGOUT_IN_PROGRESS",
        detail: "another logout of this token is in flight; retry",
        vendor: "fungame",
        field: tokenField,
        retryable: true,
        headers: { "retry-after": "1" },
      });
    }
    if (claim === "revoked" || (claim === undefined && (await this.#isRevoked(jti)))) {
      return { vendor: "fungame", ok: true, alreadyLoggedOut: true, result: { denyListed: true } };
    }
    let result: Awaited<ReturnType<FunGameClient["logout"]>>;
    try {
      result = await this.#run(
        "fungame",
        () => env,
        fields,
        ({ fetch, signal, timeoutMs }) => client.logout(token, { fetch, signal, timeoutMs }),
      );
    } catch (error) {
      // FunGame refuses a token it revoked: after an attempt whose answer was lost, that refusal
      // is the earlier logout's success. Listing a token FunGame refuses costs nothing.
      if (retry && error instanceof ProblemError && error.init.kind === "unauthorized") {
        const denyListed = await this.#record(jti, exp);
        return { vendor: "fungame", ok: true, alreadyLoggedOut: true, result: { denyListed } };
      }
      if (claim === "claimed") await this.#release(jti, claimId);
      throw error;
    }
    // The logout itself happened: it is reported even when the edge could not list the token.
    const denyListed = await this.#record(jti, exp);
    return {
      vendor: "fungame",
      ok: true,
      alreadyLoggedOut: result.alreadyLoggedOut,
      result: {
        message: result.message,
        requestType: result.requestType,
        ...(result.event === undefined ? {} : { event: result.event }),
        denyListed,
      },
    };
  }

  /**
   * Records the logout of a token FunGame already accepted, without calling FunGame (it would now
   * refuse the token): the outbox's retry of a record that failed. A 503 when it fails again.
   */
  async fungameRecord(token: string, tokenField: string): Promise<void> {
    let key: { jti: string; exp: number };
    try {
      key = listKey(inspectToken(token));
    } catch (error) {
      throw fungameTokenProblem(error, tokenField);
    }
    if (!(await this.#record(key.jti, key.exp))) {
      throw denyListUnavailable();
    }
  }

  /** Records a logout FunGame accepted; false (and logged) when the deny-list cannot be written. */
  async #record(jti: string, exp: number): Promise<boolean> {
    try {
      await this.#deps.denyList.add(jti, exp + FUNGAME_CLOCK_SKEW_SEC);
      return true;
    } catch (error) {
      this.#deps.log({
        event: "deny_list_write_failed",
        vendor: "fungame",
        error: isVendorError(error) ? error.code : errorName(error),
      });
      return false;
    }
  }

  /**
   * Claims the token on a deny-list that can; undefined when the list has no claims (then it is
   * only read, and written after the logout). A claim that fails is a 503: logging out without
   * it would let two logouts of one token both call FunGame, and one be told something false.
   */
  async #claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome | undefined> {
    const list = this.#deps.denyList;
    if (list.claim === undefined) return undefined;
    try {
      return await list.claim(jti, claimId, leaseMs);
    } catch (error) {
      this.#deps.log({
        event: "deny_list_claim_failed",
        vendor: "fungame",
        error: errorName(error),
      });
      throw denyListUnavailable();
    }
  }

  /** Drops this attempt's claim after a failed logout, so that the token is free again. */
  async #release(jti: string, claimId: string): Promise<void> {
    try {
      await this.#deps.denyList.release?.(jti, claimId);
    } catch (error) {
      // The claim lapses at the end of its lease.
      this.#deps.log({
        event: "deny_list_release_failed",
        vendor: "fungame",
        error: errorName(error),
      });
    }
  }

  async #isRevoked(jti: string): Promise<boolean> {
    try {
      return await this.#deps.denyList.has(jti);
    } catch (error) {
      // FunGame still checks the token itself; an unreadable deny-list must not block logouts.
      this.#deps.log({
        event: "deny_list_read_failed",
        vendor: "fungame",
        error: errorName(error),
      });
      return false;
    }
  }

  /**
   * Whether a FunGame token is still usable, without calling FunGame: verified here when
   * FUNGAME_JWT_SECRET is set (else reason "unverified" on an active answer), then the deny-list.
   * A logout in flight is not a revocation: the token is active until FunGame accepts it.
   */
  async fungameTokenStatus(token: string): Promise<TokenStatus> {
    this.#fungameClient();
    let claims: TokenClaims;
    try {
      claims = await this.#readToken(token);
    } catch (error) {
      if (isFunGameError(error)) return { active: false, reason: tokenReason(error.code) };
      throw error;
    }
    const { jti, exp } = claims;
    if (jti !== undefined) {
      let revoked: boolean;
      try {
        revoked = await this.#deps.denyList.has(jti);
      } catch {
        throw denyListUnavailable();
      }
      if (revoked) return { active: false, reason: "revoked" };
    }
    if (this.#config.fungame?.jwtSecret !== undefined) return { active: true };
    if (exp !== undefined && (exp + FUNGAME_CLOCK_SKEW_SEC) * 1000 <= this.#deps.now()) {
      return { active: false, reason: "expired" };
    }
    return { active: true, reason: "unverified" };
  }

  async sdkAuthLogout(
    input: SdkAuthInput,
    upstream: UpstreamFor,
    prefix = "",
  ): Promise<VendorSuccess> {
    const client = this.#sdkAuthClient();
    const fields = prefixed(prefix, [
      "sessionToken",
      "device",
      "device.osVersion",
      "device.fingerprint",
      "device.agent",
      "device.ip",
      "device.language",
    ]);
    const device = {
      osVersion: input.device.osVersion,
      fingerprint: input.device.fingerprint,
      agent: input.device.agent,
      ...(input.device.ip === undefined ? {} : { ip: input.device.ip }),
      ...(input.device.language === undefined ? {} : { language: input.device.language }),
    };
    // The OneAccess client keeps its key and clock cache per app, so its fetch is shared and
    // cannot be observed per call: a success is OneAccess's documented 200.
    const result = await this.#run(
      "sdk-auth",
      upstream,
      fields,
      ({ signal, timeoutMs }) =>
        client.logout({ sessionToken: input.sessionToken, device }, { signal, timeoutMs }),
      200,
    );
    return { vendor: "sdk-auth", ok: true, alreadyLoggedOut: false, result: { body: result.body } };
  }

  /**
   * The three Lancens steps. The flow is retried only when its logout step failed retryably; a
   * failed push-token step does not fail the logout (Lancens deletes push tokens at logout) but is
   * reported in its step.
   */
  async lancensLogout(
    input: LancensInput,
    upstream: UpstreamFor,
    prefix = "",
  ): Promise<VendorSuccess> {
    const client = this.#lancensClient();
    const fields = prefixed(prefix, ["username", "token"]);
    let last: LogoutFlowResult | undefined;
    try {
      await callUpstream(
        "lancens",
        async ({ fetch, signal, timeoutMs }) => {
          last = await client.logoutFully(
            { username: input.username, token: input.token },
            { fetch, signal, timeoutMs },
          );
          if (isLancensError(last.session) && last.session.retryable) throw last.session;
          return last;
        },
        upstream("lancens"),
      );
    } catch (error) {
      if (last === undefined || !isLancensError(last.session))
        throw asProblem(error, "lancens", fields);
    }
    if (last === undefined) throw new Error("the Lancens flow produced no result");
    if (isLancensError(last.session)) {
      const problem = asProblem(last.session, "lancens", fields) as ProblemError;
      throw new ProblemError({
        ...problem.init,
        extensions: { ...problem.init.extensions, steps: lancensSteps(last) },
      });
    }
    return {
      vendor: "lancens",
      ok: true,
      alreadyLoggedOut: last.alreadyLoggedOut,
      result: lancensSteps(last),
    };
  }
}

function fungameTokenProblem(error: unknown, field: string): unknown {
  if (!isFunGameError(error)) return error;
  const e: FunGameError = error;
  const malformed = e.code === "INVALID_INPUT" || e.code === "MALFORMED_TOKEN";
  return new ProblemError({
    kind: "unauthorized",
    code: malformed ? "MALFORMED_TOKEN" : e.code,
    detail: malformed
      ? "the FunGame token is not a well-formed JWT"
      : `${field}: ${e.message.replace(/^jwt: /, "")}`,
    vendor: "fungame",
    field,
    headers: { "www-authenticate": 'Bearer realm="fungame", error="invalid_token"' },
  });
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
