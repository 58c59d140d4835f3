// One fan-out member delivered to its vendor through the gateway: shared by the synchronous fan-out,
// the Durable Object outbox and the in-memory outbox, so vendor logic lives only in VendorGateway.
import type { FetchLike } from "@x/core-signing";
import type { ProxyConfig } from "./config.ts";
import { buildProblem, toProblemInit } from "./problem.ts";
import type { FanOutInput } from "./schemas.ts";
import { RetryAfterGate, type UpstreamEnv } from "./upstream.ts";
import { type UpstreamFor, VendorGateway, type VendorName, type VendorSuccess } from "./vendors.ts";

/** Body members of the fan-out and the vendor each names. */
export const FAN_OUT_MEMBERS = [
  ["ebet", "ebet"],
  ["fungame", "fungame"],
  ["sdkAuth", "sdk-auth"],
  ["lancens", "lancens"],
] as const satisfies readonly (readonly [string, VendorName])[];

export type FanOutMember = (typeof FAN_OUT_MEMBERS)[number][0];

export function vendorOf(member: FanOutMember): VendorName {
  return (FAN_OUT_MEMBERS.find(([name]) => name === member) as (typeof FAN_OUT_MEMBERS)[number])[1];
}

/**
 * Calls the vendor of `member` with its part of the body; throws what the gateway throws.
 * `claimId` names the attempt for the FunGame deny-list (a job's retries share it).
 */
export function deliverMember(
  gateway: VendorGateway,
  member: FanOutMember,
  body: FanOutInput,
  upstream: UpstreamFor,
  claimId?: string,
  retry = false,
): Promise<VendorSuccess> {
  switch (member) {
    case "ebet":
      gateway.require("ebet");
      return gateway.ebetLogout(body.ebet as NonNullable<typeof body.ebet>, upstream, "ebet");
    case "fungame":
      gateway.require("fungame");
      return gateway.fungameLogout(
        (body.fungame as NonNullable<typeof body.fungame>).token,
        upstream,
        "fungame.token",
        claimId,
        retry,
      );
    case "sdkAuth":
      gateway.require("sdk-auth");
      return gateway.sdkAuthLogout(
        body.sdkAuth as NonNullable<typeof body.sdkAuth>,
        upstream,
        "sdkAuth",
      );
    case "lancens":
      gateway.require("lancens");
      return gateway.lancensLogout(
        body.lancens as NonNullable<typeof body.lancens>,
        upstream,
        "lancens",
      );
  }
}

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

/** A code the outbox keeps: a number, or a short identifier that quotes none of the body's secrets. */
function storedCode(code: string | number, secrets: readonly string[]): string | number {
  if (typeof code === "number") return code;
  const quotes = secrets.some((secret) => secret.length >= 4 && code.includes(secret));
  return /^[A-Za-z0-9_.-]{1,40}$/.test(code) && !quotes ? code : "VENDOR_ERROR";
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
  member: FanOutMember,
  body: FanOutInput,
  claimId: string,
  step?: AttemptStep,
) => Promise<AttemptOutcome>;

/** The secret values of a body: tokens and session tokens. */
export function secretsOf(body: FanOutInput): string[] {
  return [body.fungame?.token, body.sdkAuth?.sessionToken, body.lancens?.token].filter(
    (value): value is string => typeof value === "string",
  );
}

export interface AttemptDeps {
  config: ProxyConfig;
  fetch: FetchLike;
  denyList: ConstructorParameters<typeof VendorGateway>[1]["denyList"];
  now: () => number;
  random: () => number;
  log: (line: Record<string, unknown>) => void;
}

/**
 * An AttemptRunner over a gateway of its own: one upstream attempt per call (no inner retries: the
 * outbox retries on its own schedule), under the proxy's per-attempt timeout and deadline.
 */
export function attemptRunner(deps: AttemptDeps): AttemptRunner {
  const gate = new RetryAfterGate(deps.now);
  const fetchFor =
    (vendor: VendorName): FetchLike =>
    async (request) => {
      const response = await deps.fetch(request);
      gate.observe(vendor, response);
      return response;
    };
  const gateway = new VendorGateway(deps.config, {
    fetchFor,
    denyList: deps.denyList,
    now: deps.now,
    log: deps.log,
  });
  return async (member, body, claimId, step = "logout") => {
    const controller = new AbortController();
    const deadlineMs = deps.config.upstreamDeadlineMs;
    const timer = setTimeout(() => controller.abort(new Error("deadline")), deadlineMs);
    const upstream: UpstreamFor = (vendor): UpstreamEnv => ({
      fetch: fetchFor(vendor),
      gate,
      now: deps.now,
      random: deps.random,
      timeoutMs: deps.config.upstreamTimeoutMs,
      deadlineAt: deps.now() + deadlineMs,
      deadlineMs,
      signal: controller.signal,
      report: () => {},
      maxRetries: 0,
    });
    try {
      if (step === "record") {
        gateway.require("fungame");
        await gateway.fungameRecord(
          (body.fungame as NonNullable<typeof body.fungame>).token,
          "fungame.token",
        );
        return { ok: true, denyListed: true };
      }
      const success = await deliverMember(
        gateway,
        member,
        body,
        upstream,
        claimId,
        step === "retry",
      );
      const { alreadyLoggedOut } = success;
      if (member !== "fungame") return { ok: true, alreadyLoggedOut };
      const { denyListed } = success.result as { denyListed: boolean };
      return { ok: true, alreadyLoggedOut, denyListed };
    } catch (error) {
      const init = toProblemInit(error);
      const { document } = buildProblem(init, "");
      return {
        ok: false,
        error: {
          code: storedCode(document.code, secretsOf(body)),
          kind: document.kind,
          upstreamStatus: document.upstreamStatus,
          retryable: document.retryable,
        },
        retryAfterMs: gate.waitMs(vendorOf(member)),
      };
    } finally {
      clearTimeout(timer);
    }
  };
}
