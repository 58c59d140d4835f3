// Huawei Cloud OneAccess (SDK API): logout of a session token, signed by the proxy with the
// application's RSA-OAEP X-signature; the session token is the caller's credential.
import { OneAccessClient } from "@x/sdk-auth";
import * as v from "valibot";
import { headerSafe } from "../config-schemas.ts";
import { headerValue } from "../http/fields.ts";
import { defineVendor, type LogoutCall, type VendorRuntime } from "./descriptor.ts";
import {
  BODY_PROBLEMS,
  baseUrl,
  DEFAULT_RETRY,
  logoutRoute,
  makeClient,
  run,
  success,
  successSchema,
  UPSTREAM_PROBLEMS,
} from "./shared.ts";

export interface SdkAuthConfig {
  baseUrl: string;
  clientId: string;
  tenantId: string | undefined;
}

export const SdkAuthBody = v.strictObject({
  sessionToken: headerValue(4096),
  device: v.strictObject({
    osVersion: headerValue(256),
    fingerprint: headerValue(256),
    agent: headerValue(1024),
    ip: v.optional(headerValue(64)),
    language: v.optional(headerValue(64)),
  }),
});

export type SdkAuthInput = v.InferOutput<typeof SdkAuthBody>;

/** Fields OneAccess may name in its errors. */
const FIELDS = [
  "sessionToken",
  "device",
  "device.osVersion",
  "device.fingerprint",
  "device.agent",
  "device.ip",
  "device.language",
];

const REQUIRED = ["SDK_AUTH_BASE_URL", "SDK_AUTH_CLIENT_ID"] as const;

/** OneAccess for one app: its client keeps the application key and the clock offset. */
function createSdkAuth(config: SdkAuthConfig, runtime: VendorRuntime) {
  const client = makeClient(
    "sdk-auth",
    () =>
      new OneAccessClient({
        baseUrl: config.baseUrl,
        clientId: config.clientId,
        tenantId: config.tenantId,
        fetch: runtime.fetch,
        now: runtime.now,
        timeoutMs: runtime.timeoutMs,
        maxBodyBytes: runtime.maxBodyBytes,
      }),
  );
  return {
    async logout(input: SdkAuthInput, call: LogoutCall) {
      const { device: d } = input;
      const device = {
        osVersion: d.osVersion,
        fingerprint: d.fingerprint,
        agent: d.agent,
        ...(d.ip === undefined ? {} : { ip: d.ip }),
        ...(d.language === undefined ? {} : { language: d.language }),
      };
      const result = await run("sdk-auth", call.upstream, FIELDS, call, async (options) => {
        // The key and the clock offset are the app's: loaded through its one fetch, so that the
        // first logouts running at once share one request of each; the logout itself goes
        // through the call's fetch, whose answer the request reports.
        const { signal, timeoutMs } = options;
        await client.warm({ fetch: runtime.fetch, signal, timeoutMs });
        return client.logout({ sessionToken: input.sessionToken, device }, options);
      });
      return success("sdk-auth", { body: result.body });
    },
  };
}

export const sdkAuth = defineVendor({
  name: "sdk-auth",
  label: "Huawei Cloud OneAccess",
  member: "sdkAuth",
  package: "@x/sdk-auth",
  variables: {
    SDK_AUTH_BASE_URL: {
      schema: baseUrl,
    },
    SDK_AUTH_CLIENT_ID: { schema: headerSafe },
    SDK_AUTH_TENANT_ID: { schema: headerSafe },
  },
  configure(values, { has, report }): SdkAuthConfig | undefined {
    if (!REQUIRED.some(has) && !has("SDK_AUTH_TENANT_ID")) return undefined;
    for (const name of REQUIRED) {
      if (!has(name)) report(name, "is required when OneAccess is configured (SDK_AUTH_* is set)");
    }
    if (values.SDK_AUTH_BASE_URL === undefined || values.SDK_AUTH_CLIENT_ID === undefined) {
      return undefined;
    }
    return {
      baseUrl: values.SDK_AUTH_BASE_URL as string,
      clientId: values.SDK_AUTH_CLIENT_ID as string,
      tenantId: values.SDK_AUTH_TENANT_ID as string | undefined,
    };
  },
  input: SdkAuthBody,
  secrets: (input) => [input.sessionToken],
  retry: DEFAULT_RETRY,
  create: createSdkAuth,
  routes: [
    logoutRoute(
      "sdk-auth",
      globalThis.__EDGE_PROXY_DOCS__ !== false
        ? {
            operationId: "sdkAuthLogout",
            tag: "sdk-auth",
            summary: "End a Huawei Cloud OneAccess SDK session",
            description:
              "Signs the logout with the application's RSA-OAEP X-signature. An unknown or expired session is a 401 problem (APP.0007): OneAccess does not report already-done logouts.",
            security: "none",
            body: {
              schema: SdkAuthBody,
              example: {
                sessionToken: "k3Jx0S5sa1Xyq9F2",
                device: {
                  osVersion: "Android 14",
                  fingerprint: "156aysdna213sc50",
                  agent: "MyApp/2.1",
                },
              },
              fields: {
                sessionToken: "The OneAccess session token.",
                "device.osVersion": "Sent as X-operating-sys-version.",
                "device.fingerprint": "Sent as X-device-fingerprint.",
                "device.agent": "Sent as X-agent.",
                "device.ip": "Sent as X-device-ip.",
                "device.language": "Sent as X-L.",
              },
            },
            answers: {
              200: {
                description: "OneAccess ended the session.",
                schema: successSchema(
                  "sdk-auth",
                  v.object({
                    body: v.pipe(v.string(), v.description("OneAccess's answer, verbatim.")),
                  }),
                ),
              },
            },
            problems: [...BODY_PROBLEMS, 401, ...UPSTREAM_PROBLEMS],
          }
        : undefined,
    ),
  ],
});
