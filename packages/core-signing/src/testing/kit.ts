// The proxy dev kit: the one shape every vendor's testing entry gives the proxy's scripts (start, bench, load).

/** One HTTP request as plain data: `path` (with its query) is relative to a base URL. */
export interface KitRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body as sent (JSON text), when there is one. */
  body?: string;
}

/** Options of `ProxyKit.start`. */
export interface KitStartOptions {
  /**
   * How many sessions the simulator is asked for at most at a time: a vendor whose accounts are
   * fixed when its simulator is made makes this many (a new login of an account ends its older
   * session). Default 64.
   */
  capacity?: number;
  /**
   * For benchmarks and load runs: lifts the simulator's per-user rate limits, which the same users
   * logged out again and again (`repeat`) would hit.
   */
  load?: boolean;
  /**
   * Size of the RSA key the kit makes for the proxy's side, for a vendor whose calls the proxy signs
   * with a key of its own (eBET's channel key). Default: the vendor's fixed test key.
   */
  signingKeyBits?: number;
}

/** Options of `KitSimulator.sessions`. */
export interface KitSessionOptions {
  /**
   * Sessions may be users logged out before, where the vendor answers such a logout as an ordinary
   * success (eBET: a small pool of players): for benchmarks that time the same call again and again.
   * Default false: every session is a user logged in now.
   */
  repeat?: boolean;
}

/**
 * The logout calls a simulator received since the last `reset`, by session. A logout is one call or
 * several (`steps`, in order); `sessions` says, per session key, how many times each step succeeded.
 */
export interface KitAudit {
  /** The calls one logout makes, in order, e.g. ["logout"]. */
  steps: string[];
  /** Session key (see `KitSimulator.key`) -> successful calls of each step, in `steps` order. */
  sessions: Record<string, number[]>;
  /** Calls of these steps received, successful or not, whoever they named. */
  calls: number;
  /**
   * Whether `sessions` counts every successful call. False when the vendor's log cannot tell a repeat
   * (its log names nobody, its revocations are a set): `sessions` then says 1 for each session logged
   * out at all, and only `calls` shows calls beyond one per logout.
   */
  exact: boolean;
}

/** A vendor simulator started by a kit, with what the proxy and its callers need to use it. */
export interface KitSimulator<Input, Simulator> {
  /** Answers as the vendor would: serve it on 127.0.0.1 (a server's `env` is passed on). */
  fetch(request: Request, env?: unknown): Promise<Response>;
  /** The simulator itself, for state checks and misbehaviour switches (may change on `reset`). */
  readonly simulator: Simulator;
  /** The proxy's environment variables for this vendor, pointed at the simulator served at `baseUrl`. Secrets included. */
  env(baseUrl: string): Record<string, string>;
  /** `count` logged-in sessions, each as the vendor's member of the proxy's fan-out body. */
  sessions(count: number, options?: KitSessionOptions): Promise<Input[]>;
  /** The name the audit gives a session (a username, a session token, a token's id). */
  key(session: Input): string;
  /**
   * For each session, the requests that log it out at the vendor without the proxy, already signed,
   * in the order the proxy sends them; paths relative to `baseUrl`, where the simulator is served.
   */
  direct(sessions: readonly Input[], baseUrl: string): Promise<KitRequest[][]>;
  /** The logout calls received since the last reset. */
  audit(): KitAudit;
  /**
   * Starts a new batch: the audit forgets earlier calls, and the simulator what it keeps of them (a
   * replay memory that every call scans). Sessions made before may no longer log out.
   */
  reset(): Promise<void>;
}

/** What an edge-side record of a logout (FunGame's deny-list in the proxy) looks like from outside. */
export interface KitRecordCheck<Input> {
  /** The request that asks the proxy about a session. */
  request(session: Input): KitRequest;
  /** Whether the proxy's answer says the session's logout is recorded. */
  recorded(status: number, body: string): boolean;
}

/**
 * A vendor's proxy dev kit, at `@x/<vendor>/testing` as `proxyKit`: a simulator with sessions, the
 * proxy's variables for it, the proxy's logout route and the direct calls for a session, and an audit.
 */
export interface ProxyKit<Input = unknown, Simulator = unknown> {
  /** Starts a simulator with keys and accounts of its own. */
  start(options?: KitStartOptions): Promise<KitSimulator<Input, Simulator>>;
  /**
   * The request to the proxy's own logout route for one session. `apiKey` is the proxy caller's
   * key, sent only where the route asks for one.
   */
  route(session: Input, apiKey: string): KitRequest;
  /** Whether an answer to a direct request is the vendor's success. */
  succeeded(status: number, body: string): boolean;
  /** Only vendors whose logout the proxy also records at the edge. */
  record?: KitRecordCheck<Input>;
}

/** A Request as a KitRequest relative to `baseUrl`; throws when it goes anywhere else. */
export async function kitRequestOf(request: Request, baseUrl: string): Promise<KitRequest> {
  const url = new URL(request.url);
  const base = new URL(baseUrl);
  if (url.origin !== base.origin)
    throw new Error(`a request to ${url.origin} is not on ${base.origin}`);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = request.body === null ? undefined : await request.text();
  return {
    method: request.method,
    path: `${url.pathname}${url.search}`,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

/** The capacity a kit is started with, checked: a whole number from 1 to 1,000,000. */
export function kitCapacity(options: KitStartOptions | undefined, fallback = 64): number {
  const capacity = options?.capacity ?? fallback;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1_000_000) {
    throw new RangeError("capacity must be a whole number from 1 to 1000000");
  }
  return capacity;
}

/** Checks a session count: a whole number from 0 to 1,000,000. */
export function kitCount(count: number): number {
  if (!Number.isInteger(count) || count < 0 || count > 1_000_000) {
    throw new RangeError("count must be a whole number from 0 to 1000000");
  }
  return count;
}

/** Counts one successful call of step `step` (of `steps` in all) for the session `key` in an audit's `sessions`. */
export function kitTally(
  sessions: Record<string, number[]>,
  key: string,
  step: number,
  steps: number,
): void {
  const counts = sessions[key] ?? Array.from({ length: steps }, () => 0);
  counts[step] = (counts[step] ?? 0) + 1;
  sessions[key] = counts;
}

/**
 * Sends `requests` to `fetch` in order, against `baseUrl`, and reads each answer: the direct
 * requests of a logout (`KitSimulator.direct`), sent as a script would send them.
 */
export async function sendKitRequests(
  fetch: (request: Request) => Response | Promise<Response>,
  requests: readonly KitRequest[],
  baseUrl: string,
): Promise<{ status: number; body: string }[]> {
  const answers: { status: number; body: string }[] = [];
  for (const step of requests) {
    const answer = await fetch(
      new Request(`${baseUrl}${step.path}`, {
        method: step.method,
        headers: step.headers,
        body: step.body ?? null,
      }),
    );
    answers.push({ status: answer.status, body: await answer.text() });
  }
  return answers;
}
