// The vendors of the proxy: the one list that routes, configuration, fan-out, outbox delivery,
// redaction, the OpenAPI document, `npm start`, the bench, the load run and the size check follow.
import type { AnyVendor } from "./descriptor.ts";
import { ebet } from "./ebet.ts";
import { fungame } from "./fungame.ts";
import { lancens } from "./lancens.ts";
import { sdkAuth } from "./sdk-auth.ts";

export const VENDORS: readonly AnyVendor[] = [ebet, fungame, sdkAuth, lancens];

export type { AnyVendor, VendorDescriptor, VendorSuccess } from "./descriptor.ts";
