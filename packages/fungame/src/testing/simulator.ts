// The FunGame WebAPI simulator: login, logout and refresh as the real server answers them, in memory.
import { type Clock, systemClock } from "@x/core-signing";
import { FaultSwitch } from "@x/core-signing/testing";
import { Hono } from "hono";
import { jwtVerify, SignJWT } from "jose";
import { invalidInput } from "../errors.ts";
import {
  LOGIN_FAILURE_MESSAGE,
  LOGIN_SUCCESS_MESSAGE,
  LOGOUT_SUCCESS_MESSAGE,
  REQUEST_TYPE_LOGIN,
  REQUEST_TYPE_LOGOUT,
  SERVER_FAILURE_MESSAGE,
  SESSION_GONE_MESSAGE,
} from "../payload.ts";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "../token.ts";

/** How the server names PayloadModel members: ASP.NET's default camelCase, or PascalCase as documented. */
export type PayloadCasing = "camel" | "pascal";

/** Options of createFunGameSimulator; every one has a default. */
export interface FunGameSimulatorOptions {
  /** The server's `Jwt:Key`, used as UTF-8 bytes; at least 32 bytes, as HS256 demands there. */
  jwtKey?: string;
  /** `Jwt:Issuer`; defaults to "FunGame". */
  issuer?: string;
  /** `Jwt:Audience`; defaults to "FunGame Web API". */
  audience?: string;
  /** Wire casing of PayloadModel members; defaults to "camel". Keys inside `Data` keep their own. */
  casing?: PayloadCasing;
  /**
   * How a logout whose session is gone is answered: 400 "退出登录失败！" (the documented, older
   * server; the default) or 500 "退出登录失败！服务器可能暂时无法处理此请求。" with an `Event`
   * member (newer servers).
   */
  logoutFailureStatus?: 400 | 500;
  /** Accounts, username -> password; defaults to alice / "alice-password" and bob / "bob-password". */
  users?: Record<string, string>;
  /** Token lifetime in seconds; defaults to 1800 (30 minutes). */
  tokenLifetimeSec?: number;
  /** Leeway on `exp` when validating, in seconds; defaults to 300, ASP.NET's default clock skew. */
  clockSkewSec?: number;
  /** Clock in milliseconds since the epoch; defaults to Date.now. */
  now?: Clock;
  /** Makes `jti` and open-token GUIDs; defaults to crypto.randomUUID. */
  randomUUID?: () => string;
}

/** One request the simulator answered; tokens are never logged. */
export interface SimulatorCall {
  method: string;
  path: string;
  status: number;
  /** The simulator's clock when the answer was made, ms. */
  at: number;
}

/** What the simulator holds now. */
export interface FunGameSimulatorState {
  /** Usernames with a live session (FunGame's in-memory user list). */
  sessions: string[];
  /** `jti` of every token revoked since the last restart (FunGame's in-memory revocation cache). */
  revokedJtis: string[];
  /** Tokens issued by login and refresh since creation. */
  issuedTokens: number;
  /** How many times restart() was called. */
  restarts: number;
}

/** A running simulator. */
export interface FunGameSimulator {
  /**
   * Answers a Request as the FunGame server would; pass it as a client's `fetch`. Rejects with a
   * TypeError when the `reset` fault drops the connection. `env` is the server's, when served over
   * HTTP (`@hono/node-server` passes `{ incoming, outgoing }`).
   */
  readonly fetch: (request: Request, env?: unknown) => Promise<Response>;
  /** The Hono app inside, to mount or serve (`Bun.serve(sim.app)`, `Deno.serve(sim.app.fetch)`). */
  readonly app: Hono;
  /**
   * Misbehaviour switches: slow, gateway status, non-JSON, truncated JSON, wrong content type,
   * dropped connection, a body over 10 MB.
   */
  readonly faults: FaultSwitch;
  /** Every request answered, oldest first. */
  readonly calls: readonly SimulatorCall[];
  /** The settings in force, defaults filled in. */
  readonly options: Readonly<Required<Omit<FunGameSimulatorOptions, "now" | "randomUUID">>>;
  state(): FunGameSimulatorState;
  /** Whether a token with this `jti` is revoked in the server's memory. */
  isRevoked(jti: string): boolean;
  /**
   * A server restart: sessions and revocations are lost, as both live in process memory; accounts,
   * key and settings remain. Revoked tokens that have not expired are accepted again afterwards.
   */
  restart(): void;
  /** Ends a user's session server-side (a kick, a dropped connection); true if there was one. */
  endSession(username: string): boolean;
  /**
   * A server fault: the next `times` logouts (default 1) with a valid token fail as FunGame's
   * logout action fails, with the same answer as a missing session (400 "退出登录失败！", or the
   * newer 500 under `logoutFailureStatus: 500`), and change nothing: the session stays open and
   * the token valid. A token refused with 401 does not use one up.
   */
  failLogouts(times?: number): void;
  /** Ends `failLogouts` early: logouts behave again. */
  clearLogoutFailures(): void;
  /** Logs in through the HTTP API and resolves to the bearer token. */
  login(username?: string, password?: string): Promise<string>;
}

export const DEFAULT_SIMULATOR_JWT_KEY = "fungame-simulator-jwt-key-0123456789abcdef";
export const DEFAULT_SIMULATOR_USERS: Readonly<Record<string, string>> = Object.freeze({
  alice: "alice-password",
  bob: "bob-password",
});

interface Revocation {
  jti: string;
}

/** Creates an in-memory FunGame WebAPI server: `POST /user/login`, `/user/logout`, `/user/refresh`. */
export function createFunGameSimulator(options: FunGameSimulatorOptions = {}): FunGameSimulator {
  const settings = checkOptions(options);
  const now = options.now ?? systemClock;
  const randomUUID = options.randomUUID ?? (() => crypto.randomUUID());
  const key = new TextEncoder().encode(settings.jwtKey);
  const faults = new FaultSwitch();
  const calls: SimulatorCall[] = [];
  const sessions = new Set<string>();
  /** Revoked token strings, as FunGame keys its cache by the whole token. */
  const revoked = new Map<string, Revocation>();
  let issuedTokens = 0;
  let restarts = 0;
  let logoutFailures = 0;
  /** Accounts by username: a Map, so that a name such as "constructor" finds no inherited member. */
  const passwords = new Map(Object.entries(settings.users));

  const payload = (fields: Record<string, unknown>): Record<string, unknown> => {
    if (settings.casing === "pascal") return fields;
    return Object.fromEntries(
      Object.entries(fields).map(([name, value]) => [
        name[0]?.toLowerCase() + name.slice(1),
        value,
      ]),
    );
  };
  const newer = settings.logoutFailureStatus === 500;
  const payloadResponse = (
    status: number,
    requestType: number,
    message: string,
    data: Record<string, unknown>,
    event: string,
  ): Response => {
    const fields: Record<string, unknown> = {
      RequestType: requestType,
      StatusCode: status,
      Message: message,
      Timestamp: formatTimestamp(now()),
      Data: data,
    };
    if (newer) fields.Event = event;
    return new Response(JSON.stringify(payload(fields), null, 2), {
      status,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  };

  const issueToken = async (username: string): Promise<string> => {
    const exp = Math.floor(now() / 1000) + settings.tokenLifetimeSec;
    issuedTokens++;
    return new SignJWT({ sub: username, jti: randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setExpirationTime(exp)
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .sign(key);
  };

  /** The bearer token's subject and jti, or undefined: missing, unsigned, expired, revoked... */
  const authenticate = async (
    request: Request,
  ): Promise<{ token: string; sub: string; jti: string } | Response> => {
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.*)$/is.exec(header);
    const token = match?.[1]?.trim() ?? "";
    if (token === "") return unauthorized(false);
    if (revoked.has(token)) return unauthorized(false);
    try {
      const { payload: claims } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        issuer: settings.issuer,
        audience: settings.audience,
        currentDate: new Date(now()),
        clockTolerance: settings.clockSkewSec,
        requiredClaims: ["exp"],
      });
      return {
        token,
        sub: typeof claims.sub === "string" ? claims.sub : "",
        jti: typeof claims.jti === "string" ? claims.jti : "",
      };
    } catch {
      return unauthorized(true);
    }
  };

  const revoke = (token: string, jti: string) => {
    revoked.set(token, { jti });
  };

  const app = new Hono();

  // Faults first, so that the app served on its own misbehaves as its fetch does.
  app.use("*", async (c, next) => {
    const faulty = await faults.intercept(c.req.raw.signal, c.env);
    if (faulty) return faulty;
    await next();
    c.res = faults.decorate(c.res);
  });

  app.post("/user/login", async (c) => {
    const body = await readJsonObject(c.req.raw);
    const username = body && field(body, "username");
    const password = body && field(body, "password");
    if (typeof username !== "string" || typeof password !== "string") {
      return validationProblem(body === undefined ? "$" : "Username");
    }
    if (passwords.get(username) !== password) {
      return payloadResponse(401, REQUEST_TYPE_LOGIN, LOGIN_FAILURE_MESSAGE, {}, "user_login");
    }
    // A new login replaces the user's session; older tokens stay valid until they expire.
    sessions.add(username);
    const bearerToken = await issueToken(username);
    return payloadResponse(
      200,
      REQUEST_TYPE_LOGIN,
      LOGIN_SUCCESS_MESSAGE,
      { bearerToken, openToken: randomUUID() },
      "user_login",
    );
  });

  app.post("/user/logout", async (c) => {
    const auth = await authenticate(c.req.raw);
    if (auth instanceof Response) return auth;
    if (logoutFailures > 0) {
      // The action failed on the server: nothing changed, and the answer is the session-gone one.
      logoutFailures--;
      return payloadResponse(
        settings.logoutFailureStatus,
        REQUEST_TYPE_LOGOUT,
        newer ? SERVER_FAILURE_MESSAGE : SESSION_GONE_MESSAGE,
        {},
        "user_logout",
      );
    }
    if (sessions.delete(auth.sub)) {
      revoke(auth.token, auth.jti);
      return payloadResponse(
        200,
        REQUEST_TYPE_LOGOUT,
        `${LOGOUT_SUCCESS_MESSAGE} `,
        {},
        "user_logout",
      );
    }
    return payloadResponse(
      settings.logoutFailureStatus,
      REQUEST_TYPE_LOGOUT,
      newer ? SERVER_FAILURE_MESSAGE : SESSION_GONE_MESSAGE,
      {},
      "user_logout",
    );
  });

  app.post("/user/refresh", async (c) => {
    const auth = await authenticate(c.req.raw);
    if (auth instanceof Response) return auth;
    revoke(auth.token, auth.jti);
    if (auth.sub.trim() === "") return new Response(null, { status: 500 });
    const token = await issueToken(auth.sub);
    // ASP.NET writes a bare string as text unless the caller asks for JSON.
    if ((c.req.header("accept") ?? "").includes("application/json")) {
      return new Response(JSON.stringify(token), {
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    }
    return new Response(token, { headers: { "content-type": "text/plain; charset=utf-8" } });
  });

  for (const path of ["/user/login", "/user/logout", "/user/refresh"]) {
    app.all(path, () => new Response(null, { status: 405, headers: { allow: "POST" } }));
  }
  app.notFound(() => new Response(null, { status: 404 }));
  app.onError((error, c) => {
    // A caller that gave up while the answer was held back: fail as an aborted fetch does.
    if (c.req.raw.signal.aborted) throw error;
    return new Response(null, { status: 500 });
  });

  const fetch = async (request: Request, env?: unknown): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const response = await app.fetch(request, env);
    calls.push({ method: request.method, path, status: response.status, at: now() });
    return faults.settle(response);
  };

  const simulator: FunGameSimulator = {
    fetch,
    app,
    faults,
    calls,
    options: Object.freeze({ ...settings, users: Object.freeze({ ...settings.users }) }),
    state: () => ({
      sessions: [...sessions],
      revokedJtis: [...revoked.values()].map((entry) => entry.jti),
      issuedTokens,
      restarts,
    }),
    isRevoked: (jti) => [...revoked.values()].some((entry) => entry.jti === jti),
    restart: () => {
      sessions.clear();
      revoked.clear();
      restarts++;
    },
    endSession: (username) => sessions.delete(username),
    failLogouts: (times = 1) => {
      if (!Number.isInteger(times) || times < 1) {
        throw invalidInput("times", "must be a whole number of logouts, at least 1");
      }
      logoutFailures = times;
    },
    clearLogoutFailures: () => {
      logoutFailures = 0;
    },
    login: async (username = passwords.keys().next().value ?? "", password) => {
      const secret = password ?? passwords.get(username) ?? "";
      const response = await fetch(
        new Request("http://fungame.simulator/user/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ Username: username, Password: secret }),
        }),
      );
      const body = (await response.json().catch(() => undefined)) as
        | Record<string, unknown>
        | undefined;
      const data = body && (field(body, "data") as Record<string, unknown> | undefined);
      const token = data?.bearerToken;
      if (response.status !== 200 || typeof token !== "string") {
        throw new Error(
          `simulator login of ${JSON.stringify(username)} failed: HTTP ${response.status}`,
        );
      }
      return token;
    },
  };
  return simulator;
}

function checkOptions(
  options: FunGameSimulatorOptions,
): Required<Omit<FunGameSimulatorOptions, "now" | "randomUUID">> {
  const jwtKey = options.jwtKey ?? DEFAULT_SIMULATOR_JWT_KEY;
  if (typeof jwtKey !== "string" || new TextEncoder().encode(jwtKey).length < 32) {
    throw invalidInput("jwtKey", "must be a string of at least 32 UTF-8 bytes, as HS256 requires");
  }
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  if (typeof issuer !== "string" || issuer === "")
    throw invalidInput("issuer", "must be a non-empty string");
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  if (typeof audience !== "string" || audience === "") {
    throw invalidInput("audience", "must be a non-empty string");
  }
  const casing = options.casing ?? "camel";
  if (casing !== "camel" && casing !== "pascal")
    throw invalidInput("casing", 'must be "camel" or "pascal"');
  const logoutFailureStatus = options.logoutFailureStatus ?? 400;
  if (logoutFailureStatus !== 400 && logoutFailureStatus !== 500) {
    throw invalidInput("logoutFailureStatus", "must be 400 or 500");
  }
  const users = options.users ?? DEFAULT_SIMULATOR_USERS;
  if (typeof users !== "object" || users === null)
    throw invalidInput("users", "must map usernames to passwords");
  for (const [name, password] of Object.entries(users)) {
    if (name === "" || typeof password !== "string") {
      throw invalidInput("users", "must map non-empty usernames to password strings");
    }
  }
  const tokenLifetimeSec = options.tokenLifetimeSec ?? 1800;
  if (!Number.isInteger(tokenLifetimeSec) || tokenLifetimeSec < 1) {
    throw invalidInput("tokenLifetimeSec", "must be a whole number of seconds, at least 1");
  }
  const clockSkewSec = options.clockSkewSec ?? 300;
  if (!Number.isInteger(clockSkewSec) || clockSkewSec < 0) {
    throw invalidInput("clockSkewSec", "must be a whole number of seconds, at least 0");
  }
  if (options.now !== undefined && typeof options.now !== "function") {
    throw invalidInput("now", "must be a function returning ms");
  }
  if (options.randomUUID !== undefined && typeof options.randomUUID !== "function") {
    throw invalidInput("randomUUID", "must be a function returning a GUID string");
  }
  return {
    jwtKey,
    issuer,
    audience,
    casing,
    logoutFailureStatus,
    users: { ...users },
    tokenLifetimeSec,
    clockSkewSec,
  };
}

/** An empty 401, as ASP.NET's JWT bearer handler answers; says why only in WWW-Authenticate. */
function unauthorized(invalidToken: boolean): Response {
  return new Response(null, {
    status: 401,
    headers: { "www-authenticate": invalidToken ? 'Bearer error="invalid_token"' : "Bearer" },
  });
}

/** ASP.NET's automatic 400 for a body that does not bind. */
function validationProblem(member: string): Response {
  return new Response(
    JSON.stringify({
      type: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
      title: "One or more validation errors occurred.",
      status: 400,
      errors: { [member]: [`The ${member} field is required.`] },
    }),
    { status: 400, headers: { "content-type": "application/problem+json; charset=utf-8" } },
  );
}

async function readJsonObject(request: Request): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await request.text());
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not JSON: answered as a validation problem.
  }
  return undefined;
}

/** A member of a JSON object by case-insensitive name, as ASP.NET binds request bodies. */
function field(body: Record<string, unknown>, name: string): unknown {
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** FunGame's "yyyy-MM-dd HH:mm:ss.fff", here in UTC. */
function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}
