// Pure: builds each OneAccess SDK request (server time, public key, logout) from checked input.
import type { RsaPublicKey } from "@x/core-signing/rsa";
import { oneAccess, refuse } from "./errors.ts";
import {
  type ApplicationIdentity,
  checkDevice,
  checkHeaderValue,
  checkOptionalHeaderValue,
  commonHeaders,
  type DeviceInfo,
  HEADERS,
} from "./headers.ts";
import { checkNonce, encryptSignature } from "./signature.ts";
import { hexNonce, timestampValue } from "./timestamp.ts";

/** The SDK API paths, relative to the tenant domain. */
export const PATHS = {
  serverDate: "/api/v2/sdk/server-date",
  publicKey: "/api/v2/sdk/public-key",
  login: "/api/v2/sdk/login",
  logout: "/api/v2/sdk/logout",
} as const;

/** What every SDK call names: where, which application, and the device on whose behalf it is made. */
export interface CallTarget extends ApplicationIdentity {
  /** The tenant domain, e.g. "https://example.huaweioneaccess.com". */
  baseUrl: string;
  device: DeviceInfo;
}

interface CheckedTarget {
  baseUrl: string;
  app: ApplicationIdentity;
  device: DeviceInfo;
}

/** Checks the application identity: header-safe client id, and tenant id when given. */
export function checkIdentity(clientId: unknown, tenantId: unknown): ApplicationIdentity {
  const app: ApplicationIdentity = { clientId: checkHeaderValue("clientId", clientId) };
  const tenant = checkOptionalHeaderValue("tenantId", tenantId);
  if (tenant !== undefined) app.tenantId = tenant;
  return app;
}

function checkTarget(target: CallTarget): CheckedTarget {
  if (typeof target !== "object" || target === null) throw refuse("baseUrl", "is required");
  return {
    baseUrl: oneAccess.checkBaseUrl(target.baseUrl),
    app: checkIdentity(target.clientId, target.tenantId),
    device: checkDevice(target.device),
  };
}

/** `GET /api/v2/sdk/server-date`. */
export function buildServerDateRequest(target: CallTarget): Request {
  const { baseUrl, app, device } = checkTarget(target);
  return new Request(`${baseUrl}${PATHS.serverDate}`, {
    method: "GET",
    headers: commonHeaders(app, device),
    redirect: "manual",
  });
}

/** `GET /api/v2/sdk/public-key`: the application's key (one per application). */
export function buildPublicKeyRequest(target: CallTarget): Request {
  const { baseUrl, app, device } = checkTarget(target);
  return new Request(`${baseUrl}${PATHS.publicKey}`, {
    method: "GET",
    headers: commonHeaders(app, device),
    redirect: "manual",
  });
}

export interface LogoutRequestInput extends CallTarget {
  /** The application's OneAccess public key (from GET /api/v2/sdk/public-key). */
  publicKey: RsaPublicKey;
  sessionToken: string;
  /** The server's timestamp, as a decimal string in the server's unit. */
  timestamp: string;
  /** Defaults to the timestamp in hexadecimal, as documented. */
  nonce?: string | undefined;
}

/**
 * `GET /api/v2/sdk/logout` with its headers and the X-signature: base64 of RSA-OAEP SHA-256 over
 * `session_token=<token>&timestamp=<ts>&nonce=<nonce>`. Everything is checked before encryption;
 * a session token too long for the key is refused, naming the limit.
 */
export async function buildLogoutRequest(input: LogoutRequestInput): Promise<Request> {
  const { baseUrl, app, device } = checkTarget(input);
  if (typeof input.publicKey !== "object" || input.publicKey === null) {
    throw refuse("publicKey", "is required: the RsaPublicKey from importPublicKey");
  }
  if (typeof input.timestamp !== "string" || timestampValue(input.timestamp) === undefined) {
    throw refuse("timestamp", "must be the server's timestamp: a string of 1 to 16 decimal digits");
  }
  const nonce = checkNonce(input.nonce ?? hexNonce(input.timestamp));
  const signature = await encryptSignature(input.publicKey, {
    sessionToken: input.sessionToken,
    timestamp: input.timestamp,
    nonce,
  });
  const headers = commonHeaders(app, device);
  headers.set(HEADERS.signature, signature);
  // Never followed: a redirect would carry the X-signature (the encrypted session token) away.
  return new Request(`${baseUrl}${PATHS.logout}`, { method: "GET", headers, redirect: "manual" });
}
