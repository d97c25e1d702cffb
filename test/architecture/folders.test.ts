// The folder map of docs/architecture.md is the code's: derived from the imports of src/, it has no cycle and
// every edge is listed (and every listed edge exists). `npm run docs:folders` regenerates the table.
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { cycles, deriveFolderGraph, DOC, type FolderGraph, readDocTable, targetsOf } from "../support/folderGraph.js"

const graph = deriveFolderGraph()
const doc = readDocTable(fs.readFileSync(DOC, "utf8"))

const why = (g: FolderGraph, edge: string) => `${edge} (${(g.edges.get(edge) ?? []).slice(0, 3).join("; ")})`

describe("folder dependency graph", () => {
  it("finds the folders and their imports", () => {
    expect(graph.nodes).toContain("domain")
    expect(graph.nodes).toContain("main.ts")
    // A sanity check of the parser: the crawler imports the rpc layer, the CLI the session.
    expect(targetsOf(graph, "crawler")).toContain("rpc")
    expect(targetsOf(graph, "cli")).toContain("session")
  })

  it("has no cycle between folders", () => {
    const found = cycles(graph)
    const explained = found.map((c) =>
      c.flatMap((a) => c.filter((b) => graph.edges.has(`${a} -> ${b}`)).map((b) => why(graph, `${a} -> ${b}`)))
    )
    expect(explained).toEqual([])
  })

  it("lists every folder and exactly its imports in docs/architecture.md", () => {
    expect(doc.map((r) => r.node).sort()).toEqual([...graph.nodes].sort())
    const listed = new Set(doc.flatMap((r) => r.imports.map((t) => `${r.node} -> ${t}`)))
    const unlisted = [...graph.edges.keys()].filter((e) => !listed.has(e)).map((e) => why(graph, e))
    const stale = [...listed].filter((e) => !graph.edges.has(e))
    expect({ unlisted, stale }).toEqual({ unlisted: [], stale: [] })
  })

  it("keeps the entry point folder dht/ out of the internal imports", () => {
    const into = [...graph.edges.keys()].filter((e) => e.endsWith(" -> dht")).map((e) => why(graph, e))
    expect(into).toEqual([])
  })

  it("detects a cycle and an unlisted edge in a made-up tree", () => {
    const dir = fs.mkdtempSync("/tmp/bitscrape-folders-")
    try {
      fs.mkdirSync(`${dir}/a`)
      fs.mkdirSync(`${dir}/b`)
      fs.writeFileSync(`${dir}/a/x.ts`, `import { y } from "../b/y.js"\nexport const x = y\n`)
      fs.writeFileSync(`${dir}/b/y.ts`, `export const y = 1\nexport const z = () => import("../a/x.js")\n`)
      const g = deriveFolderGraph(dir)
      expect([...g.edges.keys()].sort()).toEqual(["a -> b", "b -> a"])
      expect(cycles(g)).toEqual([["a", "b"]])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
