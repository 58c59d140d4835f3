// The crypto a vendor requires of each logout, alone, on each runtime: eBET's MD5withRSA signature
// (the channel's 1024-bit test key, as eBET hands them out) and OneAccess's RSA-OAEP SHA-256
// X-signature (a 2048-bit key, as the simulator makes), with the same @x/core-signing calls the
// vendor packages make. FunGame and Lancens need none.
//
//   GET /?vendor=ebet|sdk-auth&n=N   makes N of them in turn, then answers 200 "ok" (N from 0 to 1000)
//
//   workerd:  `probe` bundled as a Worker's fetch, under miniflare
//   Node, Bun, Deno: bench/serve-helper.mjs serves `probe` on 127.0.0.1
//
// proxy.bench.ts times N = 100 against N = 0 from outside (workerd's clock does not move during a
// computation) and reports the cost per logout beside the latency cases of the same runtime.
import { signMd5WithRsa } from "@x/core-signing/md5";
import { encryptOaep, generateKeyPair, importPrivateKey } from "@x/core-signing/rsa";
import { EBET_TEST_PRIVATE_KEY } from "@x/ebet/testing";

const ebetKey = importPrivateKey(EBET_TEST_PRIVATE_KEY);
let oneAccessKey: ReturnType<typeof generateKeyPair> | undefined;

/** One logout's crypto for `vendor`, on text that changes each time as a logout's does. */
async function once(vendor: string, index: number): Promise<void> {
  const timestamp = String(Date.now() + index);
  if (vendor === "ebet") {
    await signMd5WithRsa(ebetKey, `player${index}1${timestamp}`);
  } else if (vendor === "sdk-auth") {
    oneAccessKey ??= generateKeyPair(2048);
    const key = (await oneAccessKey).publicKey;
    // The X-signature's plaintext: session token, timestamp and nonce (about 90 bytes).
    await encryptOaep(key, `k3Jx0S5sa1Xyq9F2${index}${timestamp}${crypto.randomUUID()}`, "SHA-256");
  } else {
    throw new Error(`no crypto for ${vendor}`);
  }
}

export async function probe(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const vendor = url.searchParams.get("vendor") ?? "";
  const n = Number(url.searchParams.get("n") ?? "0");
  if (!Number.isInteger(n) || n < 0 || n > 1000)
    return new Response("n: 0 to 1000", { status: 400 });
  try {
    for (let index = 0; index < n; index++) await once(vendor, index);
  } catch (error) {
    return new Response(String(error), { status: 400 });
  }
  return new Response("ok");
}
