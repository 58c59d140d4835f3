// FunGame's proxy dev kit: its simulator with accounts, the proxy's FunGame variables, sessions, requests and an audit.
import { toBase64Url } from "@x/core-signing";
import {
  type KitAudit,
  type KitSimulator,
  kitCapacity,
  kitCount,
  kitRequestOf,
  type ProxyKit,
} from "@x/core-signing/testing";
import { buildLogoutRequest, LOGOUT_PATH } from "../requests.ts";
import { inspectToken } from "../token.ts";
import { createFunGameSimulator, type FunGameSimulator } from "./simulator.ts";

/** The proxy's FunGame member: the user's bearer token. */
export interface FunGameKitSession {
  token: string;
}

function randomText(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A session's audit key: its token's `jti`, the id FunGame revokes and the deny-list keeps. */
function jtiOf(token: string): string {
  const { jti } = inspectToken(token);
  if (jti === undefined) throw new Error("a FunGame token without jti");
  return jti;
}

/**
 * FunGame's proxy dev kit. Its accounts are fixed when the simulator is made (`capacity` of them);
 * sessions take them in turn, and a new login of an account ends its older session. The JWT key is
 * made at start and given to the proxy, which verifies tokens itself.
 */
export const proxyKit: ProxyKit<FunGameKitSession, FunGameSimulator> = {
  async start(options = {}): Promise<KitSimulator<FunGameKitSession, FunGameSimulator>> {
    const accounts = Array.from(
      { length: kitCapacity(options) },
      (_, index) => [`player${index + 1}`, randomText(12)] as const,
    );
    const jwtKey = randomText(32);
    const simulator = createFunGameSimulator({ jwtKey, users: Object.fromEntries(accounts) });
    let next = 0;
    /** FunGame's call log cannot be cleared: calls before this index belong to earlier batches. */
    let mark = 0;
    return {
      fetch: (request, env) => simulator.fetch(request, env),
      simulator,
      env: (baseUrl) => ({ FUNGAME_BASE_URL: baseUrl, FUNGAME_JWT_SECRET: jwtKey }),
      async sessions(count) {
        const sessions: FunGameKitSession[] = [];
        for (let i = 0; i < kitCount(count); i++) {
          const [username, password] = accounts[next++ % accounts.length] as readonly [
            string,
            string,
          ];
          sessions.push({ token: await simulator.login(username, password) });
        }
        return sessions;
      },
      key: (session) => jtiOf(session.token),
      async direct(sessions, baseUrl) {
        const items = [];
        for (const { token } of sessions) {
          items.push([await kitRequestOf(buildLogoutRequest(token, { baseUrl }), baseUrl)]);
        }
        return items;
      },
      // FunGame's log names nobody: a session counts once when its token is revoked, and the logout
      // calls are counted in all.
      audit(): KitAudit {
        return {
          steps: ["logout"],
          sessions: Object.fromEntries(simulator.state().revokedJtis.map((jti) => [jti, [1]])),
          calls: simulator.calls.slice(mark).filter((call) => call.path === LOGOUT_PATH).length,
          exact: false,
        };
      },
      async reset() {
        mark = simulator.calls.length;
      },
    };
  },
  route: (session) => ({
    method: "POST",
    path: "/v1/fungame/logout",
    headers: { authorization: `Bearer ${session.token}` },
  }),
  succeeded: (status) => status >= 200 && status < 300,
  record: {
    request: (session) => ({
      method: "GET",
      path: "/v1/fungame/token-status",
      headers: { authorization: `Bearer ${session.token}` },
    }),
    recorded: (status, body) =>
      status === 200 && /"active":\s*false/.test(body) && /"reason":\s*"revoked"/.test(body),
  },
};
