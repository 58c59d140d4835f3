// Two independent OpenAPI 3.1 validators, as the tests run them on a document.
import { validate as validateSchema } from "@hyperjump/json-schema/openapi-3-1";
import { validate as validateOpenApi } from "@readme/openapi-parser";

/** The official OpenAPI 3.1 schema that also validates every Schema Object against its dialect. */
const SCHEMA_BASE = "https://spec.openapis.org/oas/3.1/schema-base";

/** What both validators refuse in a document: the official 3.1 schema with its dialect, then refs and path rules. */
export async function findings(document: unknown): Promise<string[]> {
  const json = JSON.parse(JSON.stringify(document));
  const found: string[] = [];
  const official = await validateSchema(SCHEMA_BASE, json, "BASIC");
  const errors = official.valid
    ? []
    : (official.errors ?? [{ instanceLocation: "#", absoluteKeywordLocation: "?" }]);
  for (const error of errors) {
    found.push(`schema-base: ${error.instanceLocation} (${error.absoluteKeywordLocation})`);
  }
  const parsed = await validateOpenApi(structuredClone(json));
  for (const error of parsed.valid ? [] : parsed.errors) found.push(`parser: ${error.message}`);
  return found;
}
