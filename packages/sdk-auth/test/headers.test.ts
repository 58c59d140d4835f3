import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OneAccessError } from "../src/errors.ts";
import {
  checkDevice,
  checkHeaderValue,
  commonHeaders,
  HEADERS,
  MAX_HEADER_VALUE_LENGTH,
} from "../src/headers.ts";
import { DEVICE } from "./support.ts";

function refusal(run: () => unknown): OneAccessError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OneAccessError);
    return error as OneAccessError;
  }
  throw new Error("nothing was refused");
}

describe("header names", () => {
  it("are exactly the vendor page's", () => {
    expect(HEADERS).toEqual({
      osVersion: "X-operating-sys-version",
      fingerprint: "X-device-fingerprint",
      ip: "X-device-ip",
      agent: "X-agent",
      language: "X-L",
      clientId: "X-client-id",
      signature: "X-signature",
      tenantId: "X-tenant-id",
    });
  });
});

describe("checkHeaderValue", () => {
  it("accepts printable ASCII, spaces inside included", () => {
    expect(checkHeaderValue("device.agent", DEVICE.agent)).toBe(DEVICE.agent);
  });

  it.each([
    ["a CR", "Android\r10", /line break \(CR or LF\) at position 7/],
    ["an LF", "Android 10\nX-Evil: 1", /line break \(CR or LF\) at position 10/],
    ["a non-ASCII character", "安卓 10", /non-ASCII character at position 0/],
    ["a Latin-1 character", "caf\u00e9", /non-ASCII character at position 3/],
    ["a NUL", "a\u0000b", /control character at position 1/],
    ["a tab", "a\tb", /control character at position 1/],
    ["DEL", "a\u007f", /control character at position 1/],
    ["a leading blank", " Android", /must not start or end with a blank/],
    ["an empty string", "", /must not be empty/],
  ])("refuses %s, naming the field and never echoing the value", (_, value, pattern) => {
    const error = refusal(() => checkHeaderValue("device.osVersion", value));
    expect(error.field).toBe("device.osVersion");
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.kind).toBe("invalid_request");
    expect(error.message).toMatch(/^device\.osVersion: /);
    expect(error.message).toMatch(pattern);
    if (value.length > 2) expect(error.message).not.toContain(value);
  });

  it("refuses a missing value, a non-string, and an oversized one", () => {
    expect(refusal(() => checkHeaderValue("clientId", undefined)).message).toBe(
      "clientId: is required",
    );
    expect(refusal(() => checkHeaderValue("clientId", 42)).message).toMatch(/must be a string/);
    expect(
      refusal(() => checkHeaderValue("device.agent", "a".repeat(MAX_HEADER_VALUE_LENGTH + 1)))
        .message,
    ).toMatch(/at most 2048/);
    expect(checkHeaderValue("device.agent", "a".repeat(MAX_HEADER_VALUE_LENGTH))).toHaveLength(
      2048,
    );
  });

  it("refuses any value with CR or LF anywhere (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.constantFrom("\r", "\n", "\r\n"),
        fc.string({ maxLength: 40 }),
        (before, breakChars, after) => {
          const error = refusal(() =>
            checkHeaderValue("device.fingerprint", `${before}${breakChars}${after}`),
          );
          expect(error.field).toBe("device.fingerprint");
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it("accepts exactly the printable-ASCII values without edge blanks (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60, unit: "grapheme-ascii" }), (value) => {
        const clean = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value);
        if (clean) expect(checkHeaderValue("x", value)).toBe(value);
        else expect(() => checkHeaderValue("x", value)).toThrow(OneAccessError);
      }),
      { seed: 13, numRuns: 300 },
    );
  });
});

describe("checkDevice", () => {
  it("keeps the three required fields and the optional ones only when set", () => {
    expect(checkDevice(DEVICE)).toEqual(DEVICE);
    expect(checkDevice({ ...DEVICE, ip: "10.10.10.1", language: "en" })).toEqual({
      ...DEVICE,
      ip: "10.10.10.1",
      language: "en",
    });
    expect(checkDevice({ ...DEVICE, ip: undefined })).not.toHaveProperty("ip");
  });

  it.each(["osVersion", "fingerprint", "agent"] as const)(
    "refuses a device without %s, naming device.%s",
    (field) => {
      const { [field]: _, ...rest } = DEVICE;
      const error = refusal(() => checkDevice(rest));
      expect(error.field).toBe(`device.${field}`);
      expect(error.message).toBe(`device.${field}: is required`);
    },
  );

  it("refuses a missing device and bad optional fields", () => {
    expect(refusal(() => checkDevice(undefined)).field).toBe("device");
    expect(refusal(() => checkDevice({ ...DEVICE, ip: "10.0.0.1\r\n" })).field).toBe("device.ip");
    expect(refusal(() => checkDevice({ ...DEVICE, language: "中文" })).field).toBe(
      "device.language",
    );
    expect(refusal(() => checkDevice({ ...DEVICE, language: "" })).field).toBe("device.language");
  });
});

describe("commonHeaders", () => {
  it("sets the required headers and the optional ones only when set", () => {
    const bare = commonHeaders({ clientId: "client-1" }, DEVICE);
    expect([...bare.keys()].sort()).toEqual(
      ["x-agent", "x-client-id", "x-device-fingerprint", "x-operating-sys-version"].sort(),
    );
    expect(bare.get("X-operating-sys-version")).toBe("Android 10");
    const full = commonHeaders(
      { clientId: "client-1", tenantId: "tenant-9" },
      { ...DEVICE, ip: "10.10.10.1", language: "zh" },
    );
    expect(full.get("X-device-ip")).toBe("10.10.10.1");
    expect(full.get("X-L")).toBe("zh");
    expect(full.get("X-tenant-id")).toBe("tenant-9");
  });
});
