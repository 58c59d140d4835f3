// What the property-based fuzz tests share: run counts (FUZZ_RUNS when set, else 20,000 cases per
// property under `npm run fuzz`, a package's `fuzz` script, and 1,000 in the tests; seeds are fixed
// per property), arbitraries, and the property every vendor's answer parsers must hold.
import fc from "fast-check";

const LONG_RUNS = 20_000;
const DEFAULT_RUNS = 1_000;

function runCount(): number {
  const given = process.env.FUZZ_RUNS;
  if (given !== undefined && /^\d+$/.test(given) && Number(given) > 0) return Number(given);
  return process.env.npm_lifecycle_event === "fuzz" ? LONG_RUNS : DEFAULT_RUNS;
}

/** Cases per property in this run. */
export const FUZZ_RUNS = runCount();

/** fast-check parameters of one property: its fixed seed (a failure replays) and the run count. */
export function fuzzParams(seed: number): { seed: number; numRuns: number } {
  return { seed, numRuns: FUZZ_RUNS };
}

/** Content types a vendor's answer may come with, right and wrong. */
export const ANSWER_CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "text/html",
  "application/problem+json",
  "",
] as const;

/** Statuses whose answers have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([204, 205, 304]);

/** A vendor's answer: any status from 200 to 599, any body text or bytes, any content type. */
export function answer(status: number, body: string | Uint8Array, contentType: string): Response {
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  const response = new Response(NULL_BODY.has(status) ? null : payload, {
    status,
    headers: { "content-type": contentType },
  });
  if (contentType === "") response.headers.delete("content-type");
  return response;
}

/** Any code point, lone surrogates included (fast-check's "binary" unit costs seconds to build). */
export const anyCodePoint: fc.Arbitrary<string> = fc
  .integer({ min: 0, max: 0x10ffff })
  .map((code) => String.fromCodePoint(code));

/** Member values of every type, with the right ones among them. */
export const member = (...right: unknown[]): fc.Arbitrary<unknown> =>
  fc.oneof(fc.constantFrom(...right), fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.double());

/** Answer bodies: any text or bytes, any JSON, the vendor's shape, and that shape cut short. */
const bodies = (shaped: fc.Arbitrary<unknown>) =>
  fc.oneof(
    fc.string(),
    fc.string({ unit: anyCodePoint }),
    fc.uint8Array({ maxLength: 2048 }),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? ""),
    shaped.map((value) => JSON.stringify(value)),
    shaped.map((value) => JSON.stringify(value).slice(0, -3)),
  );

/** Any status from 200 to 599 (success statuses more often), any body, any content type, any limit. */
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

/** A vendor's answer parser: the answer and the body limit it is given. */
export type AnswerParser = (
  response: Response,
  options: { maxBodyBytes?: number },
) => Promise<unknown>;

/**
 * The property of one answer parser: whatever the status, body, content type and body limit, it
 * gives a result or throws an instance of `vendorError`; anything else thrown fails the property.
 */
export function answerParserProperty(
  parse: AnswerParser,
  shaped: fc.Arbitrary<unknown>,
  vendorError: abstract new (...args: never[]) => Error,
): fc.IAsyncProperty<[[number, string | Uint8Array, string, number | undefined]]> {
  return fc.asyncProperty(answers(shaped), async ([status, body, type, maxBodyBytes]) => {
    try {
      await parse(answer(status, body, type), maxBodyBytes === undefined ? {} : { maxBodyBytes });
    } catch (error) {
      if (error instanceof vendorError) return;
      throw new Error(
        `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    }
  });
}
