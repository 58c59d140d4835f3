// RFC 9493 subject identifiers (iss_sub, email, opaque) read strictly and mapped to a SubjectRef.
import type { SubjectRef } from "./types.ts";

/** The longest member value accepted: identifiers are short; a longer one is refused, not cut. */
export const MAX_IDENTIFIER_LENGTH = 1024;

/** The formats the proxy can map to its registrations. */
export const SUPPORTED_FORMATS = ["iss_sub", "email", "opaque"] as const;

/** A subject identifier of a supported format, its members checked. */
export type SubjectId =
  | { format: "iss_sub"; iss: string; sub: string }
  | { format: "email"; email: string }
  | { format: "opaque"; id: string };

/**
 * Why a subject identifier was refused: `unsupported` for a well-formed object of a format the
 * proxy cannot map, `malformed` otherwise. `field` names the member (e.g. `sub_id.email`).
 */
export class SubjectIdError extends Error {
  override name = "SubjectIdError";
  readonly reason: "malformed" | "unsupported";
  readonly field: string;
  constructor(reason: "malformed" | "unsupported", field: string, message: string) {
    super(message);

    this.reason = reason;
    this.field = field;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A member that RFC 9493 says is REQUIRED and MUST NOT be null or empty. */
function member(value: Record<string, unknown>, name: string, field: string): string {
  const found = value[name];
  if (typeof found !== "string" || found === "") {
    throw new SubjectIdError(
      "malformed",
      `${field}.${name}`,
      `${field}.${name} must be a non-empty string`,
    );
  }
  if (found.length > MAX_IDENTIFIER_LENGTH) {
    throw new SubjectIdError(
      "malformed",
      `${field}.${name}`,
      `${field}.${name} is longer than ${MAX_IDENTIFIER_LENGTH} characters`,
    );
  }
  return found;
}

/** Reads one subject identifier of a supported format; throws SubjectIdError naming the member. */
export function parseSubjectId(value: unknown, field: string): SubjectId {
  if (!isObject(value)) {
    throw new SubjectIdError("malformed", field, `${field} must be a JSON object`);
  }
  const format = value.format;
  if (typeof format !== "string" || format === "") {
    throw new SubjectIdError(
      "malformed",
      `${field}.format`,
      `${field}.format must be a non-empty string`,
    );
  }
  switch (format) {
    case "iss_sub":
      return { format, iss: member(value, "iss", field), sub: member(value, "sub", field) };
    case "email": {
      const email = member(value, "email", field);
      const at = email.lastIndexOf("@");
      if (at <= 0 || at === email.length - 1) {
        throw new SubjectIdError(
          "malformed",
          `${field}.email`,
          `${field}.email is not an email address`,
        );
      }
      // The domain is case-insensitive (DNS); the local part may not be, so it is kept as sent.
      return { format, email: `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}` };
    }
    case "opaque":
      return { format, id: member(value, "id", field) };
    default:
      throw new SubjectIdError(
        "unsupported",
        `${field}.format`,
        `${field}.format "${format.slice(0, 40)}" is not one of ${SUPPORTED_FORMATS.join(", ")}`,
      );
  }
}

/** What `email:<address>` or `opaque:<id>` may be at most: a registration's subject is no longer. */
function prefixed(prefix: "email" | "opaque", value: string, field: string): string {
  const subject = `${prefix}:${value}`;
  if (subject.length > MAX_IDENTIFIER_LENGTH) {
    const member = prefix === "email" ? "email" : "id";
    throw new SubjectIdError(
      "malformed",
      `${field}.${member}`,
      `${field}.${member} is longer than ${MAX_IDENTIFIER_LENGTH - prefix.length - 1} characters (the longest a registered subject "${prefix}:…" holds)`,
    );
  }
  return subject;
}

/**
 * The subject a registration names for an identifier sent by the provider `issuer`:
 * `iss_sub` is that issuer's `sub` as it is; `email` and `opaque`, which carry no issuer, become
 * `email:<address>` and `opaque:<id>` under the sending provider's issuer. Registrations name
 * such subjects in the same form; one too long to be registered is refused, naming `field`'s member.
 */
export function subjectRefOf(
  id: SubjectId,
  issuer: string,
  field = "sub_id",
): { issuer: string; subject: string } {
  switch (id.format) {
    case "iss_sub":
      return { issuer: id.iss, subject: id.sub };
    case "email":
      return { issuer, subject: prefixed("email", id.email, field) };
    case "opaque":
      return { issuer, subject: prefixed("opaque", id.id, field) };
  }
}

/** Whether two references name the same subject and session. */
export function sameTarget(a: SubjectRef, b: SubjectRef): boolean {
  return a.issuer === b.issuer && a.subject === b.subject && a.sid === b.sid;
}
