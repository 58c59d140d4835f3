// OneAccess's proxy dev kit: its simulator, the proxy's sdk-auth variables, sessions, requests and an audit.
import {
  type KitAudit,
  type KitRequest,
  type KitSimulator,
  kitCount,
  kitRequestOf,
  kitTally,
  type ProxyKit,
} from "@x/core-signing/testing";
import type { DeviceInfo } from "../headers.ts";
import { buildLogoutRequest } from "../requests.ts";
import { hexNonce } from "../timestamp.ts";
import { createOneAccessSimulator, type OneAccessSimulator } from "./simulator.ts";

/** The proxy's sdkAuth member: the session token and the device the SDK describes. */
export interface OneAccessKitSession {
  sessionToken: string;
  device: DeviceInfo;
}

const CLIENT_ID = "edge-proxy-dev";
/** A device as a OneAccess SDK would describe it. */
const DEVICE: DeviceInfo = {
  osVersion: "Linux 6.1",
  fingerprint: "dev-device-0001",
  agent: "proxy-kit",
};

/**
 * OneAccess's proxy dev kit. The server's key pair is made at start; the proxy fetches its public
 * key and time itself, as it does from OneAccess. `reset` swaps in a fresh simulator with the same
 * key, because OneAccess remembers every (session, nonce) for twice its signature window and scans
 * that memory on each logout: sessions issued before a reset are gone.
 */
export const proxyKit: ProxyKit<OneAccessKitSession, OneAccessSimulator> = {
  async start(): Promise<KitSimulator<OneAccessKitSession, OneAccessSimulator>> {
    let simulator = await createOneAccessSimulator({ clientId: CLIENT_ID });
    const privateKey = simulator.privateKey;
    let serial = 0;
    return {
      fetch: (request, env) => simulator.fetch(request, env),
      get simulator() {
        return simulator;
      },
      env: (baseUrl) => ({ SDK_AUTH_BASE_URL: baseUrl, SDK_AUTH_CLIENT_ID: CLIENT_ID }),
      async sessions(count) {
        return Array.from({ length: kitCount(count) }, () => ({
          sessionToken: simulator.issueSession({ userName: `user${++serial}` }),
          device: { ...DEVICE },
        }));
      },
      key: (session) => session.sessionToken,
      async direct(sessions, baseUrl) {
        const items: KitRequest[][] = [];
        for (const { sessionToken, device } of sessions) {
          const timestamp = simulator.serverTimestamp();
          const request = await buildLogoutRequest({
            baseUrl,
            clientId: CLIENT_ID,
            device,
            publicKey: simulator.publicKey,
            sessionToken,
            timestamp,
            nonce: hexNonce(timestamp),
          });
          items.push([await kitRequestOf(request, baseUrl)]);
        }
        return items;
      },
      // A logout call names its session only inside the X-signature, which the simulator decrypts.
      audit(): KitAudit {
        const sessions: Record<string, number[]> = {};
        let calls = 0;
        for (const call of simulator.calls) {
          if (call.signed === undefined) continue;
          calls++;
          if (call.status < 200 || call.status > 299) continue;
          kitTally(sessions, call.signed.sessionToken, 0, 1);
        }
        return { steps: ["logout"], sessions, calls, exact: true };
      },
      async reset() {
        simulator = await createOneAccessSimulator({ clientId: CLIENT_ID, privateKey });
      },
    };
  },
  route: (session) => ({
    method: "POST",
    path: "/v1/sdk-auth/logout",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(session),
  }),
  succeeded: (status) => status >= 200 && status < 300,
};
