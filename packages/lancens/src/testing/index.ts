// @x/lancens/testing: a Lancens simulator for tests, local development and CI.

export { type LancensKitSession, proxyKit } from "./kit.ts";
export {
  createLancensSimulator,
  DEFAULT_SIMULATOR_USER,
  type FailNextOptions,
  LancensSimulator,
  type LancensSimulatorOptions,
  type LoginAnswer,
  type SimulatorBehaviour,
  type SimulatorCall,
  type SimulatorRoute,
} from "./simulator.ts";
export type { PushTokenKind, PushTokenRecord, SimulatorUser } from "./state.ts";
