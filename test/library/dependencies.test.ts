// The runtime dependencies are exactly what the shipped code needs: every package that src/ imports is a
// dependency, every dependency is imported by src/ or is a peer that one of those requires, and
// docs/architecture.md names each with its reason. Test-only packages (bencode, webtorrent…) stay dev-only.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { builtinModules } from "node:module"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(ts|js|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : []
  })

/** The package names that src/ imports at runtime (type-only imports excluded). */
const runtimeImports = (): Set<string> => {
  const names = new Set<string>()
  const builtins = new Set(builtinModules)
  for (const file of sourceFiles(join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^"']*?\sfrom\s+)?["']([^"'.][^"']*)["']/gm)) {
      if (m[1] !== undefined) continue
      const spec = m[2]!
      if (spec.startsWith("node:") || builtins.has(spec)) continue
      const parts = spec.split("/")
      names.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!)
    }
    for (const m of text.matchAll(/import\(\s*["']([^"'.][^"']*)["']\s*\)/g)) {
      const spec = m[1]!
      if (spec.startsWith("node:")) continue
      const parts = spec.split("/")
      names.add(spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!)
    }
  }
  return names
}

/** `names` and, transitively, the non-optional peer dependencies they declare. */
const withPeers = (names: Iterable<string>): Set<string> => {
  const out = new Set<string>()
  const todo = [...names]
  while (todo.length > 0) {
    const name = todo.pop()!
    if (out.has(name)) continue
    out.add(name)
    const manifest = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
      peerDependencies?: Record<string, string>
      peerDependenciesMeta?: Record<string, { optional?: boolean }>
      dependencies?: Record<string, string>
    }
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) {
      if (manifest.peerDependenciesMeta?.[peer]?.optional === true) continue
      // A peer the package also depends on directly is installed with it either way.
      if (manifest.dependencies?.[peer] !== undefined) continue
      todo.push(peer)
    }
  }
  return out
}

describe("runtime dependencies", () => {
  const imported = runtimeImports()
  const needed = withPeers(imported)
  const deps = Object.keys(pkg.dependencies)

  it("every package src/ imports is a runtime dependency", () => {
    expect([...imported].filter((name) => pkg.dependencies[name] === undefined)).toEqual([])
  })

  it("every runtime dependency is imported by src/ or required as a peer by one that is", () => {
    // better-sqlite3 is what @effect/sql-sqlite-node opens; it is listed so that its native build is allowed
    // (allowScripts) and its major version is ours to choose.
    const explained = new Set([...needed, "better-sqlite3"])
    expect(deps.filter((name) => !explained.has(name))).toEqual([])
  })

  it("bencode is only a devDependency (tests and benchmarks compare against it)", () => {
    expect(pkg.dependencies["bencode"]).toBeUndefined()
    expect(pkg.devDependencies["bencode"]).toBeDefined()
  })

  it("docs/architecture.md names every runtime dependency and why", () => {
    const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8")
    const section = doc.split("## Runtime dependencies")[1]?.split(/\n## /)[0] ?? ""
    expect(section).not.toBe("")
    for (const name of deps) expect(section, name).toContain(`\`${name}\``)
  })
})
