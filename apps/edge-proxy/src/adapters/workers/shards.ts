// Sharded Durable Objects: which object of a store holds a key, and the store's operations across its layouts.
import type { ConfigIssue } from "../../config.ts";
import type { ClaimAnswer, ExpiringSetObject, Reclaim } from "./expiring-set.ts";

/**
 * Objects per store by default. One object takes a few hundred writes a second; 32 of them at 200
 * each take 6,400, above the 5,000 logouts and notifications a second a store is sized for.
 */
export const DEFAULT_SHARDS = 32;
export const MAX_SHARDS = 1024;
/**
 * How long after its upload a version reads the legacy layout by default: deny-list entries live at most
 * about 40 minutes (a FunGame token's exp, at most 2,100 s ahead, plus 300 s), replay holds less.
 */
export const WINDOW_MS = 3_600_000;

/**
 * How a store's keys are spread: over N objects by hash, or as before sharding ("legacy": the
 * deny-list one object named by its prefix, the replay guard 16 by a key's first hex digit).
 */
export type Layout = number | "legacy";

/** Where a store's objects are, and the layout its keys were written in before (read too). */
export interface Placement {
  /** The objects' name prefix: the deny-list's legacy object has this name. */
  prefix: string;
  /** Legacy replay-guard objects are `${prefix}-${first hex digit}`. */
  byDigit?: boolean | undefined;
  shards: Layout;
  previous?: Layout | undefined;
  /** When the previous layout stops being read (ms since the epoch); read until unset when absent. */
  previousUntil?: number | undefined;
  locationHint?: DurableObjectLocationHint | undefined;
  jurisdiction?: DurableObjectJurisdiction | undefined;
}

/**
 * FNV-1a (32 bits) of the key's UTF-16 code units: synchronous (crypto.subtle.digest is not), so a
 * call reaches its object without an extra turn, and stable across versions and runtimes. Keys are
 * never chosen freely by callers (token ids are signed by FunGame, replay keys are SHA-256 digests);
 * even a key set piled onto one shard only brings back the load of one object, as before sharding.
 */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * The name of the object that holds `key` in `layout`: `${prefix}-${N}-${shard}`. N is part of the
 * name, so a layout of another N never reads this one's objects by accident.
 */
export function shardName(
  placement: Pick<Placement, "prefix" | "byDigit">,
  layout: Layout,
  key: string,
): string {
  const { prefix } = placement;
  if (layout !== "legacy") return `${prefix}-${layout}-${keyHash(key) % layout}`;
  return placement.byDigit ? `${prefix}-${Number.parseInt(key.slice(0, 1), 16) % 16}` : prefix;
}

const HINTS = [
  "wnam",
  "enam",
  "sam",
  "weur",
  "eeur",
  "apac",
  "apac-ne",
  "apac-se",
  "oc",
  "afr",
  "me",
];
const JURISDICTIONS = ["eu", "fedramp", "fedramp-high", "us"];

/**
 * The placement of a store's objects from the Worker's variables: `<STORE>_SHARDS` (1..1024,
 * default 32), `<STORE>_SHARDS_PREVIOUS` (1..1024, "legacy" or "none"; unset it is "legacy", so a
 * deployment of the unsharded version keeps its entries), DURABLE_OBJECT_LOCATION_HINT and
 * DURABLE_OBJECT_JURISDICTION. Every invalid variable is named in `issues`.
 */
export function placementOf(
  env: object,
  store: "DENY_LIST" | "REPLAY_GUARD",
): { placement: Placement; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const read = (name: string, words: string[], counts: boolean) => {
    const value = (env as Record<string, unknown>)[name];
    if (value === undefined || value === "") return undefined;
    const text = String(value).trim();
    const n = Number(text);
    if (words.includes(text)) return text;
    if (counts && /^\d+$/.test(text) && n >= 1 && n <= MAX_SHARDS) return n;
    const listed = words.map((word) => `"${word}"`).join(", ");
    issues.push({
      name,
      message: counts
        ? `must be ${listed && `${listed} or `}a whole number from 1 to ${MAX_SHARDS}`
        : `must be one of ${listed}`,
    });
    return undefined;
  };
  const shards = (read(`${store}_SHARDS`, [], true) as number | undefined) ?? DEFAULT_SHARDS;
  const name = `${store}_SHARDS_PREVIOUS`;
  const given = read(name, ["legacy", "none"], true);
  const previous = given ?? "legacy";
  if (previous === shards) issues.push({ name, message: `must differ from ${store}_SHARDS` });
  // Unset, the legacy layout is read for the first hour after this version was uploaded (its
  // entries are gone by then; `wrangler deploy` uploads and deploys at once), when the Worker has
  // the version metadata binding; named, it is read until unset.
  const deployed = Date.parse(
    String(
      (env as { CF_VERSION_METADATA?: { timestamp?: unknown } }).CF_VERSION_METADATA?.timestamp,
    ),
  );
  const previousUntil =
    given === undefined && Number.isFinite(deployed) ? deployed + WINDOW_MS : undefined;
  const replay = store === "REPLAY_GUARD";
  return {
    placement: {
      prefix: replay ? "ebet-callback" : "fungame",
      byDigit: replay,
      shards,
      previous: previous === "none" ? undefined : (previous as Layout),
      previousUntil,
      locationHint: read("DURABLE_OBJECT_LOCATION_HINT", HINTS, false) as
        | DurableObjectLocationHint
        | undefined,
      jurisdiction: read("DURABLE_OBJECT_JURISDICTION", JURISDICTIONS, false) as
        | DurableObjectJurisdiction
        | undefined,
    },
    issues,
  };
}

/** The object named `name`, in the placement's jurisdiction and near its location hint. */
export function stubNamed<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  name: string,
  { locationHint, jurisdiction }: Pick<Placement, "locationHint" | "jurisdiction">,
): DurableObjectStub<T> {
  const placed = jurisdiction === undefined ? namespace : namespace.jurisdiction(jurisdiction);
  const id = placed.idFromName(name);
  return locationHint === undefined ? placed.get(id) : placed.get(id, { locationHint });
}

function check<T>(answer: unknown, valid: boolean): T {
  if (!valid) throw new TypeError("a store object answered what this version does not know");
  return answer as T;
}

function claimAnswer(answer: unknown): ClaimAnswer {
  return check(answer, answer === "claimed" || answer === "held" || answer === "recorded");
}

/**
 * An ExpiringSetObject store over its shards. Every operation of a key goes to the key's object in
 * the current layout; while a previous layout is set, reads (has, a claim's held or recorded check,
 * heldMs) also ask the key's object there, and a claim is refused what that object holds. Writes go
 * to the current layout only; a release drops its owner's claim in both. Each answer of an object is
 * checked: one this version does not know is an error, never read as "free".
 */
export class ShardedSet {
  readonly #namespace: DurableObjectNamespace<ExpiringSetObject>;
  readonly #placement: Placement;

  constructor(namespace: DurableObjectNamespace<ExpiringSetObject>, placement: Placement) {
    this.#namespace = namespace;
    this.#placement = placement;
  }

  /** The key's object in `layout`; legacy objects were made without a jurisdiction. */
  #stub(key: string, layout: Layout): DurableObjectStub<ExpiringSetObject> {
    const { locationHint, jurisdiction } = this.#placement;
    return stubNamed(this.#namespace, shardName(this.#placement, layout, key), {
      locationHint,
      jurisdiction: layout === "legacy" ? undefined : jurisdiction,
    });
  }

  /** The key's objects: the current layout's, then the previous one's while it is set. */
  #stubs(key: string): DurableObjectStub<ExpiringSetObject>[] {
    const { shards, previousUntil } = this.#placement;
    const previous =
      previousUntil === undefined || Date.now() < previousUntil
        ? this.#placement.previous
        : undefined;
    return [shards, previous ?? shards]
      .slice(0, previous === undefined ? 1 : 2)
      .map((layout) => this.#stub(key, layout));
  }

  /** Records in both layouts while a previous one is read: a Worker of that version sees it too. */
  async record(key: string, untilMs: number): Promise<void> {
    await Promise.all(this.#stubs(key).map((stub) => stub.recordKey(key, untilMs)));
  }

  async has(key: string): Promise<boolean> {
    const answers = await Promise.all(this.#stubs(key).map((stub) => stub.hasRecorded(key)));
    return answers.some((answer: unknown) => check(answer, typeof answer === "boolean"));
  }

  /**
   * While a previous layout is read, the key is claimed there first (where a Worker of the
   * previous version claims it), then in the current layout; a claim that does not hold in both
   * is dropped from the previous one, so nothing is left held by a claim that failed.
   */
  async claim(key: string, owner: string, leaseMs: number, reclaim: Reclaim): Promise<ClaimAnswer> {
    const [current, previous] = this.#stubs(key) as [
      DurableObjectStub<ExpiringSetObject>,
      DurableObjectStub<ExpiringSetObject> | undefined,
    ];
    if (previous === undefined) {
      return claimAnswer(await current.claimKey(key, owner, leaseMs, reclaim));
    }
    const before = claimAnswer(await previous.claimKey(key, owner, leaseMs, reclaim));
    if (before !== "claimed") return before;
    let answer: ClaimAnswer | undefined;
    try {
      answer = claimAnswer(await current.claimKey(key, owner, leaseMs, reclaim));
      return answer;
    } finally {
      if (answer !== "claimed") await previous.releaseKey(key, owner).catch(() => {});
    }
  }

  async release(key: string, owner: string): Promise<void> {
    await Promise.all(this.#stubs(key).map((stub) => stub.releaseKey(key, owner)));
  }

  async heldMs(key: string): Promise<number> {
    const answers = await Promise.all(this.#stubs(key).map((stub) => stub.keyHeldMs(key)));
    return Math.max(
      ...answers.map((ms: unknown) =>
        check<number>(ms, Number.isSafeInteger(ms) && (ms as number) >= 0),
      ),
    );
  }
}
