// eBET's request signature: MD5withRSA over the signed fields' values, concatenated in the documented order.
import { fromBase64, toBase64 } from "@x/core-signing";
import { signMd5WithRsa, verifyMd5WithRsa } from "@x/core-signing/md5";
import type { RsaPrivateKey, RsaPublicKey } from "@x/core-signing/rsa";

/** The fields each call signs, in the order their values are concatenated. */
export const EBET_SIGNED_FIELDS: {
  readonly logout: readonly ["username", "channelId", "timestamp"];
  readonly callback: readonly ["username", "channelId", "accessToken", "timestamp"];
} = Object.freeze({
  logout: Object.freeze(["username", "channelId", "timestamp"] as const),
  callback: Object.freeze(["username", "channelId", "accessToken", "timestamp"] as const),
});

export type EbetCall = keyof typeof EBET_SIGNED_FIELDS;

/**
 * The text a call signs: the values of `fields`, in order, as decimal numbers or strings, with
 * nothing between them. A field that is absent (undefined or null, or not an own member of
 * `values`: a name such as `constructor` never reads an inherited one) is left out.
 */
export function signatureText(
  fields: readonly string[],
  values: Readonly<Record<string, unknown>>,
): string {
  let text = "";
  for (const field of fields) {
    const value = Object.hasOwn(values, field) ? values[field] : undefined;
    if (value === undefined || value === null) continue;
    text += String(value);
  }
  return text;
}

/** MD5withRSA (RSASSA-PKCS1-v1_5 with MD5) of the UTF-8 text, as standard base64. */
export async function signEbet(key: RsaPrivateKey, text: string): Promise<string> {
  return toBase64(await signMd5WithRsa(key, text));
}

/** Whether `signature` (base64) is the MD5withRSA signature of `text`; malformed base64 is false. */
export async function verifyEbet(
  key: RsaPublicKey | RsaPrivateKey,
  text: string,
  signature: string,
): Promise<boolean> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(signature);
  } catch {
    return false;
  }
  return verifyMd5WithRsa(key, text, bytes);
}
