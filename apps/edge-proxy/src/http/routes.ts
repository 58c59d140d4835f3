// Every route the proxy declares, in the order the OpenAPI document lists them.
import type { DocumentInfo } from "../openapi/generate.ts";
import { operationsRoutes } from "../routes/operations.ts";
import type { RouteDecl } from "./route.ts";

/** The declared routes; each vendor's routes and the fan-out routes join the operations routes here. */
export function allRoutes(): readonly RouteDecl[] {
  return [...operationsRoutes];
}

/** What the document says beyond the routes: each vendor's name for people, by name. */
export function documentInfo(): DocumentInfo {
  return { vendors: {} };
}
