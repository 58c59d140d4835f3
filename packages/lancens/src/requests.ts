// Pure: builds the Request for each Lancens call (sans-IO); input is checked first, naming the field.
// Every request says `redirect: "manual"`: a redirect followed would carry the login token (header
// and logout body) to wherever Location points; the parsers refuse a 3xx instead.
import { lancensKit } from "./errors.ts";
import { checkPath, checkToken, checkUsername } from "./input.ts";

/** The production host of the Lancens API. */
export const LANCENS_BASE_URL = "https://weixin.lancens.com:6443";

/** The paths of the three calls, below the base URL. */
export interface LancensPaths {
  /** DELETE: clears the phone's ring push token. */
  ringPushToken: string;
  /** DELETE: clears the phone's message push token. */
  messagePushToken: string;
  /** POST: ends the session and invalidates the login token. */
  logout: string;
}

export const DEFAULT_PATHS: Readonly<LancensPaths> = Object.freeze({
  ringPushToken: "/v1/api/user/token",
  messagePushToken: "/v1/api/user/message/token",
  logout: "/v1/api/user/logout",
});

/** Where a request goes: the base URL and, optionally, other paths. */
export interface RequestTarget {
  baseUrl: string;
  paths?: Partial<LancensPaths>;
}

export interface LogoutInput {
  /** 6 to 32 characters: a user name, a phone number or an e-mail address. */
  username: string;
  /** The login token from `POST /v1/api/user/login`. */
  token: string;
}

/** The base URL without a trailing slash; a bad one is a LancensError naming `baseUrl`. */
export function resolveBaseUrl(baseUrl: unknown): string {
  return lancensKit().checkBaseUrl(baseUrl);
}

/** The three paths, defaults filled in; a bad one is a LancensError naming `paths.<name>`. */
export function resolvePaths(paths: Partial<LancensPaths> | undefined): LancensPaths {
  const resolved = { ...DEFAULT_PATHS };
  for (const name of Object.keys(DEFAULT_PATHS) as (keyof LancensPaths)[]) {
    const value = paths?.[name];
    if (value !== undefined) resolved[name] = checkPath(value, `paths.${name}`);
  }
  return resolved;
}

function url(target: RequestTarget, name: keyof LancensPaths): string {
  return `${resolveBaseUrl(target.baseUrl)}${resolvePaths(target.paths)[name]}`;
}

function clearPushTokenRequest(
  target: RequestTarget,
  name: "ringPushToken" | "messagePushToken",
  token: unknown,
): Request {
  const checked = checkToken(token);
  return new Request(url(target, name), {
    method: "DELETE",
    headers: { accept: "application/json", token: checked },
    redirect: "manual",
  });
}

/** `DELETE {baseUrl}/v1/api/user/token` with header `token`: clears the ring push token. */
export function buildClearRingPushTokenRequest(target: RequestTarget, token: string): Request {
  return clearPushTokenRequest(target, "ringPushToken", token);
}

/** `DELETE {baseUrl}/v1/api/user/message/token` with header `token`: clears the message push token. */
export function buildClearMessagePushTokenRequest(target: RequestTarget, token: string): Request {
  return clearPushTokenRequest(target, "messagePushToken", token);
}

/**
 * `POST {baseUrl}/v1/api/user/logout` with JSON `{ username, token }` and header `token`: the logout
 * page puts the token in the body, and Lancens answers `no token` to a request without the header.
 */
export function buildLogoutRequest(target: RequestTarget, input: LogoutInput): Request {
  const username = checkUsername(input?.username);
  const token = checkToken(input?.token);
  return new Request(url(target, "logout"), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json", token },
    body: JSON.stringify({ username, token }),
    redirect: "manual",
  });
}
