// FunGame: logout with the caller's own token, its deny-list protocol (claim, call, record) so that a
// revocation outlives FunGame's restarts, and token-status answered at the edge.
import { isVendorError } from "@x/core-signing";
import {
  FunGameClient,
  FunGameError,
  inspectToken,
  isFunGameError,
  type TokenClaims,
} from "@x/fungame";
import { verifyToken } from "@x/fungame/verify";
import * as v from "valibot";
import { bearerCredential } from "../auth.ts";
import { readNoBody } from "../body.ts";
import { booleanText, hs256Secret } from "../config-schemas.ts";
import { headerValue } from "../http/fields.ts";
import { type ClaimOutcome, MAX_JTI_LENGTH } from "../ports.ts";
import { errorName, ProblemError } from "../problem.ts";
import {
  defineVendor,
  type LogoutCall,
  type VendorRuntime,
  type VendorSuccess,
} from "./descriptor.ts";
import {
  BODY_PROBLEMS,
  baseUrl,
  DEFAULT_RETRY,
  makeClient,
  run,
  success,
  successSchema,
  UPSTREAM_PROBLEMS,
} from "./shared.ts";

export interface FunGameConfig {
  baseUrl: string;
  /** FunGame's `Jwt:Key`: when set, the proxy verifies tokens itself. A secret. */
  jwtSecret: string | undefined;
  /** Newer servers' logout 500 "退出登录失败！服务器可能暂时无法处理此请求。" counts as already logged out. */
  treat500AsLoggedOut: boolean;
}

export const FunGameMember = v.strictObject({
  token: headerValue(8192),
});

export type FunGameInput = v.InferOutput<typeof FunGameMember>;

/** What token-status answers. */
export interface TokenStatus {
  active: boolean;
  reason?: string;
}

/** FunGame tokens live 30 min, and its server accepts one up to 300 s past `exp` (VENDORS.md). */
export const FUNGAME_TOKEN_LIFETIME_SEC = 1_800;
export const FUNGAME_CLOCK_SKEW_SEC = 300;
/** A claim lasts its attempt's deadline and this much more, then lapses (an attempt that died). */
export const CLAIM_LEASE_MARGIN_MS = 5_000;

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

/** FunGame for one app: its client, and the deny-list protocol around each logout. */
function createFunGame(config: FunGameConfig, runtime: VendorRuntime) {
  const { denyList, now, log } = runtime;
  const client = makeClient(
    "fungame",
    () =>
      new FunGameClient({
        baseUrl: config.baseUrl,
        treat500AsLoggedOut: config.treat500AsLoggedOut,
        fetch: runtime.fetch,
        maxBodyBytes: runtime.maxBodyBytes,
      }),
  );

  /**
   * The token's claims: verified when FUNGAME_JWT_SECRET is set (with FunGame's own 300 s skew),
   * else only read. An `exp` beyond FunGame's token lifetime is refused: no such token exists.
   */
  async function readToken(token: string): Promise<TokenClaims> {
    const secret = config.jwtSecret;
    const claims =
      secret === undefined
        ? inspectToken(token)
        : await verifyToken(token, { secret, now, clockToleranceSec: FUNGAME_CLOCK_SKEW_SEC });
    const limit = FUNGAME_TOKEN_LIFETIME_SEC + FUNGAME_CLOCK_SKEW_SEC;
    if (claims.exp !== undefined && claims.exp > now() / 1000 + limit) {
      throw new FunGameError({
        code: "TOKEN_EXP_TOO_FAR",
        kind: "unauthorized",
        field: "jwt",
        message: `jwt: exp is more than ${limit} s ahead; FunGame tokens live ${FUNGAME_TOKEN_LIFETIME_SEC} s`,
      });
    }
    return claims;
  }

  /** Records a logout FunGame accepted; false (and logged) when the deny-list cannot be written. */
  async function record(jti: string, exp: number): Promise<boolean> {
    try {
      await denyList.add(jti, exp + FUNGAME_CLOCK_SKEW_SEC);
      return true;
    } catch (error) {
      log({
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
  async function claim(
    jti: string,
    claimId: string,
    leaseMs: number,
  ): Promise<ClaimOutcome | undefined> {
    if (denyList.claim === undefined) return undefined;
    try {
      return await denyList.claim(jti, claimId, leaseMs);
    } catch (error) {
      log({ event: "deny_list_claim_failed", vendor: "fungame", error: errorName(error) });
      throw denyListUnavailable();
    }
  }

  /** Drops this attempt's claim after a failed logout, so that the token is free again. */
  async function release(jti: string, claimId: string): Promise<void> {
    try {
      await denyList.release?.(jti, claimId);
    } catch (error) {
      // The claim lapses at the end of its lease.
      log({ event: "deny_list_release_failed", vendor: "fungame", error: errorName(error) });
    }
  }

  async function isRevoked(jti: string): Promise<boolean> {
    try {
      return await denyList.has(jti);
    } catch (error) {
      // FunGame still checks the token itself; an unreadable deny-list must not block logouts.
      log({ event: "deny_list_read_failed", vendor: "fungame", error: errorName(error) });
      return false;
    }
  }

  return {
    /**
     * Logs a FunGame token out. The token is claimed first (under the call's claim id: a retry of
     * the same job passes the same id), so one attempt at a time calls FunGame; another meets a
     * 409, and a claim that fails is a 503 (FunGame is not called). A token whose logout is
     * recorded is done already, without calling FunGame (FunGame forgets its own revocations on
     * restart). A logout FunGame accepted is recorded until `exp` plus its skew; `denyListed:
     * false` when that failed. On a retry after an unknown outcome, FunGame's refusal of the token
     * is the earlier attempt's success.
     */
    async logout(input: FunGameInput, call: LogoutCall): Promise<VendorSuccess> {
      const tokenField = call.field("token");
      const fields = ["bearerToken", "jwt"];
      const field = () => tokenField;
      let jti: string;
      let exp: number;
      try {
        ({ jti, exp } = listKey(await readToken(input.token)));
      } catch (error) {
        throw fungameTokenProblem(error, tokenField);
      }
      const env = call.upstream;
      const leaseMs = Math.ceil(Math.max(0, env.deadlineAt - env.now())) + CLAIM_LEASE_MARGIN_MS;
      const claimed = await claim(jti, call.claimId, leaseMs);
      if (claimed === "pending") {
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
      if (claimed === "revoked" || (claimed === undefined && (await isRevoked(jti)))) {
        return success("fungame", { denyListed: true }, true);
      }
      let result: Awaited<ReturnType<FunGameClient["logout"]>>;
      try {
        result = await run("fungame", env, fields, { field }, (options) =>
          client.logout(input.token, options),
        );
      } catch (error) {
        // FunGame refuses a token it revoked: after an attempt whose answer was lost, that
        // refusal is the earlier logout's success. Listing a token FunGame refuses costs nothing.
        // Past its exp and FunGame's skew FunGame refuses it as expired whatever happened before:
        // then the refusal proves no logout.
        const alive = now() < (exp + FUNGAME_CLOCK_SKEW_SEC) * 1000;
        if (
          call.retry &&
          alive &&
          error instanceof ProblemError &&
          error.init.kind === "unauthorized"
        ) {
          return success("fungame", { denyListed: await record(jti, exp) }, true);
        }
        if (claimed === "claimed") await release(jti, call.claimId);
        throw error;
      }
      // The logout itself happened: it is reported even when the edge could not list the token.
      const denyListed = await record(jti, exp);
      return success(
        "fungame",
        {
          message: result.message,
          requestType: result.requestType,
          ...(result.event === undefined ? {} : { event: result.event }),
          denyListed,
        },
        result.alreadyLoggedOut,
      );
    },

    /**
     * Records the logout of a token FunGame already accepted, without calling FunGame (it would
     * now refuse the token): the outbox's retry of a record that failed. A 503 when it fails again.
     */
    async record(input: FunGameInput, call: Pick<LogoutCall, "field">): Promise<void> {
      let key: { jti: string; exp: number };
      try {
        key = listKey(inspectToken(input.token));
      } catch (error) {
        throw fungameTokenProblem(error, call.field("token"));
      }
      if (!(await record(key.jti, key.exp))) throw denyListUnavailable();
    },

    /**
     * Whether a FunGame token is still usable, without calling FunGame: verified here when
     * FUNGAME_JWT_SECRET is set (else reason "unverified" on an active answer), then the
     * deny-list. A logout in flight is not a revocation: the token is active until FunGame
     * accepts it.
     */
    async tokenStatus(token: string): Promise<TokenStatus> {
      let claims: TokenClaims;
      try {
        claims = await readToken(token);
      } catch (error) {
        if (isFunGameError(error)) return { active: false, reason: tokenReason(error.code) };
        throw error;
      }
      const { jti, exp } = claims;
      if (jti !== undefined) {
        let revoked: boolean;
        try {
          revoked = await denyList.has(jti);
        } catch {
          throw denyListUnavailable();
        }
        if (revoked) return { active: false, reason: "revoked" };
      }
      if (config.jwtSecret !== undefined) return { active: true };
      if (exp !== undefined && (exp + FUNGAME_CLOCK_SKEW_SEC) * 1000 <= now()) {
        return { active: false, reason: "expired" };
      }
      return { active: true, reason: "unverified" };
    },
  };
}

/**
 * The FunGame token of the Authorization header, or a 401 problem; a 400 for control characters,
 * which the token would carry into FunGame's own Authorization header.
 */
function fungameToken(header: string | undefined): string {
  const token = bearerCredential(header);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (token !== undefined && /[\x00-\x1f\x7f]/.test(token)) {
    throw new ProblemError({
      kind: "invalid_request",
      code: "INVALID_HEADER",
      detail: "Authorization: control characters are refused",
      vendor: "fungame",
      field: "Authorization",
    });
  }
  if (token !== undefined) return token;
  const missing = header === undefined || header.trim() === "";
  throw new ProblemError({
    kind: "unauthorized",
    code: missing ? "MISSING_CREDENTIALS" : "INVALID_CREDENTIALS",
    detail: "this route needs Authorization: Bearer <FunGame token>",
    vendor: "fungame",
    field: "Authorization",
    headers: {
      "www-authenticate": missing
        ? 'Bearer realm="fungame"'
        : 'Bearer realm="fungame", error="invalid_request"',
    },
  });
}

type FunGameInstance = ReturnType<typeof createFunGame>;

const TOKEN_STATUS_REASONS = [
  "revoked",
  "expired",
  "invalid_signature",
  "algorithm_refused",
  "not_yet_valid",
  "wrong_issuer",
  "wrong_audience",
  "invalid_claims",
  "malformed",
  "invalid",
  "unverified",
] as const;

export const fungame = defineVendor({
  name: "fungame",
  label: "FunGame",
  member: "fungame",
  package: "@x/fungame",
  variables: {
    FUNGAME_BASE_URL: { schema: baseUrl },
    FUNGAME_JWT_SECRET: {
      schema: hs256Secret,
      secret: true,
    },
    FUNGAME_TREAT_500_AS_LOGGED_OUT: {
      schema: booleanText,
    },
  },
  configure(values, { has, report }): FunGameConfig | undefined {
    if (has("FUNGAME_JWT_SECRET") && !has("FUNGAME_BASE_URL")) {
      report("FUNGAME_BASE_URL", "is required when FUNGAME_JWT_SECRET is set");
    }
    if (values.FUNGAME_BASE_URL === undefined) return undefined;
    return {
      baseUrl: values.FUNGAME_BASE_URL as string,
      jwtSecret: values.FUNGAME_JWT_SECRET as string | undefined,
      treat500AsLoggedOut: values.FUNGAME_TREAT_500_AS_LOGGED_OUT === "true",
    };
  },
  input: FunGameMember,
  secrets: (input) => [input.token],
  records: true,
  retry: DEFAULT_RETRY,
  create: createFunGame,
  routes: [
    {
      method: "POST",
      path: "/v1/fungame/logout",
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "fungameLogout",
              tag: "fungame",
              summary: "Log a FunGame token out and deny-list it until it expires",
              description:
                "The token in Authorization is the credential. The token is claimed for this request first: another logout of it meanwhile is a 409 LOGOUT_IN_PROGRESS; a claim the deny-list cannot take is a 503 DENY_LIST_UNAVAILABLE, without calling FunGame. A token on the deny-list is done already (alreadyLoggedOut, result { denyListed: true }) without calling FunGame. After a logout FunGame accepted, the jti is kept until exp + 300 s. An exp over 2100 s ahead is a 401 TOKEN_EXP_TOO_FAR; a token without a jti of 1–256 characters or a whole-second exp a 401 TOKEN_CLAIM_INVALID.",
              security: "vendor-token",
              tokenFormat: "JWT",
              answers: {
                200: {
                  description: "FunGame logged the session out, or it was already gone.",
                  schema: successSchema(
                    "fungame",
                    v.object({
                      message: v.optional(v.string()),
                      requestType: v.optional(v.union([v.number(), v.string()])),
                      event: v.optional(v.string()),
                      denyListed: v.pipe(
                        v.boolean(),
                        v.description(
                          "Whether the token's jti is now on the edge deny-list. Only this member when the list had it already.",
                        ),
                      ),
                    }),
                  ),
                },
              },
              problems: [...BODY_PROBLEMS, 401, 409, ...UPSTREAM_PROBLEMS],
            }
          : undefined,
      async handle(c, ctx) {
        ctx.begin(c, "/v1/fungame/logout", ["fungame"]);
        const instance = ctx.vendor("fungame") as FunGameInstance;
        await readNoBody(c.req.raw);
        const token = fungameToken(c.req.header("authorization"));
        return c.json(
          await instance.logout(
            { token },
            ctx.logoutCall(c, "fungame", () => "Authorization", { token }),
          ),
        );
      },
    },
    {
      method: "GET",
      path: "/v1/fungame/token-status",
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "fungameTokenStatus",
              tag: "fungame",
              summary: "Whether a FunGame token is still usable",
              description:
                'Answered at the edge, without calling FunGame. With FUNGAME_JWT_SECRET the token is verified (300 s skew); without it an active answer says reason "unverified". A logout in flight is not "revoked".',
              security: "vendor-token",
              tokenFormat: "JWT",
              answers: {
                200: {
                  description: "The token's status.",
                  schema: v.object({
                    active: v.boolean(),
                    reason: v.optional(v.picklist(TOKEN_STATUS_REASONS)),
                  }),
                  example: { active: false, reason: "revoked" },
                },
              },
              problems: [400, 401, 404, 429, 503],
            }
          : undefined,
      async handle(c, ctx) {
        ctx.begin(c, "/v1/fungame/token-status", ["fungame"]);
        const instance = ctx.vendor("fungame") as FunGameInstance;
        const token = fungameToken(c.req.header("authorization"));
        return c.json(await instance.tokenStatus(token));
      },
    },
  ],
});
