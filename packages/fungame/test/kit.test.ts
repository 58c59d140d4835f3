// The proxy dev kit: its simulator, variables, sessions, direct requests and audit agree with the client.
import { sendKitRequests } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import { FunGameClient, inspectToken } from "../src/index.ts";
import { proxyKit } from "../src/testing/index.ts";

const BASE = "http://fungame.test";

describe("proxyKit", () => {
  it("makes tokens the client logs out, counted once each by the audit, and direct requests", async () => {
    const kit = await proxyKit.start({ capacity: 4 });
    const env = kit.env(BASE);
    expect(Object.keys(env).sort()).toEqual(["FUNGAME_BASE_URL", "FUNGAME_JWT_SECRET"]);
    expect(env.FUNGAME_BASE_URL).toBe(BASE);
    expect(kit.simulator.options.jwtKey).toBe(env.FUNGAME_JWT_SECRET);
    const [first, second] = await kit.sessions(2);
    if (first === undefined || second === undefined) throw new Error("two sessions expected");
    expect(kit.key(first)).toBe(inspectToken(first.token).jti);
    expect(kit.key(first)).not.toBe(kit.key(second));

    const client = new FunGameClient({ baseUrl: env.FUNGAME_BASE_URL as string, fetch: kit.fetch });
    expect(await client.logout(first.token)).toMatchObject({ alreadyLoggedOut: false });
    expect(kit.audit()).toEqual({
      steps: ["logout"],
      sessions: { [kit.key(first)]: [1] },
      calls: 1,
      exact: false,
    });

    const [steps] = await kit.direct([second], BASE);
    expect(steps).toHaveLength(1);
    for (const answer of await sendKitRequests(kit.fetch, steps ?? [], BASE)) {
      expect(proxyKit.succeeded(answer.status, answer.body)).toBe(true);
    }
    expect(kit.audit()).toMatchObject({ calls: 2, sessions: { [kit.key(second)]: [1] } });

    await kit.reset();
    expect(kit.audit().calls).toBe(0);
    expect(proxyKit.route(first, "unused")).toEqual({
      method: "POST",
      path: "/v1/fungame/logout",
      headers: { authorization: `Bearer ${first.token}` },
    });
    expect(proxyKit.record?.request(first).path).toBe("/v1/fungame/token-status");
    expect(proxyKit.record?.recorded(200, '{"active":false,"reason":"revoked"}')).toBe(true);
    expect(proxyKit.record?.recorded(200, '{"active":true}')).toBe(false);
  });

  it("refuses a capacity or a count that is not a whole number, naming it", async () => {
    await expect(proxyKit.start({ capacity: 0 })).rejects.toThrow(/capacity/);
    const kit = await proxyKit.start({ capacity: 1 });
    await expect(kit.sessions(1.5)).rejects.toThrow(/count/);
  });
});
