// The proxy dev kit: its simulator, variables, sessions, direct requests and audit agree with the client.
import { sendKitRequests } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import { LancensClient } from "../src/index.ts";
import { proxyKit } from "../src/testing/index.ts";

const BASE = "http://lancens.test";
const STEPS = ["clearRingPushToken", "clearMessagePushToken", "logout"];

describe("proxyKit", () => {
  it("makes signed-in users the client logs out, each step counted once by the audit, and direct requests", async () => {
    const kit = await proxyKit.start();
    const env = kit.env(BASE);
    expect(env).toEqual({ LANCENS_BASE_URL: BASE });
    const [first, second] = await kit.sessions(2);
    if (first === undefined || second === undefined) throw new Error("two sessions expected");
    expect(first.username).not.toBe(second.username);
    expect(kit.simulator.isTokenValid(first.token)).toBe(true);

    const client = new LancensClient({ baseUrl: env.LANCENS_BASE_URL as string, fetch: kit.fetch });
    expect(await client.logoutFully(first)).toMatchObject({ ok: true, alreadyLoggedOut: false });
    expect(kit.simulator.isTokenValid(first.token)).toBe(false);
    expect(kit.audit()).toEqual({
      steps: STEPS,
      sessions: { [kit.key(first)]: [1, 1, 1] },
      calls: 3,
      exact: true,
    });

    const [steps] = await kit.direct([second], BASE);
    expect(steps?.map((step) => `${step.method} ${step.path}`)).toHaveLength(3);
    for (const answer of await sendKitRequests(kit.fetch, steps ?? [], BASE)) {
      expect(proxyKit.succeeded(answer.status, answer.body)).toBe(true);
    }
    expect(kit.audit().sessions[kit.key(second)]).toEqual([1, 1, 1]);

    // Under `repeat` the same users sign in again, with new tokens.
    const [again] = await kit.sessions(1, { repeat: true });
    expect(again?.username).toBe(first.username);
    expect(again?.token).not.toBe(first.token);
    await kit.reset();
    expect(kit.audit()).toMatchObject({ sessions: {}, calls: 0 });
    expect(proxyKit.route(first, "unused")).toEqual({
      method: "POST",
      path: "/v1/lancens/logout",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: first.username, token: first.token }),
    });
  });
});
