// The FunGame deny-list on Workers: a ClaimingDenyList over one named ExpiringSetObject.
import type { ClaimingDenyList, ClaimOutcome } from "../../ports.ts";
import { MAX_JTI_LENGTH } from "../../vendors/fungame.ts";
import type { ClaimAnswer, ExpiringSetObject } from "./expiring-set.ts";

/** The object every isolate's deny-list talks to. */
export const DENY_LIST_OBJECT = "fungame";

const MAX_CLAIM_ID_LENGTH = 128;
/** No FunGame token lives this long: an entry beyond it is refused. */
const MAX_AHEAD_SEC = 86_400;
/** The longest lease a claim may ask for. */
const MAX_LEASE_MS = 3_600_000;

const OUTCOMES: Record<ClaimAnswer, ClaimOutcome> = {
  claimed: "claimed",
  held: "pending",
  recorded: "revoked",
};

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isText(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}

function checkEntry(jti: unknown, expiresAt: unknown): void {
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !Number.isSafeInteger(expiresAt) ||
    (expiresAt as number) > nowSeconds() + MAX_AHEAD_SEC
  ) {
    throw new TypeError(
      "a deny-list entry needs a jti of 1 to 256 characters and a whole-second exp within a day",
    );
  }
}

function checkClaim(jti: unknown, claimId: unknown, leaseMs?: unknown): void {
  const lease = leaseMs ?? 1;
  if (
    !isText(jti, MAX_JTI_LENGTH) ||
    !isText(claimId, MAX_CLAIM_ID_LENGTH) ||
    !Number.isSafeInteger(lease) ||
    (lease as number) < 1 ||
    (lease as number) > MAX_LEASE_MS
  ) {
    throw new TypeError("a claim needs a jti, a claim id of 1 to 128 characters and a lease in ms");
  }
}

/**
 * The deny-list the app uses on Workers: every call goes to one named object. A logout is recorded
 * until the token's exp (whole seconds); `has` reports recorded logouts only, never a claim; an
 * attempt's claim is re-entrant (the same claim id claims again and renews its lease).
 */
export class DurableObjectDenyList implements ClaimingDenyList {
  readonly #namespace: DurableObjectNamespace<ExpiringSetObject>;
  readonly #name: string;

  constructor(namespace: DurableObjectNamespace<ExpiringSetObject>, name = DENY_LIST_OBJECT) {
    this.#namespace = namespace;
    this.#name = name;
  }

  #stub(): DurableObjectStub<ExpiringSetObject> {
    return this.#namespace.get(this.#namespace.idFromName(this.#name));
  }

  async add(jti: string, expiresAt: number): Promise<void> {
    checkEntry(jti, expiresAt);
    await this.#stub().record(jti, expiresAt * 1000);
  }

  async has(jti: string): Promise<boolean> {
    return await this.#stub().hasRecorded(jti);
  }

  async claim(jti: string, claimId: string, leaseMs: number): Promise<ClaimOutcome> {
    checkClaim(jti, claimId, leaseMs);
    return OUTCOMES[(await this.#stub().claim(jti, claimId, leaseMs, "renew")) as ClaimAnswer];
  }

  async release(jti: string, claimId: string): Promise<void> {
    checkClaim(jti, claimId);
    await this.#stub().release(jti, claimId);
  }
}

/** The FunGame deny-list of the Worker's bindings: the app's and every job object's. */
export function denyListOf(env: Pick<Env, "DENY_LIST">): ClaimingDenyList {
  return new DurableObjectDenyList(env.DENY_LIST);
}
