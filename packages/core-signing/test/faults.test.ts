import { describe, expect, it } from "vitest";
import { defineVendor } from "../src/call.ts";
import {
  connectionResetError,
  FaultSwitch,
  OVERSIZED_BODY_BYTES,
  OVERSIZED_CHUNK_BYTES,
} from "../src/testing/index.ts";

describe("FaultSwitch (simulator misbehaviour)", () => {
  it("does nothing until a fault is set", async () => {
    const faults = new FaultSwitch();
    expect(await faults.intercept()).toBeUndefined();
    const normal = new Response("{}", { headers: { "content-type": "application/json" } });
    expect(faults.decorate(normal)).toBe(normal);
  });

  it("answers a gateway status with an HTML page", async () => {
    const faults = new FaultSwitch();
    faults.set({ status: 502 });
    const response = await faults.intercept();
    expect(response?.status).toBe(502);
    expect(response?.headers.get("content-type")).toBe("text/html");
    expect(await response?.text()).toContain("502");
  });

  it("answers 200 with a body that is not JSON, or with truncated JSON", async () => {
    const faults = new FaultSwitch();
    faults.set({ nonJson: true });
    const html = await faults.intercept();
    expect(html?.status).toBe(200);
    await expect(html?.json()).rejects.toThrow();
    faults.set({ truncatedJson: true });
    const cut = await faults.intercept();
    expect(cut?.headers.get("content-type")).toBe("application/json");
    await expect(cut?.json()).rejects.toThrow();
  });

  it("applies a fault only `times` times, then behaves", async () => {
    const faults = new FaultSwitch();
    faults.set({ status: 504, times: 2 });
    expect((await faults.intercept())?.status).toBe(504);
    expect((await faults.intercept())?.status).toBe(504);
    expect(await faults.intercept()).toBeUndefined();
  });

  it("delays, and the delay ends early on abort", async () => {
    const faults = new FaultSwitch();
    faults.set({ delayMs: 60_000 });
    const controller = new AbortController();
    const pending = faults.intercept(controller.signal);
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
  });

  it("an already aborted signal ends the delay at once", async () => {
    const faults = new FaultSwitch();
    faults.set({ delayMs: 60_000 });
    await expect(faults.intercept(AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });

  it("a delay alone answers normally afterwards", async () => {
    const faults = new FaultSwitch();
    faults.set({ delayMs: 1 });
    expect(await faults.intercept()).toBeUndefined();
  });

  it("rewrites the content type of a normal answer", async () => {
    const faults = new FaultSwitch();
    faults.set({ contentType: "text/plain" });
    const response = faults.decorate(Response.json({ ok: true }, { status: 201 }));
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ ok: true });
    faults.clear();
    expect(faults.active).toEqual({});
  });

  it("applies `contentType` alone only `times` times", async () => {
    const faults = new FaultSwitch();
    faults.set({ contentType: "text/html", times: 1 });
    expect(await faults.intercept()).toBeUndefined();
    expect(faults.decorate(Response.json({})).headers.get("content-type")).toBe("text/html");
    expect(faults.decorate(Response.json({})).headers.get("content-type")).toBe("application/json");
  });

  it("a reset answer becomes the TypeError a network fetch rejects with", async () => {
    const faults = new FaultSwitch();
    faults.set({ reset: true });
    const answer = await faults.intercept();
    expect(answer).toBeDefined();
    const error = (() => {
      try {
        faults.settle(answer as Response);
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe("fetch failed");
    expect(((error as TypeError).cause as { code?: string }).code).toBe("ECONNRESET");
    // `contentType` never disguises the stand-in, so `settle` still recognises it.
    faults.set({ reset: true, contentType: "text/plain" });
    const decorated = faults.decorate((await faults.intercept()) as Response);
    expect(() => faults.settle(decorated)).toThrow(TypeError);
  });

  it("a reset answer served without settle fails on its first read", async () => {
    const faults = new FaultSwitch();
    faults.set({ reset: true });
    const answer = (await faults.intercept()) as Response;
    await expect(answer.text()).rejects.toThrow(TypeError);
  });

  it("settle passes every other answer through unchanged", async () => {
    const faults = new FaultSwitch();
    const normal = Response.json({ ok: true });
    expect(faults.settle(normal)).toBe(normal);
    faults.set({ status: 503 });
    const gateway = (await faults.intercept()) as Response;
    expect(faults.settle(gateway)).toBe(gateway);
  });

  it("a reset served by @hono/node-server resets the socket", async () => {
    const faults = new FaultSwitch();
    faults.set({ reset: true });
    const calls: string[] = [];
    const socket = {
      resetAndDestroy: () => calls.push("reset"),
      destroy: () => calls.push("destroy"),
    };
    await faults.intercept(undefined, { incoming: { socket } });
    expect(calls).toEqual(["reset"]);
    // Without resetAndDestroy (or when it throws, as on a socket not yet connected), a plain destroy.
    const plain = { destroy: () => calls.push("destroy") };
    await faults.intercept(undefined, { incoming: { socket: plain } });
    const failing = {
      resetAndDestroy: () => {
        throw new Error("ERR_SOCKET_CLOSED");
      },
      destroy: () => calls.push("destroy"),
    };
    await faults.intercept(undefined, { incoming: { socket: failing } });
    expect(calls).toEqual(["reset", "destroy", "destroy"]);
    // Environments without a socket (a Worker's bindings, nothing) are left alone.
    await faults.intercept(undefined, { KV: {} });
    await faults.intercept(undefined, { incoming: null });
    await faults.intercept(undefined, null);
  });

  it("a reset waits the delay first, and counts against `times`", async () => {
    const faults = new FaultSwitch();
    faults.set({ reset: true, delayMs: 60_000, times: 1 });
    const pending = faults.intercept(AbortSignal.abort(new Error("gave up")));
    await expect(pending).rejects.toThrow("gave up");
    expect(await faults.intercept()).toBeUndefined();
  });

  it("an oversized body is valid JSON of OVERSIZED_BODY_BYTES, made as it is read", async () => {
    expect(OVERSIZED_BODY_BYTES).toBeGreaterThan(10 * 1024 * 1024);
    const faults = new FaultSwitch();
    faults.set({ oversizedBody: true });
    const answer = (await faults.intercept()) as Response;
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    expect(answer.headers.get("content-length")).toBeNull();
    // Nothing is made before it is read.
    expect(faults.streamedBytes).toBe(0);
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(first.value?.byteLength).toBe(OVERSIZED_CHUNK_BYTES);
    expect(new TextDecoder().decode(first.value?.subarray(0, 13))).toBe('{"padding":"x');
    expect(faults.streamedBytes).toBeLessThanOrEqual(2 * OVERSIZED_CHUNK_BYTES);
    await reader.cancel();
    const whole = (await faults.intercept()) as Response;
    const text = await whole.text();
    expect(text.length).toBe(OVERSIZED_BODY_BYTES);
    expect((JSON.parse(text) as { padding: string }).padding.length).toBe(
      OVERSIZED_BODY_BYTES - 14,
    );
  });

  it("a kit's readJson stops pulling an oversized body soon after its limit", async () => {
    const kit = defineVendor("acme");
    const faults = new FaultSwitch();
    faults.set({ oversizedBody: true });
    const limit = 64 * 1024;
    const error = await kit
      .call(
        new Request("https://acme.test/"),
        { fetch: async () => (await faults.intercept()) as Response },
        (response) => kit.readJson(response, limit),
      )
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(error).toMatchObject({
      vendor: "acme",
      code: "BAD_RESPONSE",
      kind: "upstream",
      upstreamStatus: 200,
    });
    expect(faults.streamedBytes).toBeGreaterThan(limit);
    expect(faults.streamedBytes).toBeLessThanOrEqual(limit + 2 * OVERSIZED_CHUNK_BYTES);
  });

  it("a kit turns a reset into a retryable NETWORK_ERROR", async () => {
    const kit = defineVendor("acme");
    const faults = new FaultSwitch();
    faults.set({ reset: true });
    const fetch = async () => faults.settle((await faults.intercept()) as Response);
    const error = await kit.send(new Request("https://acme.test/"), { fetch }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({
      vendor: "acme",
      code: "NETWORK_ERROR",
      kind: "unavailable",
      retryable: true,
    });
    expect(connectionResetError()).toBeInstanceOf(TypeError);
  });
});
