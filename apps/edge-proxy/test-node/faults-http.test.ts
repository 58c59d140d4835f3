// Connection resets and a >10 MB answer over real loopback sockets: the simulators served by
// @hono/node-server, the Node entry as a process in between.
import { OVERSIZED_BODY_BYTES, OVERSIZED_CHUNK_BYTES } from "@x/core-signing/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_RETRY } from "../src/upstream.ts";
import { UPSTREAM_MAX_BODY_BYTES } from "../src/vendors/shared.ts";

const MAX_RETRIES = DEFAULT_RETRY.maxRetries;

import {
  json,
  type RunningEntry,
  type Simulators,
  startEntry,
  startSimulators,
} from "./harness.ts";

let simulators: Simulators;
let proxy: RunningEntry | undefined;

beforeAll(async () => {
  simulators = await startSimulators();
  proxy = await startEntry("node", { ...simulators.env, UPSTREAM_TIMEOUT_MS: "5000" });
});

afterAll(async () => {
  await proxy?.stop();
  await simulators?.close();
});

beforeEach(() => {
  for (const sim of Object.values(simulators.sims)) sim.faults.clear();
});

/** The proxy's log line for a request id (it is written just after the answer). */
async function logLine(requestId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    for (const line of proxy?.group.output ?? []) {
      if (!line.startsWith("{")) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.requestId === requestId && "status" in entry) return entry;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no log line for ${requestId}`);
}

function unexpectedErrors(): string[] {
  return (proxy?.group.output ?? []).filter((line) => line.includes("unexpected_error"));
}

async function proxyPost(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${proxy?.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("a connection reset over a real socket", () => {
  it("reaches a plain fetch as a network error, not an answer", async () => {
    simulators.sims.ebet.faults.set({ reset: true, times: 1 });
    const error = await fetch(`${simulators.urls.ebet}/api/logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TypeError);
    const cause = (error as TypeError).cause as { code?: string } | undefined;
    expect(["ECONNRESET", "UND_ERR_SOCKET", "EPIPE"]).toContain(cause?.code);
    // The simulator serves again afterwards.
    const again = await fetch(`${simulators.urls.ebet}/api/logout`, { method: "POST", body: "{}" });
    expect(again.status).toBe(200);
  });

  it("is a retried 503 NETWORK_ERROR through the Node entry", async () => {
    const username = await simulators.ebetUser();
    simulators.sims.ebet.clearCalls();
    simulators.sims.ebet.faults.set({ reset: true });
    const response = await proxyPost(
      "/v1/ebet/logout",
      { username },
      { authorization: `Bearer ${simulators.apiKey}`, "x-request-id": "reset-ebet" },
    );
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await json(response)).toMatchObject({
      status: 503,
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
      vendor: "ebet",
      upstreamStatus: null,
    });
    expect(simulators.sims.ebet.calls).toHaveLength(1 + MAX_RETRIES);
    expect(simulators.sims.ebet.isPlaying(username)).toBe(true);
    expect(await logLine("reset-ebet")).toMatchObject({
      status: 503,
      code: "NETWORK_ERROR",
      retries: MAX_RETRIES,
    });
    expect(unexpectedErrors()).toEqual([]);
  });

  it("once, then the retry logs the player out", async () => {
    const token = await simulators.fungameToken();
    simulators.sims.fungame.faults.set({ reset: true, times: 1 });
    const response = await fetch(`${proxy?.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-request-id": "reset-once" },
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ vendor: "fungame", ok: true });
    expect(await logLine("reset-once")).toMatchObject({ status: 200, retries: 1 });
  });
});

describe("an answer over 10 MB over a real socket", () => {
  it("is refused after the proxy's limit, and the rest is never sent in full", async () => {
    const token = await simulators.fungameToken();
    const faults = simulators.sims.fungame.faults;
    faults.set({ oversizedBody: true });
    const response = await fetch(`${proxy?.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-request-id": "huge-fungame" },
    });
    expect(await json(response)).toMatchObject({
      status: 502,
      code: "BAD_RESPONSE",
      kind: "upstream",
      retryable: false,
      vendor: "fungame",
      upstreamStatus: 200,
    });
    expect(await logLine("huge-fungame")).toMatchObject({ status: 502, retries: 0 });
    // Once the proxy stops reading, the socket's buffers fill and the simulator stops being pulled.
    let streamed = faults.streamedBytes;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      if (faults.streamedBytes === streamed) break;
      streamed = faults.streamedBytes;
    }
    console.log(
      `BENCH ${JSON.stringify({ case: "oversized-body", subject: "fungame", streamedBytes: streamed, limitBytes: UPSTREAM_MAX_BODY_BYTES })}`,
    );
    expect(streamed).toBeGreaterThan(UPSTREAM_MAX_BODY_BYTES);
    expect(streamed).toBeLessThan(OVERSIZED_BODY_BYTES);
    expect(unexpectedErrors()).toEqual([]);
  });

  it("a plain fetch can read it all: the simulator really serves 10.5 MiB", async () => {
    const faults = simulators.sims.lancens.faults;
    faults.set({ oversizedBody: true, times: 1 });
    const response = await fetch(`${simulators.urls.lancens}/v1/api/user/logout`, {
      method: "POST",
      body: "{}",
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
    }
    expect(total).toBe(OVERSIZED_BODY_BYTES);
    expect(faults.streamedBytes).toBe(OVERSIZED_BODY_BYTES);
    expect(OVERSIZED_CHUNK_BYTES).toBeLessThan(UPSTREAM_MAX_BODY_BYTES * 2);
  });
});
