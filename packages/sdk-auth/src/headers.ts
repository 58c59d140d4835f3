// The OneAccess request headers: their names, the device that fills them, and the checks on values.
import { refuse } from "./errors.ts";

/** Header names exactly as the OneAccess API reference writes them. */
export const HEADERS = {
  osVersion: "X-operating-sys-version",
  fingerprint: "X-device-fingerprint",
  ip: "X-device-ip",
  agent: "X-agent",
  language: "X-L",
  clientId: "X-client-id",
  signature: "X-signature",
  tenantId: "X-tenant-id",
} as const;

/** The caller's device, sent as headers: the first three are required, `ip` and `language` optional. */
export interface DeviceInfo {
  /** `X-operating-sys-version`, e.g. "Android 10". */
  osVersion: string;
  /** `X-device-fingerprint`, e.g. "156aysdna213sc50". */
  fingerprint: string;
  /** `X-agent`: the user agent. */
  agent: string;
  /** `X-device-ip`, sent only when set. */
  ip?: string | undefined;
  /** `X-L`, the language (e.g. "en"), sent only when set. */
  language?: string | undefined;
}

/** The longest header value accepted; user agents are the longest in practice. */
export const MAX_HEADER_VALUE_LENGTH = 2048;

/**
 * Checks a header value: a non-empty string of printable ASCII, no CR or LF, no other control
 * character, no leading or trailing blank (which fetch would strip without a word). The error
 * names `field`; it never repeats the value.
 */
export function checkHeaderValue(field: string, value: unknown): string {
  if (value === undefined || value === null) throw refuse(field, "is required");
  if (typeof value !== "string") throw refuse(field, `must be a string, not ${typeof value}`);
  if (value.length === 0) throw refuse(field, "must not be empty");
  if (value.length > MAX_HEADER_VALUE_LENGTH) {
    throw refuse(
      field,
      `is ${value.length} characters, at most ${MAX_HEADER_VALUE_LENGTH} are accepted`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x0d || code === 0x0a) {
      throw refuse(field, `contains a line break (CR or LF) at position ${i}`);
    }
    if (code < 0x20 || code === 0x7f) {
      throw refuse(field, `contains a control character at position ${i}`);
    }
    if (code > 0x7f) throw refuse(field, `contains a non-ASCII character at position ${i}`);
  }
  if (value.trim() !== value) throw refuse(field, "must not start or end with a blank");
  return value;
}

/** Like checkHeaderValue, for a header that is sent only when set. */
export function checkOptionalHeaderValue(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : checkHeaderValue(field, value);
}

/** Checks a device: every field header-safe, the required ones present. Returns a clean copy. */
export function checkDevice(device: unknown, field = "device"): DeviceInfo {
  if (typeof device !== "object" || device === null) {
    throw refuse(field, "is required: { osVersion, fingerprint, agent, ip?, language? }");
  }
  const input = device as Record<string, unknown>;
  const checked: DeviceInfo = {
    osVersion: checkHeaderValue(`${field}.osVersion`, input.osVersion),
    fingerprint: checkHeaderValue(`${field}.fingerprint`, input.fingerprint),
    agent: checkHeaderValue(`${field}.agent`, input.agent),
  };
  const ip = checkOptionalHeaderValue(`${field}.ip`, input.ip);
  if (ip !== undefined) checked.ip = ip;
  const language = checkOptionalHeaderValue(`${field}.language`, input.language);
  if (language !== undefined) checked.language = language;
  return checked;
}

/** The application's identity: X-client-id, and X-tenant-id for an ISV application. */
export interface ApplicationIdentity {
  clientId: string;
  tenantId?: string | undefined;
}

/** The headers every OneAccess SDK call carries: the device's and the application's, optional ones only when set. */
export function commonHeaders(app: ApplicationIdentity, device: DeviceInfo): Headers {
  const headers = new Headers();
  headers.set(HEADERS.osVersion, device.osVersion);
  headers.set(HEADERS.fingerprint, device.fingerprint);
  if (device.ip !== undefined) headers.set(HEADERS.ip, device.ip);
  headers.set(HEADERS.agent, device.agent);
  if (device.language !== undefined) headers.set(HEADERS.language, device.language);
  headers.set(HEADERS.clientId, app.clientId);
  if (app.tenantId !== undefined) headers.set(HEADERS.tenantId, app.tenantId);
  return headers;
}
