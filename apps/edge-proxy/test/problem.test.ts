// The problem renderer: every kind, even one no table knows, becomes a problem status, never a 2xx.
import { type ErrorKind, VendorError } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { buildProblem, KIND_STATUS, PROBLEM_KINDS, statusOf } from "../src/problem.ts";
import { createHarness, readProblem } from "./harness.ts";

/** Names every plain object answers to through its prototype. */
const INHERITED = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"];

describe("problem kinds", () => {
  it("maps each known kind to its own status", () => {
    for (const kind of PROBLEM_KINDS) expect(statusOf(kind)).toBe(KIND_STATUS[kind]);
  });

  it("renders an unknown kind as a 502 upstream problem", () => {
    for (const kind of [...INHERITED, "teapot", ""]) {
      const { document } = buildProblem(
        { kind: kind as ErrorKind, code: "X", detail: "d" },
        "req-1",
      );
      expect(document, kind).toMatchObject({
        status: 502,
        kind: "upstream",
        title: "Bad answer from the vendor",
        type: "urn:x-edge-proxy:problem:upstream",
      });
    }
  });

  it("answers 502 problem+json when a vendor call fails with a kind named after an Object member", async () => {
    for (const kind of INHERITED) {
      const h = await createHarness({
        wrapFetch: () => async () => {
          throw new VendorError({
            vendor: "lancens",
            code: "ODD",
            kind: kind as ErrorKind,
            message: "odd failure",
          });
        },
      });
      const response = await h.request("/v1/lancens/logout", {
        json: { username: "lancens-user", token: "t0k3n-value" },
      });
      expect(response.status, kind).toBe(502);
      expect(await readProblem(response), kind).toMatchObject({ status: 502, kind: "upstream" });
      const fanOut = await h.request("/v1/logout", {
        json: { lancens: { username: "lancens-user", token: "t0k3n-value" } },
      });
      expect(fanOut.status, kind).toBe(207);
      expect(await fanOut.json(), kind).toMatchObject({
        ok: false,
        results: { lancens: { ok: false, status: 502, kind: "upstream" } },
      });
    }
  });
});
