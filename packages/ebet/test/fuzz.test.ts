// eBET's answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body and
// content type gives an EbetError, or a success only for HTTP 200 with a body whose status is 200.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  type AnswerRules,
  answerParserProperty,
  fuzzParams,
  jsonObject,
  member,
  withDocumented,
} from "../../../tooling/fuzz.ts";
import {
  parseCallbackResponse,
  parseLogoutResponse,
  EbetError as VendorFailure,
} from "../src/index.ts";

const VENDOR_NAME = "eBET";
const SEED = 1100;

const wallet = fc.record(
  { typeId: member(1, "1"), money: member(0, 12.5, "3.20") },
  { requiredKeys: [] },
);

/** eBET answers HTTP 200 with the outcome in the body's `status`: only 200 there is a success. */
const RULES: AnswerRules = {
  outcome: () => "success",
  allows: (answer) =>
    answer.status === 200 && jsonObject(answer)?.status === 200 ? ["success"] : [],
};

/** eBET's documented callback answer (the example of its page). */
const ACCOUNT = {
  channelId: 1,
  subChannelId: 0,
  userId: 127001,
  username: "demo",
  wallet: [{ typeId: 1, money: 12.5 }],
  money: 12.5,
  timestamp: 1_700_000_000,
  apiVersion: "1.3.55",
};

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>][] = [
  [
    "parseLogoutResponse",
    parseLogoutResponse,
    withDocumented(
      fc.record(
        { status: member(200, "200", 4026, 4037, 500), apiVersion: member("1.3.91", 1) },
        { requiredKeys: [] },
      ),
      { status: 200, apiVersion: "1.3.55" },
      { status: 4026, apiVersion: "1.3.55" },
      { status: 4037, apiVersion: "1.3.55" },
    ),
  ],
  [
    "parseCallbackResponse",
    parseCallbackResponse,
    withDocumented(
      fc.record(
        {
          status: member(200, 410, 4026),
          apiVersion: member("1.3.91"),
          channelId: member(1, "1"),
          subChannelId: member(0, "0"),
          userId: member(127001, "127001"),
          username: member("demo"),
          wallet: fc.oneof(fc.array(wallet, { maxLength: 3 }), member([])),
          money: member(0, "1.5"),
          timestamp: member(1_700_000_000, "1700000000"),
        },
        { requiredKeys: [] },
      ),
      { ...ACCOUNT, status: 200 },
      { ...ACCOUNT, status: 410 },
      { ...ACCOUNT, status: 4026 },
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
