// The proxy dev kit: its simulator, variables, sessions, direct requests and audit agree with the client.
import { sendKitRequests } from "@x/core-signing/testing";
import { describe, expect, it } from "vitest";
import { EbetClient } from "../src/index.ts";
import { EBET_TEST_PRIVATE_KEY, proxyKit } from "../src/testing/index.ts";

const BASE = "http://ebet.test";

describe("proxyKit", () => {
  it("makes players the client logs out, counted once each by the audit, and signed direct requests", async () => {
    const kit = await proxyKit.start();
    const env = kit.env(BASE);
    expect(env).toEqual({
      EBET_BASE_URL: BASE,
      EBET_CHANNEL_ID: expect.stringMatching(/^\d+$/),
      EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
      EBET_TIMESTAMP_UNIT: "s",
    });
    const [first, second] = await kit.sessions(2);
    if (first === undefined || second === undefined) throw new Error("two sessions expected");
    expect(first.username).not.toBe(second.username);
    expect(kit.simulator.isPlaying(first.username)).toBe(true);

    const client = new EbetClient({
      baseUrl: env.EBET_BASE_URL as string,
      channelId: Number(env.EBET_CHANNEL_ID),
      privateKey: env.EBET_PRIVATE_KEY as string,
      timestampUnit: "s",
      fetch: kit.fetch,
    });
    await client.logout(first);
    expect(kit.simulator.isPlaying(first.username)).toBe(false);
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

    await kit.reset();
    expect(kit.audit()).toMatchObject({ sessions: {}, calls: 0 });
    // eBET answers HTTP 200 whatever happened: only the body's status tells a success.
    expect(proxyKit.succeeded(200, '{"status":4026,"apiVersion":"1.3.91"}')).toBe(false);
    expect(proxyKit.route(first, "caller-key")).toEqual({
      method: "POST",
      path: "/v1/ebet/logout",
      headers: { authorization: "Bearer caller-key", "content-type": "application/json" },
      body: JSON.stringify({ username: first.username }),
    });
  });
});
