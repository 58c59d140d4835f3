// @x/lancens: Lancens logout with push-token clearing, sans-IO builders and parsers, typed errors.
export {
  type LancensCallOptions,
  LancensClient,
  type LancensClientOptions,
  type LogoutFlowResult,
  type StepOutcome,
} from "./client.ts";
export {
  invalidLancensInput,
  isLancensError,
  type LancensCall,
  LancensError,
  type LancensErrorCode,
  type LancensErrorInit,
} from "./errors.ts";
export {
  checkToken,
  checkUsername,
  TOKEN_MAX_LENGTH,
  USERNAME_MAX_LENGTH,
  USERNAME_MIN_LENGTH,
} from "./input.ts";
export {
  classifyMessage,
  classifyStatus,
  extractMessage,
  MAX_VENDOR_MESSAGE_LENGTH,
  type MessageMeaning,
} from "./messages.ts";
export {
  buildClearMessagePushTokenRequest,
  buildClearRingPushTokenRequest,
  buildLogoutRequest,
  DEFAULT_PATHS,
  LANCENS_BASE_URL,
  type LancensPaths,
  type LogoutInput,
  type RequestTarget,
} from "./requests.ts";
export {
  type AlreadyLoggedOutCode,
  type ClearOutcome,
  DEFAULT_ALREADY_LOGGED_OUT_CODES,
  DEFAULT_ERROR_BODY_BYTES,
  errorFromAnswer,
  interpretLogoutAnswer,
  interpretPushTokenAnswer,
  isSessionGone,
  isSuccessStatus,
  type LogoutParseOptions,
  type LogoutResult,
  type ParseOptions,
  type PushTokenClearResult,
  parseClearMessagePushTokenResponse,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
} from "./responses.ts";
