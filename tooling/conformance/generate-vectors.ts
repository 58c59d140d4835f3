// Writes the fixed core-signing vectors with node:crypto (OpenSSL) as the oracle; run once, commit the JSON.
// Usage: node conformance/generate-vectors.ts
import { constants, generateKeyPairSync, publicEncrypt, sign } from "node:crypto";
import { writeFileSync } from "node:fs";

const MESSAGE = "logout ✓ 用户 user01 1700000000";
const SIZES = [512, 1024, 2048, 3072, 4096];
const HASHES: Record<string, string> = {
  MD5: "md5",
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
};

const keys = SIZES.map((bits) => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: bits,
    publicExponent: 65537,
  });
  const signatures: Record<string, string | null> = {};
  for (const [name, nodeName] of Object.entries(HASHES)) {
    try {
      signatures[name] = sign(nodeName, Buffer.from(MESSAGE, "utf8"), privateKey).toString(
        "base64",
      );
    } catch {
      signatures[name] = null; // key too small for this digest: OpenSSL refuses, and so must we
    }
  }
  const oaep: Record<string, string> = {};
  for (const hash of ["SHA-1", "SHA-256"]) {
    const capacity = bits / 8 - 2 * (hash === "SHA-1" ? 20 : 32) - 2;
    if (capacity < 16) continue;
    oaep[hash] = publicEncrypt(
      {
        key: publicKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: HASHES[hash] as string,
      },
      Buffer.from(MESSAGE.slice(0, 16), "utf8").subarray(0, 16),
    ).toString("base64");
  }
  return {
    bits,
    pkcs8: privateKey.export({ type: "pkcs8", format: "pem" }),
    pkcs1: privateKey.export({ type: "pkcs1", format: "pem" }),
    spki: publicKey.export({ type: "spki", format: "pem" }),
    pkcs1Public: publicKey.export({ type: "pkcs1", format: "pem" }),
    signatures,
    oaepPlaintextHex: Buffer.from(MESSAGE, "utf8").subarray(0, 16).toString("hex"),
    oaep,
  };
});

const out = new URL("./vectors/core-signing.vectors.json", import.meta.url);
writeFileSync(out, `${JSON.stringify({ message: MESSAGE, keys }, null, 1)}\n`);
console.log(`wrote ${keys.length} keys to ${out.pathname}`);
