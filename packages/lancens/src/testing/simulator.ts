// A faithful fake of the Lancens API: login, push-token bind and clear, logout; a call log and misbehaviour switches.
import {
  type Clock,
  type RandomSource,
  randomNonce,
  systemClock,
  systemRandom,
} from "@x/core-signing";
import { FaultSwitch } from "@x/core-signing/testing";
import { type Context, Hono } from "hono";
import {
  type PushTokenKind,
  type PushTokenRecord,
  SimulatorState,
  type SimulatorUser,
} from "./state.ts";

/** The calls the simulator answers; `unknown` is any other path. */
export type SimulatorRoute =
  | "login"
  | "bindRingPushToken"
  | "clearRingPushToken"
  | "listRingPushTokens"
  | "bindMessagePushToken"
  | "clearMessagePushToken"
  | "listMessagePushTokens"
  | "logout"
  | "unknown";

/** One request the simulator received, in arrival order. Tokens are never recorded. */
export interface SimulatorCall {
  /** 1, 2, 3… */
  seq: number;
  /** The simulator clock when the request arrived. */
  at: number;
  method: string;
  path: string;
  route: SimulatorRoute;
  status: number;
  /** The user the request was for, once known. */
  username?: string;
  /** The error message answered, if any. */
  message?: string;
  /** Set when a misbehaviour switch produced the answer. */
  fault?: boolean;
}

/** How the simulator answers; every member can be changed at any time with `configure`. */
export interface SimulatorBehaviour {
  /** Body of a successful bind, clear or logout: `{"message":"success"}`, `success`, or nothing. */
  successBody: "json" | "text" | "empty";
  /** Body of an error: `{"message":"…"}` or the bare message as text. */
  errorBody: "json" | "text";
  /** Status of a successful push-token clear (any 2xx; 204 sends no body). */
  clearStatus: number;
  /** Status of a successful logout. */
  logoutStatus: number;
  /** Whether logout deletes the user's push tokens, as Lancens documents. */
  logoutClearsPushTokens: boolean;
  /** Whether login deletes the user's push tokens, as Lancens documents. */
  loginClearsPushTokens: boolean;
}

export interface LancensSimulatorOptions extends Partial<SimulatorBehaviour> {
  /** Known users. Default: one, `DEFAULT_SIMULATOR_USER`. */
  users?: readonly SimulatorUser[];
  /** Clock for the login answer's `time` and the call log. Default Date.now. */
  now?: Clock;
  /** Randomness for tokens and refresh keys. Default crypto.getRandomValues. */
  random?: RandomSource;
}

/** The login answer: HTTP 201 `{ id, token, reflash_key, time }`. */
export interface LoginAnswer {
  id: number;
  token: string;
  reflash_key: string;
  /** Seconds since the epoch, when the token was issued. */
  time: number;
}

export interface FailNextOptions {
  /** Default 400. */
  status?: number;
  /** How many matching calls fail. Default 1. */
  times?: number;
}

export const DEFAULT_SIMULATOR_USER: Readonly<Required<SimulatorUser>> = Object.freeze({
  id: 1,
  username: "lancens-user",
  password: "password-123",
});

const DEFAULT_BEHAVIOUR: SimulatorBehaviour = {
  successBody: "json",
  errorBody: "json",
  clearStatus: 200,
  logoutStatus: 200,
  logoutClearsPushTokens: true,
  loginClearsPushTokens: true,
};

const PATHS = {
  login: "/v1/api/user/login",
  ringPushToken: "/v1/api/user/token",
  messagePushToken: "/v1/api/user/message/token",
  logout: "/v1/api/user/logout",
} as const;

interface Injected {
  route: SimulatorRoute | "*";
  message: string;
  status: number;
  remaining: number;
}

type Env = { Variables: { call: SimulatorCall } };

/** A vendor error to answer: the real message, with 400 (or 401 for token problems). */
class Refusal {
  constructor(
    readonly message: string,
    readonly status = 400,
  ) {}
}

/** The Lancens simulator. Create it with `createLancensSimulator`. */
export class LancensSimulator {
  /**
   * Answers a Request like the Lancens API; pass it as the client's `fetch`. Rejects with a
   * TypeError when the `reset` fault drops the connection. `env` is the server's, when served over
   * HTTP (`@hono/node-server` passes `{ incoming, outgoing }`).
   */
  readonly fetch: (request: Request, env?: unknown) => Promise<Response>;
  /** The Hono app inside, to serve over HTTP (`export default sim.app` in a Worker, `Bun.serve(sim.app)`…). */
  readonly app: Hono<Env>;
  /** Slow answers, gateway errors, broken bodies, dropped connections, huge bodies: see FaultSwitch in @x/core-signing/testing. */
  readonly faults: FaultSwitch = new FaultSwitch();
  readonly #state = new SimulatorState();
  readonly #calls: SimulatorCall[] = [];
  readonly #injected: Injected[] = [];
  readonly #now: Clock;
  readonly #random: RandomSource;
  #behaviour: SimulatorBehaviour;

  constructor(options: LancensSimulatorOptions = {}) {
    this.#now = options.now ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#behaviour = { ...DEFAULT_BEHAVIOUR };
    this.configure(options);
    for (const user of options.users ?? [DEFAULT_SIMULATOR_USER]) this.addUser(user);
    this.app = this.#buildApp();
    this.fetch = async (request: Request, env?: unknown) =>
      this.faults.settle(await this.app.fetch(request, env));
  }

  /** Every request received, oldest first. */
  get calls(): readonly SimulatorCall[] {
    return this.#calls.map((call) => ({ ...call }));
  }

  /** The routes called, oldest first: handy to assert an order. */
  get routes(): SimulatorRoute[] {
    return this.#calls.map((call) => call.route);
  }

  clearCalls(): void {
    this.#calls.length = 0;
  }

  get behaviour(): Readonly<SimulatorBehaviour> {
    return { ...this.#behaviour };
  }

  /** Changes how the simulator answers; members left out keep their value. */
  configure(behaviour: Partial<SimulatorBehaviour>): void {
    const next = { ...this.#behaviour };
    for (const key of Object.keys(DEFAULT_BEHAVIOUR) as (keyof SimulatorBehaviour)[]) {
      if (behaviour[key] !== undefined) Object.assign(next, { [key]: behaviour[key] });
    }
    for (const key of ["clearStatus", "logoutStatus"] as const) {
      const status = next[key];
      if (!Number.isInteger(status) || status < 200 || status > 299) {
        throw new RangeError(`${key} must be a 2xx status, got ${status}`);
      }
    }
    this.#behaviour = next;
  }

  /**
   * Makes the next call(s) to `route` ("*" for any) fail with a Lancens message, e.g.
   * `failNext("logout", "10051")` or `failNext("clearRingPushToken", "paramer error")`. The state is
   * left untouched, as when the server fails before doing anything.
   */
  failNext(route: SimulatorRoute | "*", message: string, options: FailNextOptions = {}): void {
    this.#injected.push({
      route,
      message,
      status: options.status ?? 400,
      remaining: options.times ?? 1,
    });
  }

  addUser(user: SimulatorUser): void {
    if (this.#state.hasUser(user.username)) {
      throw new Error(`the simulator already has user ${JSON.stringify(user.username)}`);
    }
    this.#state.addUser(user);
  }

  /** Logs in through the API (logged like any call) and returns the answer. */
  async signIn(
    username: string = DEFAULT_SIMULATOR_USER.username,
    password: string = DEFAULT_SIMULATOR_USER.password,
  ): Promise<LoginAnswer> {
    const response = await this.fetch(
      new Request(`http://lancens.test${PATHS.login}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      }),
    );
    if (response.status !== 201) {
      throw new Error(`simulator login failed: HTTP ${response.status} ${await response.text()}`);
    }
    return (await response.json()) as LoginAnswer;
  }

  /** Binds a push token through the API (logged like any call). */
  async bindPushToken(
    token: string,
    kind: PushTokenKind,
    pushToken = `${kind}-${randomNonce(8, this.#random)}`,
  ): Promise<void> {
    const path = kind === "ring" ? PATHS.ringPushToken : PATHS.messagePushToken;
    const response = await this.fetch(
      new Request(`http://lancens.test${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", token },
        body: JSON.stringify({ push_token: pushToken, language: "en", dev: 0 }),
      }),
    );
    if (!response.ok) {
      throw new Error(`simulator bind failed: HTTP ${response.status} ${await response.text()}`);
    }
  }

  /** The push tokens bound for a user. */
  pushTokens(username: string): { ring: PushTokenRecord[]; message: PushTokenRecord[] } {
    return {
      ring: this.#state.pushTokens(username, "ring"),
      message: this.#state.pushTokens(username, "message"),
    };
  }

  /** Whether Lancens would accept this login token now. */
  isTokenValid(token: string): boolean {
    return this.#state.sessionUser(token) !== undefined;
  }

  /** Every login token currently valid. */
  validTokens(): string[] {
    return this.#state.validTokens();
  }

  /** The user's current login token, if logged in. */
  tokenOf(username: string): string | undefined {
    return this.#state.tokenOf(username);
  }

  /** Makes a token invalid without touching push tokens, as when it expires. */
  invalidateToken(token: string): boolean {
    return this.#state.endSession(token);
  }

  #buildApp(): Hono<Env> {
    const app = new Hono<Env>();
    app.use("*", async (c, next) => {
      const url = new URL(c.req.url);
      const call: SimulatorCall = {
        seq: this.#calls.length + 1,
        at: this.#now(),
        method: c.req.method,
        path: url.pathname,
        route: routeOf(c.req.method, url.pathname),
        status: 0,
      };
      this.#calls.push(call);
      c.set("call", call);
      const faulty = await this.faults.intercept(c.req.raw.signal, c.env);
      if (faulty) {
        call.status = faulty.status;
        call.fault = true;
        return faulty;
      }
      const injected = this.#takeInjected(call.route);
      if (injected) {
        const refused = this.faults.decorate(
          this.#refuse(c, new Refusal(injected.message, injected.status)),
        );
        call.status = refused.status;
        return refused;
      }
      await next();
      c.res = this.faults.decorate(c.res);
      call.status = c.res.status;
    });
    app.post(PATHS.login, (c) => this.#handle(c, () => this.#login(c)));
    app.post(PATHS.ringPushToken, (c) => this.#handle(c, () => this.#bind(c, "ring")));
    app.delete(PATHS.ringPushToken, (c) => this.#handle(c, () => this.#clear(c, "ring")));
    app.get(PATHS.ringPushToken, (c) => this.#handle(c, () => this.#list(c, "ring")));
    app.post(PATHS.messagePushToken, (c) => this.#handle(c, () => this.#bind(c, "message")));
    app.delete(PATHS.messagePushToken, (c) => this.#handle(c, () => this.#clear(c, "message")));
    app.get(PATHS.messagePushToken, (c) => this.#handle(c, () => this.#list(c, "message")));
    app.post(PATHS.logout, (c) => this.#handle(c, () => this.#logout(c)));
    // A request aborted during a delay fails like an aborted fetch instead of becoming a 500.
    app.onError((error) => {
      throw error;
    });
    app.notFound(
      () =>
        new Response("404 page not found", {
          status: 404,
          headers: { "content-type": "text/plain" },
        }),
    );
    return app;
  }

  async #handle(c: Context<Env>, run: () => Promise<Response> | Response): Promise<Response> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof Refusal) return this.#refuse(c, error);
      // What Lancens says when its code catches an exception.
      return this.#refuse(c, new Refusal("paramer error"));
    }
  }

  #refuse(c: Context<Env>, refusal: Refusal): Response {
    c.get("call").message = refusal.message;
    return this.#behaviour.errorBody === "json"
      ? json({ message: refusal.message }, refusal.status)
      : new Response(refusal.message, {
          status: refusal.status,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
  }

  #success(status: number): Response {
    if (status === 204 || this.#behaviour.successBody === "empty") {
      return new Response(null, { status });
    }
    return this.#behaviour.successBody === "json"
      ? json({ message: "success" }, status)
      : new Response("success", { status, headers: { "content-type": "text/plain" } });
  }

  #takeInjected(route: SimulatorRoute): Injected | undefined {
    const index = this.#injected.findIndex((entry) => entry.route === "*" || entry.route === route);
    const entry = this.#injected[index];
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining <= 0) this.#injected.splice(index, 1);
    return entry;
  }

  /** The user behind the `token` header: `no token` without one, `invalid token` for a stale one. */
  #session(c: Context<Env>): string {
    const token = c.req.header("token");
    if (token === undefined || token === "") throw new Refusal("no token", 401);
    const username = this.#state.sessionUser(token);
    if (username === undefined) throw new Refusal("invalid token", 401);
    c.get("call").username = username;
    return username;
  }

  async #login(c: Context<Env>): Promise<Response> {
    const body = await jsonBody(c);
    const username = requiredString(body, "username");
    const password = requiredString(body, "password");
    if (!lengthBetween(username, 6, 32)) throw new Refusal("username length error");
    if (!lengthBetween(password, 8, 16)) throw new Refusal("password length error");
    c.get("call").username = username;
    const user = this.#state.authenticate(username, password);
    if (!user) throw new Refusal("username or password error");
    const token = randomNonce(16, this.#random);
    this.#state.startSession(username, token, this.#behaviour.loginClearsPushTokens);
    const answer: LoginAnswer = {
      id: user.id,
      token,
      reflash_key: randomNonce(16, this.#random),
      time: Math.floor(this.#now() / 1000),
    };
    return json(answer, 201);
  }

  async #bind(c: Context<Env>, kind: PushTokenKind): Promise<Response> {
    const username = this.#session(c);
    const body = await jsonBody(c);
    const pushToken = requiredString(body, "push_token");
    const language = requiredString(body, "language");
    if (!lengthBetween(pushToken, 1, 64)) throw new Refusal("push_token length error");
    if (!lengthBetween(language, 2, 11)) throw new Refusal("language length error");
    const dev = own(body, "dev") ?? 0;
    if (dev !== 0 && dev !== 1) throw new Refusal("dev format error");
    const optional = (name: string): string => {
      const value = own(body, name) ?? "";
      if (typeof value !== "string") throw new Refusal(`${name} format error`);
      return value;
    };
    const record: PushTokenRecord = {
      push_token: pushToken,
      language,
      dev,
      bundleid: optional("bundleid"),
      os: optional("os"),
      os_token: optional("os_token"),
      push_platform: optional("push_platform"),
    };
    if (!this.#state.bind(username, kind, record)) throw new Refusal("push_token exist");
    return this.#success(200);
  }

  #clear(c: Context<Env>, kind: PushTokenKind): Response {
    const username = this.#session(c);
    this.#state.clear(username, kind);
    return this.#success(this.#behaviour.clearStatus);
  }

  #list(c: Context<Env>, kind: PushTokenKind): Response {
    const username = this.#session(c);
    return json(this.#state.pushTokens(username, kind), 200);
  }

  /**
   * Like every call, logout is first authenticated by its `token` header (`no token`, `invalid
   * token`); then the body names the session to end. A body token other than the header's is
   * `token error` and nothing changes: the request would end a session it did not authenticate as.
   */
  async #logout(c: Context<Env>): Promise<Response> {
    const asking = this.#session(c);
    const body = await jsonBody(c);
    const username = requiredString(body, "username");
    const token = requiredString(body, "token");
    if (!lengthBetween(username, 6, 32)) throw new Refusal("username length error");
    if (token === "") throw new Refusal("token length error");
    c.get("call").username = username;
    if (token !== c.req.header("token")) throw new Refusal("token error");
    if (asking !== username) throw new Refusal("username error");
    if (this.#behaviour.logoutClearsPushTokens) this.#state.clearPushTokens(username);
    this.#state.endSession(token);
    return this.#success(this.#behaviour.logoutStatus);
  }
}

/** A Lancens simulator; every option has a default. */
export function createLancensSimulator(options: LancensSimulatorOptions = {}): LancensSimulator {
  return new LancensSimulator(options);
}

function routeOf(method: string, path: string): SimulatorRoute {
  const push = (kind: "Ring" | "Message"): SimulatorRoute | "unknown" => {
    if (method === "POST") return `bind${kind}PushToken`;
    if (method === "DELETE") return `clear${kind}PushToken`;
    if (method === "GET") return `list${kind}PushTokens`;
    return "unknown";
  };
  if (path === PATHS.login && method === "POST") return "login";
  if (path === PATHS.logout && method === "POST") return "logout";
  if (path === PATHS.ringPushToken) return push("Ring");
  if (path === PATHS.messagePushToken) return push("Message");
  return "unknown";
}

function json(value: unknown, status: number): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** The JSON object body; anything else is what Lancens calls a `paramer error`. */
async function jsonBody(c: Context<Env>): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await c.req.text());
  } catch {
    throw new Refusal("paramer error");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Refusal("paramer error");
  }
  return parsed as Record<string, unknown>;
}

/** A member the body itself has, never one its prototype answers to. */
function own(body: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(body, name) ? body[name] : undefined;
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = own(body, name);
  if (value === undefined || value === null) throw new Refusal(`undefined ${name}`);
  if (typeof value !== "string") throw new Refusal(`${name} format error`);
  return value;
}

function lengthBetween(value: string, min: number, max: number): boolean {
  const length = [...value].length;
  return length >= min && length <= max;
}
