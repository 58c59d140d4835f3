// EbetError: the one error type every eBET failure is reported as, on the shared VendorError contract.
import { KeyFormatError, VendorError, type VendorErrorInit } from "@x/core-signing";
import { type EbetStatusInfo, ebetStatus } from "./status.ts";

export const VENDOR = "ebet";

export type EbetErrorInit = Omit<VendorErrorInit, "vendor">;

/**
 * Any failure of an eBET call. `code` is eBET's numeric status when eBET answered with one
 * (4026, 4037…), otherwise one of ours: INVALID_INPUT, BAD_RESPONSE, HTTP_<n>, TIMEOUT, NETWORK_ERROR.
 */
export class EbetError extends VendorError {
  override name = "EbetError";

  constructor(init: EbetErrorInit) {
    super({ ...init, vendor: VENDOR });
  }

  /** The status-table entry when `code` is an eBET status, else undefined. */
  get statusInfo(): EbetStatusInfo | undefined {
    return typeof this.code === "number" ? ebetStatus(this.code) : undefined;
  }
}

/** A caller's input refused before any request is made; `field` names the culprit. */
export function invalidEbetInput(field: string, message: string): EbetError {
  return new EbetError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    field,
    message: `${field}: ${message}`,
  });
}

/** An answer eBET should not have given: unreadable, not JSON, or missing what the call needs. */
export function badEbetAnswer(message: string, upstreamStatus: number, cause?: unknown): EbetError {
  return new EbetError({
    code: "BAD_RESPONSE",
    kind: "upstream",
    message,
    upstreamStatus,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Re-types a shared VendorError (timeout, network failure, bounded-read failure) as an EbetError. */
export function toEbetError(error: unknown): unknown {
  if (error instanceof EbetError || !(error instanceof VendorError)) return error;
  return new EbetError({
    code: error.code,
    kind: error.kind,
    message: error.message,
    retryable: error.retryable,
    ...(error.upstreamStatus === undefined ? {} : { upstreamStatus: error.upstreamStatus }),
    ...(error.field === undefined ? {} : { field: error.field }),
    cause: error,
  });
}

/** Runs a core-signing validator, reporting its refusal as an EbetError. */
export function ebetCheck<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw toEbetError(error);
  }
}

/** A private key that cannot be imported, refused with a message that says why but quotes none of it. */
export function keyRefused(error: unknown): EbetError {
  const reason =
    error instanceof KeyFormatError
      ? error.message.replace(/invalid character "[^"]*"/g, "an invalid character")
      : "cannot be imported";
  return new EbetError({
    code: "INVALID_INPUT",
    kind: "invalid_request",
    field: "privateKey",
    message: `privateKey: ${reason}`,
    cause: error,
  });
}
