// Test support: a hand-driven clock, a sample device, node:crypto as the decryption oracle, and the OneAccessError a call rejects with.
import { constants, privateDecrypt } from "node:crypto";
import type { RsaPrivateKey } from "@x/core-signing/rsa";
import { expect } from "vitest";
import { OneAccessError } from "../src/errors.ts";

export const START_MS = 1_700_000_000_000;

export interface ManualClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function manualClock(start = START_MS): ManualClock {
  let time = start;
  return {
    now: () => time,
    set: (ms) => {
      time = ms;
    },
    advance: (ms) => {
      time += ms;
    },
  };
}

export const DEVICE = {
  osVersion: "Android 10",
  fingerprint: "156aysdna213sc50",
  agent:
    "Mozilla/5.0 (Linux; Android 10; Redmi K30 Build/QKQ1.190825.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/80.0.3987.99 Mobile Safari/537.36",
} as const;

/** Decrypts an X-signature with OpenSSL: RSA-OAEP, SHA-256 for the hash and for MGF1. */
export function opensslDecrypt(key: RsaPrivateKey, signature: string, oaepHash = "sha256"): string {
  return privateDecrypt(
    { key: key.toPem(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
    Buffer.from(signature, "base64"),
  ).toString("utf8");
}

/** A fetch that answers from a list, records each request, and fails when the list runs out. */
export function scriptedFetch(...answers: (Response | (() => Response | Promise<Response>))[]) {
  const requests: Request[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    requests.push(request);
    const next = answers.shift();
    if (next === undefined) throw new Error(`unexpected request ${request.method} ${request.url}`);
    return typeof next === "function" ? next() : next;
  };
  return { fetch, requests };
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** The OneAccessError `promise` rejects with; fails the test if it fulfils or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<OneAccessError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OneAccessError);
    return error as OneAccessError;
  }
  throw new Error("nothing was thrown");
}
