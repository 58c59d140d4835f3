// The four vendors' members of a session line (the proxy's fan-out body), checked with each vendor
// package's own input checks, and the key under which the journal knows a session without its secrets.
import { isVendorError, toBase64Url, type VendorError } from "@x/core-signing";
import { DEFAULT_USERNAME_PATTERN } from "@x/ebet";
import { checkBearerToken } from "@x/fungame";
import { checkToken, checkUsername } from "@x/lancens";
import { checkDevice, checkSessionToken } from "@x/sdk-auth";

/** The vendors, by the names the proxy's routes and logs use. */
export const VENDOR_NAMES = ["ebet", "fungame", "sdk-auth", "lancens"] as const;
export type VendorName = (typeof VENDOR_NAMES)[number];

/** Each vendor's member in a session line, as in the proxy's fan-out body. */
export const MEMBER_OF: Readonly<Record<VendorName, string>> = {
  ebet: "ebet",
  fungame: "fungame",
  "sdk-auth": "sdkAuth",
  lancens: "lancens",
};

/** Each vendor's name for people. */
export const LABEL_OF: Readonly<Record<VendorName, string>> = {
  ebet: "eBET",
  fungame: "FunGame",
  "sdk-auth": "OneAccess",
  lancens: "Lancens",
};

export const MEMBERS: readonly string[] = VENDOR_NAMES.map((name) => MEMBER_OF[name]);

/** The vendor of a member name, undefined for any other name (prototype names included). */
export function vendorOfMember(member: string): VendorName | undefined {
  return VENDOR_NAMES.find((name) => MEMBER_OF[name] === member);
}

export interface EbetMember {
  username: string;
}
export interface FunGameMember {
  token: string;
}
export interface SdkAuthMember {
  sessionToken: string;
  device: {
    osVersion: string;
    fingerprint: string;
    agent: string;
    ip?: string;
    language?: string;
  };
}
export interface LancensMember {
  username: string;
  token: string;
}

/** A vendor's member, checked. */
export type Member = EbetMember | FunGameMember | SdkAuthMember | LancensMember;

/** One refused value of a line: its field ("fungame.token") and what is wrong, never the value. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** A member's field is refused; the message never quotes the value (it may be a token). */
export class MemberError extends Error {
  override name = "MemberError";
  readonly issue: FieldIssue;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.issue = { field, message };
  }
}

/** Longest values, as the proxy accepts them. */
const LIMITS = {
  ebetUsername: 64,
  fungameToken: 8192,
  sessionToken: 4096,
  lancensUsername: 256,
  lancensToken: 4096,
} as const;

/** Members of each vendor's object, the required ones first. */
const SHAPES: Readonly<Record<VendorName, { required: string[]; optional: string[] }>> = {
  ebet: { required: ["username"], optional: [] },
  fungame: { required: ["token"], optional: [] },
  "sdk-auth": { required: ["sessionToken", "device"], optional: [] },
  lancens: { required: ["username", "token"], optional: [] },
};
const DEVICE = {
  required: ["osVersion", "fingerprint", "agent"],
  optional: ["ip", "language"],
};

function plainObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MemberError(field, "must be an object");
  }
  return value as Record<string, unknown>;
}

/** Checks an object's member names: every required one there, no unknown one. */
function shape(
  object: Record<string, unknown>,
  field: string,
  { required, optional }: { required: string[]; optional: string[] },
): void {
  for (const key of Object.keys(object)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new MemberError(`${field}.${key}`, "is not a known member");
    }
  }
  for (const key of required) {
    if (!Object.hasOwn(object, key) || object[key] === undefined || object[key] === null) {
      throw new MemberError(`${field}.${key}`, "is required");
    }
  }
}

function bounded(value: unknown, field: string, max: number): string {
  if (typeof value !== "string") throw new MemberError(field, "must be a string");
  if (value.length === 0) throw new MemberError(field, "must not be empty");
  if (value.length > max) throw new MemberError(field, `must be at most ${max} characters`);
  return value;
}

/** A vendor error's message without the `<field>: ` it opens with. */
export function withoutField(error: VendorError): string {
  const prefix = `${error.field ?? ""}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/** Runs a vendor package's own check, its refusal as a MemberError under the line's field. */
function vendorCheck<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!isVendorError(error)) throw error;
    const own = error.field ?? "";
    const message = withoutField(error);
    const suffix = own.includes(".") ? own.slice(own.indexOf(".")) : "";
    throw new MemberError(`${field}${suffix}`, message);
  }
}

/**
 * Checks a vendor's member of a line as that vendor's package would before sending anything, and
 * returns it with only its known members. Throws MemberError naming the field (`fungame.token`).
 */
export function checkMember(vendor: VendorName, value: unknown): Member {
  const field = MEMBER_OF[vendor];
  const object = plainObject(value, field);
  shape(object, field, SHAPES[vendor]);
  switch (vendor) {
    case "ebet": {
      const username = bounded(object.username, "ebet.username", LIMITS.ebetUsername);
      if (!DEFAULT_USERNAME_PATTERN.test(username)) {
        throw new MemberError("ebet.username", "must be lower-case letters and digits");
      }
      return { username };
    }
    case "fungame": {
      const token = bounded(object.token, "fungame.token", LIMITS.fungameToken);
      vendorCheck("fungame.token", () => checkBearerToken(token));
      return { token };
    }
    case "sdk-auth": {
      const sessionToken = bounded(
        object.sessionToken,
        "sdkAuth.sessionToken",
        LIMITS.sessionToken,
      );
      vendorCheck("sdkAuth.sessionToken", () => checkSessionToken(sessionToken));
      const device = plainObject(object.device, "sdkAuth.device");
      shape(device, "sdkAuth.device", DEVICE);
      const checked = vendorCheck("sdkAuth.device", () => checkDevice(device, "device"));
      return {
        sessionToken,
        device: {
          osVersion: checked.osVersion,
          fingerprint: checked.fingerprint,
          agent: checked.agent,
          ...(checked.ip === undefined ? {} : { ip: checked.ip }),
          ...(checked.language === undefined ? {} : { language: checked.language }),
        },
      };
    }
    case "lancens": {
      const username = bounded(object.username, "lancens.username", LIMITS.lancensUsername);
      const token = bounded(object.token, "lancens.token", LIMITS.lancensToken);
      vendorCheck("lancens.username", () => checkUsername(username));
      vendorCheck("lancens.token", () => checkToken(token));
      return { username, token };
    }
  }
}

/** The member's secret values (tokens): never written to the journal, a log or the report. */
export function secretsOf(vendor: VendorName, member: Member): string[] {
  switch (vendor) {
    case "ebet":
      return [];
    case "fungame":
      return [(member as FunGameMember).token];
    case "sdk-auth":
      return [(member as SdkAuthMember).sessionToken];
    case "lancens":
      return [(member as LancensMember).token];
  }
}

/** JSON with object members in name order, so that one session always gives one text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * The journal's name for a vendor's session: `<vendor>:` and 128 bits of SHA-256 over the checked
 * member. Two lines with the same session get the same key (logged out once); the key does not give
 * the token back.
 */
export async function sessionKey(vendor: VendorName, member: Member): Promise<string> {
  const text = `x-logout/1\u0000${vendor}\u0000${canonical(member)}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `${vendor}:${toBase64Url(new Uint8Array(digest).slice(0, 16))}`;
}
