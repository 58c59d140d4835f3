// @x/sdk-auth/testing: a OneAccess SDK simulator for tests, local runs and users' own CI.
export { FaultSwitch, type Faults } from "@x/core-signing/testing";
export { ONEACCESS_CODES } from "../codes.ts";
export { type OneAccessKitSession, proxyKit } from "./kit.ts";
export {
  createOneAccessSimulator,
  type OneAccessSimulator,
  type OneAccessSimulatorOptions,
  type PublicKeyFormat,
  type ResolvedSimulatorOptions,
  type SignedFields,
  type SimulatorCall,
  type SimulatorSession,
  type SimulatorState,
} from "./simulator.ts";
