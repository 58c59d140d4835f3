// The schemas of environment variables: base URLs, whole numbers, secrets, keys; shared by the
// proxy's own settings (config.ts) and each vendor's variables (src/vendors/*).
import { checkBaseUrl, checkKeyForm, isVendorError, KeyFormatError } from "@x/core-signing";
import * as v from "valibot";

/** HS256 keys are 256 bits at least. */
export const MIN_HS256_SECRET_BYTES = 32;

const encoder = new TextEncoder();

/**
 * A vendor's base URL, by the rules every vendor client applies to its `baseUrl` (core-signing's
 * checkBaseUrl: absolute http(s), no credentials, query or fragment), without a trailing slash.
 */
export const baseUrl = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return checkBaseUrl("proxy", dataset.value, "url");
    } catch (error) {
      if (!isVendorError(error)) throw error;
      // Never the value itself: a mistyped URL may hold a key.
      addIssue({
        message: error.message
          .replace(/^url: /, "")
          .replace(/: ".*$/s, "")
          .replace(/, not .*$/s, ""),
      });
      return NEVER;
    }
  }),
);

export const headerSafe = v.pipe(
  v.string(),
  v.maxLength(256, "must be at most 256 characters"),
  v.regex(/^[\x21-\x7e]+$/, "must be printable ASCII without blanks"),
);

export function isWholeNumber(value: unknown, min: number, max: number): boolean {
  return (
    typeof value === "string" && /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max
  );
}

export function wholeNumber(min: number, max: number) {
  const range =
    max === Number.MAX_SAFE_INTEGER
      ? "a positive whole number"
      : `a whole number from ${min} to ${max}`;
  return v.pipe(
    v.string(),
    v.check(
      (value) => isWholeNumber(value, min, max),
      (issue) => `must be ${range}, got ${JSON.stringify(issue.input)}`,
    ),
    v.transform(Number),
  );
}

export const hs256Secret = v.pipe(
  v.string(),
  v.check(
    (value) => encoder.encode(value).length >= MIN_HS256_SECRET_BYTES,
    `must be at least ${MIN_HS256_SECRET_BYTES} bytes (HS256 needs a 256-bit key)`,
  ),
);

/**
 * What is wrong with the key's form, checked without importing it (core-signing's checkKeyForm: PEM
 * labels and base64 body, base64 DER down to the structure of its outer SEQUENCE, or a JWK), as the
 * KeyFormatError's problem; undefined when it is the form of a private key.
 */
function privateKeyFormProblem(value: string): string | undefined {
  try {
    checkKeyForm(value, "private");
    return undefined;
  } catch (error) {
    if (error instanceof KeyFormatError) return error.problem;
    throw error;
  }
}

/**
 * Only the key's form is checked here: importing it (parsing and checking the RSA numbers) waits for
 * the first eBET call, which caches it, so startup and routes that never sign do no key work. A key
 * of the right form that still cannot be imported fails that call with VENDOR_SETTINGS_INVALID.
 */
export const privateKey = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = privateKeyFormProblem(dataset.value);
    if (problem !== undefined) {
      addIssue({
        message: `is not a usable RSA private key (${problem}): give a PKCS#8 or PKCS#1 PEM, or its base64 DER`,
      });
    }
  }),
);

/** "true" or "false". */
export const booleanText = v.picklist(
  ["true", "false"],
  (issue) => `must be "true" or "false", got ${JSON.stringify(issue.input)}`,
);
