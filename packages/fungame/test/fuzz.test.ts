// FunGame's answer parser fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body
// and content type gives a result or a FunGameError, never another exception.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  answerParserProperty,
  fuzzParams,
  member,
} from "../../../tooling/fuzz.ts";
import { parseLogoutResponse, FunGameError as VendorFailure } from "../src/index.ts";

const VENDOR_NAME = "FunGame";
const SEED = 1200;

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>][] = [
  [
    "parseLogoutResponse",
    parseLogoutResponse,
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
  ],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(answerParserProperty(parse, shaped, VendorFailure), fuzzParams(SEED + index));
    });
  }
});
