// What a request carries through the app: its id, route, vendors, deadline and upstream reports; and
// what route handlers get from the app.
import type { Context, Hono } from "hono";
import type { CallerAuth } from "./auth.ts";
import type { LogoutOutbox, ReplayGuard } from "./ports.ts";
import type { UniversalLogout } from "./routes/universal-logout.ts";
import type { UpstreamEnv, UpstreamReport } from "./upstream.ts";
import type { AnyVendor, LogoutCall, VendorInstance } from "./vendors/descriptor.ts";

export interface RequestState {
  requestId: string;
  startedAt: number;
  /** The route pattern that answered, for the log line. */
  route: string | undefined;
  vendors: string[];
  upstream: UpstreamReport[];
  /** The request's secret values (tokens): codes that quote one are not logged. */
  secrets: string[];
  /** What a universal-logout trigger did, for the log line (never a token or a subject). */
  trigger?: Record<string, unknown>;
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

/** The request's view of upstream policy: a fresh UpstreamEnv per vendor call. */
export type UpstreamFor = (vendor: string) => UpstreamEnv;

/** What route handlers get from the app. */
export interface RouteContext {
  /** The app's vendors, in list order. */
  readonly vendors: readonly AnyVendor[];
  auth: CallerAuth;
  /** eBET login notifications seen within eBET's window. */
  replay: ReplayGuard;
  /** Where `Prefer: respond-async` logouts go; undefined when this entry answers them synchronously. */
  outbox: LogoutOutbox | undefined;
  /** The session registry and the trusted identity providers; undefined when universal logout is off. */
  universal: UniversalLogout | undefined;
  /** Whether any caller credential (API key, user token) is configured. */
  callerAuthConfigured: boolean;
  /** The caller's network address as this entry knows it (see AppDeps.clientAddress). */
  clientAddress(c: ProxyContext): string | undefined;
  /** Names the route and its vendors for the log line and for problems. */
  begin(c: ProxyContext, route: string, vendors: string[]): void;
  /** Upstream policy for this request (deadline, retries, reports). */
  upstreamFor(c: ProxyContext): UpstreamFor;
  /** The vendor built for this app; the 404 problem when it is off. */
  vendor(name: string): VendorInstance<unknown>;
  /** A vendor's descriptor, by name. */
  descriptor(name: string): AnyVendor;
  /** Whether a vendor is configured, by name. */
  configured(name: string): boolean;
  /** Serves public/ (written by `npm run build`); undefined when this entry has no static files. */
  assets: ((request: Request) => Promise<Response | undefined>) | undefined;
  /** The document to answer /openapi.json with instead of the static file; the Worker has none. */
  openApi: object | undefined;
  /**
   * One logout call of this request to `vendor` with `input`, its fields named by `field`; the
   * input's secrets (the descriptor's `secrets`) are kept out of the request's log line.
   */
  logoutCall(
    c: ProxyContext,
    vendor: string,
    field: (name: string) => string,
    input: unknown,
  ): LogoutCall;
  /** Keeps more of the request's secret values out of its log line. */
  conceal(c: ProxyContext, ...values: string[]): void;
}
