// The request bodies as valibot schemas: unknown members refused, header-bound values without controls.
import * as v from "valibot";

function text(max: number) {
  return v.pipe(
    v.string(),
    v.minLength(1, "must not be empty"),
    v.maxLength(max, `must be at most ${max} characters`),
  );
}

/** A value the proxy sends on as an HTTP header: CR or LF would split the header, NUL end it. */
function headerValue(max: number) {
  return v.pipe(
    text(max),
    v.check((value) => !/[\r\n]/.test(value), "must not contain CR or LF"),
    v.check(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
      (value) => !/[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]/.test(value),
      "must not contain control characters",
    ),
  );
}

export const EbetLogoutBody = v.strictObject({
  username: text(64),
});

export const EbetCallbackBody = v.strictObject({
  username: text(64),
  accessToken: headerValue(1024),
  subChannelId: v.optional(
    v.pipe(
      v.number(),
      v.integer("must be a whole number"),
      v.minValue(0, "must not be negative"),
      v.maxValue(Number.MAX_SAFE_INTEGER, "is too large"),
    ),
  ),
});

export const FunGameMember = v.strictObject({
  token: headerValue(8192),
});

export const SdkAuthBody = v.strictObject({
  sessionToken: headerValue(4096),
  device: v.strictObject({
    osVersion: headerValue(256),
    fingerprint: headerValue(256),
    agent: headerValue(1024),
    ip: v.optional(headerValue(64)),
    language: v.optional(headerValue(64)),
  }),
});

export const LancensBody = v.strictObject({
  username: text(256),
  token: headerValue(4096),
});

export const FanOutBody = v.pipe(
  v.strictObject({
    ebet: v.optional(EbetLogoutBody),
    fungame: v.optional(FunGameMember),
    sdkAuth: v.optional(SdkAuthBody),
    lancens: v.optional(LancensBody),
  }),
  v.check(
    (body) => Object.values(body).some((member) => member !== undefined),
    "must name at least one vendor: ebet, fungame, sdkAuth or lancens",
  ),
);

export type EbetLogoutInput = v.InferOutput<typeof EbetLogoutBody>;
export type EbetCallbackInput = v.InferOutput<typeof EbetCallbackBody>;
export type SdkAuthInput = v.InferOutput<typeof SdkAuthBody>;
export type LancensInput = v.InferOutput<typeof LancensBody>;
export type FanOutInput = v.InferOutput<typeof FanOutBody>;
