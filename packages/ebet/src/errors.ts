// EbetError: the one error type every eBET failure is reported as, on the shared VendorError contract.
import {
  defineVendor,
  KeyFormatError,
  VendorError,
  type VendorErrorInit,
  type VendorKit,
} from "@x/core-signing";
import { type EbetStatusInfo, ebetStatus } from "./status.ts";

export const VENDOR = "ebet";

export type EbetErrorInit = Omit<VendorErrorInit, "vendor">;

/**
 * Any failure of an eBET call. `code` is eBET's numeric status when eBET answered with one
 * (4026, 4037…), otherwise one of ours: INVALID_INPUT, BAD_RESPONSE, REDIRECT, HTTP_<n>, TIMEOUT,
 * NETWORK_ERROR.
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

/** The shared call machinery (option checks, deadline, bounded reads) failing with EbetErrors. */
export const ebet: VendorKit<EbetError> = defineVendor(VENDOR, (init) => new EbetError(init));

/** A caller's input refused before any request is made; `field` names the culprit. */
export const invalidEbetInput: (field: string, message: string) => EbetError = ebet.invalidInput;

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
