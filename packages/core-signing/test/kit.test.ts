// The proxy dev kit's helpers: requests as plain data, checked counts, audit tallies.
import { describe, expect, it } from "vitest";
import {
  kitCapacity,
  kitCount,
  kitRequestOf,
  kitTally,
  sendKitRequests,
} from "../src/testing/index.ts";

describe("kitRequestOf", () => {
  it("gives a request's method, path with query, headers and body, relative to its base URL", async () => {
    const request = new Request("http://vendor.test/api/logout?x=1", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer t" },
      body: '{"a":1}',
    });
    expect(await kitRequestOf(request, "http://vendor.test")).toEqual({
      method: "POST",
      path: "/api/logout?x=1",
      headers: { authorization: "Bearer t", "content-type": "application/json" },
      body: '{"a":1}',
    });
    const bare = await kitRequestOf(new Request("http://vendor.test/x"), "http://vendor.test/");
    expect(bare).toEqual({ method: "GET", path: "/x", headers: {} });
  });

  it("refuses a request to another origin", async () => {
    await expect(
      kitRequestOf(new Request("http://elsewhere.test/x"), "http://vendor.test"),
    ).rejects.toThrow(/not on http:\/\/vendor\.test/);
  });
});

describe("kitCapacity and kitCount", () => {
  it("take whole numbers in range and name the setting otherwise", () => {
    expect(kitCapacity(undefined)).toBe(64);
    expect(kitCapacity({ capacity: 3 })).toBe(3);
    expect(() => kitCapacity({ capacity: 0 })).toThrow(/^capacity must/);
    expect(() => kitCapacity({ capacity: 2.5 })).toThrow(/^capacity must/);
    expect(kitCount(0)).toBe(0);
    expect(() => kitCount(-1)).toThrow(/^count must/);
    expect(() => kitCount(Number.NaN)).toThrow(/^count must/);
  });
});

describe("kitTally", () => {
  it("counts each step of each session apart", () => {
    const sessions: Record<string, number[]> = {};
    kitTally(sessions, "alice", 2, 3);
    kitTally(sessions, "alice", 2, 3);
    kitTally(sessions, "bob", 0, 3);
    expect(sessions).toEqual({ alice: [0, 0, 2], bob: [1, 0, 0] });
  });
});

describe("sendKitRequests", () => {
  it("sends each request in order against the base URL, with its headers and body, and reads each answer", async () => {
    const seen: string[] = [];
    const fetch = async (request: Request) => {
      seen.push(
        `${request.method} ${request.url} ${request.headers.get("x-key")} ${await request.text()}`,
      );
      return new Response(`answer ${seen.length}`, { status: 200 + seen.length });
    };
    const answers = await sendKitRequests(
      fetch,
      [
        { method: "POST", path: "/a?x=1", headers: { "x-key": "k1" }, body: '{"n":1}' },
        { method: "GET", path: "/b", headers: { "x-key": "k2" } },
      ],
      "http://vendor.test",
    );
    expect(seen).toEqual([
      'POST http://vendor.test/a?x=1 k1 {"n":1}',
      "GET http://vendor.test/b k2 ",
    ]);
    expect(answers).toEqual([
      { status: 201, body: "answer 1" },
      { status: 202, body: "answer 2" },
    ]);
  });
});
