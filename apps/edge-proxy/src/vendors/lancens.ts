// Lancens: clear both push tokens, then log out, reporting each step; retried only when the logout
// step itself failed retryably.
import { isLancensError, LancensClient, type LogoutFlowResult, type StepOutcome } from "@x/lancens";
import * as v from "valibot";
import { headerValue, text } from "../http/fields.ts";
import { ProblemError } from "../problem.ts";
import { callUpstream } from "../upstream.ts";
import { defineVendor } from "./descriptor.ts";
import {
  asProblem,
  BODY_PROBLEMS,
  baseUrl,
  DEFAULT_RETRY,
  logoutRoute,
  makeClient,
  success,
  successSchema,
  UPSTREAM_PROBLEMS,
} from "./shared.ts";

export const LancensBody = v.strictObject({
  username: text(256),
  token: headerValue(4096),
});

export type LancensInput = v.InferOutput<typeof LancensBody>;

/** Fields Lancens may name in its errors. */
const FIELDS = ["username", "token"] as const;

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

/** The three steps' outcomes, for the OpenAPI document. */
export function lancensStepsSchema() {
  const step = v.object({
    outcome: v.picklist(["cleared", "already_cleared", "failed"]),
    error: v.optional(
      v.object({
        code: v.union([v.string(), v.number()]),
        kind: v.string(),
        retryable: v.boolean(),
        upstreamStatus: v.nullable(v.number()),
        detail: v.string(),
      }),
    ),
  });
  return v.object({ ringPushToken: step, messagePushToken: step, session: step });
}

export const lancens = defineVendor({
  name: "lancens",
  label: "Lancens",
  member: "lancens",
  package: "@x/lancens",
  variables: {
    LANCENS_BASE_URL: {
      schema: baseUrl,
    },
  },
  configure: (values) =>
    values.LANCENS_BASE_URL === undefined
      ? undefined
      : { baseUrl: values.LANCENS_BASE_URL as string },
  input: LancensBody,
  secrets: (input) => [input.token],
  retry: DEFAULT_RETRY,
  create(config, runtime) {
    const client = makeClient(
      "lancens",
      () =>
        new LancensClient({
          baseUrl: config.baseUrl,
          fetch: runtime.fetch,
          maxBodyBytes: runtime.maxBodyBytes,
        }),
    );
    return {
      /**
       * The three Lancens steps. The flow is retried only when its logout step failed retryably; a
       * failed push-token step does not fail the logout (Lancens deletes push tokens at logout) but
       * is reported in its step.
       */
      async logout(input, call) {
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
            call.upstream,
          );
        } catch (error) {
          if (last === undefined || !isLancensError(last.session))
            throw asProblem(error, "lancens", FIELDS, call.field);
        }
        if (last === undefined) throw new Error("the Lancens flow produced no result");
        if (isLancensError(last.session)) {
          const problem = asProblem(last.session, "lancens", FIELDS, call.field) as ProblemError;
          throw new ProblemError({
            ...problem.init,
            extensions: { ...problem.init.extensions, steps: lancensSteps(last) },
          });
        }
        return success("lancens", lancensSteps(last), last.alreadyLoggedOut);
      },
    };
  },
  routes: [
    logoutRoute(
      "lancens",
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "lancensLogout",
            tag: "lancens",
            summary: "Clear both Lancens push tokens, then log out",
            description:
              "Three steps in order: ring push token, message push token, logout. A failed push-token step does not stop the logout (Lancens deletes push tokens at logout) and shows in its step. A failed logout step is a problem with the steps under `steps`.",
            security: "none",
            body: {
              schema: LancensBody,
              example: { username: "lancens-user", token: "e3b0c442" },
              fields: {
                username: "6 to 32 characters at Lancens.",
                token: "The Lancens login token.",
              },
            },
            answers: {
              200: {
                description: "The three step outcomes.",
                schema: successSchema("lancens", lancensStepsSchema()),
              },
            },
            problems: [...BODY_PROBLEMS, 401, ...UPSTREAM_PROBLEMS],
          }
        : undefined,
    ),
  ],
});
