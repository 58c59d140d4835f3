// What the property-based fuzz tests share: run counts (FUZZ_RUNS when set, else 20,000 cases per
// property under `npm run fuzz`, a package's `fuzz` script, and 1,000 in the tests; seeds are fixed
// per property), arbitraries, and the property every vendor's answer parsers must hold: a typed error
// or a result the vendor's documented rules allow for that answer, never an error read as a success.
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

/**
 * A vendor's answer shape, with its documented answers among the values: those are the answers an
 * outcome check needs most, sent under every status.
 */
export const withDocumented = (
  shaped: fc.Arbitrary<unknown>,
  ...documented: unknown[]
): fc.Arbitrary<unknown> => fc.oneof(shaped, fc.constantFrom(...documented));

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
 * What a parser's result reports: a success, a documented success of a logout that had already
 * happened, or (for a parser that returns rather than throws it) the vendor's error.
 */
export type Outcome = "success" | "alreadyLoggedOut" | "error";

/** One answer as the vendor sent it: its HTTP status, its body as text ("" when none) and as JSON. */
export interface SentAnswer {
  status: number;
  text: string;
  /** The body's JSON value; undefined when the body is not JSON. */
  json: unknown;
}

/** What a vendor documents its answers to mean, for one parser. */
export interface AnswerRules {
  /** The outcome a result of the parser reports. */
  outcome(result: unknown): Outcome;
  /** The outcomes this answer may parse as; for any other, the parser must throw the vendor's error. */
  allows(answer: SentAnswer): readonly Outcome[];
}

/** The body's JSON value as an object, or undefined when it is not a JSON object. */
export function jsonObject(answer: SentAnswer): Record<string, unknown> | undefined {
  const { json } = answer;
  return typeof json === "object" && json !== null && !Array.isArray(json)
    ? (json as Record<string, unknown>)
    : undefined;
}

/** The answer as the rules read it: a twin of the parsed Response, read leniently as text. */
async function sent(status: number, body: string | Uint8Array, type: string): Promise<SentAnswer> {
  const text = await answer(status, body, type).text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, text, json };
}

function shown(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/**
 * The property of one answer parser: whatever the status, body, content type and body limit, it
 * throws an instance of `vendorError` or gives a result whose outcome the vendor's `rules` allow for
 * that answer; anything else thrown, and any outcome the rules do not allow (an error answer read as
 * a success), fails the property.
 */
export function answerParserProperty(
  parse: AnswerParser,
  shaped: fc.Arbitrary<unknown>,
  vendorError: abstract new (...args: never[]) => Error,
  rules: AnswerRules,
): fc.IAsyncProperty<[[number, string | Uint8Array, string, number | undefined]]> {
  return fc.asyncProperty(answers(shaped), async ([status, body, type, maxBodyBytes]) => {
    let result: unknown;
    try {
      result = await parse(
        answer(status, body, type),
        maxBodyBytes === undefined ? {} : { maxBodyBytes },
      );
    } catch (error) {
      if (error instanceof vendorError) return;
      throw new Error(
        `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      );
    }
    const given = await sent(status, body, type);
    const outcome = rules.outcome(result);
    const allowed = rules.allows(given);
    if (!allowed.includes(outcome)) {
      throw new Error(
        `HTTP ${status} ${shown(given.text)} parsed as ${outcome}; this answer may be only ${
          allowed.length === 0 ? "an error" : allowed.join(" or ")
        }`,
      );
    }
  });
}
