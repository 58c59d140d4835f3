import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectTimestampUnit, hexNonce, timestampToMs, timestampValue } from "../src/timestamp.ts";

describe("server timestamps", () => {
  it("reads decimal integer strings only", () => {
    expect(timestampValue("1700000000")).toBe(1_700_000_000);
    expect(timestampValue("1628496800123")).toBe(1_628_496_800_123);
    for (const bad of ["", "17e8", "-1", " 1", "1.5", "0x10", "12345678901234567", "２"]) {
      expect(timestampValue(bad)).toBeUndefined();
    }
  });

  it("tells seconds from milliseconds by size", () => {
    expect(detectTimestampUnit("1700000000")).toBe("s");
    expect(detectTimestampUnit("99999999999")).toBe("s");
    expect(detectTimestampUnit("100000000000")).toBe("ms");
    expect(detectTimestampUnit("1628496800123")).toBe("ms");
    expect(() => detectTimestampUnit("soon")).toThrow(RangeError);
  });

  it("detects the unit of any time from 1973 to 5000 either way", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100_000_000_000, max: 95_617_584_000_000 }), (ms) => {
        expect(detectTimestampUnit(String(ms))).toBe("ms");
        expect(detectTimestampUnit(String(Math.floor(ms / 1000)))).toBe("s");
      }),
      { seed: 5, numRuns: 200 },
    );
  });

  it("makes the documented nonce: the timestamp in hexadecimal", () => {
    expect(hexNonce("1700000000")).toBe("6553f100");
    expect(hexNonce("1628496800123")).toBe((1_628_496_800_123).toString(16));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(Number.parseInt(hexNonce(String(value)), 16)).toBe(value);
      }),
      { seed: 7, numRuns: 200 },
    );
    expect(() => hexNonce("abc")).toThrow(RangeError);
  });

  it("converts to milliseconds", () => {
    expect(timestampToMs(1_700_000_000, "s")).toBe(1_700_000_000_000);
    expect(timestampToMs(1_700_000_000_123, "ms")).toBe(1_700_000_000_123);
  });
});
