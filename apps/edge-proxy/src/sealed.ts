// Encryption at rest of what the proxy must store and never in clear (the vendor tokens of pending
// jobs): AES-256-GCM with WebCrypto, under keys named by an id, so that keys can be rotated.
import { fromBase64, fromBase64Url, toBase64Url } from "@x/core-signing";
import type { ConfigIssue } from "./config.ts";

/** A key id: what a sealed text names its key by. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** The GCM nonce: 96 random bits per text (NIST SP 800-38D's recommended length). */
const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The keys texts are sealed under (the first) and opened with (any, by its id). */
export interface SealingKeys {
  readonly current: string;
  readonly keys: ReadonlyMap<string, CryptoKey>;
}

/** A text that could not be opened: unknown key id, wrong shape, or tampered (GCM's tag). */
export class SealError extends Error {
  override name = "SealError";
}

/**
 * The keys of a setting such as `PROXY_STORE_KEYS="k2:<base64>,k1:<base64>"`: comma-separated
 * `<id>:<32 bytes in base64>`, the first sealing new texts, every one opening texts sealed under
 * it. An issue names `name` and the entry's position, never a key.
 */
export async function importSealingKeys(
  value: string,
  name: string,
): Promise<SealingKeys | ConfigIssue> {
  const keys = new Map<string, CryptoKey>();
  const entries = value.split(",").map((entry) => entry.trim());
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(":");
    const id = entry.slice(0, colon);
    let bytes: Uint8Array | undefined;
    try {
      bytes = colon > 0 ? fromBase64(entry.slice(colon + 1)) : undefined;
    } catch {
      bytes = undefined;
    }
    if (!KEY_ID.test(id) || bytes?.length !== 32 || keys.has(id)) {
      return {
        name,
        message: `entry ${index + 1}: needs <id>:<32 bytes in base64>, ids of 1 to 32 letters, digits, - or _, each once (e.g. k1:$(openssl rand -base64 32))`,
      };
    }
    keys.set(
      id,
      await crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]),
    );
  }
  return { current: entries[0]?.slice(0, entries[0].indexOf(":")) as string, keys };
}

/**
 * Seals `text` under the current key, bound to `context` (authenticated, not stored: a sealed text
 * moved to another context does not open): `<key id>.<iv>.<ciphertext and tag>`, base64url.
 */
export async function seal(keys: SealingKeys, text: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = keys.keys.get(keys.current) as CryptoKey;
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    key,
    encoder.encode(text),
  );
  return `${keys.current}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Opens what `seal` made for the same `context`; throws SealError otherwise. */
export async function unseal(keys: SealingKeys, sealed: string, context: string): Promise<string> {
  const [id, iv, body, extra] = sealed.split(".");
  const key = id === undefined ? undefined : keys.keys.get(id);
  if (key === undefined || iv === undefined || body === undefined || extra !== undefined) {
    throw new SealError("a sealed text names no key of PROXY_STORE_KEYS, or is not one");
  }
  try {
    const opened = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: fromBase64Url(iv) as Uint8Array<ArrayBuffer>,
        additionalData: encoder.encode(context),
      },
      key,
      fromBase64Url(body) as Uint8Array<ArrayBuffer>,
    );
    return decoder.decode(opened);
  } catch {
    throw new SealError("a sealed text does not open: another key, another context, or altered");
  }
}
