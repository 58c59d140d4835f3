// Derives the OpenAPI 3.1 document from the route declarations; runs at build time and in tests only.
import {
  type ConversionConfig,
  type JsonSchema,
  toJsonSchema,
  toJsonSchemaDefs,
} from "@valibot/to-json-schema";
import * as v from "valibot";
import packageJson from "../../package.json" with { type: "json" };
import { MAX_BODY_BYTES } from "../body.ts";
import { problemSchema } from "../http/problem-doc.ts";
import { REQUEST_ID } from "../http/request-id.ts";
import type { AnswerDoc, RouteDecl, RouteDoc } from "../http/route.ts";
import {
  KIND_STATUS,
  KIND_TITLE,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  type ProblemKind,
} from "../problem.ts";

/** What the routes do not say of the document. */
export interface DocumentInfo {
  /** The vendors' names for people, by name ("sdk-auth" -> "Huawei Cloud OneAccess"): their tags. */
  vendors?: Readonly<Record<string, string>>;
}

interface Reference {
  $ref: string;
}

interface Header {
  description: string;
  schema: JsonSchema;
}

interface MediaType {
  schema: JsonSchema;
  example?: unknown;
}

interface ResponseObject {
  description: string;
  headers?: Record<string, Header | Reference>;
  content?: Record<string, MediaType>;
}

interface Parameter {
  name: string;
  in: "header" | "path";
  required: boolean;
  description: string;
  schema: JsonSchema;
  example?: string;
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: Record<string, string[]>[];
  parameters: (Parameter | Reference)[];
  requestBody?: { required: true; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject | Reference>;
}

interface SecurityScheme {
  type: "http";
  scheme: "bearer";
  bearerFormat?: string;
  description: string;
}

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string; license: { name: string } };
  servers: { url: string; description: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<"get" | "post" | "delete", Operation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, Parameter>;
    headers: Record<string, Header>;
    securitySchemes?: Record<string, SecurityScheme>;
  };
}

/** The tags that are not a vendor's, with their description. */
const TAG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  "fan-out": "Several vendors in one call.",
  "universal-logout":
    "Identity providers end their users' vendor sessions: applications register the sessions, providers trigger their logout (OpenID Connect Back-Channel Logout, Shared Signals, Global Token Revocation). Served by the Bun, Deno and Node entries, and by the Worker built with universal logout (npm run deploy:universal-logout); the default Worker script leaves them out (404).",
  operations: "Health, this document, the reference page.",
};

const CALLER_AUTH: SecurityScheme = {
  type: "http",
  scheme: "bearer",
  description:
    "An API key whose SHA-256 is in PROXY_API_KEY_SHA256, or a user JWT (PROXY_JWKS_URL or HS256 PROXY_JWT_SECRET) whose sub is the request's username.",
};

/** The scheme of a vendor's own bearer token, named from its label: "FunGame" -> "funGameToken". */
function tokenScheme(label: string): string {
  const words = label.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0);
  const [first = "vendor", ...rest] = words;
  const tail = rest.map((word) => word[0]?.toUpperCase() + word.slice(1));
  return `${first[0]?.toLowerCase()}${first.slice(1)}${tail.join("")}Token`;
}

/** A route's security requirements, and the schemes they name. */
function securityOf(
  doc: RouteDoc,
  vendors: Readonly<Record<string, string>>,
): { requirements: Record<string, string[]>[]; schemes: [string, SecurityScheme][] } {
  switch (doc.security) {
    case "caller":
      return { requirements: [{ callerAuth: [] }], schemes: [["callerAuth", CALLER_AUTH]] };
    case "caller-optional":
      return { requirements: [{}, { callerAuth: [] }], schemes: [["callerAuth", CALLER_AUTH]] };
    case "vendor-token": {
      const label = (Object.hasOwn(vendors, doc.tag) ? vendors[doc.tag] : undefined) ?? doc.tag;
      const name = tokenScheme(label);
      const scheme: SecurityScheme = {
        type: "http",
        scheme: "bearer",
        ...(doc.tokenFormat === undefined ? {} : { bearerFormat: doc.tokenFormat }),
        description: `The caller's own ${label} token.`,
      };
      return { requirements: [{ [name]: [] }], schemes: [[name, scheme]] };
    }
    case "provider-token":
      return {
        requirements: [{ providerToken: [] }],
        schemes: [
          [
            "providerToken",
            {
              type: "http",
              scheme: "bearer",
              description:
                "The bearer token of a trusted identity provider (its SHA-256 is in UNIVERSAL_LOGOUT_SSF or UNIVERSAL_LOGOUT_GTR).",
            },
          ],
        ],
      };
    case "none":
      return { requirements: [], schemes: [] };
  }
}

const ref = (section: string, name: string): Reference => ({
  $ref: `#/components/${section}/${name}`,
});

const text = (description: string): Header => ({ description, schema: { type: "string" } });
const seconds = (description: string): Header => ({
  description,
  schema: { type: "integer", minimum: 0 },
});

/** The headers a problem of this status may carry, beyond X-Request-Id. */
const PROBLEM_HEADERS: Readonly<Record<number, Record<string, Header>>> = {
  401: { "WWW-Authenticate": text("The Bearer challenge.") },
  405: { Allow: text("The methods this path answers.") },
  409: { "Retry-After": seconds("Seconds until it may be sent again, when known.") },
  429: {
    "Retry-After": seconds(
      "Seconds until the caller may try again; on Workers an upper bound (the limit's window).",
    ),
    RateLimit: text(
      "The caller's remaining quota, e.g. `\"caller\";r=0;t=60`. Not sent on Workers: Cloudflare's binding does not tell.",
    ),
    "RateLimit-Policy": text('The per-caller limit, e.g. `"caller";q=120;w=60`.'),
  },
  503: { "Retry-After": seconds("Seconds, when the vendor or the proxy said.") },
};

/** What a problem's kinds do not say of its status. */
const PROBLEM_NOTES: Readonly<Record<number, string>> = {
  400: "`field` names the member or header at fault; `errors` lists every refused field.",
  413: `The body is over ${MAX_BODY_BYTES / 1024} KiB.`,
};

/** A Hono path pattern as an OpenAPI path template: ":id" -> "{id}", a trailing "*" -> its parameter. */
function templateOf(path: string, doc: RouteDoc): string {
  const declared = Object.keys(doc.params ?? {});
  const named = new Set<string>();
  const segments = path.split("/").map((segment) => {
    if (!segment.startsWith(":")) return segment;
    const name = segment.slice(1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new Error(`route ${path}: the path parameter "${segment}" is not a plain :name`);
    }
    named.add(name);
    return `{${name}}`;
  });
  const rest = declared.filter((name) => !named.has(name));
  if (segments.at(-1) === "*") {
    if (rest.length !== 1) {
      throw new Error(`route ${path}: declare exactly one parameter in doc.params for its "*"`);
    }
    segments[segments.length - 1] = `{${rest[0]}}`;
  } else if (rest.length > 0) {
    throw new Error(`route ${path}: doc.params names ${rest.join(", ")}, which the path has not`);
  }
  for (const name of named) {
    if (!declared.includes(name)) {
      throw new Error(`route ${path}: the path parameter :${name} has no entry in doc.params`);
    }
  }
  const template = segments.join("/");
  if (template.includes("*")) throw new Error(`route ${path}: "*" only as the last segment`);
  return template;
}

/** What a JSON Schema cannot say (v.check's function, v.trim): its message goes in the description. */
function describeCheck(schema: JsonSchema, message: unknown): JsonSchema {
  const note = typeof message === "string" ? message : "is checked beyond this schema";
  return { ...schema, description: schema.description ? `${schema.description}; ${note}` : note };
}

const CHECKS = new Set(["check", "raw_check", "partial_check"]);

/** Transformations that keep the value's type, by what they do to it. */
const KEPT_TYPE_TRANSFORMS: Readonly<Record<string, string>> = {
  trim: "trimmed",
  trim_start: "trimmed at the start",
  trim_end: "trimmed at the end",
  to_lower_case: "lower-cased",
  to_upper_case: "upper-cased",
  normalize: "Unicode-normalised",
};

type TypeMode = "input" | "output";

/** How valibot schemas become JSON Schema; `where` names the declaration in errors. */
function configOf(typeMode: TypeMode, where: string): ConversionConfig {
  return {
    target: "draft-2020-12",
    typeMode,
    overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
    overrideAction: ({ valibotAction, jsonSchema, errors }) => {
      if (errors === undefined) return undefined;
      if (CHECKS.has(valibotAction.type)) {
        return describeCheck(jsonSchema, "message" in valibotAction && valibotAction.message);
      }
      // A transformation that keeps the type (v.trim): the limits after it bind what it gives.
      const kept = KEPT_TYPE_TRANSFORMS[valibotAction.type];
      if (kept !== undefined)
        return describeCheck(jsonSchema, `${kept} before the limits that follow`);
      throw new Error(`${where}: ${errors.join(" ")}`);
    },
    overrideSchema: ({ errors }) => {
      if (errors !== undefined) throw new Error(`${where}: ${errors.join(" ")}`);
      return undefined;
    },
  };
}

/** A JSON Schema as the document holds it: the dialect is the document's, not declared per schema. */
function converted(schema: v.GenericSchema, typeMode: TypeMode, where: string): JsonSchema {
  const { $schema: _, ...json } = toJsonSchema(schema, configOf(typeMode, where));
  return json;
}

/**
 * The valibot schemas the document names (request bodies, answers). Requests are documented as the
 * caller sends them (before any transform), answers as the proxy sends them (after); a named schema
 * inside another of the same side becomes a reference.
 */
class Schemas {
  readonly #names = new Map<v.GenericSchema, string>();
  readonly #sides: Record<TypeMode, Map<string, v.GenericSchema>> = {
    input: new Map(),
    output: new Map(),
  };

  /** Names a schema (the first name given to it wins) and refers to it. */
  name(schema: v.GenericSchema, name: string, typeMode: TypeMode, where: string): Reference {
    let given = this.#names.get(schema);
    if (given === undefined) {
      if ([...this.#names.values()].includes(name)) throw new Error(`${where}: ${name} is taken`);
      this.#names.set(schema, name);
      given = name;
    }
    const side = this.#sides[typeMode];
    if (!side.has(given)) {
      // Converted alone first, so that what it cannot say is reported with where it is declared.
      converted(schema, typeMode, where);
      side.set(given, schema);
    }
    return ref("schemas", given);
  }

  /** Every named schema, by name, in the order they were named. */
  components(): Record<string, JsonSchema> {
    const sides = (["input", "output"] as const).map((typeMode) => {
      const definitions = Object.fromEntries(this.#sides[typeMode]);
      return toJsonSchemaDefs(definitions, configOf(typeMode, "named schemas"));
    });
    const components: Record<string, JsonSchema> = {};
    for (const name of this.#names.values()) {
      const [input, output] = sides.map((side) => side[name]);
      if (input !== undefined && output !== undefined) {
        if (JSON.stringify(input) !== JSON.stringify(output)) {
          throw new Error(
            `schema ${name} differs as a request and as an answer: declare each apart`,
          );
        }
      }
      const schema = input ?? output;
      if (schema !== undefined) components[name] = schema;
    }
    for (const side of sides) {
      for (const name of Object.keys(side)) {
        if (components[name] === undefined) {
          throw new Error(`schema ${name}: recursive (v.lazy) schemas are not documented`);
        }
      }
    }
    return components;
  }
}

const pascal = (operationId: string) => operationId[0]?.toUpperCase() + operationId.slice(1);

/** An example must be one the schema takes: a document whose examples are refused misleads. */
function checkExample(schema: v.GenericSchema, example: unknown, where: string): void {
  const parsed = v.safeParse(schema, example);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((item) => String(item.key)).join(".");
    throw new Error(
      `${where}: the example is refused${path ? ` at ${path}` : ""}: ${issue.message}`,
    );
  }
}

function problemResponseOf(status: number): ResponseObject {
  const kinds = PROBLEM_KINDS.filter((kind: ProblemKind) => KIND_STATUS[kind] === status);
  const titles = kinds.map((kind) => `${KIND_TITLE[kind]} (${kind})`).join(", ");
  const note = PROBLEM_NOTES[status];
  return {
    description: note === undefined ? `${titles}.` : `${titles}. ${note}`,
    headers: { "X-Request-Id": ref("headers", "RequestId"), ...PROBLEM_HEADERS[status] },
    content: { [PROBLEM_CONTENT_TYPE]: { schema: ref("schemas", "Problem") } },
  };
}

function answerOf(
  answer: AnswerDoc,
  schemas: Schemas,
  name: string,
  where: string,
): ResponseObject {
  const headers: Record<string, Header | Reference> = {
    "X-Request-Id": ref("headers", "RequestId"),
  };
  for (const [header, description] of Object.entries(answer.headers ?? {})) {
    headers[header] = text(description);
  }
  const response: ResponseObject = { description: answer.description, headers };
  const mediaType =
    answer.mediaType ?? (answer.schema === undefined ? undefined : "application/json");
  if (mediaType === undefined) {
    if (answer.example !== undefined) throw new Error(`${where}: an example without a body`);
    return response;
  }
  let schema: JsonSchema = { type: "string" };
  if (answer.schema !== undefined) {
    schema = schemas.name(answer.schema, name, "output", where);
    if (answer.example !== undefined) checkExample(answer.schema, answer.example, where);
  }
  response.content = {
    [mediaType]: answer.example === undefined ? { schema } : { schema, example: answer.example },
  };
  return response;
}

function operationOf(
  route: RouteDecl,
  doc: RouteDoc,
  schemas: Schemas,
  problems: Set<number>,
  vendors: Readonly<Record<string, string>>,
): Operation {
  const where = `${route.method} ${route.path}`;
  const parameters: (Parameter | Reference)[] = [ref("parameters", "RequestId")];
  for (const [name, param] of Object.entries(doc.params ?? {})) {
    parameters.push({
      name,
      in: "path",
      required: true,
      description: param.description,
      schema: converted(param.schema, "input", `${where} parameter ${name}`),
    });
  }
  for (const [name, header] of Object.entries(doc.headers ?? {})) {
    if (/^(authorization|x-request-id|content-type)$/i.test(name)) {
      throw new Error(`${where}: ${name} is documented by the generator, not per route`);
    }
    parameters.push({
      name,
      in: "header",
      required: false,
      description: header.description,
      schema: { type: "string" },
      ...(header.example === undefined ? {} : { example: header.example }),
    });
  }
  const operation: Operation = {
    operationId: doc.operationId,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    tags: [doc.tag],
    security: securityOf(doc, vendors).requirements,
    parameters,
    responses: {},
  };
  const base = pascal(doc.operationId);
  if (doc.body !== undefined) {
    const schema = schemas.name(doc.body.schema, `${base}Request`, "input", `${where} body`);
    if (doc.body.example !== undefined)
      checkExample(doc.body.schema, doc.body.example, `${where} body`);
    operation.requestBody = {
      required: true,
      content: {
        [doc.body.mediaType ?? "application/json"]:
          doc.body.example === undefined ? { schema } : { schema, example: doc.body.example },
      },
    };
  }
  const statuses = Object.keys(doc.answers).map(Number);
  for (const status of statuses) {
    const answer = doc.answers[status];
    if (answer === undefined) continue;
    const name = status === statuses[0] ? `${base}Answer` : `${base}Answer${status}`;
    operation.responses[String(status)] = answerOf(answer, schemas, name, `${where} ${status}`);
  }
  // Every route checks X-Request-Id, so every route may refuse it; a route whose 400 is its own
  // answer (a specification's error body) says so in that answer.
  const statusesOfProblems = new Set([
    ...(doc.answers[400] === undefined ? [400] : []),
    ...doc.problems,
  ]);
  const known = new Set(Object.values(KIND_STATUS));
  for (const status of [...statusesOfProblems].sort((a, b) => a - b)) {
    if (!known.has(status)) throw new Error(`${where}: no problem kind has status ${status}`);
    if (doc.answers[status] !== undefined) {
      throw new Error(`${where}: ${status} is both an answer and a problem`);
    }
    problems.add(status);
    operation.responses[String(status)] = ref("responses", `Problem${status}`);
  }
  return operation;
}

/** The OpenAPI 3.1 document of these routes. Throws, naming the route, at any inconsistency. */
export function generateOpenApi(
  routes: readonly RouteDecl[],
  info: DocumentInfo = {},
): OpenApiDocument {
  const vendors = info.vendors ?? {};
  const schemas = new Schemas();
  const problems = new Set<number>();
  const paths: OpenApiDocument["paths"] = {};
  const tags = new Map<string, string>();
  const operationIds = new Set<string>();
  const security = new Map<string, SecurityScheme>();
  // Named first: every problem response, and a fan-out's failed members, refer to it.
  schemas.name(problemSchema(Object.keys(vendors)), "Problem", "output", "the problem document");
  for (const route of routes) {
    const doc = route.doc;
    if (doc === undefined) {
      throw new Error(`${route.method} ${route.path}: no documentation (built without DOCS?)`);
    }
    if (!/^[a-z][A-Za-z0-9]*$/.test(doc.operationId)) {
      throw new Error(
        `${route.method} ${route.path}: operationId ${doc.operationId} is not camelCase`,
      );
    }
    if (operationIds.has(doc.operationId)) {
      throw new Error(`${route.method} ${route.path}: operationId ${doc.operationId} is taken`);
    }
    operationIds.add(doc.operationId);
    const description = TAG_DESCRIPTIONS[doc.tag] ?? vendors[doc.tag];
    if (description === undefined) {
      throw new Error(
        `${route.method} ${route.path}: tag ${doc.tag} is no vendor's (info.vendors)`,
      );
    }
    tags.set(doc.tag, description);
    const template = templateOf(route.path, doc);
    const method = route.method === "GET" ? "get" : route.method === "DELETE" ? "delete" : "post";
    const item = paths[template] ?? {};
    if (item[method] !== undefined)
      throw new Error(`${route.method} ${route.path} is declared twice`);
    item[method] = operationOf(route, doc, schemas, problems, vendors);
    paths[template] = item;
    for (const [name, scheme] of securityOf(doc, vendors).schemes) security.set(name, scheme);
  }
  const labels = Object.values(vendors);
  const front =
    labels.length === 0
      ? "the vendors' logout APIs"
      : labels.length === 1
        ? labels[0]
        : `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}`;
  return {
    openapi: "3.1.0",
    info: {
      title: "Edge logout proxy",
      version: packageJson.version,
      description: `One HTTP API in front of ${front}. The proxy holds the vendor secrets, signs, forwards, retries, fans out and keeps, at the edge, the revocations a vendor forgets when it restarts. Every error is an RFC 9457 problem document (${PROBLEM_CONTENT_TYPE}). Every answer carries X-Request-Id and Server-Timing. PROXY_RATE_LIMIT: a per-caller limit.`,
      license: { name: packageJson.license },
    },
    servers: [{ url: "/", description: "this proxy" }],
    tags: [...tags].map(([name, description]) => ({ name, description })),
    paths,
    components: {
      schemas: schemas.components(),
      responses: Object.fromEntries(
        [...problems]
          .sort((a, b) => a - b)
          .map((status) => [`Problem${status}`, problemResponseOf(status)]),
      ),
      parameters: {
        RequestId: {
          name: "X-Request-Id",
          in: "header",
          required: false,
          description:
            "Your id for this request; one is generated otherwise. Returned in X-Request-Id and in every problem; one the pattern refuses is a 400 problem.",
          schema: { type: "string", pattern: REQUEST_ID.source },
        },
      },
      headers: {
        RequestId: text("The request's id: the caller's X-Request-Id, or a generated one."),
      },
      ...(security.size === 0
        ? {}
        : {
            securitySchemes: Object.fromEntries(security),
          }),
    },
  };
}

/** The document as public/openapi.json holds it. */
export function documentOf(routes: readonly RouteDecl[], info?: DocumentInfo): string {
  return `${JSON.stringify(generateOpenApi(routes, info))}\n`;
}
