// Lancens' answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body and
// content type gives a result or a LancensError, never another exception.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  answerParserProperty,
  fuzzParams,
  member,
} from "../../../tooling/fuzz.ts";
import {
  parseClearMessagePushTokenResponse,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
  LancensError as VendorFailure,
} from "../src/index.ts";

const VENDOR_NAME = "Lancens";
const SEED = 1300;

const lancensAnswer = fc.record(
  {
    message: member(
      "invalid token",
      "no token",
      "paramer error",
      "undefined username",
      "10051",
      30001,
    ),
    code: member(10001, "20001"),
  },
  { requiredKeys: [] },
);

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>][] = [
  ["parseClearRingPushTokenResponse", parseClearRingPushTokenResponse, lancensAnswer],
  ["parseClearMessagePushTokenResponse", parseClearMessagePushTokenResponse, lancensAnswer],
  ["parseLogoutResponse", parseLogoutResponse, lancensAnswer],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(answerParserProperty(parse, shaped, VendorFailure), fuzzParams(SEED + index));
    });
  }
});
