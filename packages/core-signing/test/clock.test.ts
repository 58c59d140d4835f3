// Injectable clocks, timestamps, nonces and server clock offsets (src/clock.ts).
import { describe, expect, test } from "vitest";
import { ClockOffset, randomNonce, systemClock, systemRandom, timestamp } from "../src/index.ts";

describe("timestamp", () => {
  const now = () => 1_700_000_123_987.6;

  test("in seconds: whole seconds, rounded down", () => {
    expect(timestamp("s", now)).toBe(1_700_000_123);
    expect(timestamp("s", () => 999)).toBe(0);
    expect(timestamp("s", () => 1000)).toBe(1);
  });

  test("in milliseconds: whole milliseconds, rounded down", () => {
    expect(timestamp("ms", now)).toBe(1_700_000_123_987);
    expect(timestamp("ms", () => 5)).toBe(5);
  });

  test("reads the injected clock on every call", () => {
    let t = 0;
    const clock = () => {
      t += 1500;
      return t;
    };
    expect(timestamp("s", clock)).toBe(1);
    expect(timestamp("s", clock)).toBe(3);
    expect(timestamp("ms", clock)).toBe(4500);
  });

  test("defaults to the system clock", () => {
    const before = Date.now();
    const ms = timestamp("ms");
    const after = Date.now();
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
    expect(Math.abs(timestamp("s") - Math.floor(Date.now() / 1000))).toBeLessThanOrEqual(1);
    expect(Math.abs(systemClock() - Date.now())).toBeLessThan(1000);
  });
});

describe("randomNonce", () => {
  const counting = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 17) & 0xff);

  test("is the injected random bytes as lower-case hex, 2 characters a byte", () => {
    expect(randomNonce(4, counting)).toBe("00112233");
    expect(randomNonce(4, () => Uint8Array.of(0xab, 0xcd, 0x0e, 0xf0))).toBe("abcd0ef0");
    for (const bytes of [1, 2, 16, 33, 1024]) {
      const nonce = randomNonce(bytes, counting);
      expect(nonce).toHaveLength(2 * bytes);
      expect(nonce).toMatch(/^[0-9a-f]+$/);
    }
  });

  test("is deterministic with an injected random source", () => {
    expect(randomNonce(16, counting)).toBe(randomNonce(16, counting));
  });

  test("asks the random source for exactly the bytes requested", () => {
    const asked: number[] = [];
    randomNonce(24, (length) => {
      asked.push(length);
      return new Uint8Array(length);
    });
    expect(asked).toEqual([24]);
  });

  test("defaults to 16 bytes from the system CSPRNG", () => {
    const a = randomNonce();
    const b = randomNonce();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
    expect(systemRandom(8)).toHaveLength(8);
  });

  test.each([0, -1, 1.5, 1025, Number.NaN, Number.POSITIVE_INFINITY])(
    "refuses a length of %d bytes",
    (bytes) => {
      expect(() => randomNonce(bytes, counting)).toThrow(RangeError);
      expect(() => randomNonce(bytes, counting)).toThrow(/1 to 1024 bytes/);
    },
  );
});

describe("ClockOffset", () => {
  function manualClock(start: number) {
    const clock = { t: start, now: () => clock.t };
    return clock;
  }

  test("is unknown and zero before any observation", () => {
    const clock = manualClock(10_000);
    const offset = new ClockOffset(clock.now);
    expect(offset.known).toBe(false);
    expect(offset.offsetMs).toBe(0);
    expect(offset.serverNow()).toBe(10_000);
  });

  test("assumes the server read its clock halfway through the round trip", () => {
    const clock = manualClock(1_000);
    const offset = new ClockOffset(clock.now);
    const sentAt = clock.now();
    clock.t = 1_200; // the answer arrives 200 ms later
    offset.observe(5_000, sentAt);
    expect(offset.known).toBe(true);
    expect(offset.offsetMs).toBe(5_000 - 1_100);
    expect(offset.serverNow()).toBe(5_100);
    clock.t = 2_200;
    expect(offset.serverNow()).toBe(6_100);
  });

  test("a server behind us gives a negative offset", () => {
    const clock = manualClock(50_000);
    const offset = new ClockOffset(clock.now);
    offset.observe(20_000, 50_000);
    expect(offset.offsetMs).toBe(-30_000);
    expect(offset.serverNow()).toBe(20_000);
  });

  test("without sentAt, the reading is taken as made now", () => {
    const clock = manualClock(3_000);
    const offset = new ClockOffset(clock.now);
    offset.observe(3_750);
    expect(offset.offsetMs).toBe(750);
  });

  test("a new observation replaces the old one", () => {
    const clock = manualClock(0);
    const offset = new ClockOffset(clock.now);
    offset.observe(1_000, 0);
    offset.observe(-500, 0);
    expect(offset.offsetMs).toBe(-500);
  });

  test("reset forgets the offset", () => {
    const clock = manualClock(1_000);
    const offset = new ClockOffset(clock.now);
    offset.observe(9_000, 1_000);
    expect(offset.serverNow()).toBe(9_000);
    offset.reset();
    expect(offset.known).toBe(false);
    expect(offset.offsetMs).toBe(0);
    expect(offset.serverNow()).toBe(1_000);
  });

  test.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    "refuses a server time of %d and keeps what it knew",
    (serverTime) => {
      const clock = manualClock(0);
      const offset = new ClockOffset(clock.now);
      offset.observe(100, 0);
      expect(() => offset.observe(serverTime, 0)).toThrow(RangeError);
      expect(offset.offsetMs).toBe(100);
    },
  );

  test("defaults to the system clock", () => {
    const offset = new ClockOffset();
    offset.observe(Date.now() + 60_000);
    const skew = offset.serverNow() - Date.now();
    expect(skew).toBeGreaterThan(59_000);
    expect(skew).toBeLessThan(61_000);
  });
});
