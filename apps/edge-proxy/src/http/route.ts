// A route declared once: its method, path, handler and, for the OpenAPI document generated at build
// time, its documentation (summary, body, answers, problems). Each route writes its documentation
// as `globalThis.__EDGE_PROXY_DOCS__ !== false ? {...} : undefined`: the Worker is built with that
// global defined as false (wrangler.toml [define]), so the documentation and every schema only it
// uses are compiled out of the Worker's script, which serves the generated openapi.json as a file.
import type * as v from "valibot";
import type { ProxyContext, RouteContext } from "../context.ts";

declare global {
  /** False in the Worker's build only: route documentation is left out of its script. */
  var __EDGE_PROXY_DOCS__: false | undefined;
  /** False in the Worker's build only: universal logout is left out of its script. */
  var __EDGE_PROXY_UNIVERSAL_LOGOUT__: false | undefined;
}

export type Method = "GET" | "POST" | "DELETE";

/** Who may call a route, as the OpenAPI document's security requirement says it. */
export type RouteSecurity =
  /** Proxy caller credentials (API key or user JWT) are required. */
  | "caller"
  /** Proxy caller credentials are optional (they own what the request creates). */
  | "caller-optional"
  /** The caller's own token of the route's vendor (its tag) in Authorization is the credential. */
  | "vendor-token"
  /** A trusted identity provider's bearer token (Shared Signals, Global Token Revocation). */
  | "provider-token"
  /** No credential: the body carries the vendor's own session credential, or nothing is needed. */
  | "none";

/** One answer of a route other than a problem. */
export interface AnswerDoc {
  description: string;
  /** The JSON body's schema; absent for a body that is not JSON (or none). */
  schema?: v.GenericSchema;
  /** A media type other than application/json (e.g. text/html). */
  mediaType?: string;
  /** Response headers this answer carries, by name, with their description. */
  headers?: Readonly<Record<string, string>>;
  example?: unknown;
}

export interface RouteDoc {
  /** A unique, stable name (camelCase): the OpenAPI operationId. */
  operationId: string;
  /** The tag: the vendor's name, "fan-out" or "operations". */
  tag: string;
  summary: string;
  description?: string;
  security: RouteSecurity;
  /** With "vendor-token": the token's format (OpenAPI's bearerFormat), e.g. "JWT". */
  tokenFormat?: string;
  /**
   * The JSON request body; absent when the route takes none. `fields` describes its members by
   * dot path ("device.ip"): the runtime schemas carry no descriptions.
   */
  body?: {
    schema: v.GenericSchema;
    example?: unknown;
    fields?: Readonly<Record<string, string>>;
    /** A media type other than application/json (a form, a Security Event Token). */
    mediaType?: string;
  };
  /** Request headers the route reads beyond Authorization and X-Request-Id. */
  headers?: Readonly<Record<string, { description: string; example?: string }>>;
  /** Path parameters, by name (":id" in the path), with their schema. */
  params?: Readonly<Record<string, { description: string; schema: v.GenericSchema }>>;
  /** Every answer that is not a problem, by status. */
  answers: Readonly<Record<number, AnswerDoc>>;
  /** The statuses of the problems (application/problem+json) this route may answer. */
  problems: readonly number[];
}

/** A route's handler, given the app's context; the app's middleware adds the common headers. */
export type Handler = (c: ProxyContext, ctx: RouteContext) => Response | Promise<Response>;

export interface RouteDecl {
  method: Method;
  /** Hono's pattern: "/v1/logout/:id". */
  path: string;
  handle: Handler;
  /** Undefined in the Worker's script (see __EDGE_PROXY_DOCS__). */
  doc: RouteDoc | undefined;
}
