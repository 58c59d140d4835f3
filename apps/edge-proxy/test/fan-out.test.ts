// The fan-out: all vendors at once, 200 when all succeed, 207 with per-vendor results otherwise.
import { describe, expect, it } from "vitest";
import { API_KEY, createHarness, DEVICE, readProblem } from "./harness.ts";

async function everything(h: Awaited<ReturnType<typeof createHarness>>) {
  const fungameToken = await h.sims.fungame.login("alice");
  const sessionToken = h.sims.sdkAuth.issueSession();
  const { token: lancensToken } = await h.sims.lancens.signIn();
  return {
    ebet: { username: "demo" },
    fungame: { token: fungameToken },
    sdkAuth: { sessionToken, device: DEVICE },
    lancens: { username: "lancens-user", token: lancensToken },
  };
}

describe("POST /v1/logout", () => {
  it("answers 200 when every vendor succeeds", async () => {
    const h = await createHarness();
    const body = await everything(h);
    const response = await h.request("/v1/logout", {
      json: body,
      bearer: API_KEY,
      headers: { "x-request-id": "fan-out-1" },
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as {
      ok: boolean;
      requestId: string;
      results: Record<string, Record<string, unknown>>;
    };
    expect(answer.ok).toBe(true);
    expect(answer.requestId).toBe("fan-out-1");
    expect(Object.keys(answer.results).sort()).toEqual(["ebet", "fungame", "lancens", "sdkAuth"]);
    expect(answer.results.ebet).toMatchObject({ vendor: "ebet", ok: true });
    expect(answer.results.fungame).toMatchObject({
      vendor: "fungame",
      ok: true,
      alreadyLoggedOut: false,
    });
    expect(answer.results.sdkAuth).toMatchObject({ vendor: "sdk-auth", ok: true });
    expect(answer.results.lancens).toMatchObject({ vendor: "lancens", ok: true });
    const line = h.logs.find((entry) => entry.route === "/v1/logout");
    expect(line).toMatchObject({
      status: 200,
      vendor: ["ebet", "fungame", "sdk-auth", "lancens"],
      retries: 0,
    });
    expect(Object.keys(line?.upstream as object).sort()).toEqual([
      "ebet",
      "fungame",
      "lancens",
      "sdk-auth",
    ]);
  });

  it("answers 207 with a problem for the vendor that is down and results for the others", async () => {
    const h = await createHarness();
    const body = await everything(h);
    h.sims.sdkAuth.faults.set({ status: 503 });
    const response = await h.request("/v1/logout", { json: body, bearer: API_KEY });
    expect(response.status).toBe(207);
    const answer = (await response.json()) as {
      ok: boolean;
      results: Record<string, Record<string, unknown>>;
    };
    expect(answer.ok).toBe(false);
    expect(answer.results.sdkAuth).toMatchObject({
      ok: false,
      type: "urn:x-edge-proxy:problem:unavailable",
      status: 503,
      vendor: "sdk-auth",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: 503,
    });
    expect(answer.results.sdkAuth?.requestId).toBe(response.headers.get("x-request-id"));
    for (const member of ["ebet", "fungame", "lancens"]) {
      expect(answer.results[member]).toMatchObject({ ok: true });
    }
    expect(h.sims.fungame.state().sessions).not.toHaveProperty("alice");
  });

  it("calls only the vendors named, and needs no eBET credentials without an ebet member", async () => {
    const h = await createHarness();
    const { token } = await h.sims.lancens.signIn();
    const response = await h.request("/v1/logout", {
      json: { lancens: { username: "lancens-user", token } },
    });
    expect(response.status).toBe(200);
    expect(new Set(h.upstreamRequests)).toEqual(new Set(["lancens.test:6443"]));
  });

  it("refuses bad eBET credentials before calling any vendor", async () => {
    const h = await createHarness();
    const body = await everything(h);
    const missing = await h.request("/v1/logout", { json: body });
    expect(await readProblem(missing)).toMatchObject({ status: 401, vendor: "ebet" });
    const wrong = await h.request("/v1/logout", { json: body, bearer: "nope" });
    expect(await readProblem(wrong)).toMatchObject({ status: 401, code: "INVALID_CREDENTIALS" });
    expect(h.upstreamRequests).toHaveLength(0);
  });

  it("names the field at fault with its member path, before calling anyone", async () => {
    const h = await createHarness();
    const body = await everything(h);
    const bad = await readProblem(
      await h.request("/v1/logout", {
        json: { ...body, fungame: { token: "a\r\nb" }, lancens: { username: "x" } },
        bearer: API_KEY,
      }),
    );
    expect(bad).toMatchObject({ status: 400, field: "fungame.token" });
    expect(bad.errors).toContainEqual({ field: "lancens.token", message: "is required" });
    const unknown = await readProblem(
      await h.request("/v1/logout", { json: { oneaccess: {} }, bearer: API_KEY }),
    );
    expect(unknown).toMatchObject({ field: "oneaccess" });
    const empty = await readProblem(await h.request("/v1/logout", { json: {} }));
    expect(String(empty.detail)).toContain("at least one vendor");
    expect(h.upstreamRequests).toHaveLength(0);
  });

  it("reports a vendor-side field error under its member path", async () => {
    const h = await createHarness();
    const response = await h.request("/v1/logout", {
      json: { ebet: { username: "NotLower" } },
      bearer: API_KEY,
    });
    expect(response.status).toBe(207);
    const answer = (await response.json()) as { results: Record<string, Record<string, unknown>> };
    expect(answer.results.ebet).toMatchObject({ ok: false, status: 400, field: "ebet.username" });
  });

  it("reports a vendor that is off as a 404 entry", async () => {
    const h = await createHarness({ env: { LANCENS_BASE_URL: undefined } });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/logout", {
      json: { fungame: { token }, lancens: { username: "lancens-user", token: "t" } },
    });
    expect(response.status).toBe(207);
    const answer = (await response.json()) as { results: Record<string, Record<string, unknown>> };
    expect(answer.results.lancens).toMatchObject({
      ok: false,
      status: 404,
      code: "VENDOR_NOT_CONFIGURED",
    });
    expect(answer.results.fungame).toMatchObject({ ok: true });
  });

  it("a user JWT may fan out only for its own eBET username", async () => {
    const { SignJWT } = await import("jose");
    const { USER_JWT_SECRET } = await import("./harness.ts");
    const h = await createHarness();
    const jwt = await new SignJWT({ sub: "demo" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(USER_JWT_SECRET));
    const forbidden = await h.request("/v1/logout", {
      json: { ebet: { username: "other1" } },
      bearer: jwt,
    });
    expect(await readProblem(forbidden)).toMatchObject({
      status: 403,
      field: "ebet.username",
    });
    const own = await h.request("/v1/logout", {
      json: { ebet: { username: "demo" } },
      bearer: jwt,
    });
    expect(own.status).toBe(200);
  });
});
