// The proxy dev kit: its simulator, variables, sessions, direct requests and audit agree with the client.
import { sendKitRequests } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import { OneAccessClient } from "../src/client.ts";
import { proxyKit } from "../src/testing/index.ts";

const BASE = "http://oneaccess.test";

describe("proxyKit", () => {
  it("makes sessions the client logs out, counted once each by the audit, and signed direct requests", async () => {
    const kit = await proxyKit.start();
    const env = kit.env(BASE);
    expect(env).toEqual({ SDK_AUTH_BASE_URL: BASE, SDK_AUTH_CLIENT_ID: expect.any(String) });
    const [first, second] = await kit.sessions(2);
    if (first === undefined || second === undefined) throw new Error("two sessions expected");
    expect(kit.simulator.hasSession(first.sessionToken)).toBe(true);

    const client = new OneAccessClient({
      baseUrl: env.SDK_AUTH_BASE_URL as string,
      clientId: env.SDK_AUTH_CLIENT_ID as string,
      fetch: kit.fetch,
    });
    await client.logout(first);
    expect(kit.simulator.hasSession(first.sessionToken)).toBe(false);
    expect(kit.audit()).toEqual({
      steps: ["logout"],
      sessions: { [kit.key(first)]: [1] },
      calls: 1,
      exact: true,
    });

    const [steps] = await kit.direct([second], BASE);
    expect(steps).toHaveLength(1);
    for (const answer of await sendKitRequests(kit.fetch, steps ?? [], BASE)) {
      expect(proxyKit.succeeded(answer.status, answer.body)).toBe(true);
    }
    expect(kit.audit().sessions[kit.key(second)]).toEqual([1]);

    // A reset forgets the calls and the replay memory, keeping the key the proxy has cached.
    const key = kit.simulator.publicKey;
    await kit.reset();
    expect(kit.audit()).toMatchObject({ sessions: {}, calls: 0 });
    expect(kit.simulator.publicKey).toEqual(key);
    expect(proxyKit.route(first, "unused")).toEqual({
      method: "POST",
      path: "/v1/sdk-auth/logout",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(first),
    });
  });
});
