// Every file a workspace's tests read is among the inputs of its turbo `test` task (or of the builds
// that task needs), so that changing the file re-runs those tests instead of replaying a cached pass.
import { describe, expect, it } from "vitest";
import {
  type DryTask,
  filesOutsideInputs,
  filesTestsRead,
  repositoryFiles,
  turboDryRun,
} from "./test-reads.ts";

const files = repositoryFiles();
const tasks = turboDryRun("test");
const testTasks = tasks.filter((task) => task.taskId.endsWith("#test"));

/**
 * Files a test names but never runs through that file: bootstrap.test runs bootstrap.mjs only up to
 * its refusals (unknown command, unsupported platform), never the steps of its commands. Those
 * have tests of their own (the proxy's start.test runs start.mjs), whose inputs hold what they read.
 */
const NOT_RUN = new Map([
  [
    "tooling/bootstrap.mjs",
    [
      "tooling/start.mjs",
      "tooling/release/check-packages.mjs",
      "tooling/release/pick-one-vendor.mjs",
      "tooling/release/examples.mjs",
      "tooling/runtimes/matrix.mjs",
    ],
  ],
]);

const readsOf = (task: DryTask) => filesTestsRead(task.directory, files, NOT_RUN);

describe("turbo's test inputs", () => {
  it("cover every workspace with tests", () => {
    expect(testTasks.map((task) => task.taskId).sort()).toEqual([
      "@x/cli#test",
      "@x/core-signing#test",
      "@x/ebet#test",
      "@x/edge-proxy#test",
      "@x/fungame#test",
      "@x/lancens#test",
      "@x/sdk-auth#test",
      "@x/tooling#test",
    ]);
  });

  for (const task of testTasks) {
    it(`${task.taskId}: every file its tests read is an input`, () => {
      const reads = readsOf(task);
      const missing = filesOutsideInputs(tasks, task.taskId, [...reads.keys()]);
      expect(missing.map((file) => `${file} (named by ${reads.get(file)})`)).toEqual([]);
    });
  }

  it("finds the files tests read beyond their test folders, however the tests name them", () => {
    const read = (taskId: string) =>
      readsOf(testTasks.find((task) => task.taskId === taskId) as DryTask);
    // new URL("../README.md", import.meta.url)
    expect(read("@x/ebet#test").get("packages/ebet/README.md")).toBe(
      "packages/ebet/test/readme.test.ts",
    );
    // an import from another workspace, and tsconfig.json's "extends"
    expect(read("@x/lancens#test").has("tooling/fuzz.ts")).toBe(true);
    expect(read("@x/lancens#test").get("tsconfig.base.json")).toBe(
      "packages/lancens/tsconfig.json",
    );
    // join(ROOT, "tooling", "start.mjs"), and what that script imports
    const proxy = read("@x/edge-proxy#test");
    expect(proxy.get("tooling/start.mjs")).toBe("apps/edge-proxy/test-node/start.test.ts");
    expect(proxy.get("tooling/toolchain.mjs")).toBe("tooling/start.mjs");
    // a const naming a script: join(runtimes.APP, SCRIPT)
    expect(proxy.has("apps/edge-proxy/scripts/deploy-dry-run.mjs")).toBe(true);
    // an import of a sibling folder, and a lint plugin named in biome.json
    const tooling = read("@x/tooling#test");
    expect(tooling.get("tooling/size/check-size.mjs")).toBe("tooling/test/size.test.ts");
    expect(tooling.get("tooling/lint/no-conditional-tests.grit")).toBe("biome.json");
    // but not a command the tests never give
    expect(tooling.has("apps/edge-proxy/scripts/start.mjs")).toBe(false);
  });

  it("reports every read file whose input is dropped", () => {
    for (const task of testTasks) {
      const reads = [...readsOf(task).keys()];
      const before = filesOutsideInputs(tasks, task.taskId, reads);
      for (const input of Object.keys(task.inputs)) {
        const dropped = { ...task.inputs };
        delete dropped[input];
        const without = tasks.map((each) => (each === task ? { ...task, inputs: dropped } : each));
        const missing = filesOutsideInputs(without, task.taskId, reads).filter(
          (file) => !before.includes(file),
        );
        const file = `${task.directory}/${input}`.split("/").reduce<string[]>((parts, part) => {
          if (part === "..") parts.pop();
          else parts.push(part);
          return parts;
        }, []);
        const path = file.join("/");
        expect(missing).toEqual(
          reads.includes(path) && !hashedByDependency(task, path) ? [path] : [],
        );
      }
    }
  });
});

/** Whether a build the task needs already hashes `path` (a dependency's sources). */
function hashedByDependency(task: DryTask, path: string): boolean {
  return (
    filesOutsideInputs(
      tasks.map((each) => (each === task ? { ...task, inputs: {} } : each)),
      task.taskId,
      [path],
    ).length === 0
  );
}
