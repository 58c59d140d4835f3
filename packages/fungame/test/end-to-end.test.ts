// The client against the simulator: every logout path, both casings, refused tokens, the deny-list, faults.
import { describe, expect, it } from "vitest";
import {
  FunGameClient,
  FunGameError,
  inspectToken,
  isTokenRevoked,
  MemoryRevocationList,
  revokeToken,
} from "../src/index.ts";
import {
  createFunGameSimulator,
  DEFAULT_SIMULATOR_JWT_KEY,
  type FunGameSimulatorOptions,
  type PayloadCasing,
} from "../src/testing/index.ts";
import { verifyToken } from "../src/verify/index.ts";
import { fungameClaims, hmacToken, noneToken, T0, T0_SEC } from "./jwt-oracle.ts";

function world(
  options: FunGameSimulatorOptions = {},
  clientOptions: { treat500AsLoggedOut?: boolean } = {},
) {
  let ms = T0;
  const now = () => ms;
  const sim = createFunGameSimulator({ now, ...options });
  const client = new FunGameClient({
    baseUrl: "https://fungame.test",
    fetch: sim.fetch,
    ...clientOptions,
  });
  return {
    sim,
    client,
    now,
    advance: (sec: number) => {
      ms += sec * 1000;
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<FunGameError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(FunGameError);
  return outcome as FunGameError;
}

describe.each<PayloadCasing>(["camel", "pascal"])(
  "client against the simulator, %sCase",
  (casing) => {
    it("logs a session out, then reports the repeat as unauthorized (the token is revoked)", async () => {
      const { sim, client } = world({ casing });
      const token = await sim.login("alice");
      expect(await client.logout(token)).toEqual({
        alreadyLoggedOut: false,
        message: "你已成功退出登录！",
        requestType: 1,
      });
      expect(sim.state().sessions).toEqual([]);
      const again = await refusal(client.logout(token));
      expect(again).toMatchObject({ kind: "unauthorized", upstreamStatus: 401, retryable: false });
    });

    it("reports a session already gone (400) as alreadyLoggedOut", async () => {
      const { sim, client } = world({ casing });
      const token = await sim.login("alice");
      sim.endSession("alice");
      expect(await client.logout(token)).toEqual({
        alreadyLoggedOut: true,
        message: "退出登录失败！",
        requestType: 1,
      });
    });

    it("reports the newer server's 500 as a retryable upstream error, or as logged out when asked", async () => {
      const strict = world({ casing, logoutFailureStatus: 500 });
      const token = await strict.sim.login("alice");
      strict.sim.endSession("alice");
      expect(await refusal(strict.client.logout(token))).toMatchObject({
        kind: "upstream",
        code: 500,
        retryable: true,
      });
      const lenient = world({ casing, logoutFailureStatus: 500 }, { treat500AsLoggedOut: true });
      const other = await lenient.sim.login("bob");
      lenient.sim.endSession("bob");
      expect(await lenient.client.logout(other)).toEqual({
        alreadyLoggedOut: true,
        message: "退出登录失败！服务器可能暂时无法处理此请求。",
        requestType: 1,
        event: "user_logout",
      });
    });

    it("reports the Event of a newer server's success", async () => {
      const { sim, client } = world({ casing, logoutFailureStatus: 500 });
      expect((await client.logout(await sim.login())).event).toBe("user_logout");
    });
  },
);

describe("client against the simulator: refused tokens", () => {
  const refusedTokens: [string, string][] = [
    [
      "signed with another key",
      hmacToken(fungameClaims("alice"), "another-key-that-is-at-least-32-bytes"),
    ],
    ["alg none", noneToken(fungameClaims("alice"))],
    [
      "meant for another audience",
      hmacToken(fungameClaims("alice", T0_SEC, { aud: "Other API" }), DEFAULT_SIMULATOR_JWT_KEY),
    ],
    [
      "from another issuer",
      hmacToken(fungameClaims("alice", T0_SEC, { iss: "Other" }), DEFAULT_SIMULATOR_JWT_KEY),
    ],
    [
      "expired long ago",
      hmacToken(fungameClaims("alice", T0_SEC - 3600), DEFAULT_SIMULATOR_JWT_KEY),
    ],
  ];

  it.each(refusedTokens)("a token %s is unauthorized, and the session stays", async (_, token) => {
    const { sim, client } = world();
    await sim.login("alice");
    expect(await refusal(client.logout(token))).toMatchObject({ kind: "unauthorized", code: 401 });
    expect(sim.state().sessions).toEqual(["alice"]);
  });

  it.each(refusedTokens)("verifyToken refuses the token %s too", async (_, token) => {
    await expect(
      verifyToken(token, { secret: DEFAULT_SIMULATOR_JWT_KEY, now: () => T0 }),
    ).rejects.toMatchObject({
      kind: "unauthorized",
    });
  });

  it("a token that expires is accepted until exp plus the server's skew, then unauthorized", async () => {
    const { sim, client, advance } = world();
    const token = await sim.login("alice");
    advance(1800 + 301);
    expect((await refusal(client.logout(token))).kind).toBe("unauthorized");
  });

  it("a simulator token verifies with verifyToken and inspects to the same claims", async () => {
    const { sim, now } = world();
    const token = await sim.login("bob");
    const verified = await verifyToken(token, { secret: DEFAULT_SIMULATOR_JWT_KEY, now });
    expect(verified).toEqual(inspectToken(token));
    expect(verified).toMatchObject({ sub: "bob", exp: T0_SEC + 1800, iat: undefined });
  });

  it("a malformed token never reaches the simulator", async () => {
    const { sim, client } = world();
    for (const token of ["", "a.b", "abc.def.ghi\r\n", `Bearer ${await sim.login()}`]) {
      expect((await refusal(client.logout(token))).kind).toBe("invalid_request");
    }
    expect(sim.calls.filter((call) => call.path === "/user/logout")).toEqual([]);
  });
});

describe("client against the simulator: the edge deny-list", () => {
  it("closes the hole a server restart opens", async () => {
    const { sim, client, now, advance } = world();
    const denyList = new MemoryRevocationList({ now });
    const token = await sim.login("alice");
    await client.logout(token);
    await revokeToken(denyList, token);

    const refresh = () =>
      sim.fetch(
        new Request("https://fungame.test/user/refresh", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        }),
      );
    expect((await refresh()).status).toBe(401);
    sim.restart();
    // The server forgot: the logged-out token mints a fresh one.
    expect((await refresh()).status).toBe(200);
    // The edge remembers until exp.
    expect(await isTokenRevoked(denyList, token)).toBe(true);
    advance(1800);
    expect(await isTokenRevoked(denyList, token)).toBe(false);
  });

  it("closes the hole between instances: a revocation on one server is unknown to another", async () => {
    const { sim, client, now } = world();
    const second = createFunGameSimulator({ now }); // same Jwt:Key, its own process memory
    const denyList = new MemoryRevocationList({ now });
    const token = await sim.login("alice");
    await client.logout(token);
    await revokeToken(denyList, token);
    const refresh = (server: typeof sim) =>
      server.fetch(
        new Request("https://fungame.test/user/refresh", {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        }),
      );
    expect((await refresh(sim)).status).toBe(401);
    // The other instance never heard of the logout: the token still mints a fresh one there.
    expect((await refresh(second)).status).toBe(200);
    expect(await isTokenRevoked(denyList, token)).toBe(true);
  });

  it("after a server fault's ambiguous 400, the deny-list stops the token the server still accepts", async () => {
    const { sim, client, now } = world();
    const denyList = new MemoryRevocationList({ now });
    const token = await sim.login("alice");
    sim.failLogouts();
    expect((await client.logout(token)).alreadyLoggedOut).toBe(true);
    await revokeToken(denyList, token);
    expect(sim.state().sessions).toEqual(["alice"]);
    expect(await isTokenRevoked(denyList, token)).toBe(true);
  });

  it("a logout after restart is idempotent: the session is gone, so alreadyLoggedOut", async () => {
    const { sim, client } = world();
    const token = await sim.login("alice");
    sim.restart();
    expect((await client.logout(token)).alreadyLoggedOut).toBe(true);
  });
});

describe("client against the simulator: the ambiguous failure answer", () => {
  it("a server fault's 400 reads as alreadyLoggedOut while the session is still open", async () => {
    const { sim, client } = world();
    const token = await sim.login("alice");
    sim.failLogouts();
    // FunGame answers a fault exactly as a missing session: the client cannot tell them apart.
    expect(await client.logout(token)).toEqual({
      alreadyLoggedOut: true,
      message: "退出登录失败！",
      requestType: 1,
    });
    expect(sim.state().sessions).toEqual(["alice"]);
    expect(sim.isRevoked(inspectToken(token).jti as string)).toBe(false);
    // The token still works on the server: only a deny-list at the edge stops it.
    expect(await client.logout(token)).toMatchObject({ alreadyLoggedOut: false });
  });

  it("a newer server's fault 500: a retryable error by default, alreadyLoggedOut with treat500AsLoggedOut", async () => {
    const strict = world({ logoutFailureStatus: 500 });
    const token = await strict.sim.login("alice");
    strict.sim.failLogouts();
    expect(await refusal(strict.client.logout(token))).toMatchObject({
      kind: "upstream",
      code: 500,
      upstreamStatus: 500,
      retryable: true,
    });
    expect(await strict.client.logout(token)).toMatchObject({ alreadyLoggedOut: false });

    const lenient = world({ logoutFailureStatus: 500 }, { treat500AsLoggedOut: true });
    const other = await lenient.sim.login("bob");
    lenient.sim.failLogouts();
    expect(await lenient.client.logout(other)).toMatchObject({ alreadyLoggedOut: true });
    expect(lenient.sim.state().sessions).toEqual(["bob"]);
  });
});

describe("client against the simulator: misbehaviour", () => {
  it.each([
    [{ status: 502 }, "unavailable", true],
    [{ status: 503 }, "unavailable", true],
    [{ status: 500 }, "upstream", true],
    [{ nonJson: true }, "upstream", false],
    [{ truncatedJson: true }, "upstream", false],
  ])(
    "fault %j is a %s error (retryable %s), and the session survives",
    async (fault, kind, retryable) => {
      const { sim, client } = world();
      const token = await sim.login();
      sim.faults.set(fault);
      expect(await refusal(client.logout(token))).toMatchObject({ kind, retryable });
      sim.faults.clear();
      expect((await client.logout(token)).alreadyLoggedOut).toBe(false);
    },
  );

  it("a wrong content type on a good answer is tolerated", async () => {
    const { sim, client } = world();
    const token = await sim.login();
    sim.faults.set({ contentType: "text/html" });
    expect((await client.logout(token)).alreadyLoggedOut).toBe(false);
  });

  it("a slow simulator runs into the client's deadline", async () => {
    const { sim } = world();
    const token = await sim.login();
    sim.faults.set({ delayMs: 5_000 });
    const client = new FunGameClient({
      baseUrl: "https://fungame.test",
      fetch: sim.fetch,
      timeoutMs: 20,
    });
    expect(await refusal(client.logout(token))).toMatchObject({
      code: "TIMEOUT",
      kind: "unavailable",
    });
    expect(sim.state().sessions).toEqual(["alice"]);
  });

  it("a wrong base path is misconfigured", async () => {
    const { sim } = world();
    const client = new FunGameClient({ baseUrl: "https://fungame.test/api", fetch: sim.fetch });
    expect((await refusal(client.logout(await sim.login()))).kind).toBe("misconfigured");
  });
});
