// The size check's bookkeeping: which entries a package has, and which core entries make a vendor's baseline.
import { describe, expect, it } from "vitest";
import {
  CORE,
  coreEntriesImported,
  subpathsOf,
  // @ts-expect-error: plain JavaScript module without declarations
} from "../size/check-size.mjs";

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
