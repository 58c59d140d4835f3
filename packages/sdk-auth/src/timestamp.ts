// OneAccess server time: the server's timestamp string, its unit, and the nonce made from it.
import type { TimestampUnit } from "@x/core-signing";

/** `"auto"` reads the unit from the server's own timestamp. */
export type TimestampUnitOption = TimestampUnit | "auto";

/**
 * Seconds since 1970 stay below 10^11 until the year 5138, and milliseconds pass it in 1973: a value
 * at or above this is milliseconds.
 */
const MILLISECONDS_FROM = 100_000_000_000;

const DIGITS = /^[0-9]{1,16}$/;

/** The integer a server timestamp string holds, or undefined when it is not a plain decimal integer. */
export function timestampValue(timestamp: string): number | undefined {
  if (typeof timestamp !== "string" || !DIGITS.test(timestamp)) return undefined;
  const value = Number(timestamp);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Whether a timestamp counts seconds or milliseconds, read from its size ("1700000000" is seconds). */
export function detectTimestampUnit(timestamp: string): TimestampUnit {
  const value = timestampValue(timestamp);
  if (value === undefined) throw new RangeError("a timestamp is a decimal integer string");
  return value >= MILLISECONDS_FROM ? "ms" : "s";
}

/** A timestamp in milliseconds since the epoch. */
export function timestampToMs(value: number, unit: TimestampUnit): number {
  return unit === "ms" ? value : value * 1000;
}

/** The documented nonce: the timestamp in lower-case hexadecimal ("1700000000" -> "6553f100"). */
export function hexNonce(timestamp: string): string {
  const value = timestampValue(timestamp);
  if (value === undefined) throw new RangeError("a timestamp is a decimal integer string");
  return value.toString(16);
}
