// Field schemas of request bodies: bounded text, and values the proxy sends on as HTTP headers.
import * as v from "valibot";

/** A non-empty string of at most `max` characters. */
export function text(max: number) {
  return v.pipe(
    v.string(),
    v.minLength(1, "must not be empty"),
    v.maxLength(max, `must be at most ${max} characters`),
  );
}

/** A value the proxy sends on as an HTTP header: CR or LF would split the header, NUL end it. */
export function headerValue(max: number) {
  return v.pipe(
    text(max),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    v.regex(/^[^\x00-\x1f\x7f]*$/, "must not contain CR or LF or other control characters"),
  );
}
