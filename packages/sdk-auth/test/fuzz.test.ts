// OneAccess's answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body
// and content type gives a OneAccessError, or a success only for HTTP 200 with what the call needs
// and no `error_code`.

import { toBase64 } from "@x/core-signing";
import { generateKeyPair } from "@x/core-signing/rsa";
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
  parseErrorResponse,
  parseLogoutResponse,
  parsePublicKeyResponse,
  parseServerDateResponse,
  OneAccessError as VendorFailure,
} from "../src/index.ts";

const VENDOR_NAME = "OneAccess";
const SEED = 1400;

/** A usable public key, so that a public-key answer can parse as a success at all. */
const SPKI = toBase64((await generateKeyPair(1024)).publicKey.toSpki());
const DOCUMENTED_FAILURE = { error_code: "APP.0001", error_msg: "invalid session" };

const failure = fc.record(
  { error_code: member("APP.0007", "APP.0001", 7), error_msg: member("session expired", "") },
  { requiredKeys: [] },
);

/** OneAccess's error shape: a body whose `error_code` is a non-empty string or a number. */
function isErrorBody(answer: SentAnswer): boolean {
  const code = jsonObject(answer)?.error_code;
  return (typeof code === "string" && code.length > 0) || typeof code === "number";
}

/** A success only as HTTP 200 without OneAccess's error shape, and with what `needs` asks of it. */
function successWhen(needs: (answer: SentAnswer) => boolean): AnswerRules {
  return {
    outcome: (result) => (result instanceof VendorFailure ? "error" : "success"),
    allows: (answer) =>
      answer.status === 200 && !isErrorBody(answer) && needs(answer) ? ["success"] : [],
  };
}

/** parseErrorResponse reads every answer as the error it stands for, never as a success. */
const ERROR_RULES: AnswerRules = {
  outcome: (result) => (result instanceof VendorFailure ? "error" : "success"),
  allows: () => ["error"],
};

const SERVER_DATE_RULES = successWhen((answer) => {
  const timestamp = jsonObject(answer)?.timestamp;
  return (
    (typeof timestamp === "string" && /^\d+$/.test(timestamp)) || Number.isSafeInteger(timestamp)
  );
});

const PUBLIC_KEY_RULES = successWhen((answer) => {
  const key = jsonObject(answer)?.public_key;
  return typeof key === "string" && key.length > 0;
});

/** The logout answer is a string OneAccess does not document: any body but the error shape. */
const LOGOUT_RULES = successWhen(() => true);

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>, AnswerRules][] = [
  ["parseErrorResponse", parseErrorResponse, failure, ERROR_RULES],
  [
    "parseServerDateResponse",
    parseServerDateResponse,
    withDocumented(
      fc.record(
        { timestamp: member("1700000000000", 1700000000000), error_code: member("APP.0001") },
        { requiredKeys: [] },
      ),
      { timestamp: "1700000000000" },
      { timestamp: "1700000000000", ...DOCUMENTED_FAILURE },
      DOCUMENTED_FAILURE,
    ),
    SERVER_DATE_RULES,
  ],
  [
    "parsePublicKeyResponse",
    parsePublicKeyResponse,
    withDocumented(
      fc.record(
        {
          public_key: member(
            SPKI,
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
            "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",
          ),
          error_code: member("APP.0001"),
        },
        { requiredKeys: [] },
      ),
      { public_key: SPKI },
      { public_key: SPKI, ...DOCUMENTED_FAILURE },
      DOCUMENTED_FAILURE,
    ),
    PUBLIC_KEY_RULES,
  ],
  [
    "parseLogoutResponse",
    parseLogoutResponse,
    withDocumented(failure, "success", DOCUMENTED_FAILURE),
    LOGOUT_RULES,
  ],
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
