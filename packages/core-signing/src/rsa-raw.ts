// The raw RSA operations on BigInt: the private one with CRT, blinding and a fault check; the public one.
import { modInverse, modPow, randomBelow } from "./bigint.ts";
import { type PrivateParts, partsOf, type RsaPrivateKey, type RsaPublicKey } from "./keys.ts";

/** A blinding pair is refreshed from fresh randomness after this many uses, as OpenSSL does. */
const BLINDING_REUSE = 32;

const random = (length: number): Uint8Array => crypto.getRandomValues(new Uint8Array(length));

/**
 * Next (r^e, r^-1) pair. Between refreshes both are squared, which keeps them a valid pair
 * ((r²)^e, (r²)^-1) while the blinding value still changes on every use.
 */
function nextBlinding(parts: PrivateParts): { a: bigint; aInverse: bigint } {
  const { n, e } = parts;
  const current = parts.blinding;
  if (current && current.uses < BLINDING_REUSE) {
    current.a = (current.a * current.a) % n;
    current.aInverse = (current.aInverse * current.aInverse) % n;
    current.uses++;
    return current;
  }
  for (;;) {
    const r = randomBelow(n, random);
    const aInverse = modInverse(r, n);
    if (aInverse === undefined) continue;
    const fresh = { a: modPow(r, e, n), aInverse, uses: 1 };
    parts.blinding = fresh;
    return fresh;
  }
}

/**
 * m^d mod n. The input is blinded with a random r^e so that the time the exponentiations take says
 * nothing about m or d; the CRT halves run on p and q; the result is checked with the public
 * exponent before unblinding, so a computation fault cannot leak a factor of n (Boneh–DeMillo–Lipton).
 */
export function rsaPrivate(key: RsaPrivateKey, m: bigint): bigint {
  const parts = partsOf(key);
  const { n, e, d, p, q, dp, dq, qi } = parts;
  const { a, aInverse } = nextBlinding(parts);
  const c = (m * a) % n;
  const m1 = modPow(c % p, dp, p);
  const m2 = modPow(c % q, dq, q);
  let h = ((m1 - m2) * qi) % p;
  if (h < 0n) h += p;
  let s = m2 + h * q;
  if (modPow(s, e, n) !== c) s = modPow(c, d, n);
  return (s * aInverse) % n;
}

/** m^e mod n. */
export function rsaPublic(key: RsaPublicKey, m: bigint): bigint {
  return modPow(m, key.e, key.n);
}
