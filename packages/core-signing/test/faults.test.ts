import { describe, expect, it } from "vitest";
import { FaultSwitch } from "../src/testing/index.ts";

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
});
