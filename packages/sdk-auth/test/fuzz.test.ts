// OneAccess's answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body
// and content type gives a result or a OneAccessError, never another exception.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  type AnswerParser,
  answerParserProperty,
  fuzzParams,
  member,
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

const failure = fc.record(
  { error_code: member("APP.0007", "APP.0001", 7), error_msg: member("session expired", "") },
  { requiredKeys: [] },
);

const PARSERS: [string, AnswerParser, fc.Arbitrary<unknown>][] = [
  ["parseErrorResponse", parseErrorResponse, failure],
  [
    "parseServerDateResponse",
    parseServerDateResponse,
    fc.record({ timestamp: member("1700000000000", 1700000000000) }, { requiredKeys: [] }),
  ],
  [
    "parsePublicKeyResponse",
    parsePublicKeyResponse,
    fc.record(
      {
        public_key: member(
          "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
          "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----",
        ),
      },
      { requiredKeys: [] },
    ),
  ],
  ["parseLogoutResponse", parseLogoutResponse, fc.oneof(failure, fc.constant("success"))],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(answerParserProperty(parse, shaped, VendorFailure), fuzzParams(SEED + index));
    });
  }
});
