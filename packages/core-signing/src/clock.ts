// Injectable time and randomness: clocks, timestamps in a vendor's unit, nonces, server clock offsets.

/** Milliseconds since the Unix epoch, like Date.now. Injected so that tests control time. */
export type Clock = () => number;

/** Fills a new array of `length` random bytes. Injected so that tests control nonces. */
export type RandomSource = (length: number) => Uint8Array;

export const systemClock: Clock = () => Date.now();

export const systemRandom: RandomSource = (length) =>
  crypto.getRandomValues(new Uint8Array(length));

export type TimestampUnit = "s" | "ms";

/** The clock's time as an integer in seconds or milliseconds since the epoch. */
export function timestamp(unit: TimestampUnit, now: Clock = systemClock): number {
  const ms = now();
  return unit === "ms" ? Math.floor(ms) : Math.floor(ms / 1000);
}

/** `bytes` random bytes as lower-case hex (16 bytes, 128 bits, by default). */
export function randomNonce(bytes = 16, random: RandomSource = systemRandom): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024) {
    throw new RangeError(`nonce length must be 1 to 1024 bytes, got ${bytes}`);
  }
  let out = "";
  for (const byte of random(bytes)) out += byte.toString(16).padStart(2, "0");
  return out;
}

/**
 * Tracks the offset between a server's clock and ours, so that a vendor timestamp can be computed
 * locally instead of asking the server each time. The estimate assumes the server read its clock
 * halfway through the round trip.
 */
export class ClockOffset {
  readonly #now: Clock;
  #offsetMs: number | undefined;

  constructor(now: Clock = systemClock) {
    this.#now = now;
  }

  /** Whether an observation has been made since creation or the last reset. */
  get known(): boolean {
    return this.#offsetMs !== undefined;
  }

  /** Server time minus local time, in milliseconds; 0 until observed. */
  get offsetMs(): number {
    return this.#offsetMs ?? 0;
  }

  /** Records a server reading taken between `sentAt` and now (both local, ms). */
  observe(serverTimeMs: number, sentAt: number = this.#now()): void {
    if (!Number.isFinite(serverTimeMs))
      throw new RangeError("server time must be a finite number of ms");
    const receivedAt = this.#now();
    this.#offsetMs = serverTimeMs - (sentAt + receivedAt) / 2;
  }

  /** The server's clock now, in milliseconds. */
  serverNow(): number {
    return this.#now() + this.offsetMs;
  }

  reset(): void {
    this.#offsetMs = undefined;
  }
}
