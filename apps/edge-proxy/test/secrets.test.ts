// No secret leaves the proxy: every route, on success and error paths, driven with known keys and
// tokens; none of them may appear in a log line, a response body or a response header.
//
// The routes come from the app itself (Hono's route list), so a route added later is swept too:
// every path and method gets the generic requests (every credential as bearer, bodies full of
// secrets, a body that is not JSON, another method). Routes known here also get their own success
// and error scenarios (bad auth, bad body, vendor errors, faults, deadline).
import { DEFAULT_SIMULATOR_JWT_KEY } from "@x/fungame/testing";
import { SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MemoryOutbox } from "../src/adapters/memory/outbox.ts";
import { loadConfig } from "../src/config.ts";
import type { JobView } from "../src/outbox.ts";
import {
  API_KEY,
  createHarness,
  DEVICE,
  type Harness,
  type HarnessOptions,
  OTHER_API_KEY,
  sha256Hex,
  USER_JWT_SECRET,
} from "./harness.ts";

/** The eBET key the harness configures (EBET_PRIVATE_KEY), read from its environment. */
async function ebetPrivateKeyPem(): Promise<string> {
  const h = await createHarness();
  const pem = h.env.EBET_PRIVATE_KEY;
  if (typeof pem !== "string" || !pem.includes("PRIVATE KEY")) throw new Error("no eBET key");
  return pem;
}

function base64ToHex(base64: string): string {
  const binary = atob(base64);
  let hex = "";
  for (let i = 0; i < binary.length; i++) hex += binary.charCodeAt(i).toString(16).padStart(2, "0");
  return hex;
}

/** Pieces of `text` of `size` characters, each on its own a secret (the last one may be shorter). */
function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

interface Secret {
  name: string;
  value: string;
}

/** Everything the proxy knows or is sent that must never come out again. */
interface Secrets {
  list: Secret[];
  /** A FunGame token of a live session (alice), made fresh per scenario. */
  fungameToken(h: Harness): Promise<string>;
  userJwt(sub: string, secret?: string): Promise<string>;
  forgedFungameToken: string;
}

const WRONG_JWT_SECRET = "not-the-user-jwt-secret-but-long-enough-000";
const SESSION_TOKEN = "oneaccess-session-token-5e1f0c9a7b3d48e2";
const UNKNOWN_SESSION_TOKEN = "oneaccess-unknown-session-77d1c0a9e4f2b6";
const LANCENS_PASSWORD = "lcn-pw-4b8e1d9";
const WRONG_LANCENS_TOKEN = "lancens-wrong-token-9c2e7a51";
/** A token the channel issued for player demo (not eBET's published example, which the docs show). */
const EBET_ACCESS_TOKEN = "c0ffee7e1d9a4b3f8e2d6a5b4c3d2e1f";

async function signJwt(claims: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(secret));
}

async function makeSecrets(): Promise<Secrets> {
  const pem = await ebetPrivateKeyPem();
  const body = pem
    .replace(/-----[^-]+-----/g, "")
    .replace(/\s+/g, "")
    .trim();
  const derHex = base64ToHex(body);
  const list: Secret[] = [
    { name: "EBET_PRIVATE_KEY (PEM)", value: pem.trim() },
    { name: "EBET_PRIVATE_KEY (base64 body)", value: body },
    ...pem
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length >= 40 && !line.startsWith("-----"))
      .map((line, i) => ({ name: `EBET_PRIVATE_KEY (PEM line ${i + 1})`, value: line })),
    { name: "EBET_PRIVATE_KEY (DER hex)", value: derHex },
    // The modulus comes first in the DER; the private parts follow it.
    ...chunks(derHex.slice(derHex.length / 2), 48).map((value, i) => ({
      name: `EBET_PRIVATE_KEY (DER hex, private part ${i + 1})`,
      value,
    })),
    { name: "FUNGAME_JWT_SECRET", value: DEFAULT_SIMULATOR_JWT_KEY },
    { name: "proxy API key", value: API_KEY },
    { name: "second proxy API key", value: OTHER_API_KEY },
    { name: "SHA-256 of the proxy API key", value: await sha256Hex(API_KEY) },
    { name: "SHA-256 of the second API key", value: await sha256Hex(OTHER_API_KEY) },
    { name: "PROXY_JWT_SECRET", value: USER_JWT_SECRET },
    { name: "a wrong user JWT secret", value: WRONG_JWT_SECRET },
    { name: "OneAccess session token", value: SESSION_TOKEN },
    { name: "unknown OneAccess session token", value: UNKNOWN_SESSION_TOKEN },
    { name: "Lancens password", value: LANCENS_PASSWORD },
    { name: "wrong Lancens token", value: WRONG_LANCENS_TOKEN },
    { name: "eBET access token", value: EBET_ACCESS_TOKEN },
  ];
  const forgedFungameToken = await signJwt(
    { sub: "alice", jti: crypto.randomUUID() },
    WRONG_JWT_SECRET,
  );
  return {
    list,
    forgedFungameToken,
    async fungameToken(h) {
      return h.sims.fungame.login("alice");
    },
    userJwt: (sub, secret = USER_JWT_SECRET) => signJwt({ sub }, secret),
  };
}

/** The tokens a scenario sent: each is a secret too (its signature part on its own as well). */
function tokenSecrets(name: string, token: string): Secret[] {
  const parts = token.split(".");
  const secrets = [{ name, value: token }];
  if (parts.length === 3 && (parts[2] ?? "").length >= 20) {
    secrets.push({ name: `${name} (signature)`, value: parts[2] as string });
  }
  return secrets;
}

/** Where each secret turns up in `text`, if anywhere (hex also in upper case). */
function leaks(where: string, text: string, secrets: readonly Secret[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    const variants = /^[0-9a-f]+$/.test(secret.value)
      ? [secret.value, secret.value.toUpperCase()]
      : [secret.value];
    if (variants.some((variant) => text.includes(variant)))
      found.push(`${secret.name} in ${where}`);
  }
  return found;
}

/** Console output of the proxy (entries log through console on Workers), captured per test. */
const consoleLines: string[] = [];

beforeEach(() => {
  consoleLines.length = 0;
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleLines.push(args.map((arg) => (typeof arg === "string" ? arg : String(arg))).join(" "));
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

type Init = RequestInit & { json?: unknown; bearer?: string };

interface Outcome {
  label: string;
  status: number;
  leaks: string[];
}

/** Sends one request and reports what of `secrets` came out: in the body, a header, or a log line. */
async function probe(
  h: Harness,
  label: string,
  path: string,
  init: Init,
  secrets: readonly Secret[],
): Promise<Outcome> {
  const before = h.logs.length;
  const consoleBefore = consoleLines.length;
  const response = await h.request(path, init);
  const text = await response.text();
  const found = [...leaks(`${label}: body`, text, secrets)];
  response.headers.forEach((value, name) => {
    found.push(...leaks(`${label}: header ${name}`, `${name}: ${value}`, secrets));
  });
  // Logs written after the answer (e.g. by waitUntil work) are caught by the final sweep below.
  for (const line of h.logs.slice(before)) {
    found.push(...leaks(`${label}: log line`, JSON.stringify(line), secrets));
  }
  for (const line of consoleLines.slice(consoleBefore)) {
    found.push(...leaks(`${label}: console`, line, secrets));
  }
  return { label, status: response.status, leaks: found };
}

/** Every log line and console line of a harness, swept once more at the end of a scenario. */
function sweepLogs(h: Harness, label: string, secrets: readonly Secret[]): string[] {
  return [
    ...h.logs.flatMap((line) => leaks(`${label}: log line`, JSON.stringify(line), secrets)),
    ...consoleLines.flatMap((line) => leaks(`${label}: console`, line, secrets)),
  ];
}

// ---------------------------------------------------------------------------------------------
// The routes, from the app

interface RouteEntry {
  method: string;
  path: string;
}

/** The app's routes: every path with its methods, middleware left out. */
function appRoutes(h: Harness): RouteEntry[] {
  const routes = (h.app as unknown as { routes: { method: string; path: string }[] }).routes;
  const paths = new Set<string>();
  const entries = new Map<string, RouteEntry>();
  for (const route of routes) {
    if (route.path === "*" || route.path === "/*") continue;
    if (route.method === "ALL") {
      if (!route.path.endsWith("/*") || route.path === "/docs/*") paths.add(route.path);
      continue;
    }
    paths.add(route.path);
    entries.set(`${route.method} ${route.path}`, { method: route.method, path: route.path });
  }
  // Paths that only a catch-all answers (no method of their own) still get the generic sweep.
  for (const path of paths) {
    if (![...entries.values()].some((entry) => entry.path === path)) {
      entries.set(`GET ${path}`, { method: "GET", path });
    }
  }
  return [...entries.values()];
}

/** A concrete URL path for a route pattern: parameters and wildcards filled with harmless values. */
function concretePath(pattern: string): string {
  return pattern.replace(/:[A-Za-z_]\w*(\{[^}]*\})?/g, "0f0e0d0c-job").replace(/\*$/, "index.html");
}

// ---------------------------------------------------------------------------------------------
// Scenarios of the routes known here

interface Scenario {
  name: string;
  options?: HarnessOptions;
  run(h: Harness, s: Secrets, sent: Secret[]): Promise<Outcome[]>;
}

const bearerAll = async (h: Harness, s: Secrets) => [
  API_KEY,
  `${API_KEY}x`,
  await sha256Hex(API_KEY),
  await s.userJwt("demo"),
  await s.userJwt("demo", WRONG_JWT_SECRET),
  await s.fungameToken(h),
  s.forgedFungameToken,
  SESSION_TOKEN,
  USER_JWT_SECRET,
  DEFAULT_SIMULATOR_JWT_KEY,
];

/** A body with a secret in every member a route might read, and some it must refuse. */
function secretBody(fungameToken: string): Record<string, unknown> {
  return {
    username: "demo",
    token: fungameToken,
    sessionToken: SESSION_TOKEN,
    accessToken: EBET_ACCESS_TOKEN,
    password: LANCENS_PASSWORD,
    apiKey: API_KEY,
    secret: USER_JWT_SECRET,
    privateKey: DEFAULT_SIMULATOR_JWT_KEY,
    device: DEVICE,
    ebet: { username: "demo", apiKey: API_KEY },
    fungame: { token: fungameToken },
    sdkAuth: { sessionToken: SESSION_TOKEN, device: DEVICE },
    lancens: { username: "lancens-user", token: WRONG_LANCENS_TOKEN },
  };
}

const FAST_DEADLINE: HarnessOptions = {
  env: { UPSTREAM_TIMEOUT_MS: "200", UPSTREAM_DEADLINE_MS: "400" },
};

/** Asynchronous delivery with fast retries, on the in-memory outbox of the non-Workers entries. */
const OUTBOX_ENV = {
  LOGOUT_RETRY_MAX_ATTEMPTS: "2",
  LOGOUT_RETRY_BASE_MS: "5",
  LOGOUT_RETRY_MAX_DELAY_MS: "10",
};
let memoryOutbox: MemoryOutbox | undefined;
const WITH_OUTBOX: HarnessOptions = {
  env: OUTBOX_ENV,
  deps: {
    outbox: (run) => {
      memoryOutbox = new MemoryOutbox(run, { policy: loadConfig(OUTBOX_ENV).outbox });
      return memoryOutbox;
    },
  },
};

/** Waits (bounded) until the job is no longer pending, polling as a caller would. */
async function settledJob(h: Harness, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await memoryOutbox?.idle();
    const response = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
    const view = (await response.json()) as JobView;
    if (view.status !== "pending") return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const scenarios: Scenario[] = [
  {
    name: "eBET logout: API key, user token, refusals, vendor errors",
    async run(h, s) {
      h.sims.ebet.updateUser("demo", { playing: true });
      const out: Outcome[] = [];
      const p = (label: string, init: Init) => probe(h, label, "/v1/ebet/logout", init, s.list);
      out.push(await p("ok by API key", { json: { username: "demo" }, bearer: API_KEY }));
      h.sims.ebet.updateUser("demo", { playing: true });
      out.push(
        await p("ok by user token", {
          json: { username: "demo" },
          bearer: await s.userJwt("demo"),
        }),
      );
      out.push(await p("no auth", { json: { username: "demo" } }));
      out.push(await p("wrong API key", { json: { username: "demo" }, bearer: `${API_KEY}x` }));
      out.push(
        await p("digest as key", { json: { username: "demo" }, bearer: await sha256Hex(API_KEY) }),
      );
      out.push(
        await p("token of another user", {
          json: { username: "demo" },
          bearer: await s.userJwt("someone"),
        }),
      );
      out.push(
        await p("token signed with another secret", {
          json: { username: "demo" },
          bearer: await s.userJwt("demo", WRONG_JWT_SECRET),
        }),
      );
      out.push(
        await p("Basic auth with the key", {
          json: { username: "demo" },
          headers: { authorization: `Basic ${btoa(`demo:${API_KEY}`)}` },
        }),
      );
      out.push(await p("secret as username", { json: { username: API_KEY }, bearer: API_KEY }));
      out.push(
        await p("unknown members", {
          json: { username: "demo", password: USER_JWT_SECRET, apiKey: API_KEY },
          bearer: API_KEY,
        }),
      );
      out.push(
        await p("broken JSON", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"username": "${USER_JWT_SECRET}", "key": "${DEFAULT_SIMULATOR_JWT_KEY}`,
          bearer: API_KEY,
        }),
      );
      out.push(await p("unknown player", { json: { username: "nobody1" }, bearer: API_KEY }));
      h.sims.ebet.forceStatus(4025, 1);
      out.push(
        await p("eBET refuses the signature", { json: { username: "demo" }, bearer: API_KEY }),
      );
      h.sims.ebet.faults.set({ status: 502 });
      out.push(await p("eBET gateway error", { json: { username: "demo" }, bearer: API_KEY }));
      h.sims.ebet.faults.set({ truncatedJson: true });
      out.push(await p("eBET truncated JSON", { json: { username: "demo" }, bearer: API_KEY }));
      return out;
    },
  },
  {
    name: "eBET logout and callback past the deadline",
    options: FAST_DEADLINE,
    async run(h, s) {
      h.sims.ebet.faults.set({ delayMs: 2000 });
      return [
        await probe(
          h,
          "logout deadline",
          "/v1/ebet/logout",
          { json: { username: "demo" }, bearer: API_KEY },
          s.list,
        ),
        await probe(
          h,
          "callback deadline",
          "/v1/ebet/callback",
          { json: { username: "demo", accessToken: EBET_ACCESS_TOKEN }, bearer: API_KEY },
          s.list,
        ),
      ];
    },
  },
  {
    name: "eBET callback: the player's access token stays in",
    async run(h, s) {
      const p = (label: string, init: Init) => probe(h, label, "/v1/ebet/callback", init, s.list);
      return [
        await p("ok", {
          json: { username: "demo", accessToken: EBET_ACCESS_TOKEN, subChannelId: 0 },
          bearer: API_KEY,
        }),
        await p("wrong access token", {
          json: { username: "demo", accessToken: WRONG_LANCENS_TOKEN },
          bearer: API_KEY,
        }),
        await p("no auth", { json: { username: "demo", accessToken: EBET_ACCESS_TOKEN } }),
        await p("bad subChannelId", {
          json: { username: "demo", accessToken: EBET_ACCESS_TOKEN, subChannelId: API_KEY },
          bearer: API_KEY,
        }),
      ];
    },
  },
  {
    name: "FunGame logout and token-status: live, revoked, forged, vendor errors",
    async run(h, s, sent) {
      const token = await s.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", token));
      const out: Outcome[] = [];
      const list = () => [...s.list, ...sent];
      const logout = (label: string, bearer?: string, headers?: Record<string, string>) =>
        probe(
          h,
          label,
          "/v1/fungame/logout",
          {
            method: "POST",
            ...(bearer === undefined ? {} : { bearer }),
            ...(headers === undefined ? {} : { headers }),
          },
          list(),
        );
      const status = (label: string, bearer: string) =>
        probe(h, label, "/v1/fungame/token-status", { bearer }, list());
      out.push(await status("status live", token));
      out.push(await logout("logout ok", token));
      out.push(await status("status revoked", token));
      out.push(await logout("logout revoked", token));
      sent.push(...tokenSecrets("forged FunGame token", s.forgedFungameToken));
      out.push(await logout("logout forged", s.forgedFungameToken));
      out.push(await status("status forged", s.forgedFungameToken));
      out.push(await logout("no auth"));
      out.push(
        await logout("token in a Basic header", undefined, { authorization: `Basic ${token}` }),
      );
      const other = await h.sims.fungame.login("bob");
      sent.push(...tokenSecrets("second FunGame token", other));
      h.sims.fungame.faults.set({ status: 503 });
      out.push(await logout("FunGame 503", other));
      h.sims.fungame.faults.set({ nonJson: true });
      out.push(await logout("FunGame not JSON", other));
      return out;
    },
  },
  {
    name: "FunGame logout past the deadline",
    options: FAST_DEADLINE,
    async run(h, s, sent) {
      const token = await s.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", token));
      h.sims.fungame.faults.set({ delayMs: 2000 });
      return [
        await probe(h, "deadline", "/v1/fungame/logout", { method: "POST", bearer: token }, [
          ...s.list,
          ...sent,
        ]),
      ];
    },
  },
  {
    name: "OneAccess logout: live and unknown sessions, bad device, vendor errors",
    async run(h, s) {
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      const p = (label: string, json: unknown) =>
        probe(h, label, "/v1/sdk-auth/logout", { json }, s.list);
      const out: Outcome[] = [];
      out.push(await p("ok", { sessionToken: SESSION_TOKEN, device: DEVICE }));
      out.push(await p("already ended", { sessionToken: SESSION_TOKEN, device: DEVICE }));
      out.push(await p("unknown session", { sessionToken: UNKNOWN_SESSION_TOKEN, device: DEVICE }));
      out.push(await p("no device", { sessionToken: SESSION_TOKEN }));
      out.push(
        await p("header-breaking device", {
          sessionToken: SESSION_TOKEN,
          device: { ...DEVICE, agent: `x\r\nauthorization: ${API_KEY}` },
        }),
      );
      out.push(await p("token of the wrong type", { sessionToken: 42, device: DEVICE }));
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      h.sims.sdkAuth.faults.set({ status: 502 });
      out.push(await p("OneAccess 502", { sessionToken: SESSION_TOKEN, device: DEVICE }));
      h.sims.sdkAuth.faults.set({ truncatedJson: true });
      out.push(await p("OneAccess truncated", { sessionToken: SESSION_TOKEN, device: DEVICE }));
      return out;
    },
  },
  {
    name: "Lancens logout: live and wrong tokens, vendor errors, deadline",
    async run(h, s, sent) {
      h.sims.lancens.addUser({ username: "leak-check", password: LANCENS_PASSWORD });
      const login = await h.sims.lancens.signIn("leak-check", LANCENS_PASSWORD);
      sent.push({ name: "Lancens login token", value: login.token });
      sent.push({ name: "Lancens refresh key", value: login.reflash_key });
      const list = () => [...s.list, ...sent];
      const p = (label: string, json: unknown) =>
        probe(h, label, "/v1/lancens/logout", { json }, list());
      const out: Outcome[] = [];
      out.push(await p("ok", { username: "leak-check", token: login.token }));
      out.push(await p("token no longer valid", { username: "leak-check", token: login.token }));
      out.push(await p("wrong token", { username: "leak-check", token: WRONG_LANCENS_TOKEN }));
      out.push(await p("no token", { username: "leak-check", password: LANCENS_PASSWORD }));
      const again = await h.sims.lancens.signIn("leak-check", LANCENS_PASSWORD);
      sent.push({ name: "second Lancens login token", value: again.token });
      h.sims.lancens.failNext("logout", `token ${again.token} refused`, { status: 400 });
      out.push(await p("Lancens refusal", { username: "leak-check", token: again.token }));
      h.sims.lancens.faults.set({ status: 503 });
      out.push(await p("Lancens 503", { username: "leak-check", token: again.token }));
      return out;
    },
  },
  {
    name: "fan-out: all four, partial failure, refusals",
    async run(h, s, sent) {
      h.sims.ebet.updateUser("demo", { playing: true });
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      h.sims.lancens.addUser({ username: "fan-out", password: LANCENS_PASSWORD });
      const login = await h.sims.lancens.signIn("fan-out", LANCENS_PASSWORD);
      const token = await s.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", token));
      sent.push({ name: "Lancens login token", value: login.token });
      const list = () => [...s.list, ...sent];
      const body = {
        ebet: { username: "demo" },
        fungame: { token },
        sdkAuth: { sessionToken: SESSION_TOKEN, device: DEVICE },
        lancens: { username: "fan-out", token: login.token },
      };
      const p = (label: string, init: Init) => probe(h, label, "/v1/logout", init, list());
      const out: Outcome[] = [];
      out.push(await p("all four ok", { json: body, bearer: API_KEY }));
      out.push(await p("all four again (each fails)", { json: body, bearer: API_KEY }));
      out.push(await p("eBET member without auth", { json: { ebet: { username: "demo" } } }));
      out.push(
        await p("eBET member, wrong key", {
          json: { ebet: { username: "demo" } },
          bearer: `${API_KEY}x`,
        }),
      );
      out.push(await p("secrets everywhere", { json: secretBody(token), bearer: API_KEY }));
      const next = await h.sims.fungame.login("bob");
      sent.push(...tokenSecrets("second FunGame token", next));
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      h.sims.sdkAuth.faults.set({ status: 503 });
      out.push(
        await p("OneAccess down", {
          json: {
            fungame: { token: next },
            sdkAuth: { sessionToken: SESSION_TOKEN, device: DEVICE },
          },
        }),
      );
      return out;
    },
  },
  {
    name: "fan-out past the deadline",
    options: FAST_DEADLINE,
    async run(h, s, sent) {
      const token = await s.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", token));
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      for (const sim of [h.sims.fungame, h.sims.sdkAuth]) sim.faults.set({ delayMs: 2000 });
      return [
        await probe(
          h,
          "deadline",
          "/v1/logout",
          {
            json: {
              fungame: { token },
              sdkAuth: { sessionToken: SESSION_TOKEN, device: DEVICE },
            },
          },
          [...s.list, ...sent],
        ),
      ];
    },
  },
  {
    name: "durable delivery: 202, the job document, a vendor that keeps failing",
    options: WITH_OUTBOX,
    async run(h, s, sent) {
      h.sims.ebet.updateUser("demo", { playing: true });
      h.sims.sdkAuth.issueSession({ userName: "alice", sessionToken: SESSION_TOKEN });
      h.sims.lancens.addUser({ username: "async-user", password: LANCENS_PASSWORD });
      const login = await h.sims.lancens.signIn("async-user", LANCENS_PASSWORD);
      const token = await s.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", token));
      sent.push({ name: "Lancens login token", value: login.token });
      const list = () => [...s.list, ...sent];
      h.sims.sdkAuth.faults.set({ status: 503 });
      const out: Outcome[] = [];
      const accepted = await h.request("/v1/logout", {
        json: {
          ebet: { username: "demo" },
          fungame: { token },
          sdkAuth: { sessionToken: SESSION_TOKEN, device: DEVICE },
          lancens: { username: "async-user", token: login.token },
        },
        bearer: API_KEY,
        headers: { prefer: "respond-async" },
      });
      const text = await accepted.text();
      const acceptedLeaks = leaks("202: body", text, list());
      accepted.headers.forEach((value, name) => {
        acceptedLeaks.push(...leaks(`202: header ${name}`, `${name}: ${value}`, list()));
      });
      out.push({ label: "accepted", status: accepted.status, leaks: acceptedLeaks });
      const id = (JSON.parse(text) as { id?: string }).id ?? "";
      await settledJob(h, id);
      out.push(await probe(h, "job document", `/v1/logout/${id}`, { bearer: API_KEY }, list()));
      out.push(await probe(h, "job without auth", `/v1/logout/${id}`, {}, list()));
      out.push(
        await probe(h, "job, wrong key", `/v1/logout/${id}`, { bearer: `${API_KEY}x` }, list()),
      );
      out.push(
        await probe(
          h,
          "job id a secret",
          `/v1/logout/${await sha256Hex(API_KEY)}`,
          { bearer: API_KEY },
          list(),
        ),
      );
      return out;
    },
  },
  {
    name: "rate limit: 429 with Retry-After, by API key, by token subject, by address",
    options: { env: { PROXY_RATE_LIMIT: "2/60" } },
    async run(h, s) {
      const out: Outcome[] = [];
      const jwt = await s.userJwt("demo");
      for (let i = 0; i < 4; i++) {
        out.push(
          await probe(
            h,
            `by API key ${i}`,
            "/v1/ebet/logout",
            { json: { username: "demo" }, bearer: API_KEY },
            s.list,
          ),
        );
        out.push(
          await probe(
            h,
            `by user token ${i}`,
            "/v1/ebet/logout",
            { json: { username: "demo" }, bearer: jwt },
            [...s.list, ...tokenSecrets("user token", jwt)],
          ),
        );
        out.push(
          await probe(
            h,
            `by address ${i}`,
            "/v1/sdk-auth/logout",
            { json: { sessionToken: SESSION_TOKEN, device: DEVICE } },
            s.list,
          ),
        );
      }
      return out;
    },
  },
  {
    name: "replay: the same login notification twice",
    async run(h, s) {
      const p = (label: string) =>
        probe(
          h,
          label,
          "/v1/ebet/callback",
          { json: { username: "demo", accessToken: EBET_ACCESS_TOKEN }, bearer: API_KEY },
          s.list,
        );
      return [await p("first"), await p("replayed")];
    },
  },
  {
    name: "unknown routes and a broken configuration",
    async run(h, s) {
      const out: Outcome[] = [];
      out.push(
        await probe(
          h,
          "unknown route",
          "/v1/nope/logout",
          { json: { apiKey: API_KEY, token: SESSION_TOKEN }, bearer: API_KEY },
          s.list,
        ),
      );
      out.push(
        await probe(h, "root", "/", { headers: { authorization: `Bearer ${API_KEY}` } }, s.list),
      );
      out.push(
        await probe(
          h,
          "bad request id",
          "/healthz",
          { headers: { "x-request-id": "bad id\u0001", authorization: `Bearer ${API_KEY}` } },
          s.list,
        ),
      );
      // A configuration that does not validate names variables, never values: a truncated key, a
      // short secret, a digest list with a key in clear among the digests.
      const pem = String(h.env.EBET_PRIVATE_KEY);
      const truncated = pem.slice(0, Math.floor(pem.length * 0.8));
      try {
        h.rebuild({
          env: {
            EBET_PRIVATE_KEY: truncated,
            FUNGAME_JWT_SECRET: DEFAULT_SIMULATOR_JWT_KEY.slice(0, 20),
            PROXY_API_KEY_SHA256: `${await sha256Hex(API_KEY)}, ${API_KEY}`,
            PROXY_JWT_SECRET: USER_JWT_SECRET.slice(0, 30),
          },
        });
        out.push({ label: "broken configuration", status: 0, leaks: ["it was accepted"] });
      } catch (error) {
        const text = JSON.stringify({
          message: error instanceof Error ? error.message : String(error),
          issues: (error as { issues?: unknown }).issues ?? null,
        });
        const partial = [
          ...s.list,
          { name: "truncated eBET key (last line)", value: truncated.split("\n").at(-1) ?? "" },
          { name: "part of FUNGAME_JWT_SECRET", value: DEFAULT_SIMULATOR_JWT_KEY.slice(0, 20) },
          { name: "part of PROXY_JWT_SECRET", value: USER_JWT_SECRET.slice(0, 30) },
        ].filter((secret) => secret.value.length >= 12);
        out.push({
          label: "broken configuration",
          status: 0,
          leaks: leaks("configuration error", text, partial),
        });
      }
      return out;
    },
  },
];

/** A harness whose proxy verifies FunGame tokens itself, with EBET_ACCESS_TOKEN issued to demo. */
async function leakHarness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await createHarness({
    ...options,
    env: { FUNGAME_JWT_SECRET: DEFAULT_SIMULATOR_JWT_KEY, ...options.env },
  });
  h.sims.ebet.issueToken("demo", EBET_ACCESS_TOKEN);
  return h;
}

/** Runs `scenario`'s requests against a fresh harness and returns every leak it found. */
async function runScenario(scenario: Scenario, secrets: Secrets): Promise<Outcome[]> {
  const options = scenario.options ?? {};
  let h: Harness;
  try {
    h = await leakHarness(options);
  } catch (error) {
    // A misconfiguration throws when the app is built: the error must not carry a value either.
    const text = error instanceof Error ? `${error.message} ${error.stack ?? ""}` : String(error);
    return [{ label: "build", status: 0, leaks: leaks("config error", text, secrets.list) }];
  }
  const sent: Secret[] = [];
  const outcomes = await scenario.run(h, secrets, sent);
  outcomes.push({
    label: "all logs",
    status: 0,
    leaks: sweepLogs(h, scenario.name, [...secrets.list, ...sent]),
  });
  return outcomes;
}

describe("no secret in logs, bodies or headers", () => {
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const secrets = await makeSecrets();
      const outcomes = await runScenario(scenario, secrets);
      expect(outcomes.flatMap((outcome) => outcome.leaks)).toEqual([]);
      // The scenario did reach the proxy: every request got an answer.
      expect(outcomes.filter((o) => o.label !== "all logs").length).toBeGreaterThan(0);
    });
  }

  it("the scenarios take the paths they name (a leak check of answers that never came means nothing)", async () => {
    const secrets = await makeSecrets();
    const statuses = new Map<string, number>();
    for (const scenario of scenarios) {
      for (const outcome of await runScenario(scenario, secrets)) {
        statuses.set(`${scenario.name.split(":")[0]} / ${outcome.label}`, outcome.status);
      }
    }
    const expected: Record<string, number> = {
      "eBET logout / ok by API key": 200,
      "eBET logout / ok by user token": 200,
      "eBET logout / no auth": 401,
      "eBET logout / wrong API key": 401,
      "eBET logout / digest as key": 401,
      "eBET logout / token of another user": 403,
      "eBET logout / token signed with another secret": 401,
      "eBET logout / secret as username": 400,
      "eBET logout / unknown members": 400,
      "eBET logout / broken JSON": 400,
      "eBET logout / unknown player": 404,
      "eBET callback / ok": 200,
      "eBET callback / wrong access token": 401,
      "FunGame logout and token-status / status live": 200,
      "FunGame logout and token-status / logout ok": 200,
      "FunGame logout and token-status / logout revoked": 200,
      "FunGame logout and token-status / logout forged": 401,
      "OneAccess logout / ok": 200,
      "OneAccess logout / no device": 400,
      "Lancens logout / ok": 200,
      "fan-out / all four ok": 200,
      "fan-out / all four again (each fails)": 207,
      "fan-out / eBET member without auth": 401,
      "unknown routes and a broken configuration / unknown route": 404,
      "durable delivery / accepted": 202,
      "durable delivery / job document": 200,
      // Someone else's job answers as an unknown one does.
      "durable delivery / job without auth": 404,
      "rate limit / by API key 3": 429,
      "rate limit / by user token 3": 429,
      "rate limit / by address 3": 429,
      "replay / first": 200,
      "replay / replayed": 409,
    };
    for (const [label, status] of Object.entries(expected)) {
      expect(statuses.get(label), label).toBe(status);
    }
    for (const label of [
      "eBET logout / eBET gateway error",
      "eBET logout and callback past the deadline / logout deadline",
      "FunGame logout and token-status / FunGame 503",
      "OneAccess logout / OneAccess 502",
      "Lancens logout / Lancens 503",
    ]) {
      expect(statuses.get(label), label).toBeGreaterThanOrEqual(500);
    }
  });

  it("the check finds a secret in a body, a header or a log line, hex in either case", () => {
    const secret = [{ name: "key", value: "0123456789abcdef0123" }];
    expect(leaks("body", '{"detail":"0123456789abcdef0123"}', secret)).toEqual(["key in body"]);
    expect(leaks("header", "x-key: 0123456789ABCDEF0123", secret)).toEqual(["key in header"]);
    expect(leaks("log", JSON.stringify({ at: 1, note: "0123456789abcdef012" }), secret)).toEqual(
      [],
    );
  });

  it("every route of the app, every method and unknown ones, with every credential and secret-laden bodies", async () => {
    const secrets = await makeSecrets();
    const h = await leakHarness();
    const routes = appRoutes(h);
    // The table the app answers from: at least the routes of the HTTP contract.
    const keys = routes.map((route) => `${route.method} ${route.path}`);
    for (const known of [
      "POST /v1/ebet/logout",
      "POST /v1/ebet/callback",
      "POST /v1/fungame/logout",
      "GET /v1/fungame/token-status",
      "POST /v1/sdk-auth/logout",
      "POST /v1/lancens/logout",
      "POST /v1/logout",
      "GET /healthz",
      "GET /openapi.json",
    ]) {
      expect(keys).toContain(known);
    }
    const sent: Secret[] = [];
    const found: string[] = [];
    const statuses = new Set<number>();
    for (const route of routes) {
      const path = concretePath(route.path);
      const bearers = await bearerAll(h, secrets);
      for (const bearer of bearers) sent.push(...tokenSecrets("bearer sent", bearer));
      const fungameToken = await secrets.fungameToken(h);
      sent.push(...tokenSecrets("FunGame token", fungameToken));
      const list = [...secrets.list, ...sent];
      const requests: [string, Init][] = [];
      for (const [i, bearer] of bearers.entries()) {
        requests.push([
          `bearer ${i}`,
          route.method === "GET" || route.method === "HEAD"
            ? { method: route.method, bearer }
            : { method: route.method, bearer, json: secretBody(fungameToken) },
        ]);
      }
      requests.push([
        "not JSON",
        {
          method: route.method === "GET" ? "POST" : route.method,
          headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
          body: `{"token": "${fungameToken}", "key": "${USER_JWT_SECRET}`,
        },
      ]);
      requests.push([
        "form body",
        {
          method: route.method === "GET" ? "POST" : route.method,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: `apiKey=${API_KEY}&secret=${USER_JWT_SECRET}`,
        },
      ]);
      for (const method of ["PUT", "DELETE", "PATCH"]) {
        requests.push([method, { method, bearer: API_KEY, json: secretBody(fungameToken) }]);
      }
      for (const [label, init] of requests) {
        const outcome = await probe(h, `${route.method} ${route.path} ${label}`, path, init, list);
        statuses.add(outcome.status);
        found.push(...outcome.leaks);
      }
    }
    found.push(...sweepLogs(h, "sweep", [...secrets.list, ...sent]));
    expect(found).toEqual([]);
    // Error paths were taken: refusals, bad bodies, wrong methods.
    expect(statuses).toContain(401);
    expect(statuses).toContain(400);
    expect(statuses).toContain(405);
  });
});
