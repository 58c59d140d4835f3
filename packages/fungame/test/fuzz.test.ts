// FunGame's answer parser fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body
// and content type gives a FunGameError, a logout only for HTTP 200 with a PayloadModel of
// StatusCode 200, and `alreadyLoggedOut` only for HTTP 400 "退出登录失败！".
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  type AnswerRules,
  answerParserProperty,
  fuzzParams,
  jsonObject,
  member,
  type SentAnswer,
  withDocumented,
} from "../../../tooling/fuzz.ts";
import {
  type LogoutResult,
  parseLogoutResponse,
  FunGameError as VendorFailure,
} from "../src/index.ts";

const VENDOR_NAME = "FunGame";
const SEED = 1200;

/** A PayloadModel member, whatever the casing of its name (FunGame sends either). */
function payloadMember(answer: SentAnswer, name: string): unknown {
  const body = jsonObject(answer);
  if (body === undefined) return undefined;
  const key = Object.keys(body).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : body[key];
}

/**
 * A logout is a success only as HTTP 200 with a PayloadModel of StatusCode 200; HTTP 400 with the
 * message "退出登录失败！" says the session was already gone (a documented success); anything else
 * is an error.
 */
const RULES: AnswerRules = {
  outcome: (result) => ((result as LogoutResult).alreadyLoggedOut ? "alreadyLoggedOut" : "success"),
  allows: (answer) => {
    if (answer.status === 200 && payloadMember(answer, "statuscode") === 200) return ["success"];
    const message = payloadMember(answer, "message");
    if (
      answer.status === 400 &&
      typeof message === "string" &&
      message.trim() === "退出登录失败！"
    ) {
      return ["alreadyLoggedOut"];
    }
    return [];
  },
};

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>][] = [
  [
    "parseLogoutResponse",
    parseLogoutResponse,
    withDocumented(
      fc.record(
        {
          StatusCode: member(200, 400, "200"),
          Message: member("你已成功退出登录！", "退出登录失败！", " "),
          RequestType: member(1, "RunTime_Logout"),
          Event: member("user_logout"),
          Timestamp: member("2026-01-01 00:00:00.000"),
          statusCode: member(200),
          message: member("x"),
        },
        { requiredKeys: [] },
      ),
      { RequestType: 1, StatusCode: 200, Message: "你已成功退出登录！ ", Data: {} },
      { requestType: 1, statusCode: 200, message: "你已成功退出登录！", event: "user_logout" },
      { RequestType: 1, StatusCode: 400, Message: "退出登录失败！", Data: {} },
      { RequestType: 1, StatusCode: 400, Message: "用户名或密码不正确。" },
      { RequestType: 1, StatusCode: 400, Message: "退出登录失败！服务器可能暂时无法处理此请求。" },
      { RequestType: 1, StatusCode: 500, Message: "退出登录失败！服务器可能暂时无法处理此请求。" },
    ),
  ],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(
        answerParserProperty(parse, shaped, VendorFailure, RULES),
        fuzzParams(SEED + index),
      );
    });
  }
});
