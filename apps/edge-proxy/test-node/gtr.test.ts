// Global Token Revocation (src/universal-logout/gtr.ts): callers by bearer digest, requests per draft-06.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  authenticateRevocation,
  cannotLogOut,
  parseGlobalRevocation,
  type RevocationCaller,
  RevocationError,
  subjectUnknown,
} from "../src/universal-logout/gtr.ts";

const ISSUER = "https://acme.okta.example";
const TOKEN_A = "gtr-token-a-91c2";
const TOKEN_B = "gtr-token-b-55e0";

function digest(token: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(token).digest());
}

const callerA: RevocationCaller = {
  issuer: ISSUER,
  bearerSha256: [digest("old-a"), digest(TOKEN_A)],
};
const callerB: RevocationCaller = {
  issuer: "https://tool.example",
  bearerSha256: [digest(TOKEN_B)],
  subjectIssuers: ["https://tool.example", ISSUER],
};

/** The RevocationError a call throws; fails the test if it returns or throws otherwise. */
function refusal(call: () => unknown): RevocationError {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(RevocationError);
  return thrown as RevocationError;
}

async function authRefusal(header: string | null): Promise<RevocationError> {
  const outcome = await authenticateRevocation(header, [callerA, callerB]).then(
    (caller) => caller,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(RevocationError);
  return outcome as RevocationError;
}

function parse(body: unknown, contentType: string | null = "application/json", caller = callerA) {
  return parseGlobalRevocation(
    typeof body === "string" ? body : JSON.stringify(body),
    contentType,
    caller,
  );
}

function expectStatus(body: unknown, status: number, pattern: RegExp, contentType?: string | null) {
  const error = refusal(() =>
    parse(body, contentType === undefined ? "application/json" : contentType),
  );
  expect(error.status).toBe(status);
  expect(error.description).toMatch(pattern);
  return error;
}

describe("authenticateRevocation", () => {
  it("finds the caller whose token digest matches, any of its listed tokens", async () => {
    expect(await authenticateRevocation(`Bearer ${TOKEN_A}`, [callerA, callerB])).toBe(callerA);
    expect(await authenticateRevocation("Bearer old-a", [callerA, callerB])).toBe(callerA);
    expect(await authenticateRevocation(`bearer ${TOKEN_B}`, [callerA, callerB])).toBe(callerB);
  });

  it("answers 401 without a bearer token, for another scheme and for an unknown token", async () => {
    for (const header of [null, "", `Basic ${TOKEN_A}`, "Bearer nope", `Bearer ${TOKEN_A}x`]) {
      const error = await authRefusal(header);
      expect(error.status).toBe(401);
      expect(error.error).toBe("invalid_token");
      expect(error.description).not.toContain(TOKEN_A);
      expect(error.description).toMatch(
        header === "Bearer nope" || header === `Bearer ${TOKEN_A}x`
          ? /not a revocation caller's/
          : /needs Authorization: Bearer/,
      );
    }
  });
});

describe("parseGlobalRevocation accepts", () => {
  it("an iss_sub of the caller's issuer, as that subject", () => {
    const trigger = parse({ sub_id: { format: "iss_sub", iss: ISSUER, sub: "00u1dnq5" } });
    expect(trigger).toEqual({
      kind: "global-token-revocation",
      target: { issuer: ISSUER, subject: "00u1dnq5", sid: undefined },
      jti: undefined,
    });
  });

  it("an email as email:<address> and an opaque id as opaque:<id>, under the caller's issuer", () => {
    expect(parse({ sub_id: { format: "email", email: "user@Example.com" } }).target).toEqual({
      issuer: ISSUER,
      subject: "email:user@example.com",
      sid: undefined,
    });
    expect(parse({ sub_id: { format: "opaque", id: "e193177d" } }).target).toEqual({
      issuer: ISSUER,
      subject: "opaque:e193177d",
      sid: undefined,
    });
  });

  it("a JSON media type with a charset, and an iss_sub of an issuer the caller speaks for", () => {
    const body = { sub_id: { format: "iss_sub", iss: ISSUER, sub: "u-7" } };
    const trigger = parse(body, "application/json; charset=utf-8", callerB);
    expect(trigger.target).toEqual({ issuer: ISSUER, subject: "u-7", sid: undefined });
  });
});

describe("parseGlobalRevocation answers 400", () => {
  it("for another media type, or none", () => {
    const body = { sub_id: { format: "opaque", id: "x" } };
    expectStatus(
      body,
      400,
      /Content-Type must be application\/json/,
      "application/x-www-form-urlencoded",
    );
    expectStatus(body, 400, /Content-Type must be application\/json/, null);
  });

  it("for a body that is not a JSON object, or too large", () => {
    expectStatus("{", 400, /not JSON/);
    expectStatus("[1]", 400, /must be a JSON object/);
    expectStatus("null", 400, /must be a JSON object/);
    expectStatus({ sub_id: { format: "opaque", id: "x".repeat(9000) } }, 400, /over 8192 bytes/);
  });

  it("without sub_id, with the pre-03 member name subject, or with another member", () => {
    expectStatus({}, 400, /no sub_id/);
    expectStatus({ subject: { format: "opaque", id: "x" } }, 400, /member "subject"/);
    expectStatus({ sub_id: { format: "opaque", id: "x" }, scope: "all" }, 400, /member "scope"/);
  });

  it("for a format it cannot map, naming it", () => {
    const error = expectStatus(
      { sub_id: { format: "phone_number", phone_number: "+1" } },
      400,
      /phone_number/,
    );
    expect(error.error).toBe("invalid_request");
    expectStatus(
      { sub_id: { format: "complex", user: { format: "opaque", id: "x" } } },
      400,
      /"complex"/,
    );
  });

  it("for members missing, empty, of the wrong type or too long, naming the member", () => {
    expectStatus({ sub_id: "user@example.com" }, 400, /sub_id must be a JSON object/);
    expectStatus({ sub_id: { email: "a@b.example" } }, 400, /sub_id\.format/);
    expectStatus({ sub_id: { format: "iss_sub", sub: "u" } }, 400, /sub_id\.iss/);
    expectStatus({ sub_id: { format: "iss_sub", iss: ISSUER, sub: "" } }, 400, /sub_id\.sub/);
    expectStatus({ sub_id: { format: "email", email: 42 } }, 400, /sub_id\.email/);
    expectStatus(
      { sub_id: { format: "email", email: "no-at-sign" } },
      400,
      /sub_id\.email is not an email/,
    );
    expectStatus(
      { sub_id: { format: "opaque", id: "x".repeat(1025) } },
      400,
      /sub_id\.id is longer than 1024/,
    );
  });
});

describe("parseGlobalRevocation answers 403", () => {
  it("for an iss_sub of an issuer the caller may not revoke for", () => {
    const error = expectStatus(
      { sub_id: { format: "iss_sub", iss: "https://other-tenant.example", sub: "ceo" } },
      403,
      /may not revoke/,
    );
    expect(error.error).toBe("insufficient_scope");
    expect(error.description).not.toContain("ceo");
  });
});

describe("the route's answers after the registry", () => {
  it("404 for an unknown subject and 422 for one that cannot be logged out", () => {
    expect(subjectUnknown().status).toBe(404);
    const unprocessable = cannotLogOut("the registration's vendor credentials are no longer valid");
    expect(unprocessable.status).toBe(422);
    expect(unprocessable.description).toMatch(/vendor credentials/);
  });
});
