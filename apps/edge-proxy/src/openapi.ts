// The OpenAPI 3.1 document of the whole HTTP API, as a typed object served at /openapi.json.
import { KIND_STATUS, PROBLEM_KINDS } from "./problem.ts";

/** The parts of JSON Schema 2020-12 this document uses. */
export interface JsonSchema {
  $ref?: string;
  type?: "object" | "string" | "integer" | "number" | "boolean" | "array" | "null" | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly unknown[];
  const?: unknown;
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  pattern?: string;
  format?: string;
  examples?: unknown[];
}

interface MediaType {
  schema: JsonSchema;
  example?: unknown;
}

interface ResponseObject {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, MediaType>;
}

interface Reference {
  $ref: string;
}

interface Parameter {
  name: string;
  in: "header" | "query" | "path";
  required?: boolean;
  description: string;
  schema: JsonSchema;
}

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  parameters?: (Parameter | Reference)[];
  requestBody?: { required: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseObject | Reference>;
}

type PathItem = Partial<Record<"get" | "post", Operation>>;

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string; license: { name: string } };
  servers: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    parameters: Record<string, Parameter>;
    securitySchemes: Record<
      string,
      { type: "http"; scheme: "bearer"; bearerFormat?: string; description: string }
    >;
  };
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string): Reference => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JsonSchema, example?: unknown): Record<string, MediaType> => ({
  "application/json": example === undefined ? { schema } : { schema, example },
});

const headerValue = (description: string, maxLength: number): JsonSchema => ({
  type: "string",
  minLength: 1,
  maxLength,
  pattern: "^[^\\x00-\\x1f\\x7f]*$",
  description: `${description} Sent as a header: control characters are refused.`,
});

function success(vendor: string, result: JsonSchema): JsonSchema {
  return {
    type: "object",
    required: ["vendor", "ok", "alreadyLoggedOut", "result"],
    properties: {
      vendor: { const: vendor },
      ok: { const: true },
      alreadyLoggedOut: {
        type: "boolean",
        description: "True when the session was already gone: the logout is done either way.",
      },
      result,
    },
  };
}

/** Problems every body-taking route may answer. */
const bodyProblems = {
  "400": response("InvalidRequest"),
  "413": response("PayloadTooLarge"),
  "415": response("UnsupportedMediaType"),
};

/** Problems any vendor call may answer. */
const upstreamProblems = {
  "404": response("NotFound"),
  "429": response("RateLimited"),
  "500": response("Misconfigured"),
  "502": response("UpstreamError"),
  "503": response("Unavailable"),
};

const requestIdParameter = { $ref: "#/components/parameters/RequestId" };

const problemExample = {
  type: "urn:x-edge-proxy:problem:unavailable",
  title: "Vendor unavailable",
  status: 503,
  detail: "ebet did not answer within 5000 ms",
  vendor: "ebet",
  code: "TIMEOUT",
  kind: "unavailable",
  retryable: true,
  upstreamStatus: null,
  requestId: "0b6f6a56-3f0e-4a53-9a55-2d2b1f0c9a11",
};

function problemResponse(
  description: string,
  extraHeaders?: ResponseObject["headers"],
): ResponseObject {
  return {
    description,
    headers: {
      "X-Request-Id": { description: "The request id.", schema: { type: "string" } },
      ...extraHeaders,
    },
    content: { "application/problem+json": { schema: ref("Problem") } },
  };
}

export const openApiDocument: OpenApiDocument = {
  openapi: "3.1.0",
  info: {
    title: "Edge logout proxy",
    version: "0.1.0",
    description:
      "One HTTP API in front of eBET, FunGame, Huawei Cloud OneAccess and Lancens. The proxy holds the vendor secrets, signs, forwards, retries, fans out and keeps the FunGame deny-list. Every error is an RFC 9457 problem document (application/problem+json). Every answer carries X-Request-Id and Server-Timing. PROXY_RATE_LIMIT: a per-caller limit.",
    license: { name: "MIT" },
  },
  servers: [{ url: "/", description: "this proxy" }],
  tags: [
    { name: "ebet", description: "eBET channel calls; need an API key or the user's own JWT." },
    {
      name: "fungame",
      description: "FunGame WebAPI; the caller's FunGame token is the credential.",
    },
    {
      name: "sdk-auth",
      description: "Huawei Cloud OneAccess SDK; the session token is the credential.",
    },
    { name: "lancens", description: "Lancens; the login token is the credential." },
    { name: "fan-out", description: "Several vendors in one call." },
    { name: "operations", description: "Health, this document, the reference page." },
  ],
  paths: {
    "/v1/ebet/logout": {
      post: {
        operationId: "ebetLogout",
        summary: "Make a player leave eBET's game",
        description:
          "Signs and sends eBET's logout (MD5withRSA). A username eBET does not know is a 404 problem (eBET 4037), never an already-done logout.",
        tags: ["ebet"],
        security: [{ callerAuth: [] }],
        parameters: [requestIdParameter],
        requestBody: {
          required: true,
          content: json(ref("EbetLogoutRequest"), { username: "player01" }),
        },
        responses: {
          "200": {
            description: "eBET logged the player out.",
            content: json(success("ebet", ref("EbetLogoutResult"))),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          "403": response("Forbidden"),
          ...upstreamProblems,
        },
      },
    },
    "/v1/ebet/callback": {
      post: {
        operationId: "ebetCallback",
        summary: "Tell eBET the channel has logged a player in; get the account",
        description:
          "Sent at most once: after a timeout, 5xx or broken answer it is not retried and stays refused (409) for 300 s, or the deadline + 30 s if later; that problem and the 409 carry Retry-After, the seconds left. Only an eBET refusal (e.g. 4026, 4038) frees it.",
        tags: ["ebet"],
        security: [{ callerAuth: [] }],
        parameters: [requestIdParameter],
        requestBody: {
          required: true,
          content: json(ref("EbetCallbackRequest"), {
            username: "player01",
            accessToken: "584c26e798deffc96cc7af073c184cd0",
          }),
        },
        responses: {
          "200": {
            description: "The player's eBET account and wallets.",
            content: json(success("ebet", ref("EbetAccount"))),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          "403": response("Forbidden"),
          "409": response("Replayed"),
          ...upstreamProblems,
        },
      },
    },
    "/v1/fungame/logout": {
      post: {
        operationId: "fungameLogout",
        summary: "Log a FunGame token out and deny-list it until it expires",
        description:
          "The token in Authorization is the credential. The token is claimed for this request first: another logout of it meanwhile is a 409 LOGOUT_IN_PROGRESS; a claim the deny-list cannot take is a 503 DENY_LIST_UNAVAILABLE, without calling FunGame. A token on the deny-list is done already (alreadyLoggedOut, result { denyListed: true }) without calling FunGame. After a logout FunGame accepted, the jti is kept until exp + 300 s. An exp over 2100 s ahead is a 401 TOKEN_EXP_TOO_FAR; a token without a jti of 1–256 characters or a whole-second exp a 401 TOKEN_CLAIM_INVALID.",
        tags: ["fungame"],
        security: [{ funGameToken: [] }],
        parameters: [requestIdParameter],
        responses: {
          "200": {
            description: "FunGame logged the session out, or it was already gone.",
            content: json(success("fungame", ref("FunGameLogoutResult"))),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          "409": response("LogoutInProgress"),
          ...upstreamProblems,
        },
      },
    },
    "/v1/fungame/token-status": {
      get: {
        operationId: "fungameTokenStatus",
        summary: "Whether a FunGame token is still usable",
        description:
          'Answered at the edge, without calling FunGame. With FUNGAME_JWT_SECRET the token is verified (300 s skew); without it an active answer says reason "unverified". A logout in flight is not "revoked".',
        tags: ["fungame"],
        security: [{ funGameToken: [] }],
        parameters: [requestIdParameter],
        responses: {
          "200": {
            description: "The token's status.",
            content: json(ref("TokenStatus"), { active: false, reason: "revoked" }),
          },
          "400": response("InvalidRequest"),
          "401": response("Unauthorized"),
          "404": response("NotFound"),
          "429": response("RateLimited"),
          "503": response("Unavailable"),
        },
      },
    },
    "/v1/sdk-auth/logout": {
      post: {
        operationId: "sdkAuthLogout",
        summary: "End a Huawei Cloud OneAccess SDK session",
        description:
          "Signs the logout with the application's RSA-OAEP X-signature. An unknown or expired session is a 401 problem (APP.0007): OneAccess does not report already-done logouts.",
        tags: ["sdk-auth"],
        parameters: [requestIdParameter],
        requestBody: {
          required: true,
          content: json(ref("SdkAuthLogoutRequest"), {
            sessionToken: "k3Jx0S5sa1Xyq9F2",
            device: {
              osVersion: "Android 14",
              fingerprint: "156aysdna213sc50",
              agent: "MyApp/2.1",
            },
          }),
        },
        responses: {
          "200": {
            description: "OneAccess ended the session.",
            content: json(success("sdk-auth", ref("SdkAuthLogoutResult"))),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          ...upstreamProblems,
        },
      },
    },
    "/v1/lancens/logout": {
      post: {
        operationId: "lancensLogout",
        summary: "Clear both Lancens push tokens, then log out",
        description:
          "Three steps in order: ring push token, message push token, logout. A failed push-token step does not stop the logout (Lancens deletes push tokens at logout) and shows in its step. A failed logout step is a problem with the steps under `steps`.",
        tags: ["lancens"],
        parameters: [requestIdParameter],
        requestBody: {
          required: true,
          content: json(ref("LancensLogoutRequest"), {
            username: "lancens-user",
            token: "e3b0c442",
          }),
        },
        responses: {
          "200": {
            description: "The three step outcomes.",
            content: json(success("lancens", ref("LancensSteps"))),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          ...upstreamProblems,
        },
      },
    },
    "/v1/logout": {
      post: {
        operationId: "logoutEverywhere",
        summary: "Log out of several vendors at once",
        description:
          "Each member is the body of that vendor's route (fungame: { token }). All named vendors are called concurrently. 200 when all succeed, 207 with per-vendor results when some fail. An `ebet` member needs caller auth, checked before any vendor is called. `Prefer: respond-async`: 202, then delivery with retries; the job belongs to the credential presented, if any. Open jobs are capped per caller (429 TOO_MANY_OPEN_JOBS) and in all (503 OUTBOX_FULL).",
        tags: ["fan-out"],
        security: [{}, { callerAuth: [] }],
        parameters: [
          requestIdParameter,
          {
            name: "Prefer",
            in: "header",
            required: false,
            description: "RFC 7240: `respond-async` asks for a 202; other preferences are ignored.",
            schema: { type: "string", examples: ["respond-async"] },
          },
        ],
        requestBody: { required: true, content: json(ref("FanOutRequest")) },
        responses: {
          "200": { description: "Every vendor succeeded.", content: json(ref("FanOutResponse")) },
          "202": {
            description: "Accepted (Prefer: respond-async).",
            headers: {
              Location: {
                description: "/v1/logout/{id}",
                schema: { type: "string" },
              },
              "Preference-Applied": {
                description: "respond-async",
                schema: { type: "string" },
              },
            },
            content: json(ref("LogoutJob")),
          },
          "207": {
            description: "Some vendors failed; each failure is a problem document with ok: false.",
            content: json(ref("FanOutResponse")),
          },
          ...bodyProblems,
          "401": response("Unauthorized"),
          "403": response("Forbidden"),
          "429": response("RateLimited"),
          "503": response("Unavailable"),
        },
      },
    },
    "/v1/logout/{id}": {
      get: {
        operationId: "logoutJob",
        summary: "The state of an asynchronous logout",
        description:
          "Per vendor: state, attempts, last error. Only the credential that created the job sees it (anyone with the id, for a job created without one); others get the unknown-id 404. Finished jobs are deleted after LOGOUT_JOB_RETENTION_SEC.",
        tags: ["fan-out"],
        security: [{}, { callerAuth: [] }],
        parameters: [
          requestIdParameter,
          {
            name: "id",
            in: "path",
            required: true,
            description: "The job id.",
            schema: { type: "string", pattern: "^[0-9a-f]{64}$" },
          },
        ],
        responses: {
          "200": { description: "The job.", content: json(ref("LogoutJob")) },
          "400": response("InvalidRequest"),
          "401": response("Unauthorized"),
          "404": response("NotFound"),
          "429": response("RateLimited"),
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "health",
        summary: "Liveness and which vendors are configured",
        tags: ["operations"],
        responses: { "200": { description: "Up.", content: json(ref("Health")) } },
      },
    },
    "/openapi.json": {
      get: {
        operationId: "openApi",
        summary: "This document",
        tags: ["operations"],
        responses: {
          "200": { description: "The OpenAPI 3.1 document.", content: json({ type: "object" }) },
          "429": response("RateLimited"),
        },
      },
    },
    "/docs": {
      get: {
        operationId: "docs",
        summary: "Interactive API reference (served by the proxy, works offline)",
        tags: ["operations"],
        responses: {
          "200": {
            description: "The reference page.",
            content: { "text/html": { schema: { type: "string" } } },
          },
          "404": response("NotFound"),
          "429": response("RateLimited"),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      callerAuth: {
        type: "http",
        scheme: "bearer",
        description:
          "An API key whose SHA-256 is in PROXY_API_KEY_SHA256, or a user JWT (PROXY_JWKS_URL or HS256 PROXY_JWT_SECRET) whose sub is the request's username.",
      },
      funGameToken: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: "The caller's own FunGame token.",
      },
    },
    parameters: {
      RequestId: {
        name: "X-Request-Id",
        in: "header",
        required: false,
        description:
          "Your id for this request (1-128 of A-Z a-z 0-9 . _ : + = / -); one is generated otherwise. Returned in X-Request-Id and in every problem.",
        schema: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$" },
      },
    },
    schemas: {
      Problem: {
        type: "object",
        description: "RFC 9457 problem details. `kind` alone decides `status`.",
        required: [
          "type",
          "title",
          "status",
          "detail",
          "vendor",
          "code",
          "kind",
          "retryable",
          "upstreamStatus",
          "requestId",
        ],
        properties: {
          type: { type: "string", format: "uri", examples: [problemExample.type] },
          title: { type: "string" },
          status: { type: "integer", enum: [...new Set(Object.values(KIND_STATUS))] },
          detail: { type: "string" },
          vendor: {
            type: ["string", "null"],
            enum: ["ebet", "fungame", "sdk-auth", "lancens", null],
          },
          code: {
            type: ["string", "integer"],
            description: "The vendor's own code (eBET 4026, OneAccess APP.0007) or the proxy's.",
          },
          kind: {
            type: "string",
            enum: PROBLEM_KINDS,
            description: Object.entries(KIND_STATUS)
              .map(([kind, status]) => `${kind} -> ${status}`)
              .join(", "),
          },
          retryable: { type: "boolean" },
          upstreamStatus: {
            type: ["integer", "null"],
            description: "The vendor's HTTP status, when it answered.",
          },
          requestId: { type: "string" },
          field: {
            type: "string",
            description: "The request member (dot path) or header at fault.",
          },
          errors: {
            type: "array",
            description: "Every refused field, for validation problems.",
            items: {
              type: "object",
              required: ["field", "message"],
              properties: { field: { type: "string" }, message: { type: "string" } },
            },
          },
          steps: { ...ref("LancensSteps"), description: "Lancens only: each step's outcome." },
        },
        examples: [problemExample],
      },
      EbetLogoutRequest: {
        type: "object",
        additionalProperties: false,
        required: ["username"],
        properties: {
          username: {
            type: "string",
            minLength: 1,
            maxLength: 64,
            description: "Lower-case letters and digits.",
          },
        },
      },
      EbetCallbackRequest: {
        type: "object",
        additionalProperties: false,
        required: ["username", "accessToken"],
        properties: {
          username: { type: "string", minLength: 1, maxLength: 64 },
          accessToken: headerValue("The token the channel issued for the player.", 1024),
          subChannelId: { type: "integer", minimum: 0, description: "Defaults to 0 at eBET." },
        },
      },
      EbetLogoutResult: {
        type: "object",
        required: ["status"],
        properties: { status: { const: 200 }, apiVersion: { type: "string" } },
      },
      EbetAccount: {
        type: "object",
        required: [
          "channelId",
          "subChannelId",
          "userId",
          "username",
          "wallet",
          "money",
          "timestamp",
        ],
        properties: {
          channelId: { type: "integer" },
          subChannelId: { type: "integer" },
          userId: { type: "integer" },
          username: { type: "string" },
          wallet: {
            type: "array",
            items: {
              type: "object",
              required: ["typeId", "money"],
              properties: { typeId: { type: "integer" }, money: { type: "number" } },
            },
          },
          money: { type: "number" },
          timestamp: { type: "integer", description: "eBET's clock, seconds." },
          apiVersion: { type: "string" },
        },
      },
      FunGameMember: {
        type: "object",
        additionalProperties: false,
        required: ["token"],
        properties: { token: headerValue("The FunGame token (a JWT).", 8192) },
      },
      FunGameLogoutResult: {
        type: "object",
        required: ["denyListed"],
        properties: {
          message: { type: "string" },
          requestType: { type: ["integer", "string"] },
          event: { type: "string" },
          denyListed: {
            type: "boolean",
            description:
              "Whether the token's jti is now on the edge deny-list. Only this member when the list had it already.",
          },
        },
      },
      TokenStatus: {
        type: "object",
        required: ["active"],
        properties: {
          active: { type: "boolean" },
          reason: {
            type: "string",
            enum: [
              "revoked",
              "expired",
              "invalid_signature",
              "algorithm_refused",
              "not_yet_valid",
              "wrong_issuer",
              "wrong_audience",
              "invalid_claims",
              "malformed",
              "invalid",
              "unverified",
            ],
          },
        },
      },
      SdkAuthLogoutRequest: {
        type: "object",
        additionalProperties: false,
        required: ["sessionToken", "device"],
        properties: {
          sessionToken: headerValue("The OneAccess session token.", 4096),
          device: {
            type: "object",
            additionalProperties: false,
            required: ["osVersion", "fingerprint", "agent"],
            properties: {
              osVersion: headerValue("X-operating-sys-version.", 256),
              fingerprint: headerValue("X-device-fingerprint.", 256),
              agent: headerValue("X-agent.", 1024),
              ip: headerValue("X-device-ip.", 64),
              language: headerValue("X-L.", 64),
            },
          },
        },
      },
      SdkAuthLogoutResult: {
        type: "object",
        required: ["body"],
        properties: { body: { type: "string", description: "OneAccess's answer, verbatim." } },
      },
      LancensLogoutRequest: {
        type: "object",
        additionalProperties: false,
        required: ["username", "token"],
        properties: {
          username: {
            type: "string",
            minLength: 1,
            maxLength: 256,
            description: "6 to 32 characters at Lancens.",
          },
          token: headerValue("The Lancens login token.", 4096),
        },
      },
      LancensStep: {
        type: "object",
        required: ["outcome"],
        properties: {
          outcome: { type: "string", enum: ["cleared", "already_cleared", "failed"] },
          error: {
            type: "object",
            required: ["code", "kind", "retryable", "upstreamStatus", "detail"],
            properties: {
              code: { type: ["string", "integer"] },
              kind: { type: "string" },
              retryable: { type: "boolean" },
              upstreamStatus: { type: ["integer", "null"] },
              detail: { type: "string" },
            },
          },
        },
      },
      LancensSteps: {
        type: "object",
        required: ["ringPushToken", "messagePushToken", "session"],
        properties: {
          ringPushToken: ref("LancensStep"),
          messagePushToken: ref("LancensStep"),
          session: ref("LancensStep"),
        },
      },
      FanOutRequest: {
        type: "object",
        additionalProperties: false,
        description: "At least one member.",
        properties: {
          ebet: ref("EbetLogoutRequest"),
          fungame: ref("FunGameMember"),
          sdkAuth: ref("SdkAuthLogoutRequest"),
          lancens: ref("LancensLogoutRequest"),
        },
      },
      FanOutResult: {
        oneOf: [
          {
            type: "object",
            required: ["vendor", "ok", "alreadyLoggedOut", "result"],
            properties: {
              vendor: { type: "string" },
              ok: { const: true },
              alreadyLoggedOut: { type: "boolean" },
              result: {},
            },
          },
          {
            allOf: [
              ref("Problem"),
              { type: "object", required: ["ok"], properties: { ok: { const: false } } },
            ],
          },
        ],
      },
      FanOutResponse: {
        type: "object",
        required: ["ok", "requestId", "results"],
        properties: {
          ok: { type: "boolean", description: "True when every vendor succeeded." },
          requestId: { type: "string" },
          results: {
            type: "object",
            description: "One entry per member of the request.",
            properties: {
              ebet: ref("FanOutResult"),
              fungame: ref("FanOutResult"),
              sdkAuth: ref("FanOutResult"),
              lancens: ref("FanOutResult"),
            },
          },
        },
      },
      DeliveryError: {
        type: "object",
        description:
          "No text from the vendor: a code that is not a short identifier is VENDOR_ERROR.",
        required: ["code", "kind", "upstreamStatus", "retryable"],
        properties: {
          code: { type: ["string", "integer"] },
          kind: { type: "string" },
          upstreamStatus: { type: ["integer", "null"] },
          retryable: { type: "boolean" },
        },
      },
      VendorDelivery: {
        type: "object",
        required: ["vendor", "state", "attempts", "nextAttemptAt", "lastError", "failure"],
        properties: {
          vendor: { type: "string", enum: ["ebet", "fungame", "sdk-auth", "lancens"] },
          state: { type: "string", enum: ["pending", "delivering", "delivered", "failed"] },
          attempts: { type: "integer", minimum: 0 },
          nextAttemptAt: { type: ["string", "null"], format: "date-time" },
          lastError: { oneOf: [ref("DeliveryError"), { type: "null" }] },
          failure: {
            type: ["string", "null"],
            enum: ["rejected", "attempts_exhausted", "expired", null],
          },
          alreadyLoggedOut: { type: ["boolean", "null"] },
          denyListed: {
            type: ["boolean", "null"],
            description:
              "FunGame member only: null until FunGame accepts the logout, then whether its jti is on the deny-list. false with state pending (lastError DENY_LIST_UNAVAILABLE): FunGame logged the token out and only the record is retried, until the job expires; false with state failed: it never was.",
          },
        },
      },
      LogoutJob: {
        type: "object",
        required: ["id", "status", "createdAt", "updatedAt", "expiresAt", "vendors"],
        properties: {
          id: { type: "string", pattern: "^[0-9a-f]{64}$" },
          status: {
            type: "string",
            enum: ["pending", "delivered", "partially_failed", "failed"],
          },
          createdAt: { type: "string", format: "date-time" },
          updatedAt: { type: "string", format: "date-time" },
          expiresAt: { type: "string", format: "date-time" },
          finishedAt: { type: ["string", "null"], format: "date-time" },
          deleteAt: { type: ["string", "null"], format: "date-time" },
          vendors: {
            type: "object",
            description: "One entry per member of the request.",
            properties: {
              ebet: ref("VendorDelivery"),
              fungame: ref("VendorDelivery"),
              sdkAuth: ref("VendorDelivery"),
              lancens: ref("VendorDelivery"),
            },
          },
        },
      },
      Health: {
        type: "object",
        required: ["status", "vendors"],
        properties: {
          status: { const: "ok" },
          vendors: {
            type: "object",
            description: "Whether each vendor is configured.",
            additionalProperties: { type: "boolean" },
          },
        },
      },
    },
    responses: {
      InvalidRequest: problemResponse(
        "Refused input: bad JSON, an unknown member or query parameter, a missing or wrong field (`field`, `errors`), a control character in a header-bound value.",
      ),
      Unauthorized: problemResponse("Missing or refused credentials.", {
        "WWW-Authenticate": { description: "Bearer challenge.", schema: { type: "string" } },
      }),
      Forbidden: problemResponse("The user token's subject is not the request's username."),
      NotFound: problemResponse(
        "Vendor not configured on this proxy (VENDOR_NOT_CONFIGURED), the vendor does not know the user, or no job the caller may see (JOB_NOT_FOUND).",
      ),
      PayloadTooLarge: problemResponse("The body is over 16 KiB."),
      UnsupportedMediaType: problemResponse("The body is not sent as application/json."),
      RateLimited: problemResponse(
        "Over PROXY_RATE_LIMIT (RATE_LIMITED), too many open jobs (TOO_MANY_OPEN_JOBS), or the vendor asked to slow down.",
        {
          "Retry-After": { description: "Seconds.", schema: { type: "integer", minimum: 1 } },
          RateLimit: { description: 'e.g. `"caller";r=0;t=60`', schema: { type: "string" } },
          "RateLimit-Policy": {
            description: 'e.g. `"caller";q=120;w=60`',
            schema: { type: "string" },
          },
        },
      ),
      Replayed: problemResponse("Sent already within eBET's 300 s window (REPLAYED_CALLBACK).", {
        "Retry-After": {
          description: "Seconds until it may be sent again.",
          schema: { type: "integer", minimum: 1 },
        },
      }),
      LogoutInProgress: problemResponse(
        "Another logout of this token is in flight (LOGOUT_IN_PROGRESS, retryable).",
        { "Retry-After": { description: "Seconds.", schema: { type: "integer", minimum: 1 } } },
      ),
      Misconfigured: problemResponse(
        "The proxy's own settings are refused (e.g. eBET 4026 bad signature, 4027 IP not allowed), or an internal error.",
      ),
      UpstreamError: problemResponse("The vendor answered something the proxy cannot use."),
      Unavailable: problemResponse(
        "The vendor did not answer in time, or is down; or OUTBOX_FULL, or DENY_LIST_UNAVAILABLE.",
        {
          "Retry-After": {
            description: "Seconds, when the vendor said.",
            schema: { type: "integer" },
          },
        },
      ),
    },
  },
};
