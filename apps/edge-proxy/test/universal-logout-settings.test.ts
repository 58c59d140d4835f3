// The universal-logout settings: trusted providers of the three kinds and the registry's limits, each
// fault named by its variable and the entry's member.

import { describe, expect, it } from "vitest";
import type { ConfigIssue } from "../src/config.ts";
import {
  DEFAULT_REGISTRY_LIMITS,
  readUniversalLogout,
  trustedIssuers,
} from "../src/universal-logout/settings.ts";

const DIGEST = "ab".repeat(32);
const OIDC = [{ issuer: "https://idp.example", audience: "proxy-client" }];
const SSF = [
  {
    issuer: "https://ssf.example",
    jwksUrl: "https://ssf.example/jwks",
    audience: "https://proxy.example",
    bearerSha256: DIGEST,
    subjectIssuers: ["https://idp.example"],
  },
];
const GTR = [{ issuer: "https://okta.example", bearerSha256: [DIGEST, "CD".repeat(32)] }];

function read(input: Record<string, unknown>) {
  const issues: ConfigIssue[] = [];
  const settings = readUniversalLogout(input, (issue) => issues.push(issue));
  return { settings, issues };
}

describe("readUniversalLogout", () => {
  it("is off with no provider of any kind, whatever the limits say", () => {
    expect(read({})).toEqual({ settings: undefined, issues: [] });
    expect(read({ SESSION_MAX_PER_SUBJECT: "4" })).toEqual({ settings: undefined, issues: [] });
  });

  it("reads the three kinds, as JSON text or as Workers [vars] arrays, and the limits", () => {
    const { settings, issues } = read({
      UNIVERSAL_LOGOUT_OIDC: JSON.stringify(OIDC),
      UNIVERSAL_LOGOUT_SSF: SSF,
      UNIVERSAL_LOGOUT_GTR: JSON.stringify(GTR),
      SESSION_MAX_PER_SUBJECT: "4",
      SESSION_MAX_LIFETIME_SEC: 3600,
    });
    expect(issues).toEqual([]);
    expect(settings?.oidc).toEqual(OIDC);
    expect(settings?.ssf[0]?.bearerSha256).toEqual([new Uint8Array(32).fill(0xab)]);
    expect(settings?.gtr[0]?.bearerSha256).toEqual([
      new Uint8Array(32).fill(0xab),
      new Uint8Array(32).fill(0xcd),
    ]);
    expect(settings?.limits).toEqual({ maxPerSubject: 4, maxLifetimeMs: 3_600_000 });
    expect(trustedIssuers(settings as NonNullable<typeof settings>)).toEqual(
      new Set(["https://idp.example", "https://ssf.example", "https://okta.example"]),
    );
    expect(read({ UNIVERSAL_LOGOUT_OIDC: JSON.stringify(OIDC) }).settings?.limits).toEqual(
      DEFAULT_REGISTRY_LIMITS,
    );
  });

  it("names each fault by variable and member, never a value", () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ UNIVERSAL_LOGOUT_OIDC: "[{" }, "UNIVERSAL_LOGOUT_OIDC", "is not valid JSON"],
      [
        { UNIVERSAL_LOGOUT_OIDC: '{"issuer":"x"}' },
        "UNIVERSAL_LOGOUT_OIDC",
        "must be a JSON array of objects",
      ],
      [
        { UNIVERSAL_LOGOUT_OIDC: [{ issuer: "http://idp.example", audience: "a" }] },
        "UNIVERSAL_LOGOUT_OIDC",
        "[0].issuer must be an https URL",
      ],
      [
        { UNIVERSAL_LOGOUT_OIDC: [{ issuer: "https://idp.example" }] },
        "UNIVERSAL_LOGOUT_OIDC",
        "[0].audience",
      ],
      [
        {
          UNIVERSAL_LOGOUT_OIDC: [
            { issuer: "https://idp.example", audience: "a", algorithms: ["HS256"] },
          ],
        },
        "UNIVERSAL_LOGOUT_OIDC",
        "[0].algorithms",
      ],
      [
        { UNIVERSAL_LOGOUT_OIDC: [...OIDC, ...OIDC] },
        "UNIVERSAL_LOGOUT_OIDC",
        "[1].issuer is listed twice",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [{ ...SSF[0], bearerSha256: "s3cret-bearer" }] },
        "UNIVERSAL_LOGOUT_SSF",
        "[0].bearerSha256 must list SHA-256 digests",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [{ ...SSF[0], jwksUrl: "http://keys.example/jwks" }] },
        "UNIVERSAL_LOGOUT_SSF",
        "[0].jwksUrl must be an https URL",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [{ ...SSF[0], algorithms: ["none"] }] },
        "UNIVERSAL_LOGOUT_SSF",
        "[0].algorithms must list algorithms of",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [{ ...SSF[0], audience: undefined }] },
        "UNIVERSAL_LOGOUT_SSF",
        "[0].audience is required",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [{ ...SSF[0], extra: 1 }] },
        "UNIVERSAL_LOGOUT_SSF",
        "[0].extra is not a known member",
      ],
      [
        { UNIVERSAL_LOGOUT_SSF: [...SSF, ...SSF] },
        "UNIVERSAL_LOGOUT_SSF",
        "[1].issuer is listed twice",
      ],
      [
        { UNIVERSAL_LOGOUT_GTR: [{ issuer: "https://okta.example" }] },
        "UNIVERSAL_LOGOUT_GTR",
        "[0].bearerSha256 is required",
      ],
      [
        { UNIVERSAL_LOGOUT_GTR: [{ ...GTR[0], subjectIssuers: ["ftp://x"] }] },
        "UNIVERSAL_LOGOUT_GTR",
        "[0].subjectIssuers must list issuer URLs",
      ],
      [
        { UNIVERSAL_LOGOUT_GTR: GTR, SESSION_MAX_PER_SUBJECT: "0" },
        "SESSION_MAX_PER_SUBJECT",
        "from 1 to 256",
      ],
      [
        { UNIVERSAL_LOGOUT_GTR: GTR, SESSION_MAX_LIFETIME_SEC: "10" },
        "SESSION_MAX_LIFETIME_SEC",
        "from 60 to",
      ],
    ];
    for (const [input, name, message] of cases) {
      const { issues } = read(input);
      expect(issues, JSON.stringify(input)).toHaveLength(1);
      expect(issues[0]?.name).toBe(name);
      expect(issues[0]?.message).toContain(message);
      expect(issues[0]?.message).not.toContain("s3cret");
    }
  });
});
