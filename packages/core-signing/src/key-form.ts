// The form of RSA key material (PEM, base64 DER, DER bytes, JWK), told without importing the key.
import { readDerElement, sequenceChildren, TAG } from "./der.ts";
import { fromBase64, fromBase64Url } from "./encoding.ts";
import { EncodingError, KeyFormatError } from "./errors.ts";

/** How key material is written and what it holds, as far as its form tells. */
export interface KeyForm {
  /** `pem` text, `der` (bare base64 of DER, or DER bytes), or a `jwk` (object or JSON text). */
  encoding: "pem" | "der" | "jwk";
  /** The structure: PKCS#8, PKCS#1, SubjectPublicKeyInfo, or a JWK. */
  structure: "pkcs8" | "pkcs1" | "spki" | "jwk";
  /** A private or a public key. */
  type: "private" | "public";
}

/** @internal Key text taken apart: a JWK to parse, or the DER inside a PEM or bare base64. */
export type KeyText =
  | { form: "jwk"; jwk: unknown }
  | { form: "pem"; label: PemLabel; der: Uint8Array }
  | { form: "der"; der: Uint8Array };

/** @internal The PEM labels of RSA keys. */
export type PemLabel = "PRIVATE KEY" | "RSA PRIVATE KEY" | "PUBLIC KEY" | "RSA PUBLIC KEY";

const PEM_LABELS: readonly string[] = [
  "PRIVATE KEY",
  "RSA PRIVATE KEY",
  "PUBLIC KEY",
  "RSA PUBLIC KEY",
] satisfies PemLabel[];

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/;

/** OneAccess and others send PEM or base64 with line breaks as the two characters `\n`. */
function unescapeLineBreaks(text: string): string {
  return text.includes("\\") ? text.replace(/\\r\\n|\\n|\\r/g, "\n") : text;
}

function decodeBase64Body(body: string, what: string): Uint8Array {
  const compact = body.replace(/\s+/g, "");
  if (compact.length === 0) throw new KeyFormatError("encoding", `${what} is empty`);
  try {
    return fromBase64(compact);
  } catch (cause) {
    const reason = cause instanceof EncodingError ? cause.message : "invalid base64";
    throw new KeyFormatError("encoding", `${what} is not valid base64 (${reason})`, { cause });
  }
}

/**
 * @internal Takes key text apart: JSON is a JWK (parsed, not checked), PEM must have matching RSA
 * key labels, is not encrypted and has a base64 body, anything else must be base64 DER.
 */
export function readKeyText(text: string): KeyText {
  const trimmed = unescapeLineBreaks(text).trim();
  if (trimmed.startsWith("{")) {
    try {
      return { form: "jwk", jwk: JSON.parse(trimmed) };
    } catch (cause) {
      throw new KeyFormatError("jwk", "key material starts with { but is not valid JSON", {
        cause,
      });
    }
  }
  if (trimmed.startsWith("-----BEGIN")) {
    const match = PEM.exec(trimmed);
    if (!match)
      throw new KeyFormatError("encoding", "PEM has a BEGIN line but no matching END line");
    const [, label = "", body = "", endLabel] = match;
    if (label !== endLabel) {
      throw new KeyFormatError(
        "pem-label",
        `PEM BEGIN label "${label}" does not match END label "${endLabel}"`,
      );
    }
    if (/Proc-Type:|DEK-Info:/.test(body) || label === "ENCRYPTED PRIVATE KEY") {
      throw new KeyFormatError(
        "encoding",
        "encrypted PEM keys are not supported: decrypt the key first",
      );
    }
    if (!PEM_LABELS.includes(label)) {
      throw new KeyFormatError(
        "pem-label",
        `unsupported PEM label "${label}": expected PRIVATE KEY, RSA PRIVATE KEY, PUBLIC KEY or RSA PUBLIC KEY`,
      );
    }
    const der = decodeBase64Body(body, `the body of the ${label} PEM`);
    return { form: "pem", label: label as PemLabel, der };
  }
  return {
    form: "der",
    der: decodeBase64Body(trimmed, "key material (neither PEM nor JWK, so base64 DER)"),
  };
}

/** @internal The structure of a DER key, told apart by the tags of its outer SEQUENCE's children. */
export function derKeyStructure(
  der: Uint8Array,
): "spki" | "pkcs8" | "pkcs1-public" | "pkcs1-private" {
  const tags = sequenceChildren(readDerElement(der, TAG.SEQUENCE, "key"), "key").map(
    (child) => child.tag,
  );
  if (tags[0] === TAG.SEQUENCE && tags[1] === TAG.BIT_STRING) return "spki";
  if (tags[0] === TAG.INTEGER && tags[1] === TAG.SEQUENCE) return "pkcs8";
  if (tags.length === 2 && tags.every((tag) => tag === TAG.INTEGER)) return "pkcs1-public";
  if (tags.length >= 9 && tags.every((tag) => tag === TAG.INTEGER)) return "pkcs1-private";
  throw new KeyFormatError(
    "der",
    "DER is not an RSA key in PKCS#8, PKCS#1 or SubjectPublicKeyInfo form",
  );
}

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"];

/**
 * @internal A JWK member, read only if the JWK itself has it: a member the object inherits (from a
 * prototype it was made with, or one polluted elsewhere) is no part of the key.
 */
export function jwkMember(jwk: object, member: string): unknown {
  return Object.hasOwn(jwk, member) ? (jwk as Record<string, unknown>)[member] : undefined;
}

function jwkForm(value: unknown): KeyForm {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KeyFormatError("jwk", "JWK must be an object");
  }
  const kty = jwkMember(value, "kty");
  if (kty !== "RSA")
    throw new KeyFormatError("not-rsa", `JWK kty is ${JSON.stringify(kty)}, not "RSA"`);
  const isPrivate = jwkMember(value, "d") !== undefined;
  for (const member of isPrivate ? ["n", "e", ...PRIVATE_JWK_MEMBERS] : ["n", "e"]) {
    const text = jwkMember(value, member);
    let valid = typeof text === "string" && text.length > 0;
    if (valid) {
      try {
        fromBase64Url(text as string);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new KeyFormatError("jwk", `JWK member "${member}" is missing or not base64url`);
    }
  }
  return { encoding: "jwk", structure: "jwk", type: isPrivate ? "private" : "public" };
}

function derForm(der: Uint8Array, encoding: "pem" | "der", label?: PemLabel): KeyForm {
  const structure = derKeyStructure(der);
  const form: KeyForm = {
    encoding,
    structure: structure === "spki" || structure === "pkcs8" ? structure : "pkcs1",
    type: structure === "spki" || structure === "pkcs1-public" ? "public" : "private",
  };
  if (label !== undefined) {
    const expected: Record<PemLabel, typeof structure> = {
      "PRIVATE KEY": "pkcs8",
      "RSA PRIVATE KEY": "pkcs1-private",
      "PUBLIC KEY": "spki",
      "RSA PUBLIC KEY": "pkcs1-public",
    };
    if (expected[label] !== structure) {
      throw new KeyFormatError("der", `the body of the ${label} PEM holds a ${structure} key`);
    }
  }
  return form;
}

/**
 * Tells the form of RSA key material without importing it: PEM (matching labels of an RSA key, not
 * encrypted, a base64 body), bare base64 DER (also with line breaks written as the two characters
 * `\n`), DER bytes or a JWK (object or JSON text). DER is checked down to the outer SEQUENCE and
 * the tags of its elements, which tell PKCS#8, PKCS#1 and SPKI apart; a JWK must have `kty` "RSA"
 * and base64url members. The RSA numbers themselves are not checked: `importPrivateKey` and
 * `importPublicKey` of `@x/core-signing/rsa` do that. With `type`, a key of the other type is a
 * `public-key` problem. Cheap enough for startup checks of configuration; throws KeyFormatError
 * with a `problem` and a message saying what is wrong.
 */
export function checkKeyForm(material: unknown, type?: "private" | "public"): KeyForm {
  let form: KeyForm;
  if (typeof material === "string") {
    const text = readKeyText(material);
    form =
      text.form === "jwk"
        ? jwkForm(text.jwk)
        : text.form === "pem"
          ? derForm(text.der, "pem", text.label)
          : derForm(text.der, "der");
  } else if (material instanceof Uint8Array) {
    form = derForm(material, "der");
  } else if (typeof material === "object" && material !== null) {
    form = jwkForm(material);
  } else {
    throw new KeyFormatError(
      "encoding",
      `key material must be a string, bytes or a JWK, not ${typeof material}`,
    );
  }
  if (type !== undefined && form.type !== type) {
    throw new KeyFormatError(
      "public-key",
      type === "private"
        ? "this is a public key where a private key is needed"
        : "this is a private key where a public key is expected",
    );
  }
  return form;
}
