// The shape every vendor module exports: what the gateway, configuration, fan-out, outbox delivery,
// redaction, routes and the generated OpenAPI document need to know of one vendor, in one place.
import type { FetchLike, VendorError } from "@x/core-signing";
import type * as v from "valibot";
import type { Principal } from "../auth.ts";
import type { ProxyContext, RouteContext } from "../context.ts";
import type { RouteDecl } from "../http/route.ts";
import type { DenyList } from "../ports.ts";
import type { UpstreamEnv } from "../upstream.ts";

/** Every successful vendor call answers this. */
export interface VendorSuccess {
  vendor: string;
  ok: true;
  alreadyLoggedOut: boolean;
  result: unknown;
}

/** How the proxy retries one vendor's call within one request (the outbox retries on its own schedule). */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Backoff before retry n (0-based) is random() * min(maxBackoffMs, baseBackoffMs * 2^n). */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Which retryable failures may be retried; all when absent. */
  mayRetry?: (error: VendorError) => boolean;
}

/** One environment variable of a vendor. */
export interface VariableSpec {
  /** Validates the variable's (trimmed, non-empty) string and gives its value. */
  schema: v.GenericSchema<string, unknown>;
  /** Its value is never repeated in a message, a log line or a problem. */
  secret?: boolean;
  /** Kept as given, not trimmed (a PEM key's own line breaks). */
  raw?: boolean;
}

/** What a vendor's `configure` sees: its own variables' values, and the rest by name. */
export interface ConfigureContext {
  /** Whether a variable (any of the proxy's) is set. */
  has(name: string): boolean;
  /** Reports a variable at fault; loadConfig throws with every report. */
  report(name: string, message: string): void;
}

/** What a vendor instance is built with, once per app (or per outbox object). */
export interface VendorRuntime {
  /** Fetch for this vendor: observed by the Retry-After gate. */
  fetch: FetchLike;
  /** The FunGame deny-list (or any vendor's own edge-side record). */
  denyList: DenyList;
  now: () => number;
  log: (line: Record<string, unknown>) => void;
  /** The proxy's per-attempt timeout, for clients that take one at construction. */
  timeoutMs: number;
  /** The most the proxy reads of a vendor's answer, in bytes. */
  maxBodyBytes: number;
}

/**
 * One logout call: the request's upstream policy, where the input's fields sit in the caller's
 * request (for problems), and the attempt's identity when the outbox makes it.
 */
export interface LogoutCall {
  upstream: UpstreamEnv;
  /** A field of the vendor's input -> its name in the request, e.g. "username" -> "ebet.username". */
  field(name: string): string;
  /** Names the attempt for the vendor's edge-side claims (an outbox job's retries share it). */
  claimId: string;
  /** A retry after an attempt whose outcome is unknown (lost answer, timeout, restart). */
  retry: boolean;
}

/** A vendor as one app uses it: its client built once, its calls under the app's policy. */
export interface VendorInstance<Input> {
  logout(input: Input, call: LogoutCall): Promise<VendorSuccess>;
  /**
   * Only vendors whose logout is followed by an edge-side record (FunGame's deny-list): writes the
   * record of a logout the vendor already accepted, without calling the vendor; throws a retryable
   * problem when it cannot. Their logout's `result.denyListed` says whether the record was written.
   */
  record?(input: Input, call: Pick<LogoutCall, "field">): Promise<void>;
}

export interface VendorDescriptor<Config = unknown, Input = unknown> {
  /** The vendor's name in routes, logs, problems and jobs: "sdk-auth". */
  readonly name: string;
  /** Its name for people: "Huawei Cloud OneAccess". */
  readonly label: string;
  /** Its member in the fan-out body and in job records: "sdkAuth". */
  readonly member: string;
  /** The npm package of its client (its simulator and dev kit at `<package>/testing`). */
  readonly package: string;
  /** Its environment variables, by name. */
  readonly variables: Readonly<Record<string, VariableSpec>>;
  /**
   * Its configuration from its variables' validated values (only those set), or undefined when it
   * is off; a vendor with some of its variables set must report each one it lacks.
   */
  configure(
    values: Readonly<Record<string, unknown>>,
    context: ConfigureContext,
  ): Config | undefined;
  /** Its member of the fan-out body, and its own logout route's body. */
  readonly input: v.GenericSchema<unknown, Input>;
  /** The input's secret values (tokens), kept out of logs and job records. */
  secrets(input: Input): string[];
  /**
   * Its logout is followed by an edge-side record (FunGame's deny-list): its instance has `record`,
   * its logout's `result.denyListed` says whether the record was written, and its job member
   * shows `denyListed`.
   */
  readonly records?: boolean;
  /** Retries within one request. */
  readonly retry: RetryPolicy;
  /** Builds the vendor for one app: its client is made here, once. */
  create(config: Config, runtime: VendorRuntime): VendorInstance<Input>;
  /**
   * The proxy's own caller check, for a vendor whose input is not itself the caller's credential
   * (eBET): `authenticate` runs before the body is read (so an unauthenticated caller learns
   * nothing of it), `authorize` once it is, before the vendor (in a fan-out: any vendor) is called.
   */
  caller?: {
    authenticate(c: ProxyContext, ctx: RouteContext): Promise<Principal>;
    authorize(
      ctx: RouteContext,
      principal: Principal,
      input: Input,
      field: (name: string) => string,
    ): void;
  };
  /** Its own routes. */
  readonly routes: readonly RouteDecl[];
}

/** A descriptor of any configuration and input, as lists hold them. */
// biome-ignore lint/suspicious/noExplicitAny: a list holds descriptors of different types
export type AnyVendor = VendorDescriptor<any, any>;

/** Declares a vendor, with its types checked. */
export function defineVendor<Config, Input>(
  descriptor: VendorDescriptor<Config, Input>,
): VendorDescriptor<Config, Input> {
  return descriptor;
}

/** A fan-out body (and an asynchronous job's input): each named vendor's member, by member name. */
export type FanOutInput = Readonly<Record<string, unknown>>;
