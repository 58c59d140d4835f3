// Lancens' proxy dev kit: its simulator with users, the proxy's Lancens variables, sessions, requests and an audit.
import { toBase64Url } from "@x/core-signing";
import {
  type KitAudit,
  type KitSimulator,
  kitCount,
  kitRequestOf,
  kitTally,
  type ProxyKit,
} from "@x/core-signing/testing";
import {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest,
} from "../requests.ts";
import { createLancensSimulator, type LancensSimulator } from "./simulator.ts";
import type { SimulatorUser } from "./state.ts";

/** The proxy's Lancens member: the user and their login token. */
export interface LancensKitSession {
  username: string;
  token: string;
}

/** The calls of one logout, in the proxy's order: both push-token clears, then the logout. */
const STEPS = ["clearRingPushToken", "clearMessagePushToken", "logout"] as const;

function randomText(bytes: number): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/**
 * Lancens' proxy dev kit. A session is a user signed in now; under `repeat` the users of earlier
 * sessions sign in again (a new token each time) instead of new users being made.
 */
export const proxyKit: ProxyKit<LancensKitSession, LancensSimulator> = {
  async start(): Promise<KitSimulator<LancensKitSession, LancensSimulator>> {
    const simulator = createLancensSimulator({ users: [] });
    const users: SimulatorUser[] = [];
    const newUser = () => {
      const user = { username: `lancens-user-${users.length + 1}`, password: randomText(9) };
      simulator.addUser(user);
      users.push(user);
      return user;
    };
    return {
      fetch: (request, env) => simulator.fetch(request, env),
      simulator,
      env: (baseUrl) => ({ LANCENS_BASE_URL: baseUrl }),
      async sessions(count, options = {}) {
        const picked =
          options.repeat === true
            ? Array.from({ length: kitCount(count) }, (_, i) => users[i] ?? newUser())
            : Array.from({ length: kitCount(count) }, newUser);
        const sessions: LancensKitSession[] = [];
        for (const { username, password } of picked) {
          const answer = await simulator.signIn(username, password);
          sessions.push({ username, token: answer.token });
        }
        return sessions;
      },
      key: (session) => session.username,
      async direct(sessions, baseUrl) {
        const target = { baseUrl };
        const items = [];
        for (const { username, token } of sessions) {
          items.push([
            await kitRequestOf(buildClearRingPushTokenRequest(target, token), baseUrl),
            await kitRequestOf(buildClearMessagePushTokenRequest(target, token), baseUrl),
            await kitRequestOf(buildLogoutRequest(target, { username, token }), baseUrl),
          ]);
        }
        return items;
      },
      audit(): KitAudit {
        const sessions: Record<string, number[]> = {};
        let calls = 0;
        for (const call of simulator.calls) {
          const step = (STEPS as readonly string[]).indexOf(call.route);
          if (step < 0) continue;
          calls++;
          if (call.status < 200 || call.status > 299 || call.username === undefined) continue;
          kitTally(sessions, call.username, step, STEPS.length);
        }
        return { steps: [...STEPS], sessions, calls, exact: true };
      },
      async reset() {
        simulator.clearCalls();
      },
    };
  },
  route: (session) => ({
    method: "POST",
    path: "/v1/lancens/logout",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: session.username, token: session.token }),
  }),
  succeeded: (status) => status >= 200 && status < 300,
};
