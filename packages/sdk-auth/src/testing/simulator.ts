// The OneAccess simulator: a Hono app serving the SDK server-time, public-key, login and logout APIs.
import {
  type Clock,
  DecryptionError,
  EncodingError,
  fromBase64,
  type RandomSource,
  systemClock,
  systemRandom,
  type TimestampUnit,
  timestamp,
  toBase64,
  toBase64Url,
  utf8Decode,
} from "@x/core-signing";
import {
  decryptOaep,
  generateKeyPair,
  importPrivateKey,
  MAX_KEY_BITS,
  MIN_KEY_BITS,
  type PrivateKeyMaterial,
  type RsaPrivateKey,
  type RsaPublicKey,
} from "@x/core-signing/rsa";
import { FaultSwitch } from "@x/core-signing/testing";
import { type Context, Hono } from "hono";
import { ONEACCESS_CODES } from "../codes.ts";
import { HEADERS } from "../headers.ts";
import { PATHS } from "../requests.ts";

/** How the public-key API writes the key: base64 SPKI with the two characters `\n` between lines, bare base64, or PEM. */
export type PublicKeyFormat = "escaped" | "base64" | "pem";

/**
 * Which nonce a logout's X-signature must carry: the signed timestamp in lower-case hexadecimal,
 * the documented choice, or any well-formed nonce (for a client whose `nonce` option makes others).
 */
export type NonceRule = "timestamp-hex" | "any";

export interface OneAccessSimulatorOptions {
  /** The one application the simulator knows. Default "oneaccess-simulator-client". */
  clientId?: string | undefined;
  /** When set, every call must carry this X-tenant-id (an ISV application). Unset by default. */
  tenantId?: string | undefined;
  /** Size of the generated key, in bits. Default 2048. */
  keySize?: number | undefined;
  /** Use this key instead of generating one (tests generate keys once and share them). */
  privateKey?: PrivateKeyMaterial | undefined;
  /** Unit of the server's timestamp. Default "ms". */
  timestampUnit?: TimestampUnit | undefined;
  /** How far a signed timestamp may be from the server's clock, either way, in seconds. Default 300. */
  signatureWindowSec?: number | undefined;
  /** Lifetime of an issued session, in seconds. Default 7200. */
  sessionTtlSec?: number | undefined;
  /** Users who may log in: name -> password. Default { demo: "demo-password" }. */
  users?: Readonly<Record<string, string>> | undefined;
  /** How the public-key API writes the key. Default "escaped", as the real one may. */
  publicKeyFormat?: PublicKeyFormat | undefined;
  /** The body of a successful logout. Default "success". */
  logoutBody?: string | undefined;
  /** Which nonce a signature must carry. Default "timestamp-hex", as documented. */
  nonce?: NonceRule | undefined;
  /** The server's clock (ms since the epoch). Default Date.now. */
  now?: Clock | undefined;
  /** Randomness for session tokens. Default crypto.getRandomValues. */
  random?: RandomSource | undefined;
}

/** The options in force, every default filled in. */
export interface ResolvedSimulatorOptions {
  clientId: string;
  tenantId: string | undefined;
  keySize: number;
  timestampUnit: TimestampUnit;
  signatureWindowSec: number;
  sessionTtlSec: number;
  users: Readonly<Record<string, string>>;
  publicKeyFormat: PublicKeyFormat;
  logoutBody: string;
  nonce: NonceRule;
}

/** What a logout's X-signature said, once decrypted. */
export interface SignedFields {
  sessionToken: string;
  timestamp: string;
  nonce: string;
}

/** One entry of the call log. */
export interface SimulatorCall {
  method: string;
  path: string;
  status: number;
  /** The error_code answered, if any. */
  errorCode: string | undefined;
  /** The request headers, names in lower case. */
  headers: Record<string, string>;
  /** The decrypted X-signature of a logout, when it decrypted. */
  signed: SignedFields | undefined;
  /** Server time of the call, ms. */
  at: number;
}

export interface SimulatorSession {
  sessionToken: string;
  userName: string;
  issuedAt: number;
  expiresAt: number;
}

/** A snapshot of the simulator's state. */
export interface SimulatorState {
  options: ResolvedSimulatorOptions;
  keyBits: number;
  keyRotations: number;
  sessions: SimulatorSession[];
  /** How many (session token, nonce) pairs are remembered against replay. */
  usedNonces: number;
  calls: number;
}

export interface OneAccessSimulator {
  /**
   * Answers a Request as OneAccess would: pass it as the client's `fetch`. Rejects with a TypeError
   * when the `reset` fault drops the connection. `env` is the server's, when served over HTTP
   * (`@hono/node-server` passes `{ incoming, outgoing }`).
   */
  readonly fetch: (request: Request, env?: unknown) => Promise<Response>;
  /** The Hono app inside, to mount or serve. */
  readonly app: Hono;
  /**
   * Misbehaviour switches on every path (server date and public key too): slow answers, gateway
   * errors, non-JSON and truncated bodies, wrong content type, dropped connection, a body over 10 MB.
   */
  readonly faults: FaultSwitch;
  readonly options: Readonly<ResolvedSimulatorOptions>;
  /** The current key pair. */
  readonly privateKey: RsaPrivateKey;
  readonly publicKey: RsaPublicKey;
  /** The call log, oldest first. */
  readonly calls: readonly SimulatorCall[];
  /** Calls made to a path (e.g. PATHS.logout), or all calls. */
  count(path?: string): number;
  clearCalls(): void;
  /** Opens a session as a login would and returns its token. */
  issueSession(input?: { userName?: string; sessionToken?: string }): string;
  hasSession(sessionToken: string): boolean;
  /** Ends a session on the server side, as an expiry or an administrator would. */
  dropSession(sessionToken: string): boolean;
  /** Replaces the application's key pair (a fresh one unless given); the old key no longer decrypts. */
  rotateKey(privateKey?: PrivateKeyMaterial): Promise<RsaPublicKey>;
  /** The timestamp the server-date API would answer now. */
  serverTimestamp(): string;
  state(): SimulatorState;
}

const DEFAULTS = {
  clientId: "oneaccess-simulator-client",
  keySize: 2048,
  timestampUnit: "ms",
  signatureWindowSec: 300,
  sessionTtlSec: 7200,
  publicKeyFormat: "escaped",
  logoutBody: "success",
  nonce: "timestamp-hex",
} as const;

/** Error messages, in the wording style of OneAccess's published ones. */
const MESSAGES: ReadonlyMap<string, string> = new Map([
  [ONEACCESS_CODES.UNKNOWN_CLIENT, "Application does not exist."],
  [ONEACCESS_CODES.CLIENT_ID_REQUIRED, "Application ID required."],
  [ONEACCESS_CODES.SIGNATURE_INVALID, "Invalid signature."],
  [ONEACCESS_CODES.TIMESTAMP_EXPIRED, "The timestamp has expired."],
  [ONEACCESS_CODES.NONCE_REPLAYED, "The nonce has already been used."],
  [ONEACCESS_CODES.SESSION_UNKNOWN, "The session does not exist or has expired."],
  [ONEACCESS_CODES.TENANT_INVALID, "Tenant does not exist."],
  [ONEACCESS_CODES.CREDENTIALS_INVALID, "Incorrect user name or password."],
  [ONEACCESS_CODES.BODY_INVALID, "Invalid request body."],
]);

const REQUIRED_DEVICE_HEADERS = [HEADERS.osVersion, HEADERS.fingerprint, HEADERS.agent] as const;
/**
 * The signed form, exactly: the session token printable ASCII without blanks or `&`, the timestamp
 * 1 to 16 digits, the nonce 1 to 64 of the same characters; nothing before or after, no line break.
 */
const SIGNED_FORM =
  /^session_token=([\x21-\x25\x27-\x7e]+)&timestamp=([0-9]{1,16})&nonce=([\x21-\x25\x27-\x7e]{1,64})$/;

/** Each API's one method; any other is answered 405 before anything else is looked at. */
const METHODS: ReadonlyMap<string, string> = new Map([
  [PATHS.serverDate, "GET"],
  [PATHS.publicKey, "GET"],
  [PATHS.login, "POST"],
  [PATHS.logout, "GET"],
]);

class Refusal {
  readonly code: string;
  readonly message: string;
  constructor(code: string, message = MESSAGES.get(code) ?? "Invalid parameter.") {
    this.code = code;
    this.message = message;
  }
}

function positiveNumber(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`simulator option ${name} must be a positive number`);
  }
  return value;
}

function resolveOptions(options: OneAccessSimulatorOptions): ResolvedSimulatorOptions {
  const keySize = positiveNumber("keySize", options.keySize, DEFAULTS.keySize);
  if (!Number.isInteger(keySize) || keySize < MIN_KEY_BITS || keySize > MAX_KEY_BITS) {
    throw new RangeError(
      `simulator option keySize must be ${MIN_KEY_BITS} to ${MAX_KEY_BITS} bits`,
    );
  }
  const unit = options.timestampUnit ?? DEFAULTS.timestampUnit;
  if (unit !== "s" && unit !== "ms")
    throw new RangeError('simulator option timestampUnit must be "s" or "ms"');
  const nonce = options.nonce ?? DEFAULTS.nonce;
  if (nonce !== "timestamp-hex" && nonce !== "any") {
    throw new RangeError('simulator option nonce must be "timestamp-hex" or "any"');
  }
  const format = options.publicKeyFormat ?? DEFAULTS.publicKeyFormat;
  if (format !== "escaped" && format !== "base64" && format !== "pem") {
    throw new RangeError('simulator option publicKeyFormat must be "escaped", "base64" or "pem"');
  }
  return {
    clientId: options.clientId ?? DEFAULTS.clientId,
    tenantId: options.tenantId,
    keySize,
    timestampUnit: unit,
    signatureWindowSec: positiveNumber(
      "signatureWindowSec",
      options.signatureWindowSec,
      DEFAULTS.signatureWindowSec,
    ),
    sessionTtlSec: positiveNumber("sessionTtlSec", options.sessionTtlSec, DEFAULTS.sessionTtlSec),
    users: { ...(options.users ?? { demo: "demo-password" }) },
    publicKeyFormat: format,
    logoutBody: options.logoutBody ?? DEFAULTS.logoutBody,
    nonce,
  };
}

/** Base64 SPKI in the chosen form; "escaped" breaks lines every 64 characters with a literal `\n`. */
function writePublicKey(key: RsaPublicKey, format: PublicKeyFormat): string {
  if (format === "pem") return key.toPem();
  const base64 = toBase64(key.toSpki());
  if (format === "base64") return base64;
  return (base64.match(/.{1,64}/g) ?? []).join("\\n");
}

/**
 * A faithful fake of the OneAccess SDK API, built from VENDORS.md: it decrypts X-signature with
 * the application's private key and refuses what OneAccess refuses, each with its own error code.
 */
export async function createOneAccessSimulator(
  options: OneAccessSimulatorOptions = {},
): Promise<OneAccessSimulator> {
  const resolved = resolveOptions(options);
  const now: Clock = options.now ?? systemClock;
  const random: RandomSource = options.random ?? systemRandom;
  let privateKey: RsaPrivateKey =
    options.privateKey === undefined
      ? await generateKeyPair(resolved.keySize)
      : importPrivateKey(options.privateKey);
  let keyRotations = 0;
  const sessions = new Map<string, SimulatorSession>();
  /** session token -> nonce -> when the memory may be dropped (ms). */
  const usedNonces = new Map<string, Map<string, number>>();
  const calls: SimulatorCall[] = [];
  const notes = new WeakMap<Request, { errorCode?: string; signed?: SignedFields }>();
  const faults = new FaultSwitch();
  const windowMs = resolved.signatureWindowSec * 1000;

  const serverTimestamp = () => String(timestamp(resolved.timestampUnit, now));

  const note = (c: Context, extra: { errorCode?: string; signed?: SignedFields }) => {
    notes.set(c.req.raw, { ...notes.get(c.req.raw), ...extra });
  };

  const refuse = (c: Context, refusal: Refusal) => {
    note(c, { errorCode: refusal.code });
    return c.json({ error_code: refusal.code, error_msg: refusal.message }, 400);
  };

  /** X-client-id, X-tenant-id and the required device headers, in that order. */
  const checkCaller = (c: Context): Refusal | undefined => {
    const clientId = c.req.header(HEADERS.clientId);
    if (!clientId) return new Refusal(ONEACCESS_CODES.CLIENT_ID_REQUIRED);
    if (clientId !== resolved.clientId) return new Refusal(ONEACCESS_CODES.UNKNOWN_CLIENT);
    if (resolved.tenantId !== undefined && c.req.header(HEADERS.tenantId) !== resolved.tenantId) {
      return new Refusal(ONEACCESS_CODES.TENANT_INVALID);
    }
    for (const name of REQUIRED_DEVICE_HEADERS) {
      if (!c.req.header(name)) {
        return new Refusal(ONEACCESS_CODES.HEADER_REQUIRED, `Missing required header ${name}.`);
      }
    }
    return undefined;
  };

  const issueSession = (input: { userName?: string; sessionToken?: string } = {}): string => {
    const sessionToken = input.sessionToken ?? toBase64Url(random(32));
    const issuedAt = now();
    sessions.set(sessionToken, {
      sessionToken,
      userName: input.userName ?? "demo",
      issuedAt,
      expiresAt: issuedAt + resolved.sessionTtlSec * 1000,
    });
    return sessionToken;
  };

  const liveSession = (sessionToken: string): SimulatorSession | undefined => {
    const session = sessions.get(sessionToken);
    if (session && session.expiresAt <= now()) {
      sessions.delete(sessionToken);
      return undefined;
    }
    return session;
  };

  const forgetOldNonces = () => {
    const at = now();
    for (const [token, nonces] of usedNonces) {
      for (const [nonce, until] of nonces) if (until <= at) nonces.delete(nonce);
      if (nonces.size === 0) usedNonces.delete(token);
    }
  };

  /** Decrypts and reads X-signature; undefined when it does not decrypt or is not the signed form. */
  const readSignature = async (value: string): Promise<SignedFields | undefined> => {
    try {
      const plain = utf8Decode(await decryptOaep(privateKey, fromBase64(value), "SHA-256"));
      const match = SIGNED_FORM.exec(plain);
      if (!match) return undefined;
      const [, sessionToken = "", signedAt = "", nonce = ""] = match;
      return { sessionToken, timestamp: signedAt, nonce };
    } catch (error) {
      if (error instanceof DecryptionError || error instanceof EncodingError) return undefined;
      throw error;
    }
  };

  const app = new Hono();

  app.use("*", async (c, next) => {
    const faulty = await faults.intercept(c.req.raw.signal, c.env);
    if (faulty) return faulty;
    await next();
    c.res = faults.decorate(c.res);
  });

  app.use("*", async (c, next) => {
    const allowed = METHODS.get(c.req.path);
    if (allowed !== undefined && c.req.method !== allowed) {
      return c.text("Method Not Allowed", 405, { Allow: allowed });
    }
    await next();
  });

  app.get(PATHS.serverDate, (c) => {
    const refusal = checkCaller(c);
    if (refusal) return refuse(c, refusal);
    return c.json({ timestamp: serverTimestamp() });
  });

  app.get(PATHS.publicKey, (c) => {
    const refusal = checkCaller(c);
    if (refusal) return refuse(c, refusal);
    return c.json({ public_key: writePublicKey(privateKey.publicKey, resolved.publicKeyFormat) });
  });

  app.post(PATHS.login, async (c) => {
    const refusal = checkCaller(c);
    if (refusal) return refuse(c, refusal);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return refuse(c, new Refusal(ONEACCESS_CODES.BODY_INVALID));
    }
    const { user_name: userName, password } = (body ?? {}) as Record<string, unknown>;
    if (typeof userName !== "string" || typeof password !== "string") {
      return refuse(c, new Refusal(ONEACCESS_CODES.BODY_INVALID));
    }
    if (!Object.hasOwn(resolved.users, userName) || resolved.users[userName] !== password) {
      return refuse(c, new Refusal(ONEACCESS_CODES.CREDENTIALS_INVALID));
    }
    const sessionToken = issueSession({ userName });
    return c.json({
      status: 200,
      session_token: sessionToken,
      id_token: toBase64Url(random(24)),
      expire: resolved.sessionTtlSec,
    });
  });

  app.get(PATHS.logout, async (c) => {
    const refusal = checkCaller(c);
    if (refusal) return refuse(c, refusal);
    const signature = c.req.header(HEADERS.signature);
    if (!signature) {
      return refuse(
        c,
        new Refusal(
          ONEACCESS_CODES.HEADER_REQUIRED,
          `Missing required header ${HEADERS.signature}.`,
        ),
      );
    }
    const signed = await readSignature(signature);
    if (!signed) return refuse(c, new Refusal(ONEACCESS_CODES.SIGNATURE_INVALID));
    if (
      resolved.nonce === "timestamp-hex" &&
      signed.nonce !== Number(signed.timestamp).toString(16)
    ) {
      return refuse(
        c,
        new Refusal(
          ONEACCESS_CODES.SIGNATURE_INVALID,
          "Invalid signature: the nonce is not the timestamp in hexadecimal.",
        ),
      );
    }
    note(c, { signed });
    const unitMs = resolved.timestampUnit === "ms" ? 1 : 1000;
    const skewMs = Math.abs(Number(signed.timestamp) * unitMs - now());
    if (skewMs > windowMs + unitMs - 1) {
      return refuse(c, new Refusal(ONEACCESS_CODES.TIMESTAMP_EXPIRED));
    }
    forgetOldNonces();
    let nonces = usedNonces.get(signed.sessionToken);
    if (nonces?.has(signed.nonce)) return refuse(c, new Refusal(ONEACCESS_CODES.NONCE_REPLAYED));
    if (!nonces) {
      nonces = new Map();
      usedNonces.set(signed.sessionToken, nonces);
    }
    nonces.set(signed.nonce, now() + 2 * windowMs + 1000);
    if (!liveSession(signed.sessionToken)) {
      return refuse(c, new Refusal(ONEACCESS_CODES.SESSION_UNKNOWN));
    }
    sessions.delete(signed.sessionToken);
    return c.text(resolved.logoutBody, 200);
  });

  // A caller that gave up gets no answer worth logging; any other failure is a simulator bug: let it surface.
  app.onError((error, c) => {
    if (c.req.raw.signal.aborted) return new Response("client closed request", { status: 499 });
    throw error;
  });

  app.notFound((c) =>
    c.json(
      {
        error_code: "APIGW.0101",
        error_msg: "The API does not exist or has not been published in the environment.",
      },
      404,
    ),
  );

  const fetch = async (request: Request, env?: unknown): Promise<Response> => {
    const at = now();
    const response = await app.fetch(request, env);
    const extra = notes.get(request);
    // Defined, not assigned: a header named __proto__ is logged like any other.
    const headers: Record<string, string> = Object.fromEntries(request.headers);
    calls.push({
      method: request.method,
      path: new URL(request.url).pathname,
      status: response.status,
      errorCode: extra?.errorCode,
      headers,
      signed: extra?.signed,
      at,
    });
    return faults.settle(response);
  };

  return {
    fetch,
    app,
    faults,
    options: resolved,
    get privateKey() {
      return privateKey;
    },
    get publicKey() {
      return privateKey.publicKey;
    },
    get calls() {
      return calls;
    },
    count: (path) =>
      path === undefined ? calls.length : calls.filter((call) => call.path === path).length,
    clearCalls: () => {
      calls.length = 0;
    },
    issueSession,
    hasSession: (sessionToken) => liveSession(sessionToken) !== undefined,
    dropSession: (sessionToken) => sessions.delete(sessionToken),
    rotateKey: async (material) => {
      privateKey =
        material === undefined
          ? await generateKeyPair(resolved.keySize)
          : importPrivateKey(material);
      keyRotations++;
      return privateKey.publicKey;
    },
    serverTimestamp,
    state: () => {
      let remembered = 0;
      for (const nonces of usedNonces.values()) remembered += nonces.size;
      return {
        options: { ...resolved },
        keyBits: privateKey.bits,
        keyRotations,
        sessions: [...sessions.values()].map((session) => ({ ...session })),
        usedNonces: remembered,
        calls: calls.length,
      };
    },
  };
}
