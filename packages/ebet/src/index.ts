// @x/ebet: eBET channel logout and login notification (MD5withRSA), sans-IO builders and parsers, status table.
export { EbetClient, type EbetClientOptions } from "./client.ts";
export { EbetError, type EbetErrorInit } from "./errors.ts";
export { DEFAULT_USERNAME_PATTERN } from "./input.ts";
export {
  buildCallbackRequest,
  buildLogoutRequest,
  type CallbackInput,
  DEFAULT_PATHS,
  type EbetPaths,
  type EbetRequestConfig,
  type LogoutInput,
} from "./requests.ts";
export {
  type CallbackResult,
  DEFAULT_EBET_MAX_BODY_BYTES,
  type EbetWallet,
  type LogoutResult,
  parseCallbackResponse,
  parseLogoutResponse,
} from "./responses.ts";
export {
  EBET_SIGNED_FIELDS,
  type EbetCall,
  signatureText,
  signEbet,
  verifyEbet,
} from "./signature.ts";
export { EBET_STATUS, type EbetStatusInfo, ebetStatus } from "./status.ts";
