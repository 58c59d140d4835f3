// The local entries' app in-process: how static files are typed.
import { describe, expect, it } from "vitest";
import { localApp } from "../src/entry/local-server.ts";

/** Names every plain object answers to through its prototype. */
const INHERITED = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"];

describe("the local entries' static files", () => {
  it("type a file whose extension is named after an Object member as octet-stream", async () => {
    const { app } = localApp({
      env: {},
      fail: (lines) => {
        throw new Error(lines.join("\n"));
      },
      readFile: async (file) =>
        file.pathname.endsWith("/index.html") ? undefined : new Uint8Array([120]),
      writeLine: () => {},
    });
    for (const extension of INHERITED.filter((name) => /^[a-z0-9]+$/i.test(name))) {
      const response = await app.request(`/docs/file.${extension}`);
      expect(response.status, extension).toBe(200);
      expect(response.headers.get("content-type"), extension).toBe("application/octet-stream");
    }
    expect((await app.request("/docs/file.css")).headers.get("content-type")).toMatch(/^text\/css/);
  });
});
