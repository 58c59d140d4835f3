// Benchmark of @x/core-signing (the built dist, imported by the package's own name) against
// node:crypto, jsrsasign and node-forge, measured side by side in one process.
//
//   pnpm --filter @x/core-signing build && pnpm --filter @x/core-signing bench
//
// Prints a table, a targets section, then one `BENCH {json}` line per measurement and per target.
// A missed target is reported, not failed: the exit code is non-zero only on a real error
// (e.g. the libraries disagree on a signature).
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import process from "node:process";
import { signMd5WithRsa, verifyMd5WithRsa } from "@x/core-signing/md5";
import {
  encryptOaep,
  importPrivateKey,
  importPublicKey,
  signPkcs1v15,
  verifyPkcs1v15,
} from "@x/core-signing/rsa";
import jsrsasign from "jsrsasign";
import forge from "node-forge";
import {
  type BenchCase,
  defineCase,
  formatTable,
  type Measurement,
  printBenchLines,
  printFigures,
  printTable,
  runCases,
  type Subject,
  usPerOpOf,
} from "../../../tooling/bench/harness.ts";

/** A signing request as eBET-style vendors sign it: a short ASCII query string. */
const DATA =
  "channelId=1001&username=player_0042&currency=CNY&amount=100.00&orderId=20240101000042&timestamp=1704067200000";
const DATA_BYTES = Buffer.from(DATA, "utf8");
const PLAINTEXT = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);

interface Keys {
  readonly bits: number;
  readonly privatePem: string;
  readonly publicPem: string;
  readonly nodePrivate: crypto.KeyObject;
  readonly nodePublic: crypto.KeyObject;
}

function generateKeys(bits: number): Keys {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return {
    bits,
    privatePem: privateKey,
    publicPem: publicKey,
    nodePrivate: crypto.createPrivateKey(privateKey),
    nodePublic: crypto.createPublicKey(publicKey),
  };
}

function hexOfBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** A subject whose output is a signature, and how that output is written. */
interface SignSubject extends Subject {
  readonly output: "bytes" | "hex" | "binary-string";
}

async function signatureHex(subject: SignSubject): Promise<string> {
  const output: unknown = await subject.run();
  if (subject.output === "bytes" && output instanceof Uint8Array) return hexOfBytes(output);
  if (subject.output === "hex" && typeof output === "string") return output.toLowerCase();
  if (subject.output === "binary-string" && typeof output === "string") {
    return forge.util.bytesToHex(output);
  }
  throw new Error(`${subject.name} returned ${typeof output}, not ${subject.output}`);
}

/** Every subject, run twice (so state carried between ops shows), must give the same signature. */
async function checkSameSignatures(
  caseName: string,
  subjects: readonly SignSubject[],
): Promise<void> {
  const reference = subjects.find((subject) => subject.name === "node:crypto");
  if (!reference) throw new Error(`${caseName}: no node:crypto subject to check against`);
  const expected = await signatureHex(reference);
  for (const subject of subjects) {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const actual = await signatureHex(subject);
      if (actual !== expected) {
        throw new Error(
          `${caseName}: ${subject.name} (call ${attempt}) signs differently from node:crypto:\n  ${actual}\n  ${expected}`,
        );
      }
    }
  }
}

/** MD5withRSA signing by all four libraries, each with its key parsed once, outside the timing. */
async function md5SignCase(keys: Keys): Promise<BenchCase> {
  const name = `sign-md5-${keys.bits}`;
  const coreKey = importPrivateKey(keys.privatePem);
  const jsrsasignKey = jsrsasign.KEYUTIL.getKey(keys.privatePem);
  const forgeKey = forge.pki.privateKeyFromPem(keys.privatePem);
  const subjects: SignSubject[] = [
    {
      name: "core-signing",
      output: "bytes",
      run: () => signMd5WithRsa(coreKey, DATA),
    },
    {
      name: "node:crypto",
      output: "bytes",
      run: () => crypto.sign("md5", DATA_BYTES, keys.nodePrivate),
    },
    {
      // A KJUR.crypto.Signature cannot be reused: sign() finalises its CryptoJS digest without
      // resetting it, so a second updateString+sign on one instance gives a wrong signature.
      // The key is parsed once; the Signature object (about 1% of the op) is made per op.
      name: "jsrsasign",
      output: "hex",
      run: () => {
        const signature = new jsrsasign.KJUR.crypto.Signature({ alg: "MD5withRSA" });
        signature.init(jsrsasignKey);
        signature.updateString(DATA);
        return signature.sign();
      },
    },
    {
      name: "node-forge",
      output: "binary-string",
      run: () => {
        const md = forge.md.md5.create();
        md.update(DATA, "utf8");
        return forgeKey.sign(md);
      },
    },
  ];
  await checkSameSignatures(name, subjects);
  return defineCase(name, subjects, { baseline: "node:crypto" });
}

async function md5VerifyCase(keys: Keys): Promise<BenchCase> {
  const name = `verify-md5-${keys.bits}`;
  const publicKey = importPublicKey(keys.publicPem);
  const signature = crypto.sign("md5", DATA_BYTES, keys.nodePrivate);
  const forged = Uint8Array.from(signature);
  forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
  const core = (sig: Uint8Array) => verifyMd5WithRsa(publicKey, DATA, sig);
  const node = (sig: Uint8Array) => crypto.verify("md5", DATA_BYTES, keys.nodePublic, sig);
  if (!(await core(signature)) || !node(signature)) {
    throw new Error(`${name}: a valid signature does not verify`);
  }
  if ((await core(forged)) || node(forged)) throw new Error(`${name}: a forged signature verifies`);
  return defineCase(
    name,
    [
      { name: "core-signing", run: () => core(signature) },
      { name: "node:crypto", run: () => node(signature) },
    ],
    { baseline: "node:crypto" },
  );
}

async function sha256SignCase(keys: Keys): Promise<BenchCase> {
  const name = `sign-sha256-${keys.bits}`;
  const coreKey = importPrivateKey(keys.privatePem);
  const subjects: SignSubject[] = [
    {
      name: "core-signing",
      output: "bytes",
      run: () => signPkcs1v15(coreKey, DATA, "SHA-256"),
    },
    {
      name: "node:crypto",
      output: "bytes",
      run: () => crypto.sign("sha256", DATA_BYTES, keys.nodePrivate),
    },
  ];
  await checkSameSignatures(name, subjects);
  return defineCase(name, subjects, { baseline: "node:crypto" });
}

async function sha256VerifyCase(keys: Keys): Promise<BenchCase> {
  const name = `verify-sha256-${keys.bits}`;
  const publicKey = importPublicKey(keys.publicPem);
  const signature = crypto.sign("sha256", DATA_BYTES, keys.nodePrivate);
  const forged = Uint8Array.from(signature);
  forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
  const core = (sig: Uint8Array) => verifyPkcs1v15(publicKey, DATA, sig, "SHA-256");
  const node = (sig: Uint8Array) => crypto.verify("sha256", DATA_BYTES, keys.nodePublic, sig);
  if (!(await core(signature)) || !node(signature)) {
    throw new Error(`${name}: a valid signature does not verify`);
  }
  if ((await core(forged)) || node(forged)) throw new Error(`${name}: a forged signature verifies`);
  return defineCase(
    name,
    [
      { name: "core-signing", run: () => core(signature) },
      { name: "node:crypto", run: () => node(signature) },
    ],
    { baseline: "node:crypto" },
  );
}

async function oaepEncryptCase(keys: Keys): Promise<BenchCase> {
  const name = `encrypt-oaep-${keys.bits}`;
  const publicKey = importPublicKey(keys.publicPem);
  const options = {
    key: keys.nodePublic,
    padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
    oaepHash: "sha256",
  };
  const core = () => encryptOaep(publicKey, PLAINTEXT, "SHA-256");
  const node = () => crypto.publicEncrypt(options, PLAINTEXT);
  // OAEP is randomised: check that node:crypto decrypts what each side encrypts.
  for (const [side, ciphertext] of [
    ["core-signing", await core()],
    ["node:crypto", node()],
  ] as const) {
    const plain = crypto.privateDecrypt({ ...options, key: keys.nodePrivate }, ciphertext);
    if (!plain.equals(PLAINTEXT)) throw new Error(`${name}: ${side} ciphertext does not decrypt`);
  }
  return defineCase(
    name,
    [
      { name: "core-signing", run: core },
      { name: "node:crypto", run: node },
    ],
    { baseline: "node:crypto" },
  );
}

function importCachedCase(keys: Keys): BenchCase {
  const pem = keys.privatePem;
  const first = importPrivateKey(pem);
  if (importPrivateKey(pem) !== first) throw new Error("import-cached: importing again misses");
  return defineCase("import-cached", [{ name: "core-signing", run: () => importPrivateKey(pem) }]);
}

interface Target {
  readonly label: string;
  readonly value: number;
  readonly unit: "x" | "µs";
  readonly goal: "<=" | ">=" | "<";
  readonly limit: number;
}

function targetsOf(results: readonly Measurement[]): Target[] {
  const us = (caseName: string, subject: string) => usPerOpOf(results, caseName, subject);
  const md5Core = us("sign-md5-1024", "core-signing");
  return [
    {
      label: "sign-md5-1024  core-signing / node:crypto",
      value: md5Core / us("sign-md5-1024", "node:crypto"),
      unit: "x",
      goal: "<=",
      limit: 5,
    },
    {
      label: "sign-md5-1024  jsrsasign / core-signing (speed-up)",
      value: us("sign-md5-1024", "jsrsasign") / md5Core,
      unit: "x",
      goal: ">=",
      limit: 6,
    },
    {
      label: "sign-md5-1024  node-forge / core-signing (speed-up)",
      value: us("sign-md5-1024", "node-forge") / md5Core,
      unit: "x",
      goal: ">=",
      limit: 6,
    },
    {
      label: "sign-sha256-2048  core-signing / node:crypto",
      value: us("sign-sha256-2048", "core-signing") / us("sign-sha256-2048", "node:crypto"),
      unit: "x",
      goal: "<=",
      limit: 1.2,
    },
    {
      label: "import-cached  core-signing",
      value: us("import-cached", "core-signing"),
      unit: "µs",
      goal: "<",
      limit: 2,
    },
  ];
}

function isMet(target: Target): boolean {
  switch (target.goal) {
    case "<=":
      return target.value <= target.limit;
    case ">=":
      return target.value >= target.limit;
    case "<":
      return target.value < target.limit;
  }
}

function printTargets(targets: readonly Target[]): void {
  const goal = { "<=": "≤", ">=": "≥", "<": "<" } as const;
  const rows = targets.map((target) => [
    target.label,
    target.unit === "x" ? `${target.value.toFixed(2)}x` : `${target.value.toFixed(3)} µs`,
    `${goal[target.goal]} ${target.limit}${target.unit === "x" ? "x" : " µs"}`,
    isMet(target) ? "met" : "NOT MET",
  ]);
  console.log("targets (from the medians above)");
  console.log(formatTable(["target", "value", "goal", "status"], rows, [1]));
}

async function main(): Promise<void> {
  const started = performance.now();
  const progress = (line: string) => console.error(`[bench] ${line}`);
  progress(`node ${process.version}, ${process.platform}/${process.arch}; generating keys`);
  const keys1024 = generateKeys(1024);
  const keys2048 = generateKeys(2048);

  const cases = [
    await md5SignCase(keys1024),
    await md5SignCase(keys2048),
    await md5VerifyCase(keys1024),
    await sha256SignCase(keys2048),
    await sha256VerifyCase(keys2048),
    await oaepEncryptCase(keys2048),
    importCachedCase(keys2048),
  ];
  progress("signatures agree across libraries; measuring");
  const results = await runCases(cases, { rounds: 9, batchMs: 40, onProgress: progress });
  // Before the report: nothing may reach stderr while BENCH lines go to stdout (turbo merges them).
  progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  printTable(results);
  console.log("");
  const targets = targetsOf(results);
  printTargets(targets);
  console.log("");
  printBenchLines(results);
  for (const target of targets) {
    printFigures("targets", target.label.replace(/\s+/g, " "), {
      value: target.value,
      unit: target.unit,
      goal: `${target.goal}${target.limit}`,
      met: isMet(target),
    });
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
