// Lancens' answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body and
// content type gives a LancensError, a success only for a 2xx, and on logout `alreadyLoggedOut`
// only for an answer that says `invalid token`.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  type AnswerRules,
  answerParserProperty,
  fuzzParams,
  member,
  type SentAnswer,
  withDocumented,
} from "../../../tooling/fuzz.ts";
import {
  type LogoutResult,
  parseClearMessagePushTokenResponse,
  parseClearRingPushTokenResponse,
  parseLogoutResponse,
  LancensError as VendorFailure,
} from "../src/index.ts";

const VENDOR_NAME = "Lancens";
const SEED = 1300;

const lancensAnswer = withDocumented(
  fc.record(
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
  ),
  { message: "invalid token" },
  { message: "no token" },
  { message: "undefined username" },
  { id: 1, token: "t", reflash_key: "r", time: 1_700_000_000 },
);

const isSuccessStatus = (answer: SentAnswer): boolean =>
  answer.status >= 200 && answer.status < 300;

/** Clearing a push token succeeds on any 2xx (Lancens documents no success answer); else an error. */
const PUSH_TOKEN_RULES: AnswerRules = {
  outcome: () => "success",
  allows: (answer) => (isSuccessStatus(answer) ? ["success"] : []),
};

/**
 * A logout succeeds on any 2xx; an answer that says `invalid token` means the session had already
 * ended, whatever its status; nothing else (`no token` included: a request without its token
 * header) is a success.
 */
const LOGOUT_RULES: AnswerRules = {
  outcome: (result) => ((result as LogoutResult).alreadyLoggedOut ? "alreadyLoggedOut" : "success"),
  allows: (answer) => [
    ...(isSuccessStatus(answer) ? (["success"] as const) : []),
    ...(/invalid\s+token/i.test(answer.text) ? (["alreadyLoggedOut"] as const) : []),
  ],
};

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>, AnswerRules][] = [
  [
    "parseClearRingPushTokenResponse",
    parseClearRingPushTokenResponse,
    lancensAnswer,
    PUSH_TOKEN_RULES,
  ],
  [
    "parseClearMessagePushTokenResponse",
    parseClearMessagePushTokenResponse,
    lancensAnswer,
    PUSH_TOKEN_RULES,
  ],
  ["parseLogoutResponse", parseLogoutResponse, lancensAnswer, LOGOUT_RULES],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped, rules]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(
        answerParserProperty(parse, shaped, VendorFailure, rules),
        fuzzParams(SEED + index),
      );
    });
  }
});
