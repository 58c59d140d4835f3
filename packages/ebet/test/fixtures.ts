// Shared test fixtures: keys made by node:crypto (the oracle), a fixed clock, a recording fetch, a local server.
import { createVerify, generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
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

/** What a local server received: method, path with query, and body text. */
export interface ReceivedRequest {
  method: string;
  url: string;
  body: string;
}

/** A running local server; `close` ends it and its connections. */
export interface LocalServer {
  /** e.g. "http://127.0.0.1:41234". */
  origin: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * Serves `handle` over HTTP on 127.0.0.1 (a free port): each request becomes a web Request, handed
 * over with the `{ incoming, outgoing }` env that `@hono/node-server` passes, so a simulator sees
 * the real socket. Records every request it receives.
 */
export async function serveLocally(
  handle: (
    request: Request,
    env: { incoming: IncomingMessage; outgoing: ServerResponse },
  ) => Response | Promise<Response>,
): Promise<LocalServer> {
  const received: ReceivedRequest[] = [];
  const server = createServer(async (incoming, outgoing) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    received.push({ method: incoming.method ?? "", url: incoming.url ?? "", body });
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const method = incoming.method ?? "GET";
    const request = new Request(`http://127.0.0.1${incoming.url ?? "/"}`, {
      method,
      headers,
      ...(method === "GET" || method === "HEAD" ? {} : { body }),
    });
    const response = await handle(request, { incoming, outgoing });
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
