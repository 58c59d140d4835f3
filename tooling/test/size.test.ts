// The size check's bookkeeping: which entries a package has, and which core entries make a vendor's baseline.
import { describe, expect, it } from "vitest";
import {
  BUDGETS,
  CORE,
  coreEntriesImported,
  MARKERS,
  subpathsOf,
  VENDORS,
  vendorBudget,
  // @ts-expect-error: plain JavaScript module without declarations
} from "../size/check-size.mjs";

/** The proxy's vendor list, loaded by URL: its descriptors are typed for the Workers, not for tooling. */
const { VENDORS: LISTED } = (await import(
  new URL("../../apps/edge-proxy/src/vendors/index.ts", import.meta.url).href
)) as { VENDORS: readonly { name: string; package: string }[] };

describe("the vendors measured", () => {
  it("are the packages of the proxy's vendor list, each with a budget and its quoted name as a marker", () => {
    expect(VENDORS).toEqual(LISTED.map((vendor) => vendor.package));
    for (const vendor of LISTED) {
      expect(vendorBudget(vendor.package)).toBeGreaterThan(0);
      expect(MARKERS[vendor.package]).toContain(`"${vendor.name}"`);
    }
  });

  it("gives a vendor without a budget of its own the default, and one with its own budget that", () => {
    expect(vendorBudget("@x/not-listed")).toBe(BUDGETS.vendorOnTopOfCore);
    const [first] = LISTED;
    if (first === undefined) throw new Error("the vendor list is empty");
    BUDGETS.vendorOnTopOfCoreByName[first.name] = 1234;
    try {
      expect(vendorBudget(first.package)).toBe(1234);
    } finally {
      delete BUDGETS.vendorOnTopOfCoreByName[first.name];
    }
  });
});

describe("subpathsOf", () => {
  it("lists a package's entries from its exports, without testing and package.json", () => {
    expect(subpathsOf("@x/core-signing")).toEqual(["@x/core-signing/rsa", "@x/core-signing/md5"]);
    expect(subpathsOf("@x/fungame")).toEqual(["@x/fungame/verify"]);
    expect(subpathsOf("@x/lancens")).toEqual([]);
  });
});

describe("coreEntriesImported", () => {
  it("always starts with core's main entry and adds the subpaths a bundle imports", () => {
    expect(CORE).toBe("@x/core-signing");
    expect(coreEntriesImported([])).toEqual(["@x/core-signing"]);
    expect(
      coreEntriesImported([
        "@x/core-signing",
        "@x/core-signing/md5",
        "@x/core-signing/rsa",
        "jose",
      ]),
    ).toEqual(["@x/core-signing", "@x/core-signing/md5", "@x/core-signing/rsa"]);
  });
});
