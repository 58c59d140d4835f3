// The four vendors behind one shape: clients made once per app, each call under policy, one success shape.
import { type FetchLike, isVendorError } from "@x/core-signing";
import { EbetClient } from "@x/ebet";
import {
  FunGameClient,
  type FunGameError,
  inspectToken,
  isFunGameError,
  type RevocationList,
  revokeToken,
} from "@x/fungame";
import { verifyToken } from "@x/fungame/verify";
import { isLancensError, LancensClient, type LogoutFlowResult, type StepOutcome } from "@x/lancens";
import { OneAccessClient } from "@x/sdk-auth";
import type { ProxyConfig } from "./config.ts";
import { fromVendorError, ProblemError } from "./problem.ts";
import type { EbetCallbackInput, EbetLogoutInput, LancensInput, SdkAuthInput } from "./schemas.ts";
import { type AttemptOptions, callUpstream, type UpstreamEnv } from "./upstream.ts";

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
  const mapped = error.field === undefined ? undefined : fields[error.field];
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

const TOKEN_REASONS: Readonly<Record<string, string>> = {
  TOKEN_EXPIRED: "expired",
  TOKEN_BAD_SIGNATURE: "invalid_signature",
  TOKEN_ALGORITHM_REFUSED: "algorithm_refused",
  TOKEN_NOT_YET_VALID: "not_yet_valid",
  TOKEN_WRONG_ISSUER: "wrong_issuer",
  TOKEN_WRONG_AUDIENCE: "wrong_audience",
  TOKEN_CLAIM_INVALID: "invalid_claims",
  MALFORMED_TOKEN: "malformed",
  INVALID_INPUT: "malformed",
};

/**
 * A deny-list that can also check and list a token in one step. Where a list offers it (the Durable
 * Object on Workers), a FunGame logout costs one deny-list round trip instead of two: the token is
 * claimed before FunGame is called and released again if the logout fails.
 */
export interface ClaimingDenyList extends RevocationList {
  /** Lists `jti` until `expiresAt` unless already listed; true when this call listed it. */
  claim(jti: string, expiresAt: number): Promise<boolean>;
  /** Takes `jti` off the list again. */
  release(jti: string): Promise<void>;
}

/** The FunGame deny-list: any RevocationList, claiming or not. */
export type DenyList = RevocationList & Partial<Pick<ClaimingDenyList, "claim" | "release">>;

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

  async ebetCallback(input: EbetCallbackInput, upstream: UpstreamFor): Promise<VendorSuccess> {
    const client = this.#ebetClient();
    const account = await this.#run(
      "ebet",
      upstream,
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
   * Logs a FunGame token out. With FUNGAME_JWT_SECRET the token is verified here first; a token on
   * the deny-list is refused without calling FunGame (FunGame forgets its own revocations on
   * restart). After a logout, done now or already done, the token's jti is listed until its exp.
   */
  async fungameLogout(
    token: string,
    upstream: UpstreamFor,
    tokenField: string,
  ): Promise<VendorSuccess> {
    const client = this.#fungameClient();
    const fields: FieldMap = { bearerToken: tokenField, jwt: tokenField };
    const secret = this.#config.fungame?.jwtSecret;
    let jti: string | undefined;
    let exp: number | undefined;
    try {
      const claims =
        secret === undefined
          ? inspectToken(token)
          : await verifyToken(token, { secret, now: this.#deps.now });
      jti = claims.jti;
      exp = claims.exp;
    } catch (error) {
      throw fungameTokenProblem(error, tokenField);
    }
    // "claimed": listed by this request, before the call; "listed": already on the list.
    const claim = await this.#claim(jti, exp);
    if (
      claim === "listed" ||
      (claim === undefined && jti !== undefined && (await this.#isRevoked(jti)))
    ) {
      throw new ProblemError({
        kind: "unauthorized",
        code: "TOKEN_REVOKED",
        detail: "this FunGame token was already logged out",
        vendor: "fungame",
        field: tokenField,
        headers: { "www-authenticate": 'Bearer realm="fungame", error="invalid_token"' },
      });
    }
    let result: Awaited<ReturnType<FunGameClient["logout"]>>;
    try {
      result = await this.#run("fungame", upstream, fields, ({ fetch, signal, timeoutMs }) =>
        client.logout(token, { fetch, signal, timeoutMs }),
      );
    } catch (error) {
      if (claim === "claimed" && jti !== undefined) await this.#release(jti);
      throw error;
    }
    let denyListed = claim === "claimed";
    if (!denyListed) {
      try {
        await revokeToken(this.#deps.denyList, token);
        denyListed = true;
      } catch (error) {
        // The logout itself happened: report it, and say the edge could not list the token.
        this.#deps.log({
          event: "deny_list_write_failed",
          vendor: "fungame",
          error: isVendorError(error) ? error.code : errorName(error),
        });
      }
    }
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
   * Claims the token on a deny-list that can: "claimed" or "listed"; undefined when the list cannot
   * claim, the token has no jti or exp, or the list fails (then the has/add path runs instead).
   */
  async #claim(
    jti: string | undefined,
    exp: number | undefined,
  ): Promise<"claimed" | "listed" | undefined> {
    const list = this.#deps.denyList;
    if (list.claim === undefined || jti === undefined || exp === undefined) return undefined;
    try {
      return (await list.claim(jti, exp)) ? "claimed" : "listed";
    } catch (error) {
      this.#deps.log({
        event: "deny_list_claim_failed",
        vendor: "fungame",
        error: errorName(error),
      });
      return undefined;
    }
  }

  /** Undoes a claim after a failed logout, so that the caller can try again. */
  async #release(jti: string): Promise<void> {
    try {
      await this.#deps.denyList.release?.(jti);
    } catch (error) {
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
   */
  async fungameTokenStatus(token: string): Promise<TokenStatus> {
    this.#fungameClient();
    const secret = this.#config.fungame?.jwtSecret;
    let jti: string | undefined;
    let exp: number | undefined;
    try {
      const claims =
        secret === undefined
          ? inspectToken(token)
          : await verifyToken(token, { secret, now: this.#deps.now });
      jti = claims.jti;
      exp = claims.exp;
    } catch (error) {
      if (isFunGameError(error)) {
        return { active: false, reason: TOKEN_REASONS[String(error.code)] ?? "invalid" };
      }
      throw error;
    }
    if (jti !== undefined) {
      let revoked: boolean;
      try {
        revoked = await this.#deps.denyList.has(jti);
      } catch {
        throw new ProblemError({
          kind: "unavailable",
          code: "DENY_LIST_UNAVAILABLE",
          detail: "the FunGame deny-list could not be read",
          vendor: "fungame",
        });
      }
      if (revoked) return { active: false, reason: "revoked" };
    }
    if (secret !== undefined) return { active: true };
    if (exp !== undefined && exp * 1000 <= this.#deps.now()) {
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
      : `the FunGame token was refused: ${e.message}`,
    vendor: "fungame",
    field,
    headers: { "www-authenticate": 'Bearer realm="fungame", error="invalid_token"' },
  });
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
