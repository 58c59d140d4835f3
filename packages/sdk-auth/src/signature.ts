// The X-signature: the plaintext OneAccess expects, its size limit, and its RSA-OAEP SHA-256 encryption.
import { DataTooLongError, toBase64, utf8Encode } from "@x/core-signing";
import { encryptOaep, MAX_KEY_BITS, oaepCapacity, type RsaPublicKey } from "@x/core-signing/rsa";
import { refuse } from "./errors.ts";
import { timestampValue } from "./timestamp.ts";

export interface SignaturePlaintextInput {
  sessionToken: string;
  /** The server's timestamp, as a decimal string in the server's unit. */
  timestamp: string;
  /** A fresh value per signature; the documented choice is the timestamp in hexadecimal. */
  nonce: string;
}

/** The signed form without its three values. */
const FRAME = "session_token=&timestamp=&nonce=";
/** What one OAEP SHA-256 block of the largest supported key (4096 bits) carries. */
const WIDEST_CAPACITY = MAX_KEY_BITS / 8 - 2 * 32 - 2;

/**
 * Checks a session token: printable ASCII without blanks and without `&`, which would split the
 * signed `session_token=…&timestamp=…&nonce=…` form. The message never repeats the token.
 */
export function checkSessionToken(value: unknown, field = "sessionToken"): string {
  if (value === undefined || value === null || value === "") throw refuse(field, "is required");
  if (typeof value !== "string") throw refuse(field, `must be a string, not ${typeof value}`);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x0d || code === 0x0a) {
      throw refuse(field, `contains a line break (CR or LF) at position ${i}`);
    }
    if (code > 0x7f) throw refuse(field, `contains a non-ASCII character at position ${i}`);
    if (code <= 0x20 || code === 0x7f) {
      throw refuse(field, `contains a blank or control character at position ${i}`);
    }
    if (code === 0x26)
      throw refuse(field, `contains "&" at position ${i}, which the signed form cannot carry`);
  }
  if (value.length + FRAME.length + 2 > WIDEST_CAPACITY) {
    throw refuse(
      field,
      `is ${value.length} bytes; no RSA key OneAccess can use (up to ${MAX_KEY_BITS} bits) carries it in one OAEP SHA-256 block`,
    );
  }
  return value;
}

function checkTimestamp(value: unknown, field = "timestamp"): string {
  if (typeof value !== "string" || timestampValue(value) === undefined) {
    throw refuse(field, "must be the server's timestamp: a string of 1 to 16 decimal digits");
  }
  return value;
}

/** Checks a nonce: 1 to 64 printable ASCII characters, no blank, no `&`. */
export function checkNonce(value: unknown, field = "nonce"): string {
  if (typeof value !== "string" || !/^[\x21-\x25\x27-\x7e]{1,64}$/.test(value)) {
    throw refuse(field, "must be 1 to 64 printable ASCII characters without blanks or &");
  }
  return value;
}

/** `session_token=<token>&timestamp=<ts>&nonce=<nonce>`, each part checked first. */
export function buildSignaturePlaintext(input: SignaturePlaintextInput): string {
  const sessionToken = checkSessionToken(input?.sessionToken);
  const timestamp = checkTimestamp(input.timestamp);
  const nonce = checkNonce(input.nonce);
  return `session_token=${sessionToken}&timestamp=${timestamp}&nonce=${nonce}`;
}

/** The longest session token (in bytes) that fits one OAEP block of `key` with this timestamp and nonce. */
export function maxSessionTokenBytes(key: RsaPublicKey, timestamp: string, nonce: string): number {
  return Math.max(0, oaepCapacity(key) - FRAME.length - timestamp.length - nonce.length);
}

/**
 * Refuses a session token too long for the key: OAEP SHA-256 carries `size − 66` bytes (190 with a
 * 2048-bit key), and the signed form spends some of them on its frame, timestamp and nonce.
 */
export function checkSignatureFits(key: RsaPublicKey, input: SignaturePlaintextInput): void {
  const plaintext = utf8Encode(buildSignaturePlaintext(input)).length;
  const capacity = oaepCapacity(key);
  if (plaintext > capacity) {
    const limit = maxSessionTokenBytes(key, input.timestamp, input.nonce);
    throw refuse(
      "sessionToken",
      `is ${input.sessionToken.length} bytes, but with OneAccess's ${key.bits}-bit key the signed text holds at most ${capacity} bytes (RSA-OAEP SHA-256), which leaves room for a session token of at most ${limit} bytes`,
    );
  }
}

/** The X-signature header value: base64 of the RSA-OAEP SHA-256 encryption of the plaintext. */
export async function encryptSignature(
  key: RsaPublicKey,
  input: SignaturePlaintextInput,
): Promise<string> {
  checkSignatureFits(key, input);
  try {
    return toBase64(await encryptOaep(key, buildSignaturePlaintext(input), "SHA-256"));
  } catch (error) {
    if (error instanceof DataTooLongError) {
      throw refuse("sessionToken", `is too long for the key: ${error.message}`);
    }
    throw error;
  }
}
