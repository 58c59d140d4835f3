// eBET's answer parsers fuzzed (FUZZ_RUNS cases per property, fixed seeds): any status, body and
// content type gives a result or an EbetError, never another exception.
import fc from "fast-check";
import { describe, it } from "vitest";
import { ANSWER_CONTENT_TYPES, answer, fuzzParams } from "../../../tooling/fuzz.ts";
import {
  parseCallbackResponse,
  parseLogoutResponse,
  EbetError as VendorFailure,
} from "../src/index.ts";

/** Any code point, lone surrogates included (fast-check's "binary" unit costs seconds to build). */
const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .map((code) => String.fromCodePoint(code));

/** Member values of every type, with the right ones among them. */
const member = (...right: unknown[]) =>
  fc.oneof(fc.constantFrom(...right), fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.double());

const bodies = (shaped: fc.Arbitrary<unknown>) =>
  fc.oneof(
    fc.string(),
    fc.string({ unit: anyCodePoint }),
    fc.uint8Array({ maxLength: 2048 }),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? ""),
    shaped.map((value) => JSON.stringify(value)),
    shaped.map((value) => JSON.stringify(value).slice(0, -3)),
  );

/** Any status from 200 to 599 (success statuses more often), any body, any content type. */
const answers = (shaped: fc.Arbitrary<unknown>) =>
  fc.tuple(
    fc.oneof(
      fc.constantFrom(200, 201, 204, 400, 401, 404, 429, 500, 503),
      fc.integer({ min: 200, max: 599 }),
    ),
    bodies(shaped),
    fc.constantFrom(...ANSWER_CONTENT_TYPES),
    fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
  );

/** Runs the parser; anything thrown but the vendor's own error fails the property. */
async function onlyVendorError(parse: () => Promise<unknown>): Promise<void> {
  try {
    await parse();
  } catch (error) {
    if (error instanceof VendorFailure) return;
    throw new Error(
      `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
}

const VENDOR_NAME = "eBET";
const SEED = 1100;

const wallet = fc.record(
  { typeId: member(1, "1"), money: member(0, 12.5, "3.20") },
  { requiredKeys: [] },
);

const PARSERS: [
  string,
  (r: Response, o: { maxBodyBytes?: number }) => Promise<unknown>,
  fc.Arbitrary<unknown>,
][] = [
  [
    "parseLogoutResponse",
    parseLogoutResponse,
    fc.record(
      { status: member(200, "200", 4037), apiVersion: member("1.3.91", 1) },
      { requiredKeys: [] },
    ),
  ],
  [
    "parseCallbackResponse",
    parseCallbackResponse,
    fc.record(
      {
        status: member(200, 410),
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
  ],
];

describe(`${VENDOR_NAME}'s answer parsers`, () => {
  for (const [index, [name, parse, shaped]] of PARSERS.entries()) {
    it(`${name}: any status, body and content type`, async () => {
      await fc.assert(
        fc.asyncProperty(answers(shaped), async ([status, body, type, maxBodyBytes]) =>
          onlyVendorError(() =>
            parse(answer(status, body, type), maxBodyBytes === undefined ? {} : { maxBodyBytes }),
          ),
        ),
        fuzzParams(SEED + index),
      );
    });
  }
});
