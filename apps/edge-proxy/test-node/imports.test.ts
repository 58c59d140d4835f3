// The proxy's modules import each other without cycles: each one can be read, and loaded, on its own.
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const APP = join(import.meta.dirname, "..");

/** The imports among src/ files of everything the entries load (type-only imports are erased). */
async function importGraph(): Promise<Map<string, string[]>> {
  const result = await build({
    entryPoints: ["src/entry/worker.ts", "src/entry/node.ts", "src/openapi/generate.ts"],
    absWorkingDir: APP,
    bundle: true,
    write: false,
    outdir: "out",
    format: "esm",
    platform: "node",
    external: ["cloudflare:*"],
    metafile: true,
    logLevel: "silent",
  });
  const graph = new Map<string, string[]>();
  for (const [file, input] of Object.entries(result.metafile.inputs)) {
    if (!file.startsWith("src/")) continue;
    graph.set(
      file,
      input.imports.map((item) => item.path).filter((path) => path.startsWith("src/")),
    );
  }
  return graph;
}

/** Every cycle of the graph, each as the files on it. */
function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>();
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string) => {
    const at = path.indexOf(file);
    if (at !== -1) {
      found.add([...path.slice(at), file].join(" -> "));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  return [...found];
}

describe("the proxy's imports", () => {
  it("form no cycle", async () => {
    const graph = await importGraph();
    expect(graph.size).toBeGreaterThan(30);
    expect(cycles(graph)).toEqual([]);
  });

  it("would show one", () => {
    const graph = new Map([
      ["src/a.ts", ["src/b.ts"]],
      ["src/b.ts", ["src/a.ts"]],
    ]);
    expect(cycles(graph)).toEqual(["src/a.ts -> src/b.ts -> src/a.ts"]);
  });
});
