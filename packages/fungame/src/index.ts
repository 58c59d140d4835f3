// @x/fungame: FunGame WebAPI logout with a Bearer JWT, and token tools for an edge deny-list.
// HS256 verification (verifyToken, with jose) is the subpath @x/fungame/verify.
export {
  FunGameClient,
  type FunGameClientOptions,
  type LogoutCallOptions,
} from "./client.ts";
export { asFunGameError, FunGameError, invalidInput, isFunGameError, VENDOR } from "./errors.ts";
export {
  LOGIN_FAILURE_MESSAGE,
  LOGIN_SUCCESS_MESSAGE,
  LOGOUT_SUCCESS_MESSAGE,
  type PayloadFields,
  REQUEST_TYPE_LOGIN,
  REQUEST_TYPE_LOGOUT,
  readPayloadFields,
  SERVER_FAILURE_MESSAGE,
  SESSION_GONE_MESSAGE,
  sameMessage,
} from "./payload.ts";
export { buildLogoutRequest, LOGOUT_PATH, logoutUrl, type RequestTarget } from "./requests.ts";
export { type LogoutResult, type ParseLogoutOptions, parseLogoutResponse } from "./responses.ts";
export {
  DEFAULT_MAX_REVOCATIONS,
  isTokenRevoked,
  MemoryRevocationList,
  type MemoryRevocationListOptions,
  type RevocationList,
  revokeToken,
} from "./revocation.ts";
export {
  checkBearerToken,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  inspectToken,
  MAX_TOKEN_LENGTH,
  type TokenClaims,
} from "./token.ts";
