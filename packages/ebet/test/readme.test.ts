// The README keeps up with the code: every option, error kind and status code, and the Workers IP caveat.
import { readFileSync } from "node:fs";
import { ERROR_KINDS } from "@x/core-signing";
import { describe, expect, it } from "vitest";
import { EBET_STATUS } from "../src/index.ts";

/** The README with quote-block line breaks joined and table padding collapsed. */
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
  .replace(/\s*\n>\s*/g, " ")
  .replace(/[ \t]+/g, " ");

describe("README", () => {
  it("warns that Workers have no fixed egress address for eBET's IP whitelist", () => {
    expect(readme).toMatch(/whitelist/i);
    expect(readme).toMatch(/Workers have no fixed egress address/);
    expect(readme).toMatch(/forwarder/);
  });

  it("has an install line and one example per runtime", () => {
    expect(readme).toContain("npm i @x/ebet");
    for (const heading of ["**Node 20+**", "**Bun**", "**Deno**", "**Cloudflare Workers**"]) {
      expect(readme).toContain(heading);
    }
  });

  it("documents every client and simulator option", () => {
    for (const option of [
      "baseUrl",
      "channelId",
      "privateKey",
      "timestampUnit",
      "paths",
      "fetch",
      "timeoutMs",
      "now",
      "usernamePattern",
      "channels",
      "users",
      "timestampWindowSeconds",
      "rateLimitPerSecond",
      "apiVersion",
      "idsAsStrings",
      "allowedAddresses",
      "callerAddress",
    ]) {
      expect(readme).toContain(`\`${option}\``);
    }
  });

  it("names every error kind and every status code", () => {
    for (const kind of ERROR_KINDS) expect(readme).toContain(`\`${kind}\``);
    for (const info of Object.values(EBET_STATUS)) {
      if (info.name.startsWith("RECHARGE_OR_WALLET_")) continue;
      expect(readme).toContain(`| ${info.code} | ${info.name} |`);
    }
    expect(readme).toContain("-1, 0, 201, 203–209, 1003, 4028, 5001, 5002, 5005, 5006, 5009, 5010");
  });

  it("says that redirects are never followed, and names the REDIRECT code", () => {
    expect(readme).toContain("Redirects are never followed");
    expect(readme).toContain("| `REDIRECT` | `upstream` | no |");
  });

  it("names the key formats", () => {
    for (const label of ["BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY", "bare base64"]) {
      expect(readme).toContain(label);
    }
  });
});
