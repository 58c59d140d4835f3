// The session registry's port and the rules every engine shares: what a registration is, its limits,
// its id, the digests it is partitioned by, and how it is sealed at rest and opened again.
import { toBase64Url } from "@x/core-signing";
import { digestHex } from "../auth.ts";
import { mayRead } from "../outbox.ts";
import { ProblemError } from "../problem.ts";
import { SealError, type SealingKeys, seal, unseal } from "../sealed.ts";

/** The vendor sessions of one user that an application registered, to be ended at that user's logout. */
export interface Registration {
  id: string;
  issuer: string;
  subject: string;
  sid: string | undefined;
  /** ownerOf() the registering caller, null without caller auth. */
  owner: string | null;
  createdAt: number;
  expiresAt: number;
  /** The fan-out body: the vendor members and their tokens. */
  members: Record<string, unknown>;
}

export interface RegistryLimits {
  /** Live registrations one caller may have of one subject (of one issuer) at once. */
  maxPerSubject: number;
  /** The longest a registration lives; a later expiresAt is brought forward to it. */
  maxLifetimeMs: number;
}

/** What every engine's registry is made with. */
export interface RegistryOptions {
  /** PROXY_STORE_KEYS: registrations are sealed under the current key, opened with any. */
  sealing: SealingKeys;
  limits: RegistryLimits;
  now?: () => number;
  /** Told of a registration a take removed but could not open (see openTaken). */
  onError?: (error: unknown) => void;
}

export interface SessionRegistry {
  /** Stores one registration; throws RegistryFull (per-subject limit) naming the limit. */
  add(entry: Omit<Registration, "id" | "createdAt">): Promise<{ id: string; expiresAt: number }>;
  /** Deletes one registration if `owner` registered it; false when unknown or another's. */
  remove(id: string, owner: string | null): Promise<boolean>;
  /** Removes and returns the subject's live registrations: all of them, or only those of `sid`. */
  takeSubject(issuer: string, subject: string, sid?: string): Promise<Registration[]>;
  /** Removes and returns the live registrations of a provider session named by `sid` only. */
  takeSession(issuer: string, sid: string): Promise<Registration[]>;
}

/**
 * The most registrations one subject may have, of every caller together (and the most
 * `maxPerSubject` may be): one take removes a subject's registrations in one write.
 */
export const MAX_PER_SUBJECT = 256;
/** The longest issuer, subject, sid and owner a registration holds. */
export const MAX_NAME_LENGTH = 1024;
/** A registration's id: `ses_` and 32 random bytes in base64url. */
export const REGISTRATION_ID = /^ses_[A-Za-z0-9_-]{43}$/;

/**
 * No room for a registration: its caller already holds `maxPerSubject` live registrations of the
 * subject ("maxPerSubject"), or the subject holds MAX_PER_SUBJECT of every caller ("subjectTotal").
 * 409, until some end.
 */
export class RegistryFull extends ProblemError {
  override name = "RegistryFull";
  readonly limit: number;

  constructor(limit: number, which: "maxPerSubject" | "subjectTotal" = "maxPerSubject") {
    super({
      kind: "conflict",
      code: "REGISTRY_FULL",
      detail:
        which === "maxPerSubject"
          ? `you have ${limit} live session registrations of this subject (SESSION_MAX_PER_SUBJECT); delete one or wait for one to expire`
          : `this subject has ${limit} live session registrations of all callers together, the most it may have; wait for some to end`,
      extensions: { limit: which, max: limit },
    });
    this.limit = limit;
  }
}

/**
 * Whether a subject whose live registrations are `live` has room for one more of `owner`: each
 * registering caller has `maxPerSubject` slots of its own (so that no caller can use up another's),
 * and the subject MAX_PER_SUBJECT in all (so that one take still removes it in one write).
 */
export function checkRoom(
  live: readonly { owner: string | null }[],
  owner: string | null,
  maxPerSubject: number,
): void {
  if (live.filter((held) => held.owner === owner).length >= maxPerSubject) {
    throw new RegistryFull(maxPerSubject);
  }
  if (live.length >= MAX_PER_SUBJECT) throw new RegistryFull(MAX_PER_SUBJECT, "subjectTotal");
}

/** Checks the limits an adapter is made with; the error names the field. */
export function checkLimits(limits: RegistryLimits): RegistryLimits {
  const { maxPerSubject, maxLifetimeMs } = limits;
  if (
    !Number.isSafeInteger(maxPerSubject) ||
    maxPerSubject < 1 ||
    maxPerSubject > MAX_PER_SUBJECT
  ) {
    throw new TypeError(`maxPerSubject: needs a whole number from 1 to ${MAX_PER_SUBJECT}`);
  }
  if (!Number.isSafeInteger(maxLifetimeMs) || maxLifetimeMs < 1) {
    throw new TypeError("maxLifetimeMs: needs a whole number of ms, at least 1");
  }
  return { maxPerSubject, maxLifetimeMs };
}

function checkName(value: unknown, field: string): asserts value is string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new TypeError(`${field}: needs 1 to ${MAX_NAME_LENGTH} characters`);
  }
}

/** Checks a take's issuer, subject and sid (given ones); the error names the field. */
export function checkTarget(issuer: unknown, subject: unknown, sid: unknown): void {
  checkName(issuer, "issuer");
  if (subject !== undefined) checkName(subject, "subject");
  if (sid !== undefined) checkName(sid, "sid");
}

/**
 * A new registration from what `add` was given, at `now`: checked field by field (a TypeError
 * names the field), its expiry brought forward to the lifetime limit, with a fresh id.
 */
export function newRegistration(
  entry: Omit<Registration, "id" | "createdAt">,
  now: number,
  limits: RegistryLimits,
): Registration {
  const { issuer, subject, sid, owner, expiresAt, members } = entry;
  checkTarget(issuer, subject, sid);
  if (subject === undefined) checkName(subject, "subject");
  if (owner !== null) checkName(owner, "owner");
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) {
    throw new TypeError("expiresAt: needs a whole number of ms since the epoch, in the future");
  }
  if (typeof members !== "object" || members === null || Array.isArray(members)) {
    throw new TypeError("members: needs an object of vendor members");
  }
  return {
    id: `ses_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`,
    issuer,
    subject,
    sid,
    owner,
    createdAt: now,
    expiresAt: Math.min(expiresAt, now + limits.maxLifetimeMs),
    members,
  };
}

/** The partition of a subject: SHA-256 of issuer, NUL, subject, in hex (no subject in clear). */
export function subjectKeyOf(issuer: string, subject: string): Promise<string> {
  return digestHex(`${issuer}\0${subject}`);
}

/** The index key of a provider session: SHA-256 of issuer, NUL, sid, in hex. */
export function sidKeyOf(issuer: string, sid: string): Promise<string> {
  return digestHex(`${issuer}\0${sid}`);
}

/** A registration as the engines store it: the queried parts in clear, the rest sealed. */
export interface StoredRegistration {
  id: string;
  subjectKey: string;
  /** sidKeyOf() its sid; null without one. */
  sidKey: string | null;
  owner: string | null;
  expiresAt: number;
  /** The whole registration as JSON, sealed under PROXY_STORE_KEYS and bound to its id. */
  sealed: string;
}

/** `registration` as stored: sealed, with the keys it is found by. */
export async function storedOf(
  registration: Registration,
  keys: SealingKeys,
): Promise<StoredRegistration> {
  const { id, issuer, subject, sid, owner, expiresAt } = registration;
  return {
    id,
    subjectKey: await subjectKeyOf(issuer, subject),
    sidKey: sid === undefined ? null : await sidKeyOf(issuer, sid),
    owner,
    expiresAt,
    sealed: await seal(keys, JSON.stringify(registration), id),
  };
}

/** Whether `owner` may remove a stored registration: its own, or one registered without caller auth. */
export function mayRemove(stored: string | null, owner: string | null): boolean {
  return mayRead(stored, owner, true);
}

/** What a take was asked for: the opened registrations must be of this issuer and these names. */
export interface TakeTarget {
  issuer: string;
  subject?: string | undefined;
  sid?: string | undefined;
}

/**
 * Opens what a take removed, live at `now`. A registration that does not open (a key no longer in
 * PROXY_STORE_KEYS, an altered row) or that is not of `target` (a row moved to another partition)
 * can never be delivered: it is reported to `onError` as a SealError and left out.
 */
export async function openTaken(
  taken: readonly StoredRegistration[],
  keys: SealingKeys,
  target: TakeTarget,
  now: number,
  onError: (error: unknown) => void,
): Promise<Registration[]> {
  const opened: Registration[] = [];
  for (const stored of taken) {
    if (stored.expiresAt <= now) continue;
    try {
      const registration = JSON.parse(await unseal(keys, stored.sealed, stored.id)) as Registration;
      if (
        registration.id !== stored.id ||
        registration.issuer !== target.issuer ||
        (target.subject !== undefined && registration.subject !== target.subject) ||
        (target.sid !== undefined && registration.sid !== target.sid)
      ) {
        throw new SealError(
          "a stored session registration is not of the partition it was found in",
        );
      }
      // The sealed expiry is the one that counts: the clear one only finds rows for purging.
      if (registration.expiresAt > now) {
        opened.push({ ...registration, sid: registration.sid ?? undefined });
      }
    } catch (error) {
      onError(error);
    }
  }
  return opened;
}
