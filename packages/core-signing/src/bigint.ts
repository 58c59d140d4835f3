// Arbitrary-precision arithmetic for RSA on the built-in BigInt: conversions, modular powers, inverses.
import { fromHex, toHex } from "./encoding.ts";

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${toHex(bytes)}`);
}

/** Big-endian bytes of `value`, left-padded with zeros to exactly `length` bytes. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const hex = value.toString(16);
  if (hex.length > length * 2) throw new RangeError(`integer does not fit in ${length} bytes`);
  return fromHex(hex.padStart(length * 2, "0"));
}

export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

/** Window width that minimises multiplications for an exponent of this many bits. */
function windowBits(bits: number): number {
  if (bits > 671) return 6;
  if (bits > 239) return 5;
  if (bits > 79) return 4;
  if (bits > 23) return 3;
  return 1;
}

/**
 * base^exponent mod modulus by left-to-right sliding-window exponentiation: one squaring per
 * exponent bit and one multiplication per window, with the odd powers below 2^w precomputed.
 */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus === 1n) return 0n;
  const b = base % modulus;
  const bits = exponent.toString(2);
  const w = windowBits(bits.length);
  // table[i] = b^(2i+1)
  const table: bigint[] = [b];
  if (w > 1) {
    const b2 = (b * b) % modulus;
    for (let i = 1; i < 1 << (w - 1); i++) table.push(((table[i - 1] as bigint) * b2) % modulus);
  }
  let result = 1n;
  let started = false;
  let i = 0;
  while (i < bits.length) {
    if (bits.charCodeAt(i) === 48) {
      if (started) result = (result * result) % modulus;
      i++;
      continue;
    }
    // The longest window of at most w bits starting here that ends in a 1.
    let end = Math.min(i + w, bits.length);
    while (bits.charCodeAt(end - 1) === 48) end--;
    const window = Number.parseInt(bits.slice(i, end), 2);
    if (started) {
      for (let s = i; s < end; s++) result = (result * result) % modulus;
      result = (result * (table[window >> 1] as bigint)) % modulus;
    } else {
      result = table[window >> 1] as bigint;
      started = true;
    }
    i = end;
  }
  return result;
}

/** The inverse of a modulo m, or undefined when they share a factor. */
export function modInverse(a: bigint, m: bigint): bigint | undefined {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) return undefined;
  return ((s0 % m) + m) % m;
}

/** A uniformly random integer in [2, n - 1], from the platform's CSPRNG. */
export function randomBelow(n: bigint, random: (length: number) => Uint8Array): bigint {
  const length = Math.ceil(bitLength(n) / 8);
  const excess = BigInt(length * 8 - bitLength(n));
  for (;;) {
    const candidate = bytesToBigInt(random(length)) >> excess;
    if (candidate > 1n && candidate < n - 1n) return candidate;
  }
}
