// eBET's status-code table: every code with its name, its meaning in English and Chinese, its kind and retryability.
import type { ErrorKind } from "@x/core-signing";

/** What one eBET status code means, and how a caller should treat it. */
export interface EbetStatusInfo {
  readonly code: number;
  /** A stable upper-case name, e.g. "BAD_SIGNATURE". */
  readonly name: string;
  /** The meaning in English. */
  readonly en: string;
  /** The meaning in Chinese, as eBET's table words it. */
  readonly zh: string;
  /** "success" for 200; otherwise the shared error kind. */
  readonly kind: ErrorKind | "success";
  /** Whether the same call may succeed if sent again later. */
  readonly retryable: boolean;
}

type Row = [code: number, name: string, en: string, zh: string, kind: ErrorKind | "success"];

/** Codes of eBET's recharge and wallet calls: in the table, but never expected from logout or callback. */
const RECHARGE_AND_WALLET_CODES = [
  -1, 0, 201, 203, 204, 205, 206, 207, 208, 209, 1003, 4028, 5001, 5002, 5005, 5006, 5009, 5010,
];

const ROWS: Row[] = [
  [200, "SUCCESS", "success", "成功", "success"],
  [202, "CHANNEL_NOT_FOUND", "channel not found", "渠道不存在", "misconfigured"],
  [401, "BAD_CREDENTIALS", "bad username or password", "用户名或密码错误", "unauthorized"],
  [410, "INVALID_TOKEN", "invalid access token", "无效的令牌", "unauthorized"],
  [500, "SYSTEM_ERROR", "system error", "系统错误", "unavailable"],
  [505, "CHANNEL_MAINTENANCE", "channel under maintenance", "渠道维护中", "unavailable"],
  [4003, "SYSTEM_BUSY", "system busy", "系统繁忙", "unavailable"],
  [4025, "BAD_PARAMETERS", "bad parameters", "参数错误", "invalid_request"],
  [4026, "BAD_SIGNATURE", "bad signature", "签名错误", "misconfigured"],
  [4027, "IP_NOT_ALLOWED", "IP address not allowed", "IP 不被允许", "misconfigured"],
  [4029, "FUNCTION_DISABLED", "function disabled for this channel", "功能未开启", "misconfigured"],
  [4030, "DATA_TYPE_ERROR", "data type error", "数据类型错误", "invalid_request"],
  [4037, "USER_NOT_FOUND", "user not found", "用户不存在", "not_found"],
  [4038, "TOO_MANY_REQUESTS", "too many requests", "请求过于频繁", "rate_limited"],
  [4202, "API_QUOTA_EXHAUSTED", "API quota exhausted", "API 调用次数已用完", "rate_limited"],
  [5003, "SUB_CHANNEL_NOT_FOUND", "sub-channel not found", "子渠道不存在", "not_found"],
  [5011, "ACCOUNT_FROZEN", "account frozen", "帐户已冻结", "upstream"],
  ...RECHARGE_AND_WALLET_CODES.map(
    (code): Row => [
      code,
      `RECHARGE_OR_WALLET_${code < 0 ? `MINUS_${-code}` : code}`,
      `recharge or wallet status ${code} (eBET's recharge and wallet calls; not expected from logout or callback)`,
      `充值或钱包相关状态 ${code}（用于充值与钱包接口，登出与登入通知不应返回）`,
      "upstream",
    ],
  ),
];

/** Retryable codes: the transient ones (system error, maintenance, busy) and the per-user rate limit. */
const RETRYABLE: ReadonlySet<number> = new Set([500, 505, 4003, 4038]);

/**
 * Every code of eBET's status table, keyed by code. It has no prototype, so a name such as
 * `constructor` or `__proto__` finds nothing; `ebetStatus` is the lookup to use for a code from
 * outside.
 */
export const EBET_STATUS: Readonly<Record<number, EbetStatusInfo>> = Object.freeze(
  Object.assign(
    Object.create(null) as Record<number, EbetStatusInfo>,
    Object.fromEntries(
      ROWS.map(([code, name, en, zh, kind]) => [
        code,
        Object.freeze({ code, name, en, zh, kind, retryable: RETRYABLE.has(code) }),
      ]),
    ),
  ),
);

/**
 * The table entry for `code`; a code missing from eBET's table (or anything that is not an
 * integer: a string, a prototype name) is an `upstream`, non-retryable UNKNOWN.
 */
export function ebetStatus(code: number): EbetStatusInfo {
  const known = Number.isSafeInteger(code) ? EBET_STATUS[code] : undefined;
  return (
    known ?? {
      code,
      name: "UNKNOWN",
      en: `status ${String(code).slice(0, 40)}, not in eBET's table`,
      zh: `未知状态码 ${String(code).slice(0, 40)}`,
      kind: "upstream",
      retryable: false,
    }
  );
}
