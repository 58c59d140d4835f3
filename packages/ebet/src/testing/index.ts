// @x/ebet/testing: a faithful eBET simulator for tests, local runs and users' own CI.
export { EBET_TEST_PRIVATE_KEY, EBET_TEST_PUBLIC_KEY } from "./keys.ts";
export { type EbetKitSession, proxyKit } from "./kit.ts";
export {
  createEbetSimulator,
  EbetSimulator,
  type EbetSimulatorOptions,
  type SimulatorCall,
  type SimulatorChannelInit,
  type SimulatorUser,
  type SimulatorUserInit,
} from "./simulator.ts";
