// What a request carries through the app: its id, route, vendors, deadline and upstream reports.
import type { Context, Hono } from "hono";
import type { CallerAuth } from "./auth.ts";
import type { LogoutOutbox } from "./outbox.ts";
import type { ReplayGuard } from "./replay.ts";
import type { UpstreamReport } from "./upstream.ts";
import type { UpstreamFor, VendorGateway, VendorName } from "./vendors.ts";

export interface RequestState {
  requestId: string;
  startedAt: number;
  /** The route pattern that answered, for the log line. */
  route: string | undefined;
  vendors: VendorName[];
  upstream: UpstreamReport[];
  /** The problem's code and kind when the answer is an error. */
  problem: { code: string | number; kind: string } | undefined;
  /** Started on the first upstream call; aborted at the request's deadline. */
  deadline:
    | { controller: AbortController; timer: ReturnType<typeof setTimeout>; at: number }
    | undefined;
}

export interface ProxyEnv {
  Variables: { state: RequestState };
}

export type ProxyApp = Hono<ProxyEnv>;
export type ProxyContext = Context<ProxyEnv>;

/** What route modules get from the app. */
export interface RouteContext {
  gateway: VendorGateway;
  auth: CallerAuth;
  /** eBET login notifications seen within eBET's window. */
  replay: ReplayGuard;
  /** Where `Prefer: respond-async` logouts go; undefined when this entry answers them synchronously. */
  outbox: LogoutOutbox | undefined;
  /** Whether any caller credential (API key, user token) is configured. */
  callerAuthConfigured: boolean;
  /** The caller's network address as this entry knows it (see AppDeps.clientAddress). */
  clientAddress(c: ProxyContext): string | undefined;
  /** Names the route and its vendors for the log line and for problems. */
  begin(c: ProxyContext, route: string, vendors: VendorName[]): void;
  /** Upstream policy for this request (deadline, retries, reports). */
  upstreamFor(c: ProxyContext): UpstreamFor;
}
