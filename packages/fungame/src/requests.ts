// Pure request building for FunGame calls (sans-IO): the token is checked before a Request exists.
import { fungame, invalidInput } from "./errors.ts";
import { checkBearerToken } from "./token.ts";

export const LOGOUT_PATH = "/user/logout";

/** Where a request goes. */
export interface RequestTarget {
  /** The server's root, e.g. "https://api.redbud.fun"; a path prefix is kept. */
  baseUrl: string;
  /** The logout path under `baseUrl`; defaults to "/user/logout". */
  path?: string;
}

/**
 * The logout Request: `POST {baseUrl}/user/logout` with `Authorization: Bearer <token>` and no body.
 * Redirects are not followed, so the token is never replayed to another address. Throws an
 * `invalid_request` FunGameError naming `bearerToken` (empty, not three base64url segments, CR or
 * LF, too long) or `baseUrl` before anything is built.
 */
export function buildLogoutRequest(bearerToken: string, target: RequestTarget): Request {
  const token = checkBearerToken(bearerToken, "bearerToken");
  return new Request(logoutUrl(target), {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    redirect: "manual",
  });
}

/** The logout URL of a target; throws an `invalid_request` FunGameError naming `baseUrl` or `path`. */
export function logoutUrl(target: RequestTarget): string {
  const base = fungame.checkBaseUrl(target?.baseUrl, "baseUrl");
  return `${base}${checkPath(target.path ?? LOGOUT_PATH)}`;
}

function checkPath(path: unknown): string {
  if (typeof path !== "string" || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(path)) {
    throw invalidInput("path", 'must start with "/" and hold only URL path characters');
  }
  return path;
}
