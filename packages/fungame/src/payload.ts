// FunGame's PayloadModel: its known values and a reader that ignores the wire casing of field names.

/** `DataRequestType.RunTime_Logout`, the RequestType of logout answers. */
export const REQUEST_TYPE_LOGOUT = 1;
/** `DataRequestType.Login_Login`, the RequestType of login answers. */
export const REQUEST_TYPE_LOGIN = 13;

/** The message of a successful logout (servers add a trailing space). */
export const LOGOUT_SUCCESS_MESSAGE = "你已成功退出登录！";
/** The 400 message when the session no longer exists: the logout already happened. */
export const SESSION_GONE_MESSAGE = "退出登录失败！";
/** Newer servers' 500 message, for a missing session and for a server fault alike. */
export const SERVER_FAILURE_MESSAGE = "退出登录失败！服务器可能暂时无法处理此请求。";
export const LOGIN_SUCCESS_MESSAGE = "登录成功！";
export const LOGIN_FAILURE_MESSAGE = "用户名或密码不正确。";

/** A PayloadModel as read from the wire; each member is undefined when absent. */
export interface PayloadFields {
  requestType: unknown;
  statusCode: unknown;
  message: unknown;
  data: unknown;
  event: unknown;
  timestamp: unknown;
}

/**
 * Reads the PayloadModel members of a JSON value whatever their casing (`statusCode`, `StatusCode`,
 * `statuscode`), as ASP.NET may write either camelCase or PascalCase. Undefined when the value is
 * not a JSON object.
 */
export function readPayloadFields(value: unknown): PayloadFields | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const byName = new Map<string, unknown>();
  for (const [key, member] of Object.entries(value)) {
    const name = key.toLowerCase();
    if (!byName.has(name)) byName.set(name, member);
  }
  return {
    requestType: byName.get("requesttype"),
    statusCode: byName.get("statuscode"),
    message: byName.get("message"),
    data: byName.get("data"),
    event: byName.get("event"),
    timestamp: byName.get("timestamp"),
  };
}

/** Two FunGame messages are the same when they differ only in surrounding whitespace. */
export function sameMessage(actual: unknown, expected: string): boolean {
  return typeof actual === "string" && actual.trim() === expected;
}
