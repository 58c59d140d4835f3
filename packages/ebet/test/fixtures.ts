// Shared test fixtures: keys made by node:crypto (the oracle), a fixed clock, a recording fetch.
import { createVerify, generateKeyPairSync, type KeyObject } from "node:crypto";
import { expect } from "vitest";
import { EbetError } from "../src/index.ts";

/** 2024-05-01T00:00:00Z, in ms. */
export const NOW_MS = 1_714_521_600_000;
export const NOW_S = NOW_MS / 1000;
export const fixedClock = (): number => NOW_MS;

export const BASE_URL = "https://ebet.test";

export interface NodeKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  pkcs8Pem: string;
  pkcs1Pem: string;
  spkiPem: string;
  /** PKCS#8 DER as bare base64, no PEM lines. */
  pkcs8Base64: string;
}

const cache = new Map<number, NodeKeys>();

/** An RSA key pair of `bits`, made once per test file. */
export function nodeKeys(bits = 1024): NodeKeys {
  let keys = cache.get(bits);
  if (!keys) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: bits });
    keys = {
      privateKey,
      publicKey,
      pkcs8Pem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      pkcs1Pem: privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      spkiPem: publicKey.export({ type: "spki", format: "pem" }) as string,
      pkcs8Base64: (privateKey.export({ type: "pkcs8", format: "der" }) as Buffer).toString(
        "base64",
      ),
    };
    cache.set(bits, keys);
  }
  return keys;
}

/** node:crypto's verdict on an MD5withRSA signature (base64) over the UTF-8 of `text`. */
export function nodeVerifiesMd5(publicKey: KeyObject, text: string, signature: string): boolean {
  const verify = createVerify("md5");
  verify.update(Buffer.from(text, "utf8"));
  return verify.verify(publicKey, Buffer.from(signature, "base64"));
}

/** A fetch that records what it was asked and answers with `answer` (or the simulator's fetch). */
export function recordingFetch(answer: (request: Request) => Response | Promise<Response>): {
  fetch: (request: Request) => Promise<Response>;
  requests: Request[];
} {
  const requests: Request[] = [];
  return {
    requests,
    fetch: async (request) => {
      requests.push(request.clone());
      return answer(request);
    },
  };
}

/** A JSON answer, HTTP 200 unless told. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Awaits a rejection and checks it is an EbetError with these properties. */
export async function expectEbetError(
  promise: Promise<unknown>,
  expected: Partial<Pick<EbetError, "code" | "kind" | "retryable" | "field" | "upstreamStatus">>,
): Promise<EbetError> {
  const error = await promise.then(
    () => {
      throw new Error("expected an EbetError, but the call succeeded");
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(EbetError);
  expect(error).toMatchObject(expected);
  return error as EbetError;
}
