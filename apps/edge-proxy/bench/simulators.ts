// The four vendor simulators for the benchmarks, in a process of their own, with a control API that mints credentials.
//
//   node bench/simulators.ts      prints one line `bench-simulators ready {json}` (URLs, the proxy's
//                                 environment), then serves until SIGTERM/SIGINT or stdin closes
//
// Every logout ends a session, so each measured request needs credentials of its own: the control
// API makes them in bulk, outside the timed part, for the request straight to the simulator
// ("direct": the upstream requests exactly as the proxy would send them, already signed) and for the
// request through the proxy. POST /delay makes every simulator answer later, like a distant vendor.
// `"fresh": true` in a /prepare body makes a new eBET player per logout; POST /audit answers the
// logout calls each simulator received since the last /prepare (the load run checks them).
// Only 127.0.0.1 is used.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import process from "node:process";
import { createAdaptorServer } from "@hono/node-server";
import { toBase64Url, toHex } from "@x/core-signing";
import { generateKeyPair, type RsaPrivateKey } from "@x/core-signing/rsa";
import { buildLogoutRequest as buildEbetLogout } from "@x/ebet";
import { createEbetSimulator } from "@x/ebet/testing";
import { buildLogoutRequest as buildFunGameLogout } from "@x/fungame";
import { createFunGameSimulator } from "@x/fungame/testing";
import {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest as buildLancensLogout,
} from "@x/lancens";
import { createLancensSimulator } from "@x/lancens/testing";
import { buildLogoutRequest as buildOneAccessLogout, hexNonce } from "@x/sdk-auth";
import { createOneAccessSimulator, type OneAccessSimulator } from "@x/sdk-auth/testing";

const HOST = "127.0.0.1";
/** eBET hands out 1024-bit channel keys (VENDORS.md); BENCH_EBET_KEY_BITS=2048 measures a bigger one. */
const EBET_KEY_BITS = Number(process.env.BENCH_EBET_KEY_BITS ?? 1024);
/** eBET players: logouts of one player repeat fine (the simulator's rate limit is lifted here). */
const EBET_USERS = 32;
/** FunGame accounts: one live session each, so at most this many unused tokens at a time. */
const FUNGAME_ACCOUNTS = 40_000;
/** The most credentials one /prepare call makes. */
const MAX_PREPARE = 40_000;
const SDK_AUTH_CLIENT_ID = "edge-proxy-bench";
/** A device as a OneAccess SDK would describe it. */
export const DEVICE = { osVersion: "Linux 6.1", fingerprint: "bench-device-0001", agent: "bench" };

export type Vendor = "ebet" | "fungame" | "sdk-auth" | "lancens";
export const VENDOR_NAMES: readonly Vendor[] = ["ebet", "fungame", "sdk-auth", "lancens"];

/** One HTTP request, serialisable: `path` is relative to the target's base URL. */
export interface RequestSpec {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What /prepare answers. */
export interface Prepared {
  /** Base URL the requests go to (direct: the simulator); empty for the proxy (the caller knows it). */
  base: string;
  /** One entry per logout: the requests that make it, in order (the proxy: one; Lancens direct: three). */
  items: RequestSpec[][];
}

function randomText(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function sha256Hex(text: string): Promise<string> {
  return toHex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
  );
}

/** A Request as a RequestSpec against `base`. */
async function specOf(request: Request, base: string): Promise<RequestSpec> {
  const url = new URL(request.url);
  if (`${url.protocol}//${url.host}` !== base)
    throw new Error(`request to ${url} is not on ${base}`);
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

/** Added before every simulator answer, as a network round trip to a real vendor would (POST /delay). */
let answerDelayMs = 0;

async function listen(fetch: (request: Request) => Response | Promise<Response>) {
  const delayed = async (request: Request) => {
    if (answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
    return fetch(request);
  };
  const server = createAdaptorServer({ fetch: delayed, hostname: HOST });
  // Idle keep-alive connections stay open longer than a client pools them (Node closes them after
  // 5 s by default, racing a client that reuses one at that moment: a lost connection, retried).
  if ("keepAliveTimeout" in server) {
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    url: `http://${HOST}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  // eBET: one channel, a few players, no rate limit (the benchmark calls far above 10/s per player).
  const channelKey: RsaPrivateKey = await generateKeyPair(EBET_KEY_BITS);
  const channelId = 4242;
  const ebetUsers = Array.from({ length: EBET_USERS }, (_, i) => `benchplayer${i}`);
  const ebet = createEbetSimulator({
    channels: [{ channelId, publicKey: channelKey.publicKey }],
    users: ebetUsers.map((username) => ({ username, channelId, playing: true })),
    rateLimitPerSecond: 1_000_000_000,
  });

  const fungameJwtKey = randomText(32);
  const fungamePassword = "bench-password";
  const fungame = createFunGameSimulator({
    jwtKey: fungameJwtKey,
    users: Object.fromEntries(
      Array.from({ length: FUNGAME_ACCOUNTS }, (_, i) => [`fg${i}`, fungamePassword]),
    ),
  });

  // OneAccess remembers every (session, nonce) for twice its signature window and scans that memory
  // on each logout; a fresh simulator with the same key (so the proxy's cached key stays right) is
  // swapped in before credentials are made, so the scan stays short and alike for every subject.
  let sdkAuth: OneAccessSimulator = await createOneAccessSimulator({
    clientId: SDK_AUTH_CLIENT_ID,
  });
  const sdkAuthKey = sdkAuth.privateKey;
  const freshSdkAuth = async () => {
    sdkAuth = await createOneAccessSimulator({
      clientId: SDK_AUTH_CLIENT_ID,
      privateKey: sdkAuthKey,
    });
  };

  const lancens = createLancensSimulator({ users: [] });
  const lancensUsers: { username: string; password: string }[] = [];

  const servers = {
    ebet: await listen((request) => ebet.fetch(request)),
    fungame: await listen((request) => fungame.fetch(request)),
    "sdk-auth": await listen((request) => sdkAuth.fetch(request)),
    lancens: await listen((request) => lancens.fetch(request)),
  };
  const apiKey = `bench_${randomText(24)}`;
  const env: Record<string, string> = {
    EBET_BASE_URL: servers.ebet.url,
    EBET_CHANNEL_ID: String(channelId),
    EBET_PRIVATE_KEY: channelKey.toPem(),
    EBET_TIMESTAMP_UNIT: "s",
    FUNGAME_BASE_URL: servers.fungame.url,
    FUNGAME_JWT_SECRET: fungameJwtKey,
    SDK_AUTH_BASE_URL: servers["sdk-auth"].url,
    SDK_AUTH_CLIENT_ID: SDK_AUTH_CLIENT_ID,
    LANCENS_BASE_URL: servers.lancens.url,
    PROXY_API_KEY_SHA256: await sha256Hex(apiKey),
  };

  let ebetNext = 0;
  /** Players made for one logout each (`fresh`), so that eBET's call log tells every logout apart. */
  let ebetFresh = 0;
  /** Whether /prepare makes a new eBET player per logout instead of reusing the bench players. */
  let freshEbetUsers = false;
  let fungameNext = 0;
  const json = { "content-type": "application/json" };

  /** Credentials for `count` logouts of one vendor, each usable once. */
  const credentials = {
    ebet: (count: number) =>
      Array.from({ length: count }, () => {
        if (!freshEbetUsers) return ebetUsers[ebetNext++ % EBET_USERS] as string;
        const username = `loadplayer${ebetFresh++}`;
        ebet.addUser({ username, channelId, playing: true });
        return username;
      }),
    fungame: async (count: number) => {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        tokens.push(await fungame.login(`fg${fungameNext++ % FUNGAME_ACCOUNTS}`, fungamePassword));
      }
      return tokens;
    },
    "sdk-auth": (count: number) =>
      Array.from({ length: count }, () => sdkAuth.issueSession({ userName: "bench-user" })),
    lancens: async (count: number) => {
      while (lancensUsers.length < count) {
        const user = { username: `bench-user-${lancensUsers.length}`, password: randomText(9) };
        lancens.addUser(user);
        lancensUsers.push(user);
      }
      const logins: { username: string; token: string }[] = [];
      for (const user of lancensUsers.slice(0, count)) {
        const answer = await lancens.signIn(user.username, user.password);
        logins.push({ username: user.username, token: answer.token });
      }
      return logins;
    },
  };

  /** The body member of the fan-out (and the single-vendor body) for one credential. */
  const proxyItem = (vendor: Vendor, credential: unknown): RequestSpec => {
    switch (vendor) {
      case "ebet":
        return {
          method: "POST",
          path: "/v1/ebet/logout",
          headers: { authorization: `Bearer ${apiKey}`, ...json },
          body: JSON.stringify({ username: credential }),
        };
      case "fungame":
        return {
          method: "POST",
          path: "/v1/fungame/logout",
          headers: { authorization: `Bearer ${credential}` },
        };
      case "sdk-auth":
        return {
          method: "POST",
          path: "/v1/sdk-auth/logout",
          headers: json,
          body: JSON.stringify({ sessionToken: credential, device: DEVICE }),
        };
      case "lancens":
        return {
          method: "POST",
          path: "/v1/lancens/logout",
          headers: json,
          body: JSON.stringify(credential),
        };
    }
  };

  async function prepareProxy(vendor: Vendor, count: number): Promise<Prepared> {
    if (vendor === "sdk-auth") await freshSdkAuth();
    const made = await credentials[vendor](count);
    return { base: "", items: made.map((credential) => [proxyItem(vendor, credential)]) };
  }

  async function prepareDirect(vendor: Vendor, count: number): Promise<Prepared> {
    const base = servers[vendor].url;
    switch (vendor) {
      case "ebet": {
        // eBET keeps no memory of signatures: one signed request per player, sent again and again.
        const signed = new Map<string, RequestSpec>();
        const users = credentials.ebet(count);
        for (const username of new Set(users)) {
          const request = await buildEbetLogout(
            { baseUrl: base, channelId, privateKey: channelKey, timestampUnit: "s" },
            { username },
          );
          signed.set(username, await specOf(request, base));
        }
        return { base, items: users.map((username) => [signed.get(username) as RequestSpec]) };
      }
      case "fungame": {
        const tokens = await credentials.fungame(count);
        const items: RequestSpec[][] = [];
        for (const token of tokens) {
          items.push([await specOf(buildFunGameLogout(token, { baseUrl: base }), base)]);
        }
        return { base, items };
      }
      case "sdk-auth": {
        await freshSdkAuth();
        const items: RequestSpec[][] = [];
        for (const sessionToken of credentials["sdk-auth"](count)) {
          const timestamp = sdkAuth.serverTimestamp();
          const request = await buildOneAccessLogout({
            baseUrl: base,
            clientId: SDK_AUTH_CLIENT_ID,
            device: DEVICE,
            publicKey: sdkAuth.publicKey,
            sessionToken,
            timestamp,
            nonce: hexNonce(timestamp),
          });
          items.push([await specOf(request, base)]);
        }
        return { base, items };
      }
      case "lancens": {
        // The proxy's flow: clear the ring push token, then the message push token, then log out.
        const items: RequestSpec[][] = [];
        for (const { username, token } of await credentials.lancens(count)) {
          const target = { baseUrl: base };
          items.push([
            await specOf(buildClearRingPushTokenRequest(target, token), base),
            await specOf(buildClearMessagePushTokenRequest(target, token), base),
            await specOf(buildLancensLogout(target, { username, token }), base),
          ]);
        }
        return { base, items };
      }
    }
  }

  /** `/v1/logout` bodies naming `vendors`, each with fresh credentials. */
  async function prepareFanOut(vendors: readonly Vendor[], count: number): Promise<Prepared> {
    if (vendors.includes("sdk-auth")) await freshSdkAuth();
    const members: Record<string, unknown>[] = Array.from({ length: count }, () => ({}));
    for (const vendor of vendors) {
      const made = await credentials[vendor](count);
      made.forEach((credential, i) => {
        const member = members[i] as Record<string, unknown>;
        if (vendor === "ebet") member.ebet = { username: credential };
        if (vendor === "fungame") member.fungame = { token: credential };
        if (vendor === "sdk-auth") member.sdkAuth = { sessionToken: credential, device: DEVICE };
        if (vendor === "lancens") member.lancens = credential;
      });
    }
    return {
      base: "",
      items: members.map((body) => [
        {
          method: "POST",
          path: "/v1/logout",
          headers: { authorization: `Bearer ${apiKey}`, ...json },
          body: JSON.stringify(body),
        },
      ]),
    };
  }

  /** FunGame's call log cannot be cleared: calls before this index belong to earlier runs. */
  let fungameMark = 0;
  const clearLogs = () => {
    fungameMark = fungame.calls.length;
    ebet.clearCalls();
    lancens.clearCalls();
    sdkAuth.clearCalls();
  };

  /**
   * The logout calls each simulator received since the last /prepare, and what they answered: eBET
   * and Lancens by username, OneAccess by the session token it decrypted from the signature, FunGame
   * by count (its log names nobody) with the token ids it revoked since it started.
   */
  const audit = () => ({
    ebet: ebet.calls
      .filter((call) => call.call === "logout")
      .map((call) => ({ username: call.username ?? null, ok: call.status === 200 })),
    fungame: {
      logoutCalls: fungame.calls.slice(fungameMark).filter((call) => call.path === "/user/logout")
        .length,
      revokedJtis: fungame.state().revokedJtis,
    },
    "sdk-auth": sdkAuth.calls
      .filter((call) => call.signed !== undefined)
      .map((call) => ({
        sessionToken: call.signed?.sessionToken ?? null,
        ok: call.status >= 200 && call.status < 300,
      })),
    lancens: lancens.calls.map((call) => ({
      route: call.route,
      username: call.username ?? null,
      ok: call.status >= 200 && call.status < 300,
    })),
  });

  async function control(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const input = (chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {}) as {
      vendor?: string;
      vendors?: string[];
      fresh?: boolean;
      mode?: string;
      count?: number;
      ms?: number;
    };
    const count = Number(input.count ?? 0);
    if (!Number.isInteger(count) || count < 0 || count > MAX_PREPARE) {
      throw new Error(`count must be a whole number from 0 to ${MAX_PREPARE}`);
    }
    const vendorOf = (name: unknown): Vendor => {
      if (!VENDOR_NAMES.includes(name as Vendor)) throw new Error(`unknown vendor ${name}`);
      return name as Vendor;
    };
    let answer: unknown;
    freshEbetUsers = input.fresh === true;
    if (request.url === "/prepare") {
      const vendor = vendorOf(input.vendor);
      answer =
        input.mode === "direct"
          ? await prepareDirect(vendor, count)
          : await prepareProxy(vendor, count);
      clearLogs();
    } else if (request.url === "/delay") {
      const delay = Number(input.ms ?? 0);
      if (!Number.isInteger(delay) || delay < 0 || delay > 10_000) {
        throw new Error("ms must be a whole number from 0 to 10000");
      }
      answerDelayMs = delay;
      answer = { ms: delay };
    } else if (request.url === "/prepare-fanout") {
      answer = await prepareFanOut((input.vendors ?? []).map(vendorOf), count);
      clearLogs();
    } else if (request.url === "/audit") {
      answer = audit();
    } else {
      response.writeHead(404).end();
      return;
    }
    const text = JSON.stringify(answer);
    response.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  const controlServer = createServer((request, response) => {
    control(request, response).catch((error: unknown) => {
      response
        .writeHead(500, { "content-type": "text/plain" })
        .end(error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve) => controlServer.listen(0, HOST, () => resolve()));
  const address = controlServer.address();
  if (address === null || typeof address === "string") throw new Error("no control port");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    controlServer.close();
    await Promise.all(Object.values(servers).map((server) => server.close()));
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The benchmark owns this process: when it goes away (stdin closes), so does this one.
  process.stdin.on("end", stop);
  process.stdin.resume();

  const ready = {
    control: `http://${HOST}:${address.port}`,
    urls: Object.fromEntries(VENDOR_NAMES.map((vendor) => [vendor, servers[vendor].url])),
    env,
    ebetKeyBits: EBET_KEY_BITS,
  };
  process.stdout.write(`bench-simulators ready ${JSON.stringify(ready)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench-simulators: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  });
}
