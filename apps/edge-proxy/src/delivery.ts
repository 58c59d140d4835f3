// One outbox attempt for one member of a job: the vendor's own logout (or its record step) under the
// proxy's per-attempt policy, and its outcome as the outbox keeps it, with no text from the vendor.
import { secretsOf } from "./gateway.ts";
import { buildProblem, redactCode, toProblemInit } from "./problem.ts";
import { callMetric, type ProxyRuntime } from "./runtime.ts";
import { under } from "./vendors/shared.ts";

/**
 * A failed attempt as the outbox keeps and shows it: our kind and the vendor's HTTP status, with
 * its code only in the form of a code. Never text from the vendor, which may quote a token.
 */
export interface DeliveryError {
  code: string | number;
  kind: string;
  upstreamStatus: number | null;
  retryable: boolean;
}

/**
 * What one outbox attempt does: log the member out, or, for FunGame, only record on the deny-list a
 * logout FunGame already accepted (FunGame would now refuse the token).
 */
/**
 * "logout" is a member's first attempt; "retry" a logout after an attempt whose outcome is unknown
 * (a lost answer, a timeout, a restart): FunGame may have revoked the token then, so its refusal of
 * the token now means the logout is done. "record" writes the deny-list only.
 */
export type AttemptStep = "logout" | "retry" | "record";

/** What one outbox attempt did. */
export type AttemptOutcome =
  | {
      ok: true;
      /** The vendor's answer; absent after a record step (the logout's answer stands). */
      alreadyLoggedOut?: boolean;
      /** FunGame only: whether the logout is on the deny-list. */
      denyListed?: boolean;
    }
  | {
      ok: false;
      error: DeliveryError;
      /** How long the vendor asked to be left alone (Retry-After), in ms; 0 when it did not. */
      retryAfterMs: number;
    };

/**
 * Runs one outbox attempt for a member: called by the in-memory and the Durable Object outboxes.
 * `claimId` is the same for every attempt of one job's member.
 */
export type AttemptRunner = (
  member: string,
  body: Readonly<Record<string, unknown>>,
  claimId: string,
  step?: AttemptStep,
) => Promise<AttemptOutcome>;

/**
 * An AttemptRunner over the runtime's vendors: one upstream attempt per call (no inner retries: the
 * outbox retries on its own schedule), under the proxy's per-attempt timeout and deadline.
 */
export function attemptRunner(runtime: ProxyRuntime): AttemptRunner {
  const { gateway, gate, config } = runtime;
  return async (member, body, claimId, step = "logout") => {
    const controller = new AbortController();
    const deadlineMs = config.upstreamDeadlineMs;
    const timer = setTimeout(() => controller.abort(new Error("deadline")), deadlineMs);
    const vendor = gateway.byMember(member);
    try {
      if (vendor === undefined) throw new Error(`no vendor has the member ${member}`);
      const input = Object.hasOwn(body, member) ? body[member] : undefined;
      const instance = gateway.instance(vendor.name);
      if (step === "record") {
        if (instance.record === undefined) throw new Error(`${vendor.name} keeps no record`);
        await instance.record(input, { field: under(member) });
        return { ok: true, denyListed: true };
      }
      const success = await instance.logout(input, {
        upstream: runtime.upstream(vendor.name, {
          at: runtime.now() + deadlineMs,
          signal: controller.signal,
          maxRetries: 0,
          report: (report) =>
            runtime.metric(() =>
              callMetric(report, "job", "/v1/logout", secretsOf(gateway.vendors, body)),
            ),
        }),
        field: under(member),
        claimId,
        retry: step === "retry",
      });
      const { alreadyLoggedOut } = success;
      if (instance.record === undefined) return { ok: true, alreadyLoggedOut };
      // Only a record the vendor reports written counts: anything else retries the record step.
      const { denyListed } = (success.result ?? {}) as { denyListed?: unknown };
      return { ok: true, alreadyLoggedOut, denyListed: denyListed === true };
    } catch (error) {
      const init = toProblemInit(error);
      const { document } = buildProblem(init, "");
      return {
        ok: false,
        error: {
          code: redactCode(document.code, secretsOf(gateway.vendors, body)),
          kind: document.kind,
          upstreamStatus: document.upstreamStatus,
          retryable: document.retryable,
        },
        retryAfterMs: vendor === undefined ? 0 : gate.waitMs(vendor.name),
      };
    } finally {
      clearTimeout(timer);
    }
  };
}
