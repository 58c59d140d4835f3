// Every route of the proxy, declared once, in the order the OpenAPI document lists them: the
// vendors' own, the fan-out's and the operations routes. The app registers them (and answers 405 on
// their paths for other methods); the OpenAPI document is generated from them at build time.
import type { DocumentInfo } from "../openapi/generate.ts";
import { fanOutRoutes } from "../routes/fan-out.ts";
import { operationsRoutes } from "../routes/operations.ts";
import { universalLogoutRoutes } from "../routes/universal-logout.ts";
import type { AnyVendor } from "../vendors/descriptor.ts";
import { VENDORS } from "../vendors/index.ts";
import type { RouteDecl } from "./route.ts";

export function allRoutes(vendors: readonly AnyVendor[] = VENDORS): readonly RouteDecl[] {
  return [
    ...vendors.flatMap((vendor) => vendor.routes),
    ...fanOutRoutes(vendors),
    ...(globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ !== false ? universalLogoutRoutes(vendors) : []),
    ...operationsRoutes,
  ];
}

/** What the document says beyond the routes: each vendor's name for people, by name. */
export function documentInfo(vendors: readonly AnyVendor[] = VENDORS): DocumentInfo {
  return { vendors: Object.fromEntries(vendors.map((vendor) => [vendor.name, vendor.label])) };
}
