// What the Deno KV store tests share: the few Deno APIs they call, fresh KV files, bounded polling.
import assert from "node:assert/strict";
import type { Kv } from "../src/adapters/deno-kv/kv.ts";

/** A Deno.Kv as the tests hold it: the stores' part, and close. */
export interface TestKv extends Kv {
  close(): void;
}

// No Deno type package is installed: the Deno globals the tests call, as Deno documents them.
interface DenoApi {
  test(name: string, fn: () => Promise<void>): void;
  openKv(path: string): Promise<TestKv>;
  makeTempDir(options?: { prefix?: string }): Promise<string>;
  remove(path: string, options: { recursive: boolean }): Promise<void>;
}

export const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

/** A fresh KV file in a new temporary directory, and a way to open more handles on it. */
export interface KvFile {
  path: string;
  /** Opens another handle on the file, as another process would. */
  open(): Promise<TestKv>;
}

/**
 * Runs `test` with a fresh KV file; every handle opened through it is closed after, and the
 * directory removed, whether the test passes or not.
 */
export async function withKvFile(test: (file: KvFile) => Promise<void>): Promise<void> {
  const dir = await deno.makeTempDir({ prefix: "edge-proxy-kv-" });
  const handles: TestKv[] = [];
  const path = `${dir}/kv.sqlite3`;
  const file: KvFile = {
    path,
    open: async () => {
      const kv = await deno.openKv(path);
      handles.push(kv);
      return kv;
    },
  };
  try {
    await test(file);
  } finally {
    for (const kv of handles) closeQuietly(kv);
    await deno.remove(dir, { recursive: true });
  }
}

/** Closes a handle, which a test may have closed already. */
export function closeQuietly(kv: TestKv): void {
  try {
    kv.close();
  } catch {
    // already closed
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every 20 ms until it returns a value other than undefined, at most `tries` times,
 * then fails saying what was awaited.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  tries = 500,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(20);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A clock the test moves by hand, in ms since the epoch. */
export function manualClock(start: number): { now: () => number; advance: (ms: number) => void } {
  let at = start;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
  };
}

/** Checks `call` is refused with a TypeError whose message starts with the name of `field`. */
export function refused(call: () => Promise<unknown>, field: string): Promise<void> {
  return assert.rejects(call, (error: Error) => {
    assert.equal(error.name, "TypeError");
    assert.match(error.message, new RegExp(`^${field}: `));
    return true;
  });
}
