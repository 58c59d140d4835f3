// Strict base64, base64url, hex and UTF-8 conversions: bad input is an EncodingError, never garbage.
import { EncodingError } from "./errors.ts";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function reverseTable(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

const B64_REVERSE = reverseTable(B64);
const B64URL_REVERSE = reverseTable(B64URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63) +
      alphabet.charAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += alphabet.charAt(n >>> 18) + alphabet.charAt((n >>> 12) & 63) + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63) +
      (pad ? "=" : "");
  }
  return out;
}

function decode(text: string, table: Int16Array, padded: boolean, name: string): Uint8Array {
  if (typeof text !== "string") throw new EncodingError(`${name}: expected a string`);
  let end = text.length;
  if (padded) {
    if (end % 4 !== 0) throw new EncodingError(`${name}: length ${end} is not a multiple of 4`);
    if (text.endsWith("==")) end -= 2;
    else if (text.endsWith("=")) end -= 1;
  } else if (end % 4 === 1) {
    throw new EncodingError(`${name}: length ${end} cannot be valid`);
  }
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    const digit = code < 128 ? (table[code] as number) : -1;
    if (digit < 0) {
      throw new EncodingError(`${name}: invalid character ${JSON.stringify(text[i])} at ${i}`);
    }
    value = ((value << 6) | digit) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >>> bits) & 0xff;
    }
  }
  // Canonical form only: the bits left over after the last byte must be zero.
  if ((value & ((1 << bits) - 1)) !== 0) {
    throw new EncodingError(`${name}: non-zero padding bits, not a canonical encoding`);
  }
  return out;
}

/** Standard base64 with `=` padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  return encode(bytes, B64, true);
}

/** Decodes padded standard base64; rejects other characters, wrong padding and non-canonical input. */
export function fromBase64(text: string): Uint8Array {
  return decode(text, B64_REVERSE, true, "base64");
}

/** URL-safe base64 without padding (RFC 4648 §5, as in JWS and JWK). */
export function toBase64Url(bytes: Uint8Array): string {
  return encode(bytes, B64URL, false);
}

/** Decodes unpadded base64url; rejects `=`, `+`, `/` and non-canonical input. */
export function fromBase64Url(text: string): Uint8Array {
  return decode(text, B64URL_REVERSE, false, "base64url");
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hexadecimal. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** Decodes hexadecimal of either case; an odd length or a non-hex character is an error. */
export function fromHex(text: string): Uint8Array {
  if (typeof text !== "string") throw new EncodingError("hex: expected a string");
  if (text.length % 2 !== 0) throw new EncodingError(`hex: odd length ${text.length}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(text.charCodeAt(2 * i));
    const lo = hexDigit(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? 2 * i : 2 * i + 1;
      throw new EncodingError(`hex: invalid character ${JSON.stringify(text[at])} at ${at}`);
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

const encoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF, so that decoding is the exact inverse of utf8Encode.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, refusing invalid sequences instead of replacing them. */
export function utf8Decode(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (cause) {
    throw new EncodingError("utf-8: invalid byte sequence", { cause });
  }
}

/** Bytes of a string (as UTF-8); bytes pass through unless they sit on shared memory. */
export function toBytes(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof data === "string") return encoder.encode(data);
  if (!(data instanceof Uint8Array)) throw new TypeError("data must be a string or a Uint8Array");
  return data.buffer instanceof ArrayBuffer
    ? (data as Uint8Array<ArrayBuffer>)
    : new Uint8Array(data);
}

/**
 * Compares two byte strings in time that depends only on their lengths, so a secret
 * (a MAC, an API key digest) cannot be guessed byte by byte from response times.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
