// PayloadModel reading (src/payload.ts): any casing of member names, messages up to whitespace.
import { describe, expect, it } from "vitest";
import { readPayloadFields, SESSION_GONE_MESSAGE, sameMessage } from "../src/index.ts";

describe("readPayloadFields", () => {
  it("reads camelCase, PascalCase and any other casing alike", () => {
    const expected = {
      requestType: 1,
      statusCode: 200,
      message: "m",
      data: {},
      event: "e",
      timestamp: "t",
    };
    const camel = {
      requestType: 1,
      statusCode: 200,
      message: "m",
      data: {},
      event: "e",
      timestamp: "t",
    };
    const pascal = {
      RequestType: 1,
      StatusCode: 200,
      Message: "m",
      Data: {},
      Event: "e",
      Timestamp: "t",
    };
    const shouting = {
      REQUESTTYPE: 1,
      STATUSCODE: 200,
      MESSAGE: "m",
      DATA: {},
      EVENT: "e",
      TIMESTAMP: "t",
    };
    for (const value of [camel, pascal, shouting])
      expect(readPayloadFields(value)).toEqual(expected);
  });

  it("leaves absent members undefined and takes the first of duplicate spellings", () => {
    expect(readPayloadFields({ Message: "first", message: "second" })).toMatchObject({
      message: "first",
      statusCode: undefined,
      event: undefined,
    });
  });

  it("is undefined for anything but a JSON object", () => {
    for (const value of [null, [], "x", 1, true, undefined])
      expect(readPayloadFields(value)).toBeUndefined();
  });
});

describe("sameMessage", () => {
  it("tolerates trailing and leading spaces, nothing else", () => {
    expect(sameMessage("退出登录失败！ ", SESSION_GONE_MESSAGE)).toBe(true);
    expect(sameMessage(" 退出登录失败！\n", SESSION_GONE_MESSAGE)).toBe(true);
    expect(sameMessage("退出登录失败！服务器可能暂时无法处理此请求。", SESSION_GONE_MESSAGE)).toBe(
      false,
    );
    expect(sameMessage(undefined, SESSION_GONE_MESSAGE)).toBe(false);
  });
});
