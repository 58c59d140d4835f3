// eBET: logout and the login notification (callback, sent at most once), both behind the proxy's
// caller credentials, which must name the user the body names.
import { EbetClient } from "@x/ebet";
import * as v from "valibot";
import { parseWith, readJsonObject } from "../body.ts";
import { privateKey, wholeNumber } from "../config-schemas.ts";
import { headerValue, text } from "../http/fields.ts";
import { ProblemError } from "../problem.ts";
import { callbackKey, ebetRefused, once } from "../replay.ts";
import type { UpstreamEnv } from "../upstream.ts";
import { defineVendor, type LogoutCall, type VendorRuntime } from "./descriptor.ts";
import {
  BODY_PROBLEMS,
  baseUrl,
  DEFAULT_RETRY,
  logoutRoute,
  makeClient,
  notConfigured,
  run,
  success,
  successSchema,
  UPSTREAM_PROBLEMS,
  under,
} from "./shared.ts";

export type TimestampUnit = "s" | "ms";

export interface EbetConfig {
  baseUrl: string;
  channelId: number;
  /** The channel's RSA private key (PEM or base64 DER). A secret. */
  privateKey: string;
  timestampUnit: TimestampUnit;
}

export const EbetLogoutBody = v.strictObject({
  username: text(64),
});

export const EbetCallbackBody = v.strictObject({
  username: text(64),
  accessToken: headerValue(1024),
  subChannelId: v.optional(
    v.pipe(
      v.number(),
      v.integer("must be a whole number"),
      v.minValue(0, "must not be negative"),
      v.maxValue(Number.MAX_SAFE_INTEGER, "is too large"),
    ),
  ),
});

export type EbetLogoutInput = v.InferOutput<typeof EbetLogoutBody>;
export type EbetCallbackInput = v.InferOutput<typeof EbetCallbackBody>;

const REQUIRED = ["EBET_BASE_URL", "EBET_CHANNEL_ID", "EBET_PRIVATE_KEY"] as const;

/** The account the notification answers, for the OpenAPI document. */
function ebetAccountSchema() {
  return v.object({
    channelId: v.number(),
    subChannelId: v.number(),
    userId: v.number(),
    username: v.string(),
    wallet: v.array(v.object({ typeId: v.number(), money: v.number() })),
    money: v.number(),
    timestamp: v.pipe(v.number(), v.description("eBET's clock, seconds.")),
    apiVersion: v.optional(v.string()),
  });
}

export const ebet = defineVendor({
  name: "ebet",
  label: "eBET",
  member: "ebet",
  package: "@x/ebet",
  variables: {
    EBET_BASE_URL: {
      schema: baseUrl,
    },
    EBET_CHANNEL_ID: {
      schema: wholeNumber(1, Number.MAX_SAFE_INTEGER),
    },
    EBET_PRIVATE_KEY: {
      schema: privateKey,
      secret: true,
      raw: true,
    },
    EBET_TIMESTAMP_UNIT: {
      schema: v.picklist(
        ["s", "ms"],
        (issue) => `must be "s" or "ms", got ${JSON.stringify(issue.input)}`,
      ),
    },
  },
  configure(values, { has, report }): EbetConfig | undefined {
    if (!REQUIRED.some(has) && !has("EBET_TIMESTAMP_UNIT")) return undefined;
    for (const name of REQUIRED) {
      if (!has(name)) report(name, "is required when eBET is configured (another EBET_* is set)");
    }
    if (!has("PROXY_API_KEY_SHA256") && !has("PROXY_JWKS_URL") && !has("PROXY_JWT_SECRET")) {
      report(
        "PROXY_API_KEY_SHA256",
        "eBET routes need caller auth: set PROXY_API_KEY_SHA256, PROXY_JWKS_URL or PROXY_JWT_SECRET",
      );
    }
    if (
      values.EBET_BASE_URL === undefined ||
      values.EBET_CHANNEL_ID === undefined ||
      values.EBET_PRIVATE_KEY === undefined
    ) {
      return undefined;
    }
    return {
      baseUrl: values.EBET_BASE_URL as string,
      channelId: values.EBET_CHANNEL_ID as number,
      privateKey: values.EBET_PRIVATE_KEY as string,
      timestampUnit: (values.EBET_TIMESTAMP_UNIT as TimestampUnit | undefined) ?? "s",
    };
  },
  input: EbetLogoutBody,
  secrets: () => [],
  retry: DEFAULT_RETRY,
  caller: {
    authenticate: (c, ctx) => ctx.auth.authenticate(c.req.header("authorization"), "ebet"),
    authorize(ctx, principal, input, field) {
      ctx.auth.authorize(principal, input.username, field("username"), "ebet");
    },
  },
  create: createEbet,
  routes: [
    logoutRoute(
      "ebet",
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "ebetLogout",
            tag: "ebet",
            summary: "Make a player leave eBET's game",
            description:
              "Signs and sends eBET's logout (MD5withRSA). A username eBET does not know is a 404 problem (eBET 4037), never an already-done logout.",
            security: "caller",
            body: {
              schema: EbetLogoutBody,
              example: { username: "player01" },
              fields: { username: "Lower-case letters and digits." },
            },
            answers: {
              200: {
                description: "eBET logged the player out.",
                schema: successSchema(
                  "ebet",
                  v.object({ status: v.literal(200), apiVersion: v.optional(v.string()) }),
                ),
              },
            },
            problems: [...BODY_PROBLEMS, 401, 403, ...UPSTREAM_PROBLEMS],
          }
        : undefined,
    ),
    {
      method: "POST",
      path: "/v1/ebet/callback",
      doc:
        globalThis.__EDGE_PROXY_DOCS__ !== false
          ? {
              operationId: "ebetCallback",
              tag: "ebet",
              summary: "Tell eBET the channel has logged a player in; get the account",
              description:
                "Sent at most once: after a timeout, 5xx or broken answer it is not retried and stays refused (409) for 300 s, or the deadline + 30 s if later; that problem and the 409 carry Retry-After, the seconds left. Only an eBET refusal (e.g. 4026, 4038) frees it.",
              security: "caller",
              body: {
                schema: EbetCallbackBody,
                example: { username: "player01", accessToken: "584c26e798deffc96cc7af073c184cd0" },
                fields: {
                  accessToken: "The token the channel issued for the player.",
                  subChannelId: "Defaults to 0 at eBET.",
                },
              },
              answers: {
                200: {
                  description: "The player's eBET account and wallets.",
                  schema: successSchema("ebet", ebetAccountSchema()),
                },
              },
              problems: [...BODY_PROBLEMS, 401, 403, 409, ...UPSTREAM_PROBLEMS],
            }
          : undefined,
      async handle(c, ctx) {
        ctx.begin(c, "/v1/ebet/callback", ["ebet"]);
        if (!ctx.configured("ebet")) throw notConfigured("ebet");
        const principal = await ctx.auth.authenticate(c.req.header("authorization"), "ebet");
        const body = parseWith(EbetCallbackBody, await readJsonObject(c.req.raw));
        ctx.auth.authorize(principal, body.username, "username", "ebet");
        ctx.conceal(c, body.accessToken);
        const instance = ctx.vendor("ebet") as ReturnType<typeof createEbet>;
        // The same notification within eBET's window is refused here; eBET is called once. Its
        // key is held for the window, or past this request's deadline if later, and freed only
        // when no request left, or eBET's answer refused the notification.
        const key = await callbackKey(body);
        const upstream = ctx.upstreamFor(c)("ebet");
        let sent = false;
        const watched: UpstreamEnv = {
          ...upstream,
          fetch: (request) => {
            sent = true;
            return upstream.fetch(request);
          },
        };
        const refused = (error: unknown) =>
          !sent || (error instanceof ProblemError && ebetRefused(error.init.code));
        return c.json(
          await once(ctx.replay, key, () => instance.callback(body, watched), refused, upstream),
        );
      },
    },
  ],
});

/** eBET for one app: its client (the key imported on first use), logout and the notification. */
function createEbet(config: EbetConfig, runtime: VendorRuntime) {
  const client = makeClient(
    "ebet",
    () =>
      new EbetClient({
        baseUrl: config.baseUrl,
        channelId: config.channelId,
        privateKey: config.privateKey,
        timestampUnit: config.timestampUnit,
        fetch: runtime.fetch,
        now: runtime.now,
        maxBodyBytes: runtime.maxBodyBytes,
      }),
  );
  return {
    async logout(input: EbetLogoutInput, call: LogoutCall) {
      const result = await run("ebet", call.upstream, ["username"], call, (options) =>
        client.logout({ username: input.username }, options),
      );
      return success("ebet", result);
    },
    /**
     * The login notification, sent at most once: eBET may act on a request that timed out or
     * failed, so only an answer in which eBET refused it (e.g. 4038) is retried.
     */
    async callback(input: EbetCallbackInput, upstream: UpstreamEnv) {
      const account = await run(
        "ebet",
        { ...upstream, mayRetry: (error) => ebetRefused(error.code) },
        ["username", "accessToken", "subChannelId"],
        { field: under("") },
        (options) =>
          client.callback(
            {
              username: input.username,
              accessToken: input.accessToken,
              ...(input.subChannelId === undefined ? {} : { subChannelId: input.subChannelId }),
            },
            options,
          ),
      );
      return success("ebet", account);
    },
  };
}
