// The config loader fuzzed: any env record gives a ProxyConfig or a ConfigError naming variables
// (never their secret values), never another exception.
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  CONFIG_VARIABLES,
  ConfigError,
  type ConfigVariable,
  loadConfig,
  SECRET_VARIABLES,
} from "../src/config.ts";
import { baseEnv } from "../test/harness.ts";
import { anyCodePoint, params } from "./runs.ts";

const KNOWN = new Set<string>(CONFIG_VARIABLES);

/** Any value a Workers env or process.env could hold, and some it could not. */
const anyValue = fc.oneof(
  fc.string(),
  fc.string({ unit: anyCodePoint, maxLength: 200 }),
  fc.constantFrom(
    "",
    " ",
    "0",
    "-1",
    "1e3",
    "https://x.example",
    "http://[::1]:8787/",
    "*",
    "s",
    "120/60",
    "0/1",
    "1/86401",
  ),
  fc.integer().map(String),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.array(fc.string(), { maxLength: 3 }),
);

/** Checks one loadConfig call: a config, or a ConfigError whose issues name known variables. */
function check(env: Record<string, unknown>): void {
  let thrown: unknown;
  try {
    loadConfig(env);
    return;
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof ConfigError)) {
    throw new Error(`loadConfig threw ${String(thrown)}`);
  }
  if (thrown.issues.length === 0) throw new Error("a ConfigError without issues");
  for (const issue of thrown.issues) {
    if (!KNOWN.has(issue.name)) throw new Error(`issue for an unknown variable ${issue.name}`);
    if (typeof issue.message !== "string" || issue.message === "") {
      throw new Error(`issue without a message for ${issue.name}`);
    }
  }
  for (const name of SECRET_VARIABLES) {
    const value = env[name];
    if (typeof value !== "string" || value.trim().length < 6) continue;
    const secret = value.trim();
    for (const issue of thrown.issues) {
      if (!issue.message.includes(secret)) continue;
      // A message may quote its own variable's value: a leak when that variable is a secret, or
      // when the quoted value holds the secret. Anywhere else the text is the message's own
      // wording (e.g. the example "120/60"), which a generated secret may happen to equal.
      const own = env[issue.name];
      const quotesOwnValue = typeof own === "string" && own.includes(secret);
      if ((SECRET_VARIABLES as ReadonlySet<string>).has(issue.name) || quotesOwnValue) {
        throw new Error(`the value of ${name} appears in the error of ${issue.name}`);
      }
    }
  }
}

describe("loadConfig", () => {
  it("any record of the proxy's variables with any values", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...CONFIG_VARIABLES), anyValue, { maxKeys: 8 }),
        (env) => check(env),
      ),
      params(700),
    );
  });

  it("any record, including unknown names and prototype keys", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "toString")),
          anyValue,
          { maxKeys: 6 },
        ),
        (env) => check(env),
      ),
      params(701),
    );
  });

  it("a working configuration with one to three variables replaced", async () => {
    const base = await baseEnv();
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom<ConfigVariable>(...CONFIG_VARIABLES), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(anyValue, { minLength: 3, maxLength: 3 }),
        async (names, values) => {
          const env: Record<string, unknown> = { ...base };
          names.forEach((name, i) => {
            env[name] = values[i];
          });
          check(env);
        },
      ),
      params(702),
    );
  });
});
