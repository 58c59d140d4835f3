// Every route of the proxy, declared once: the vendors' own, the fan-out's and the operations
// routes. The app registers them (and answers 405 on their paths for other methods); the OpenAPI
// document is generated from them at build time.
import { fanOutRoutes } from "../routes/fan-out.ts";
import type { AnyVendor } from "../vendors/descriptor.ts";
import { VENDORS } from "../vendors/index.ts";
import type { RouteDecl } from "./route.ts";

export function allRoutes(vendors: readonly AnyVendor[] = VENDORS): readonly RouteDecl[] {
  return [...vendors.flatMap((vendor) => vendor.routes), ...fanOutRoutes(vendors)];
}
