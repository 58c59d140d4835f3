// @x/core-signing/testing: pieces the vendor simulators share.
export { FaultSwitch, type Faults } from "./faults.ts";
