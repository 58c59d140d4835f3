// Vendor settings from the proxy's own environment variables (or a JSON file of them): every
// variable at fault reported at once, by name, never with a secret's value.
import { checkBaseUrl, checkKeyForm, isVendorError, KeyFormatError } from "@x/core-signing";
import { LABEL_OF, VENDOR_NAMES, type VendorName } from "./sessions.ts";

export interface EbetSettings {
  baseUrl: string;
  channelId: number;
  privateKey: string;
  timestampUnit: "s" | "ms";
}
export interface FunGameSettings {
  baseUrl: string;
  treat500AsLoggedOut: boolean;
}
export interface SdkAuthSettings {
  baseUrl: string;
  clientId: string;
  tenantId: string | undefined;
}
export interface LancensSettings {
  baseUrl: string;
}

export interface VendorSettings {
  ebet?: EbetSettings;
  fungame?: FunGameSettings;
  "sdk-auth"?: SdkAuthSettings;
  lancens?: LancensSettings;
}

export interface Settings {
  vendors: VendorSettings;
  /** Deadline of one vendor call, answer included (UPSTREAM_TIMEOUT_MS). */
  timeoutMs: number;
}

export interface SettingIssue {
  name: string;
  message: string;
}

/** The settings do not validate; `issues` names every variable at fault. */
export class SettingsError extends Error {
  override name = "SettingsError";
  readonly issues: SettingIssue[];
  constructor(issues: SettingIssue[]) {
    super(issues.map((issue) => `${issue.name}: ${issue.message}`).join("; "));
    this.issues = issues;
  }
}

/** Each vendor's variables, the required ones first. */
export const VARIABLES: Readonly<Record<VendorName, { required: string[]; optional: string[] }>> = {
  ebet: {
    required: ["EBET_BASE_URL", "EBET_CHANNEL_ID", "EBET_PRIVATE_KEY"],
    optional: ["EBET_TIMESTAMP_UNIT"],
  },
  fungame: { required: ["FUNGAME_BASE_URL"], optional: ["FUNGAME_TREAT_500_AS_LOGGED_OUT"] },
  "sdk-auth": {
    required: ["SDK_AUTH_BASE_URL", "SDK_AUTH_CLIENT_ID"],
    optional: ["SDK_AUTH_TENANT_ID"],
  },
  lancens: { required: ["LANCENS_BASE_URL"], optional: [] },
};

/** Every variable read. */
export const SETTING_NAMES: readonly string[] = [
  ...VENDOR_NAMES.flatMap((vendor) => [
    ...VARIABLES[vendor].required,
    ...VARIABLES[vendor].optional,
  ]),
  "UPSTREAM_TIMEOUT_MS",
];

export const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_TIMEOUT_MS = 300_000;

/**
 * Reads the settings: `file` (a JSON object of the same names) first, the environment over it. A
 * vendor none of whose variables is set is off; one with some set must have all it needs.
 */
export function readSettings(
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>> = {},
): Settings {
  const issues: SettingIssue[] = [];
  const report = (name: string, message: string) => issues.push({ name, message });
  const values = new Map<string, string>();
  for (const name of SETTING_NAMES) {
    const fromEnv = Object.hasOwn(env, name) ? env[name] : undefined;
    const fromFile = Object.hasOwn(file, name) ? file[name] : undefined;
    const value = fromEnv !== undefined && fromEnv.trim() !== "" ? fromEnv : fromFile;
    if (value === undefined || value === null) continue;
    if (typeof value === "number") values.set(name, String(value));
    else if (typeof value === "string") {
      if (value.trim() !== "") values.set(name, name === "EBET_PRIVATE_KEY" ? value : value.trim());
    } else report(name, "must be a string");
  }
  for (const name of Object.keys(file)) {
    if (!SETTING_NAMES.includes(name)) {
      report(name, `is not a setting this command reads (${SETTING_NAMES.join(", ")})`);
    }
  }
  const has = (name: string) => values.has(name);
  const get = (name: string) => values.get(name) as string;
  const url = (name: string): string | undefined => {
    if (!has(name)) return undefined;
    try {
      return checkBaseUrl("x-logout", get(name), name);
    } catch (error) {
      if (!isVendorError(error)) throw error;
      // Never the value: a mistyped URL may hold a key.
      report(
        name,
        error.message
          .replace(new RegExp(`^${name}: `), "")
          .replace(/: ".*$/s, "")
          .replace(/, not .*$/s, ""),
      );
      return undefined;
    }
  };

  const vendors: VendorSettings = {};
  for (const vendor of VENDOR_NAMES) {
    const { required, optional } = VARIABLES[vendor];
    if (![...required, ...optional].some(has)) continue;
    for (const name of required) {
      if (!has(name)) {
        report(
          name,
          `is required when ${LABEL_OF[vendor]} is configured (another of its variables is set)`,
        );
      }
    }
  }

  if (has("EBET_BASE_URL") || has("EBET_CHANNEL_ID") || has("EBET_PRIVATE_KEY")) {
    const baseUrl = url("EBET_BASE_URL");
    let channelId: number | undefined;
    if (has("EBET_CHANNEL_ID")) {
      const text = get("EBET_CHANNEL_ID");
      if (/^\d{1,15}$/.test(text) && Number(text) >= 1) channelId = Number(text);
      else report("EBET_CHANNEL_ID", "must be a whole number from 1");
    }
    let privateKey: string | undefined;
    if (has("EBET_PRIVATE_KEY")) {
      try {
        checkKeyForm(get("EBET_PRIVATE_KEY"), "private");
        privateKey = get("EBET_PRIVATE_KEY");
      } catch (error) {
        if (!(error instanceof KeyFormatError)) throw error;
        report(
          "EBET_PRIVATE_KEY",
          `is not a usable RSA private key (${error.problem}): give a PKCS#8 or PKCS#1 PEM, or its base64 DER`,
        );
      }
    }
    let timestampUnit: "s" | "ms" = "s";
    if (has("EBET_TIMESTAMP_UNIT")) {
      const unit = get("EBET_TIMESTAMP_UNIT");
      if (unit === "s" || unit === "ms") timestampUnit = unit;
      else report("EBET_TIMESTAMP_UNIT", 'must be "s" or "ms"');
    }
    if (baseUrl !== undefined && channelId !== undefined && privateKey !== undefined) {
      vendors.ebet = { baseUrl, channelId, privateKey, timestampUnit };
    }
  }
  if (has("FUNGAME_BASE_URL")) {
    const baseUrl = url("FUNGAME_BASE_URL");
    let treat500AsLoggedOut = false;
    if (has("FUNGAME_TREAT_500_AS_LOGGED_OUT")) {
      const flag = get("FUNGAME_TREAT_500_AS_LOGGED_OUT");
      if (flag === "true" || flag === "false") treat500AsLoggedOut = flag === "true";
      else report("FUNGAME_TREAT_500_AS_LOGGED_OUT", 'must be "true" or "false"');
    }
    if (baseUrl !== undefined) vendors.fungame = { baseUrl, treat500AsLoggedOut };
  }
  if (has("SDK_AUTH_BASE_URL") || has("SDK_AUTH_CLIENT_ID")) {
    const baseUrl = url("SDK_AUTH_BASE_URL");
    const header = (name: string) => {
      if (!has(name)) return undefined;
      const value = get(name);
      if (/^[\x21-\x7e]{1,256}$/.test(value)) return value;
      report(name, "must be 1 to 256 printable ASCII characters without blanks");
      return undefined;
    };
    const clientId = header("SDK_AUTH_CLIENT_ID");
    const tenantId = header("SDK_AUTH_TENANT_ID");
    if (baseUrl !== undefined && clientId !== undefined) {
      vendors["sdk-auth"] = { baseUrl, clientId, tenantId };
    }
  }
  if (has("LANCENS_BASE_URL")) {
    const baseUrl = url("LANCENS_BASE_URL");
    if (baseUrl !== undefined) vendors.lancens = { baseUrl };
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (has("UPSTREAM_TIMEOUT_MS")) {
    const text = get("UPSTREAM_TIMEOUT_MS");
    if (/^\d{1,6}$/.test(text) && Number(text) >= 1 && Number(text) <= MAX_TIMEOUT_MS) {
      timeoutMs = Number(text);
    } else report("UPSTREAM_TIMEOUT_MS", `must be a whole number from 1 to ${MAX_TIMEOUT_MS}`);
  }

  if (issues.length > 0) throw new SettingsError(issues);
  return { vendors, timeoutMs };
}

/** What to set to turn a vendor on, for a message. */
export function variablesToSet(vendor: VendorName): string {
  return VARIABLES[vendor].required.join(", ");
}
