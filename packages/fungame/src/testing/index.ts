// @x/fungame/testing: a faithful in-memory FunGame WebAPI server for tests, demos and CI.

export { FaultSwitch, type Faults } from "@x/core-signing/testing";
export { type FunGameKitSession, proxyKit } from "./kit.ts";
export {
  createFunGameSimulator,
  DEFAULT_SIMULATOR_JWT_KEY,
  DEFAULT_SIMULATOR_USERS,
  type FunGameSimulator,
  type FunGameSimulatorOptions,
  type FunGameSimulatorState,
  type PayloadCasing,
  type SimulatorCall,
} from "./simulator.ts";
