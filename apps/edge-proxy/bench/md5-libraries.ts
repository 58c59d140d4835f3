// eBET's MD5withRSA (RSASSA-PKCS1-v1_5 with MD5, its 1024-bit test key) by four implementations on
// one runtime: @x/core-signing (BigInt: WebCrypto has no MD5, and Workers refuse WebAssembly compiled
// at run time), jsrsasign and node-forge (pure JavaScript), and OpenSSL through node:crypto where the
// runtime has it (Node, Bun, Deno; not workerd without nodejs_compat).
//
//   GET /?lib=core|jsrsasign|forge|openssl&n=N   N signatures in turn (0 to 1000), then 200 "ok";
//                                                501 when the runtime lacks the implementation
//
// The first request checks that the four agree on a signature (PKCS#1 v1.5 is deterministic): 500
// otherwise. Served like bench/vendor-crypto.ts (bench/serve-helper.mjs, or a Worker bundle) and
// timed from outside by proxy.bench.ts (case md5-<runtime>).
import { toBase64 } from "@x/core-signing";
import { signMd5WithRsa } from "@x/core-signing/md5";
import { importPrivateKey } from "@x/core-signing/rsa";
import { EBET_TEST_PRIVATE_KEY } from "@x/ebet/testing";

type Sign = (text: string) => Promise<string>;

const coreKey = importPrivateKey(EBET_TEST_PRIVATE_KEY);

/** OpenSSL through node:crypto, when the runtime has it: loaded on first use. */
async function openssl(): Promise<Sign | undefined> {
  const runtime = globalThis as { process?: { versions?: object } };
  if (runtime.process?.versions === undefined) return undefined;
  try {
    // A module name the Worker bundle does not follow.
    const name = "node:crypto";
    const crypto = (await import(name)) as typeof import("node:crypto");
    const key = crypto.createPrivateKey(EBET_TEST_PRIVATE_KEY);
    return async (text) => crypto.createSign("RSA-MD5").update(text).sign(key, "base64");
  } catch {
    return undefined;
  }
}

const LIBRARIES: Record<string, () => Promise<Sign | undefined>> = {
  core: async () => async (text) => toBase64(await signMd5WithRsa(coreKey, text)),
  // Loaded on first use: jsrsasign draws random values as it loads, which a Worker may do only
  // within a request.
  jsrsasign: async () => {
    const { default: jsrsasign } = await import("jsrsasign");
    const key = jsrsasign.KEYUTIL.getKey(EBET_TEST_PRIVATE_KEY) as jsrsasign.RSAKey;
    return async (text) => {
      const signature = new jsrsasign.KJUR.crypto.Signature({ alg: "MD5withRSA" });
      signature.init(key);
      signature.updateString(text);
      return jsrsasign.hextob64(signature.sign());
    };
  },
  forge: async () => {
    const { default: forge } = await import("node-forge");
    const key = forge.pki.privateKeyFromPem(EBET_TEST_PRIVATE_KEY);
    return async (text) => {
      const digest = forge.md.md5.create();
      digest.update(text, "utf8");
      return forge.util.encode64(key.sign(digest));
    };
  },
  openssl,
};

const signers = new Map<string, Sign | undefined>();
let agreed: Promise<string | undefined> | undefined;

async function signerOf(lib: string): Promise<Sign | undefined> {
  if (!signers.has(lib)) signers.set(lib, await LIBRARIES[lib]?.());
  return signers.get(lib);
}

/** Whether every available implementation gives the same signature; the disagreement otherwise. */
async function agreement(): Promise<string | undefined> {
  const text = "player0421704067200000";
  let expected: string | undefined;
  for (const lib of Object.keys(LIBRARIES)) {
    const sign = await signerOf(lib);
    if (sign === undefined) continue;
    const signature = await sign(text);
    expected ??= signature;
    if (signature !== expected) return `${lib} disagrees with core`;
  }
  return undefined;
}

export async function probe(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const lib = url.searchParams.get("lib") ?? "";
  const n = Number(url.searchParams.get("n") ?? "0");
  if (!(lib in LIBRARIES))
    return new Response(`lib: one of ${Object.keys(LIBRARIES)}`, { status: 400 });
  if (!Number.isInteger(n) || n < 0 || n > 1000)
    return new Response("n: 0 to 1000", { status: 400 });
  agreed ??= agreement();
  const disagreement = await agreed;
  if (disagreement !== undefined) return new Response(disagreement, { status: 500 });
  const sign = await signerOf(lib);
  if (sign === undefined) return new Response(`${lib}: not on this runtime`, { status: 501 });
  for (let index = 0; index < n; index++) await sign(`player${index}1${1704067200000 + index}`);
  return new Response("ok");
}
