// eBET's proxy dev kit: its simulator with a channel and players, the proxy's eBET variables, sessions, requests and an audit.
import { toBase64Url } from "@x/core-signing";
import { generateKeyPair } from "@x/core-signing/rsa";
import {
  type KitAudit,
  type KitRequest,
  type KitSimulator,
  kitCount,
  kitRequestOf,
  kitTally,
  type ProxyKit,
} from "@x/core-signing/testing";
import { buildLogoutRequest } from "../requests.ts";
import { EBET_TEST_PRIVATE_KEY, EBET_TEST_PUBLIC_KEY } from "./keys.ts";
import { createEbetSimulator, type EbetSimulator } from "./simulator.ts";

/** The proxy's eBET member: the player to log out. */
export interface EbetKitSession {
  username: string;
}

/** The channel the kit's simulator knows. */
const CHANNEL_ID = 4242;
/** Players logged out again and again under `repeat`: eBET answers such a logout as a success. */
const REPEAT_PLAYERS = 32;

/**
 * eBET's proxy dev kit. Players are made in a game now, so that a logout has something to end; the
 * channel's key is EBET_TEST_PRIVATE_KEY (1024 bits, as eBET hands keys out) unless `signingKeyBits`
 * asks for a key made at start.
 */
export const proxyKit: ProxyKit<EbetKitSession, EbetSimulator> = {
  async start(options = {}): Promise<KitSimulator<EbetKitSession, EbetSimulator>> {
    const made =
      options.signingKeyBits === undefined
        ? undefined
        : await generateKeyPair(options.signingKeyBits);
    const privateKeyPem = made === undefined ? EBET_TEST_PRIVATE_KEY : made.toPem();
    const simulator = createEbetSimulator({
      channels: [{ channelId: CHANNEL_ID, publicKey: made?.publicKey ?? EBET_TEST_PUBLIC_KEY }],
      users: [],
      ...(options.load === true ? { rateLimitPerSecond: 1_000_000_000 } : {}),
    });
    // Distinct across kits started in one process, for readable call logs.
    const prefix = `player${toBase64Url(crypto.getRandomValues(new Uint8Array(3)))
      .toLowerCase()
      .replace(/[^a-z0-9]/g, "")}`;
    let serial = 0;
    let repeatNext = 0;
    const repeatPlayers: string[] = [];
    const newPlayer = (username: string) => {
      simulator.addUser({ username, channelId: CHANNEL_ID, playing: true });
      return username;
    };
    return {
      fetch: (request, env) => simulator.fetch(request, env),
      simulator,
      env: (baseUrl) => ({
        EBET_BASE_URL: baseUrl,
        EBET_CHANNEL_ID: String(CHANNEL_ID),
        EBET_PRIVATE_KEY: privateKeyPem,
        EBET_TIMESTAMP_UNIT: "s",
      }),
      async sessions(count, sessionOptions = {}) {
        return Array.from({ length: kitCount(count) }, () => {
          if (sessionOptions.repeat !== true)
            return { username: newPlayer(`${prefix}n${++serial}`) };
          if (repeatPlayers.length < REPEAT_PLAYERS) {
            repeatPlayers.push(newPlayer(`${prefix}r${repeatPlayers.length}`));
          }
          return { username: repeatPlayers[repeatNext++ % repeatPlayers.length] as string };
        });
      },
      key: (session) => session.username,
      async direct(sessions, baseUrl) {
        // eBET keeps no memory of signatures: one signed request per player, sent again and again.
        const signed = new Map<string, KitRequest>();
        const config = {
          baseUrl,
          channelId: CHANNEL_ID,
          privateKey: made ?? privateKeyPem,
          timestampUnit: "s" as const,
        };
        for (const { username } of sessions) {
          if (!signed.has(username)) {
            signed.set(
              username,
              await kitRequestOf(await buildLogoutRequest(config, { username }), baseUrl),
            );
          }
        }
        return sessions.map(({ username }) => [signed.get(username) as KitRequest]);
      },
      audit(): KitAudit {
        const sessions: Record<string, number[]> = {};
        let calls = 0;
        for (const call of simulator.calls) {
          if (call.call !== "logout") continue;
          calls++;
          if (call.status !== 200 || call.username === undefined) continue;
          kitTally(sessions, call.username, 0, 1);
        }
        return { steps: ["logout"], sessions, calls, exact: true };
      },
      async reset() {
        simulator.clearCalls();
      },
    };
  },
  route: (session, apiKey) => ({
    method: "POST",
    path: "/v1/ebet/logout",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ username: session.username }),
  }),
  // eBET answers HTTP 200 whatever happened: the outcome is the body's status.
  succeeded: (status, body) => status >= 200 && status < 300 && /"status":\s*200\b/.test(body),
};
