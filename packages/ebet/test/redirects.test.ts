// Redirects over a real socket: eBET's 3xx is an error, and the signed body never reaches the other origin.
import { afterEach, describe, expect, it } from "vitest";
import { EbetClient } from "../src/index.ts";
import { EBET_TEST_PRIVATE_KEY } from "../src/testing/index.ts";
import { expectEbetError, fixedClock, type LocalServer, serveLocally } from "./fixtures.ts";

const TOKEN = "584c26e798deffc96cc7af073c184cd0";
const servers: LocalServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** An "eBET" that redirects every call to another origin, and that other origin, which answers success. */
async function redirectingEbet(status: number): Promise<{ ebet: LocalServer; other: LocalServer }> {
  const other = await serveLocally(() =>
    Response.json({ status: 200, apiVersion: "1.3.91", ...CALLBACK_ACCOUNT }),
  );
  const ebet = await serveLocally(
    () =>
      new Response(null, {
        status,
        headers: { location: `${other.origin}/api/collect?secret=location-query` },
      }),
  );
  servers.push(other, ebet);
  return { ebet, other };
}

const CALLBACK_ACCOUNT = {
  channelId: 1,
  subChannelId: 0,
  userId: 127001,
  username: "demo",
  wallet: [],
  money: 0,
  timestamp: 1_714_521_600,
};

describe("a 3xx from eBET, with the global fetch", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`HTTP ${status} on logout and callback: a non-retryable upstream REDIRECT, nothing sent to the Location`, async () => {
      const { ebet, other } = await redirectingEbet(status);
      const client = new EbetClient({
        baseUrl: ebet.origin,
        channelId: 1,
        privateKey: EBET_TEST_PRIVATE_KEY,
        now: fixedClock,
      });
      for (const call of [
        () => client.logout({ username: "demo" }),
        () => client.callback({ username: "demo", accessToken: TOKEN }),
      ]) {
        const error = await expectEbetError(call(), {
          code: "REDIRECT",
          kind: "upstream",
          retryable: false,
          upstreamStatus: status,
        });
        expect(error.message).toContain(`HTTP ${status}`);
        expect(error.message).not.toContain("location-query");
        expect(error.message).not.toContain(TOKEN);
      }
      expect(ebet.received.map((request) => request.url)).toEqual(["/api/logout", "/api/callback"]);
      expect(ebet.received[1]?.body).toContain(TOKEN);
      expect(other.received).toEqual([]);
    });
  }
});
