// @x/core-signing/testing: pieces the vendor simulators share.
export {
  connectionResetError,
  FaultSwitch,
  type Faults,
  OVERSIZED_BODY_BYTES,
  OVERSIZED_CHUNK_BYTES,
} from "./faults.ts";
export type {
  KitAudit,
  KitRecordCheck,
  KitRequest,
  KitSessionOptions,
  KitSimulator,
  KitStartOptions,
  ProxyKit,
} from "./kit.ts";
export { kitCapacity, kitCount, kitRequestOf, kitTally, sendKitRequests } from "./kit.ts";
