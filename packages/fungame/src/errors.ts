// FunGameError: the one error type of this package, a VendorError with vendor "fungame".
import { VendorError, type VendorErrorInit } from "@x/core-signing";

/** The vendor name every FunGame error carries. */
export const VENDOR = "fungame";

/**
 * Any failure of a FunGame call or token check: refused input (`invalid_request`, with `field`),
 * a refused or revoked token (`unauthorized`), an unusable answer (`upstream`), a timeout or
 * network failure (`unavailable`), a wrong base URL (`misconfigured`).
 */
export class FunGameError extends VendorError {
  override name = "FunGameError";

  constructor(init: Omit<VendorErrorInit, "vendor">) {
    super({ ...init, vendor: VENDOR });
  }

  /** The same failure as a FunGameError: core-signing's errors (timeouts, unreadable bodies) keep every field. */
  static from(error: VendorError): FunGameError {
    if (error instanceof FunGameError) return error;
    const init: Omit<VendorErrorInit, "vendor"> = {
      code: error.code,
      kind: error.kind,
      message: error.message,
      retryable: error.retryable,
      cause: error.cause ?? error,
    };
    if (error.upstreamStatus !== undefined) init.upstreamStatus = error.upstreamStatus;
    if (error.field !== undefined) init.field = error.field;
    return new FunGameError(init);
  }
}

export function isFunGameError(value: unknown): value is FunGameError {
  return value instanceof FunGameError;
}

/** A caller's input refused before any request; `field` names the culprit, the value is never echoed. */
export function invalidInput(field: string, message: string): FunGameError {
  return new FunGameError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    field,
    message: `${field}: ${message}`,
  });
}

/** Runs `fn`, turning core-signing's VendorErrors into FunGameErrors; anything else passes through. */
export function asFunGameError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof VendorError) throw FunGameError.from(error);
    throw error;
  }
}
