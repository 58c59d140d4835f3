// A faithful eBET for tests: channels and keys, MD5withRSA checks, users, tokens, wallets, limits and faults.
import { type Clock, systemClock, type TimestampUnit, timestamp } from "@x/core-signing";
import { importPublicKey, type PublicKeyMaterial, type RsaPublicKey } from "@x/core-signing/rsa";
import { FaultSwitch } from "@x/core-signing/testing";
import { Hono } from "hono";
import { DEFAULT_PATHS, type EbetPaths } from "../requests.ts";
import type { EbetWallet } from "../responses.ts";
import { EBET_SIGNED_FIELDS, type EbetCall, signatureText, verifyEbet } from "../signature.ts";
import { EBET_TEST_PUBLIC_KEY } from "./keys.ts";

/** A channel eBET knows: its id, the public half of its signing key, and its back-office settings. */
export interface SimulatorChannelInit {
  channelId: number;
  /** SPKI or PKCS#1 PEM, bare base64 DER, DER bytes, JWK, or an imported key. */
  publicKey: PublicKeyMaterial;
  /** Sub-channels that exist; 0 always does. Default: only 0. */
  subChannels?: number[];
  /** Every call answers 505 (channel under maintenance). Default false. */
  maintenance?: boolean;
  /** Calls not enabled in eBET's back office for this channel: they answer 4029. Default none. */
  disabled?: EbetCall[];
}

/** A player eBET knows. */
export interface SimulatorUserInit {
  username: string;
  /** Default: the first channel's id. */
  channelId?: number;
  /** Default: 127001, 127002… in the order users are added. */
  userId?: number;
  /** Default 0. */
  subChannelId?: number;
  /** Default: one main wallet (typeId 0) with 0 in it. */
  wallet?: EbetWallet[];
  /** The account's money; default: the main wallet's (typeId 0), else 0. */
  money?: number;
  /** Tokens the channel has issued for this player, accepted by callback. Default none. */
  accessTokens?: string[];
  /** Whether the player is in a game now. Default false. */
  playing?: boolean;
  /** A frozen account answers callback with 5011. Default false. */
  frozen?: boolean;
}

export interface EbetSimulatorOptions {
  /** Default: channel 1 with EBET_TEST_PUBLIC_KEY. */
  channels?: SimulatorChannelInit[];
  /** Default (only when `channels` is not given either): "demo" with the wallets and token of eBET's pages. */
  users?: SimulatorUserInit[];
  /** The simulator's clock (ms since the epoch), for timestamp windows, rate limits and answers. */
  now?: Clock;
  /** Unit the simulator reads request timestamps in. Default "s". */
  timestampUnit?: TimestampUnit;
  /** A request whose timestamp is further than this from the clock answers 4025. Default 300. */
  timestampWindowSeconds?: number;
  /** More calls than this for one user within one second answer 4038. Default 10. */
  rateLimitPerSecond?: number;
  /** The `apiVersion` of every answer. Default "1.3.91". */
  apiVersion?: string;
  /** Where the calls are served. Default "/api/logout" and "/api/callback". */
  paths?: EbetPaths;
  /** Answer callback's channelId and subChannelId as strings, as eBET's field table types them. Default false (numbers, as its example). */
  idsAsStrings?: boolean;
  /**
   * eBET's IP whitelist: when set, a call from an address not in it, or from an address the
   * simulator cannot tell, answers 4027 before anything else is checked. IPv4, or IPv6 in any
   * case; an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) counts as its IPv4. Default: unset,
   * every caller allowed.
   */
  allowedAddresses?: readonly string[];
  /**
   * How the simulator learns a caller's address. Default: the connection's remote address when
   * served over HTTP by `@hono/node-server` (its `env.incoming.socket`), else unknown. In process,
   * give a function, e.g. `() => "203.0.113.7"` or one reading a header the test sets.
   */
  callerAddress?: (request: Request, env: unknown) => string | null | undefined;
}

/** A player's state, as the simulator holds it now (a copy). */
export interface SimulatorUser {
  username: string;
  channelId: number;
  userId: number;
  subChannelId: number;
  wallet: EbetWallet[];
  money: number;
  accessTokens: string[];
  playing: boolean;
  frozen: boolean;
}

/** One request the simulator received, and what it answered. Carries no signature or token. */
export interface SimulatorCall {
  /** The simulator's clock when the request arrived, in ms. */
  at: number;
  method: string;
  path: string;
  /** Which call the path is, if either. */
  call: EbetCall | undefined;
  /** As sent, when it was a number. */
  channelId: number | undefined;
  /** As sent, when it was a string. */
  username: string | undefined;
  httpStatus: number;
  /** eBET's status in the answer; undefined when the answer was a fault or not eBET's JSON. */
  status: number | undefined;
  /** Why the simulator answered as it did, e.g. "signature does not verify". */
  reason: string;
}

interface Channel {
  channelId: number;
  publicKey: RsaPublicKey;
  subChannels: Set<number>;
  maintenance: boolean;
  disabled: Set<EbetCall>;
}

interface User {
  username: string;
  channelId: number;
  userId: number;
  subChannelId: number;
  wallet: EbetWallet[];
  money: number | undefined;
  accessTokens: Set<string>;
  playing: boolean;
  frozen: boolean;
}

/** The player and token of eBET's own examples. */
const DEMO_USER: SimulatorUserInit = {
  username: "demo",
  userId: 127001,
  wallet: [
    { typeId: 0, money: 1234567.89 },
    { typeId: 1, money: 0 },
    { typeId: 2, money: 0 },
    { typeId: 3, money: 0 },
    { typeId: 4, money: 0 },
    { typeId: 5, money: 0 },
    { typeId: 6, money: 0 },
  ],
  accessTokens: ["584c26e798deffc96cc7af073c184cd0"],
};

const MAX_BODY_CHARS = 64 * 1024;

/** The JSON type eBET's pages give a field: "string" or "number". */
type FieldType = "string" | "number";

/**
 * Each call's fields and JSON types, as eBET's pages give them; `required` false for the optional
 * ones. A field of another JSON type (a number sent as a string, "42" for 42) answers 4030, data
 * type error; a field of the right type with a value no call can use (an empty string, a negative
 * or fractional number) answers 4025, bad parameters.
 */
const FIELDS: Record<EbetCall, [name: string, type: FieldType, required: boolean][]> = {
  logout: [
    ["channelId", "number", true],
    ["username", "string", true],
    ["timestamp", "number", true],
    ["signature", "string", true],
    ["currency", "string", false],
  ],
  callback: [
    ["username", "string", true],
    ["channelId", "number", true],
    ["timestamp", "number", true],
    ["accessToken", "string", true],
    ["signature", "string", true],
    ["subChannelId", "number", false],
  ],
};

/** A value's JSON type, as a refusal names it. */
function jsonType(value: unknown): string {
  if (Array.isArray(value)) return "array";
  return value === null ? "null" : typeof value;
}

/** Whether a value of the right type is one a call can use: a non-empty string, a whole number from 0. */
function valueOk(value: string | number): boolean {
  return typeof value === "string" ? value.length > 0 : Number.isSafeInteger(value) && value >= 0;
}

/** An address as the allowed list compares it: no brackets, lower case, IPv4-mapped IPv6 as IPv4. */
function normalizeAddress(address: string): string {
  const bare = address
    .trim()
    .replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  return mapped ? (mapped[1] as string) : bare;
}

function addressList(value: unknown): ReadonlySet<string> {
  if (!Array.isArray(value)) {
    throw new RangeError("allowedAddresses must be an array of IP addresses");
  }
  return new Set(
    value.map((address: unknown) => {
      if (typeof address !== "string" || address.trim() === "") {
        throw new RangeError("allowedAddresses must hold non-empty address strings");
      }
      return normalizeAddress(address);
    }),
  );
}

/** The remote address of the connection behind an `@hono/node-server` request, if any. */
function socketAddress(_request: Request, env: unknown): string | undefined {
  if (typeof env !== "object" || env === null) return undefined;
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: unknown } } }).incoming;
  const address = incoming?.socket?.remoteAddress;
  return typeof address === "string" ? address : undefined;
}

function positiveInteger(value: unknown, what: string, min = 1): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${what} must be an integer of at least ${min}, got ${String(value)}`);
  }
  return value;
}

function copyWallet(wallet: readonly EbetWallet[]): EbetWallet[] {
  return wallet.map(({ typeId, money }) => ({ typeId, money }));
}

/**
 * A fake eBET with a Hono app inside. It answers `POST /api/logout` and `POST /api/callback` as
 * eBET does: HTTP 200 with the outcome in the body's `status`.
 */
export class EbetSimulator {
  /** The Hono app that serves the calls; `fetch` is its entry point. */
  readonly app: Hono;
  /**
   * Misbehaviour switches: slow answers, HTTP 502/504 pages, non-JSON or truncated bodies, a wrong
   * content type, a dropped connection, a body over 10 MB.
   */
  readonly faults: FaultSwitch = new FaultSwitch();

  readonly #channels = new Map<number, Channel>();
  readonly #users = new Map<string, User>();
  readonly #calls: SimulatorCall[] = [];
  readonly #recent = new Map<string, number[]>();
  readonly #now: Clock;
  readonly #unit: TimestampUnit;
  readonly #windowSeconds: number;
  readonly #rateLimit: number;
  readonly #apiVersion: string;
  readonly #paths: Readonly<Required<EbetPaths>>;
  readonly #idsAsStrings: boolean;
  readonly #callerAddress: (request: Request, env: unknown) => string | null | undefined;
  #allowedAddresses: ReadonlySet<string> | undefined;
  #nextUserId = 127001;
  #forced: { status: number; remaining: number } | undefined;

  constructor(options: EbetSimulatorOptions = {}) {
    this.#now = options.now ?? systemClock;
    this.#unit = options.timestampUnit ?? "s";
    if (this.#unit !== "s" && this.#unit !== "ms") {
      throw new RangeError(`timestampUnit must be "s" or "ms", got ${String(this.#unit)}`);
    }
    this.#windowSeconds = positiveInteger(
      options.timestampWindowSeconds ?? 300,
      "timestampWindowSeconds",
      0,
    );
    this.#rateLimit = positiveInteger(options.rateLimitPerSecond ?? 10, "rateLimitPerSecond");
    this.#apiVersion = options.apiVersion ?? "1.3.91";
    this.#paths = { ...DEFAULT_PATHS, ...options.paths };
    this.#idsAsStrings = options.idsAsStrings ?? false;
    this.#allowedAddresses =
      options.allowedAddresses === undefined ? undefined : addressList(options.allowedAddresses);
    const callerAddress = options.callerAddress ?? socketAddress;
    if (typeof callerAddress !== "function") {
      throw new RangeError("callerAddress must be a function of the request and the server's env");
    }
    this.#callerAddress = callerAddress;
    const channels = options.channels ?? [{ channelId: 1, publicKey: EBET_TEST_PUBLIC_KEY }];
    for (const channel of channels) this.addChannel(channel);
    const users = options.users ?? (options.channels === undefined ? [DEMO_USER] : []);
    for (const user of users) this.addUser(user);
    this.app = this.#buildApp();
  }

  /**
   * Answers a request as eBET would; pass it as a client's `fetch`. Like a network fetch, it
   * rejects with the signal's reason when the request's signal aborts before the answer, and with a
   * TypeError when the `reset` fault drops the connection. `env` is the server's, when served over
   * HTTP (`@hono/node-server` passes `{ incoming, outgoing }`).
   */
  readonly fetch = (request: Request, env?: unknown): Promise<Response> => {
    const signal = request.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Response>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve(this.app.fetch(request, env))
        .then((response) => this.faults.settle(response))
        .then(resolve, reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  };

  /** Registers a channel, or replaces one with the same id. */
  addChannel(init: SimulatorChannelInit): void {
    const channelId = positiveInteger(init.channelId, "channelId");
    this.#channels.set(channelId, {
      channelId,
      publicKey: importPublicKey(init.publicKey),
      subChannels: new Set([0, ...(init.subChannels ?? [])]),
      maintenance: init.maintenance ?? false,
      disabled: new Set(init.disabled ?? []),
    });
  }

  /** Changes a channel's back-office settings. */
  updateChannel(
    channelId: number,
    patch: Partial<Pick<SimulatorChannelInit, "maintenance" | "disabled" | "subChannels">>,
  ): void {
    const channel = this.#channels.get(channelId);
    if (!channel) throw new RangeError(`no channel ${channelId}`);
    if (patch.maintenance !== undefined) channel.maintenance = patch.maintenance;
    if (patch.disabled !== undefined) channel.disabled = new Set(patch.disabled);
    if (patch.subChannels !== undefined) channel.subChannels = new Set([0, ...patch.subChannels]);
  }

  /** Registers a player (or replaces one with the same username) and returns its state. */
  addUser(init: SimulatorUserInit): SimulatorUser {
    if (typeof init.username !== "string" || init.username.length === 0) {
      throw new RangeError("username must be a non-empty string");
    }
    const channelId = init.channelId ?? this.#channels.keys().next().value ?? 1;
    const userId = init.userId ?? this.#nextUserId;
    this.#nextUserId = Math.max(this.#nextUserId, userId) + 1;
    this.#users.set(init.username, {
      username: init.username,
      channelId: positiveInteger(channelId, "channelId"),
      userId: positiveInteger(userId, "userId", 0),
      subChannelId: positiveInteger(init.subChannelId ?? 0, "subChannelId", 0),
      wallet: copyWallet(init.wallet ?? [{ typeId: 0, money: 0 }]),
      money: init.money,
      accessTokens: new Set(init.accessTokens ?? []),
      playing: init.playing ?? false,
      frozen: init.frozen ?? false,
    });
    return this.user(init.username) as SimulatorUser;
  }

  /** Changes a player's wallets, money, game state or frozen flag. */
  updateUser(
    username: string,
    patch: Partial<Pick<SimulatorUserInit, "wallet" | "money" | "playing" | "frozen">>,
  ): void {
    const user = this.#user(username);
    if (patch.wallet !== undefined) user.wallet = copyWallet(patch.wallet);
    if (patch.money !== undefined) user.money = patch.money;
    if (patch.playing !== undefined) user.playing = patch.playing;
    if (patch.frozen !== undefined) user.frozen = patch.frozen;
  }

  /** Records a token the channel issued for this player; callback accepts it from now on. */
  issueToken(username: string, accessToken: string): void {
    this.#user(username).accessTokens.add(accessToken);
  }

  /** Withdraws a token: callback with it answers 410 from now on. */
  revokeToken(username: string, accessToken: string): void {
    this.#user(username).accessTokens.delete(accessToken);
  }

  /** A copy of the player's state, or undefined for an unknown username. */
  user(username: string): SimulatorUser | undefined {
    const user = this.#users.get(username);
    if (!user) return undefined;
    return {
      username: user.username,
      channelId: user.channelId,
      userId: user.userId,
      subChannelId: user.subChannelId,
      wallet: copyWallet(user.wallet),
      money: this.#moneyOf(user),
      accessTokens: [...user.accessTokens],
      playing: user.playing,
      frozen: user.frozen,
    };
  }

  /** Whether the player is in a game: callback puts them in, logout takes them out. */
  isPlaying(username: string): boolean {
    return this.#users.get(username)?.playing ?? false;
  }

  /** Every request received so far, oldest first (a copy). */
  get calls(): SimulatorCall[] {
    return this.#calls.map((call) => ({ ...call }));
  }

  clearCalls(): void {
    this.#calls.length = 0;
  }

  /**
   * Makes the next `times` calls (default 1) answer HTTP 200 with this eBET status, whatever they
   * carry: for the codes nothing else produces (500, 4003, 4202…).
   */
  forceStatus(status: number, times = 1): void {
    positiveInteger(times, "times");
    if (!Number.isInteger(status)) throw new RangeError("status must be an integer");
    this.#forced = { status, remaining: times };
  }

  clearForcedStatus(): void {
    this.#forced = undefined;
  }

  /** Replaces the IP whitelist (see the `allowedAddresses` option); undefined allows every caller. */
  setAllowedAddresses(addresses: readonly string[] | undefined): void {
    this.#allowedAddresses = addresses === undefined ? undefined : addressList(addresses);
  }

  #user(username: string): User {
    const user = this.#users.get(username);
    if (!user) throw new RangeError(`no user ${JSON.stringify(username)}`);
    return user;
  }

  #moneyOf(user: User): number {
    return user.money ?? user.wallet.find((wallet) => wallet.typeId === 0)?.money ?? 0;
  }

  #buildApp(): Hono {
    const app = new Hono();
    app.use("*", async (c, next) => {
      const request = c.req.raw;
      let faulty: Response | undefined;
      try {
        faulty = await this.faults.intercept(request.signal, c.env);
      } catch {
        // The caller gave up while the answer was held back: nobody reads this one.
        this.#log(request, undefined, undefined, 503, undefined, "caller aborted while delayed");
        return new Response(null, { status: 503 });
      }
      if (faulty) {
        this.#log(request, undefined, undefined, faulty.status, undefined, "fault switch");
        return faulty;
      }
      await next();
      c.res = this.faults.decorate(c.res);
    });
    for (const call of ["logout", "callback"] as const) {
      const path = this.#paths[call];
      app.post(path, (c) => this.#handle(call, c.req.raw, c.env));
      app.all(path, (c) => {
        this.#log(c.req.raw, undefined, undefined, 405, undefined, "method not allowed");
        return c.text("Method Not Allowed", 405);
      });
    }
    app.notFound((c) => {
      this.#log(c.req.raw, undefined, undefined, 404, undefined, "no such path");
      return c.text("Not Found", 404);
    });
    return app;
  }

  #log(
    request: Request,
    channelId: number | undefined,
    username: string | undefined,
    httpStatus: number,
    status: number | undefined,
    reason: string,
  ): void {
    const url = new URL(request.url);
    const call = (Object.keys(this.#paths) as EbetCall[]).find(
      (name) => this.#paths[name] === url.pathname,
    );
    this.#calls.push({
      at: this.#now(),
      method: request.method,
      path: url.pathname,
      call,
      channelId,
      username,
      httpStatus,
      status,
      reason,
    });
  }

  /** Why the caller's address is refused, or undefined when it is allowed. */
  #addressRefusal(request: Request, env: unknown): string | undefined {
    const allowed = this.#allowedAddresses;
    if (allowed === undefined) return undefined;
    const address = this.#callerAddress(request, env);
    if (typeof address !== "string" || address.trim() === "") {
      return "caller address unknown, and a list is set";
    }
    const normalized = normalizeAddress(address);
    return allowed.has(normalized)
      ? undefined
      : `caller address ${normalized.slice(0, 64)} is not on the allowed list`;
  }

  async #handle(call: EbetCall, request: Request, env: unknown): Promise<Response> {
    const at = this.#now();
    let channelId: number | undefined;
    let username: string | undefined;
    const answer = (status: number, reason: string, extra: Record<string, unknown> = {}) => {
      this.#log(request, channelId, username, 200, status, reason);
      return Response.json({ ...extra, status, apiVersion: this.#apiVersion });
    };

    if (this.#forced) {
      const { status } = this.#forced;
      if (--this.#forced.remaining <= 0) this.#forced = undefined;
      return answer(status, "forced status");
    }

    // The whitelist guards the door: a caller outside it learns nothing about its request.
    const refusal = this.#addressRefusal(request, env);
    if (refusal !== undefined) return answer(4027, refusal);

    const contentType = request.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(contentType)) {
      return answer(4025, `content type is ${JSON.stringify(contentType)}, not application/json`);
    }
    const text = await request.text();
    if (text.length > MAX_BODY_CHARS) return answer(4025, "body too large");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return answer(4025, "body is not JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return answer(4025, "body is not a JSON object");
    }
    const body = parsed as Record<string, unknown>;
    if (typeof body.channelId === "number") channelId = body.channelId;
    if (typeof body.username === "string") username = body.username;

    for (const [name, type, required] of FIELDS[call]) {
      const value = Object.hasOwn(body, name) ? body[name] : undefined;
      if (value === undefined || value === null) {
        if (required) return answer(4025, `${name} is missing`);
        continue;
      }
      if (typeof value !== type) {
        return answer(4030, `${name} is a ${jsonType(value)}, not a ${type}`);
      }
      if (!valueOk(value as string | number)) {
        return answer(
          4025,
          `${name} is not a usable ${type}: ${JSON.stringify(value).slice(0, 40)}`,
        );
      }
    }
    const fields = body as Record<string, string | number>;

    const channel = this.#channels.get(fields.channelId as number);
    if (!channel) return answer(202, `channel ${fields.channelId} is not registered`);
    if (channel.maintenance) return answer(505, "channel under maintenance");
    if (channel.disabled.has(call)) return answer(4029, `${call} is not enabled for the channel`);

    const signed = signatureText(EBET_SIGNED_FIELDS[call], fields);
    if (!(await verifyEbet(channel.publicKey, signed, fields.signature as string))) {
      return answer(4026, "signature does not verify");
    }

    const sent = fields.timestamp as number;
    const current = timestamp(this.#unit, () => at);
    const window = this.#unit === "ms" ? this.#windowSeconds * 1000 : this.#windowSeconds;
    if (Math.abs(sent - current) > window) {
      return answer(
        4025,
        `timestamp ${sent} is more than ${this.#windowSeconds} s from ${current} (${this.#unit})`,
      );
    }

    const subChannelId = (fields.subChannelId as number | undefined) ?? 0;
    if (call === "callback" && !channel.subChannels.has(subChannelId)) {
      return answer(5003, `sub-channel ${subChannelId} does not exist`);
    }

    const name = fields.username as string;
    const recent = (this.#recent.get(name) ?? []).filter((time) => time > at - 1000);
    if (recent.length >= this.#rateLimit) {
      this.#recent.set(name, recent);
      return answer(4038, `more than ${this.#rateLimit} calls within a second for this user`);
    }
    recent.push(at);
    this.#recent.set(name, recent);

    const user = this.#users.get(name);
    if (!user || user.channelId !== channel.channelId) {
      return answer(4037, "no such user in this channel");
    }

    if (call === "logout") {
      const wasPlaying = user.playing;
      user.playing = false;
      return answer(200, wasPlaying ? "logged out of the game" : "was not in a game");
    }

    if (user.frozen) return answer(5011, "account frozen");
    if (!user.accessTokens.has(fields.accessToken as string)) {
      return answer(410, "access token not issued for this user");
    }
    user.playing = true;
    const id = (value: number) => (this.#idsAsStrings ? String(value) : value);
    return answer(200, "logged in", {
      channelId: id(channel.channelId),
      subChannelId: id(subChannelId),
      userId: user.userId,
      username: user.username,
      wallet: copyWallet(user.wallet),
      money: this.#moneyOf(user),
      timestamp: Math.floor(at / 1000),
    });
  }
}

/** A fake eBET; every option has a default (channel 1 with EBET_TEST_PUBLIC_KEY, user "demo"). */
export function createEbetSimulator(options?: EbetSimulatorOptions): EbetSimulator {
  return new EbetSimulator(options);
}
