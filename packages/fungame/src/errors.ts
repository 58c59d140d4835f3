// FunGameError: the one error type of this package, a VendorError with vendor "fungame".
import { defineVendor, VendorError, type VendorErrorInit, type VendorKit } from "@x/core-signing";

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
    return fungame.adopt(error);
  }
}

/** The shared call machinery (option checks, deadline, bounded reads) failing with FunGameErrors. */
export const fungame: VendorKit<FunGameError> = defineVendor(
  VENDOR,
  (init) => new FunGameError(init),
);

export function isFunGameError(value: unknown): value is FunGameError {
  return value instanceof FunGameError;
}

/** A caller's input refused before any request; `field` names the culprit, the value is never echoed. */
export function invalidInput(field: string, message: string): FunGameError {
  return fungame.invalidInput(field, message);
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
