// @x/core-signing/testing: pieces the vendor simulators share.
export {
  connectionResetError,
  FaultSwitch,
  type Faults,
  OVERSIZED_BODY_BYTES,
  OVERSIZED_CHUNK_BYTES,
} from "./faults.ts";
