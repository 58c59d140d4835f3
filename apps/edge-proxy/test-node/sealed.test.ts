// Sealing at rest (src/sealed.ts) against an independent AES-256-GCM: node:crypto (OpenSSL) opens
// what the proxy seals and seals what it opens; key ids, rotation, context binding, tampering.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openJob, sealJob } from "../src/adapters/sealed-jobs.ts";
import { DEFAULT_OUTBOX_POLICY } from "../src/config.ts";
import { newJob } from "../src/outbox.ts";
import { importSealingKeys, SealError, type SealingKeys, seal, unseal } from "../src/sealed.ts";

const K1 = randomBytes(32);
const K2 = randomBytes(32);

async function keys(value: string): Promise<SealingKeys> {
  const imported = await importSealingKeys(value, "PROXY_STORE_KEYS");
  if ("message" in imported) throw new Error(imported.message);
  return imported;
}

describe("seal and unseal", () => {
  it("make AES-256-GCM that OpenSSL opens, with the context as additional data", async () => {
    const sealed = await seal(await keys(`k1:${K1.toString("base64")}`), "token-xyz", "job-1");
    const [id, iv, body] = sealed.split(".");
    expect(id).toBe("k1");
    const bytes = Buffer.from(body as string, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", K1, Buffer.from(iv as string, "base64url"));
    decipher.setAAD(Buffer.from("job-1"));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const clear = Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - 16)),
      decipher.final(),
    ]);
    expect(clear.toString("utf8")).toBe("token-xyz");
    expect(sealed).not.toContain("token-xyz");
  });

  it("open what OpenSSL sealed, and refuse it under another context", async () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", K1, iv);
    cipher.setAAD(Buffer.from("job-2"));
    const body = Buffer.concat([
      cipher.update("session-42", "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const sealed = `k1.${iv.toString("base64url")}.${body.toString("base64url")}`;
    const set = await keys(`k1:${K1.toString("base64")}`);
    expect(await unseal(set, sealed, "job-2")).toBe("session-42");
    await expect(unseal(set, sealed, "job-3")).rejects.toThrow(SealError);
  });

  it("refuse a changed text, an unknown key id and what is not a sealed text", async () => {
    const set = await keys(`k1:${K1.toString("base64")}`);
    const sealed = await seal(set, "token", "job");
    const [id, iv, body] = sealed.split(".") as [string, string, string];
    const flipped = Buffer.from(body, "base64url");
    flipped[0] = (flipped[0] as number) ^ 1;
    await expect(
      unseal(set, `${id}.${iv}.${flipped.toString("base64url")}`, "job"),
    ).rejects.toThrow(SealError);
    await expect(unseal(set, `k9.${iv}.${body}`, "job")).rejects.toThrow(/names no key/);
    await expect(unseal(set, "token", "job")).rejects.toThrow(SealError);
    await expect(unseal(set, `${sealed}.x`, "job")).rejects.toThrow(SealError);
  });

  it("rotate: new texts under the first key, older ones still open under theirs", async () => {
    const before = await keys(`k1:${K1.toString("base64")}`);
    const after = await keys(`k2:${K2.toString("base64")},k1:${K1.toString("base64")}`);
    const old = await seal(before, "old-token", "job");
    expect(await unseal(after, old, "job")).toBe("old-token");
    const fresh = await seal(after, "new-token", "job");
    expect(fresh.startsWith("k2.")).toBe(true);
    await expect(unseal(before, fresh, "job")).rejects.toThrow(SealError);
    // Two seals of one text differ: a fresh nonce each time.
    expect(await seal(after, "same", "job")).not.toBe(await seal(after, "same", "job"));
  });
});

describe("PROXY_STORE_KEYS", () => {
  it("refuses each malformed entry by position and name, never quoting a key", async () => {
    const secret = K1.toString("base64");
    for (const value of [
      "k1",
      `:${secret}`,
      `k 1:${secret}`,
      `k1:${K1.subarray(0, 16).toString("base64")}`,
      "k1:not base64!",
      `k1:${secret},k1:${K2.toString("base64")}`,
      `${"k".repeat(33)}:${secret}`,
    ]) {
      const issue = await importSealingKeys(value, "PROXY_STORE_KEYS");
      expect(issue, value).toMatchObject({ name: "PROXY_STORE_KEYS" });
      expect(JSON.stringify(issue)).not.toContain(secret);
    }
    expect(await importSealingKeys(`ok:${secret},bad`, "PROXY_STORE_KEYS")).toMatchObject({
      message: expect.stringMatching(/^entry 2:/),
    });
  });
});

describe("a stored job", () => {
  it("keeps its members' bodies sealed, bound to its id, and the rest readable", async () => {
    const set = await keys(`k1:${K1.toString("base64")}`);
    const job = newJob(
      "a".repeat(64),
      { lancens: { token: "lancens-secret" }, fungame: { token: "jwt-secret" } },
      { requestId: "r", owner: null },
      Date.now(),
      DEFAULT_OUTBOX_POLICY,
    );
    const stored = await sealJob(job, set);
    const text = JSON.stringify(stored);
    expect(text).not.toContain("lancens-secret");
    expect(text).not.toContain("jwt-secret");
    expect(stored.vendors).toEqual(job.vendors);
    expect(await openJob(stored, set)).toEqual(job);
    // Moved to another job, the sealed bodies do not open.
    await expect(openJob({ ...stored, id: "b".repeat(64) }, set)).rejects.toThrow(SealError);
    // A job whose members are all final has nothing to seal; without keys nothing is sealed.
    expect(await sealJob({ ...job, input: {} }, set)).toEqual({ ...job, input: {} });
    expect(await sealJob(job, undefined)).toBe(job);
    await expect(openJob(stored, undefined)).rejects.toThrow(/no PROXY_STORE_KEYS/);
  });
});
