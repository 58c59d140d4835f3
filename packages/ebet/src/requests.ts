// Pure request building (sans-IO): a checked, signed `Request` for eBET's logout and callback calls.
import { type Clock, systemClock, type TimestampUnit, timestamp } from "@x/core-signing";
import { importPrivateKey, type PrivateKeyMaterial, type RsaPrivateKey } from "@x/core-signing/rsa";
import { ebet, invalidEbetInput, keyRefused } from "./errors.ts";
import {
  checkAccessToken,
  checkChannelId,
  checkCurrency,
  checkFunction,
  checkObject,
  checkPath,
  checkSubChannelId,
  checkTimestampUnit,
  checkUsername,
  DEFAULT_USERNAME_PATTERN,
} from "./input.ts";
import { EBET_SIGNED_FIELDS, signatureText, signEbet } from "./signature.ts";

/** Where each call is posted, relative to `baseUrl`. */
export interface EbetPaths {
  /** Defaults to "/api/logout". */
  logout?: string;
  /** Defaults to "/api/callback". */
  callback?: string;
}

export const DEFAULT_PATHS: Readonly<Required<EbetPaths>> = Object.freeze({
  logout: "/api/logout",
  callback: "/api/callback",
});

/** What building a request needs: where eBET is, who the channel is, and how it signs. */
export interface EbetRequestConfig {
  /** eBET's API origin (or a forwarder's), e.g. "https://api.example-ebet.com". */
  baseUrl: string;
  /** The channel id eBET assigned. */
  channelId: number;
  /** The channel's RSA private key: PKCS#8 or PKCS#1 PEM, bare base64 DER, DER bytes, JWK, or an imported key. */
  privateKey: PrivateKeyMaterial;
  /** Unit of the `timestamp` field: "s" (default, what eBET's examples send) or "ms". */
  timestampUnit?: TimestampUnit;
  paths?: EbetPaths;
  /** Clock for timestamps; defaults to Date.now. */
  now?: Clock;
  /** Usernames must match it; defaults to lower-case letters and digits. */
  usernamePattern?: RegExp;
}

/** @internal A checked configuration with the key imported. */
export interface ResolvedConfig {
  baseUrl: string;
  channelId: number;
  privateKey: RsaPrivateKey;
  timestampUnit: TimestampUnit;
  paths: Readonly<Required<EbetPaths>>;
  now: Clock;
  usernamePattern: RegExp;
}

/** @internal Checks every configuration field and imports the key (importPrivateKey caches it). */
export function resolveConfig(config: EbetRequestConfig): ResolvedConfig {
  const options = checkObject(config, "options");
  const baseUrl = ebet.checkBaseUrl(options.baseUrl);
  const channelId = checkChannelId(options.channelId);
  if (options.privateKey === undefined || options.privateKey === null) {
    throw invalidEbetInput("privateKey", "is required");
  }
  let privateKey: RsaPrivateKey;
  try {
    privateKey = importPrivateKey(options.privateKey as PrivateKeyMaterial);
  } catch (error) {
    throw keyRefused(error);
  }
  const timestampUnit = checkTimestampUnit(options.timestampUnit);
  const paths = resolvePaths(options.paths);
  const now = checkFunction<Clock>(options.now, "now") ?? systemClock;
  const usernamePattern = options.usernamePattern ?? DEFAULT_USERNAME_PATTERN;
  if (!(usernamePattern instanceof RegExp)) {
    throw invalidEbetInput("usernamePattern", "must be a RegExp");
  }
  return { baseUrl, channelId, privateKey, timestampUnit, paths, now, usernamePattern };
}

function resolvePaths(value: unknown): Readonly<Required<EbetPaths>> {
  if (value === undefined) return DEFAULT_PATHS;
  const paths = checkObject(value, "paths");
  return Object.freeze({
    logout:
      paths.logout === undefined ? DEFAULT_PATHS.logout : checkPath(paths.logout, "paths.logout"),
    callback:
      paths.callback === undefined
        ? DEFAULT_PATHS.callback
        : checkPath(paths.callback, "paths.callback"),
  });
}

function currentTimestamp(config: ResolvedConfig): number {
  const value = timestamp(config.timestampUnit, config.now);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidEbetInput("now", "the clock must return milliseconds since the epoch");
  }
  return value;
}

/**
 * Redirects are not followed: a 3xx would replay the signed body (and a callback's access token)
 * to wherever its Location points. The parsers report the 3xx as an error instead.
 */
function jsonRequest(config: ResolvedConfig, path: string, body: Record<string, unknown>): Request {
  return new Request(`${config.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    redirect: "manual",
  });
}

/** What to log out. */
export interface LogoutInput {
  username: string;
  /** Sent only when given (older versions of eBET's page list it); never signed. */
  currency?: string;
}

/** What to report a login for. */
export interface CallbackInput {
  username: string;
  /** The token the channel issued for this login; eBET checks it. */
  accessToken: string;
  /** Sent only when given; eBET takes 0 when absent. */
  subChannelId?: number;
}

/**
 * The signed `POST {baseUrl}/api/logout` request. Body, in the page's order:
 * `{ channelId, username, timestamp, currency?, signature }`, signed over
 * `username + channelId + timestamp`.
 */
export async function buildLogoutRequest(
  config: EbetRequestConfig,
  input: LogoutInput,
): Promise<Request> {
  return logoutRequest(resolveConfig(config), input);
}

/** @internal buildLogoutRequest on a configuration already checked. */
export async function logoutRequest(
  resolvedConfig: ResolvedConfig,
  input: LogoutInput,
): Promise<Request> {
  const fields = checkObject(input, "input");
  const username = checkUsername(fields.username, resolvedConfig.usernamePattern);
  const currency = fields.currency === undefined ? undefined : checkCurrency(fields.currency);
  const values = {
    channelId: resolvedConfig.channelId,
    username,
    timestamp: currentTimestamp(resolvedConfig),
  };
  const signature = await signEbet(
    resolvedConfig.privateKey,
    signatureText(EBET_SIGNED_FIELDS.logout, values),
  );
  return jsonRequest(resolvedConfig, resolvedConfig.paths.logout, {
    ...values,
    ...(currency === undefined ? {} : { currency }),
    signature,
  });
}

/**
 * The signed `POST {baseUrl}/api/callback` request (login notification). Body, in the page's order:
 * `{ username, channelId, timestamp, accessToken, signature, subChannelId? }`, signed over
 * `username + channelId + accessToken + timestamp`.
 */
export async function buildCallbackRequest(
  config: EbetRequestConfig,
  input: CallbackInput,
): Promise<Request> {
  return callbackRequest(resolveConfig(config), input);
}

/** @internal buildCallbackRequest on a configuration already checked. */
export async function callbackRequest(
  resolvedConfig: ResolvedConfig,
  input: CallbackInput,
): Promise<Request> {
  const fields = checkObject(input, "input");
  const username = checkUsername(fields.username, resolvedConfig.usernamePattern);
  const accessToken = checkAccessToken(fields.accessToken);
  const subChannelId =
    fields.subChannelId === undefined ? undefined : checkSubChannelId(fields.subChannelId);
  const values = {
    username,
    channelId: resolvedConfig.channelId,
    timestamp: currentTimestamp(resolvedConfig),
    accessToken,
  };
  const signature = await signEbet(
    resolvedConfig.privateKey,
    signatureText(EBET_SIGNED_FIELDS.callback, values),
  );
  return jsonRequest(resolvedConfig, resolvedConfig.paths.callback, {
    ...values,
    signature,
    ...(subChannelId === undefined ? {} : { subChannelId }),
  });
}
