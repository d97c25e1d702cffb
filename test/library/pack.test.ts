// The package as a user gets it: build, `npm pack`, install the tarball into a fresh project, type-check the
// examples there under `strict` with that project's own TypeScript, and run one against a loopback swarm. The
// examples import only "bitscrape/…" (the package's `exports`) and "effect".
//
// Kept lean (about 20 s): the build goes to a staging folder (the working tree's dist/ is left alone), and the
// install runs offline from npm's cache with `npm ci`: the fresh project's lockfile is derived from ours (the
// same resolved tarballs and integrity hashes for bitscrape's production dependencies, TypeScript and
// @types/node), and `npm ci` at the start of every run has put exactly those tarballs in the cache. Resolving
// version ranges instead would need the registry's documents, which a fresh CI cache does not hold and which the
// test network namespace cannot reach. `--ignore-scripts` skips better-sqlite3's native build: nothing here opens
// a SQLite database (bitscrape/repository's SQLite layer needs it; the examples do not), and compiling it would
// take minutes.
import { Effect, Exit, Scope } from "effect"
import { createHash } from "node:crypto"
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exampleArgs, exampleTarget, startLoopbackSwarm } from "../../examples/harness/loopbackSwarm.js"
import type { DemoSwarm } from "../../src/demo/swarm.js"
import { type ProcessResult, runProcess } from "../support/process.js"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const GUARD = fileURLToPath(new URL("../support/loopbackGuard.mjs", import.meta.url))
const EXAMPLES = ["dht-lookup", "fetch-metadata", "custom-crawler"]

type Run = ProcessResult

const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  runProcess(command, args, { cwd, timeoutMs: 90_000 })

const ok = async (command: string, args: ReadonlyArray<string>, cwd: string) => {
  const r = await run(command, args, cwd)
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`)
  return r
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm"
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

describe("the packed package", () => {
  let dir: string
  let app: string
  let scope: Scope.CloseableScope
  let swarm: DemoSwarm

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bitscrape-pack-"))
    const stage = join(dir, "stage")
    app = join(dir, "app")
    mkdirSync(stage)
    mkdirSync(join(app, "examples"), { recursive: true })

    // What `npm pack` runs as `prepare` (`npm run build`): test/globalSetup.ts has just run it, so its output
    // is copied rather than compiled a second time.
    cpSync(join(ROOT, "dist"), join(stage, "dist"), { recursive: true })
    cpSync(join(ROOT, "package.json"), join(stage, "package.json"))
    cpSync(join(ROOT, "README.md"), join(stage, "README.md"))
    cpSync(join(ROOT, "docs"), join(stage, "docs"), {
      recursive: true,
      filter: (f) => !f.startsWith(join(ROOT, "docs/api"))
    })
    const packed = await ok(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], stage)
    const tarball = (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename

    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as OurManifest
    const manifest: AppManifest = {
      name: "bitscrape-user",
      private: true,
      type: "module",
      dependencies: { bitscrape: `file:../${tarball}`, effect: pkg.dependencies["effect"]! },
      devDependencies: { typescript: versionOf("typescript"), "@types/node": versionOf("@types/node") }
    }
    writeFileSync(join(app, "package.json"), JSON.stringify(manifest))
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          rootDir: "examples",
          outDir: "out"
        },
        include: ["examples"]
      })
    )
    for (const name of EXAMPLES) cpSync(join(ROOT, "examples", `${name}.ts`), join(app, "examples", `${name}.ts`))
    writeFileSync(
      join(app, "package-lock.json"),
      JSON.stringify(appLockfile(pkg, manifest, join(dir, tarball), tarball))
    )
    await ok(npm, ["ci", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], app)

    scope = Effect.runSync(Scope.make())
    swarm = await Effect.runPromise(Scope.extend(startLoopbackSwarm(), scope))
  }, 120_000)

  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("ships dist with only the six entry points, and no tests or sources", () => {
    const files = readdirRecursive(join(app, "node_modules/bitscrape"))
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/") || f.startsWith("examples/"))).toBe(false)
    const exported = JSON.parse(readFileSync(join(app, "node_modules/bitscrape/package.json"), "utf8")) as {
      exports: Record<string, unknown>
    }
    expect(Object.keys(exported.exports).sort()).toEqual(
      ["./crawler", "./dht", "./krpc", "./metadata", "./package.json", "./repository", "./wire"]
    )
  })

  it("type-checks the examples under strict with the installed package's declarations", async () => {
    const r = await run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "."], app)
    expect(r.code, r.stdout + r.stderr).toBe(0)
  }, 60_000)

  it("runs the dht-lookup example against a loopback swarm, importing only public entry points", async () => {
    const { seeder } = exampleTarget(swarm)
    const r = await run(
      process.execPath,
      ["--import", GUARD, "out/dht-lookup.js", ...exampleArgs("dht-lookup", swarm)],
      app
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.split("\n")).toContain(`${seeder.host}:${seeder.port}`)
  })
})

interface LockEntry {
  readonly version?: string
  readonly dev?: boolean
  readonly link?: boolean
  readonly [key: string]: unknown
}

/**
 * A lockfile for the fresh project, from ours: bitscrape from the tarball, every production dependency (and
 * TypeScript, @types/node and its undici-types as dev dependencies) exactly as our lockfile resolves them.
 */
interface OurManifest {
  readonly version: string
  readonly dependencies: Record<string, string>
  readonly engines: Record<string, string>
  readonly bin: Record<string, string>
}

interface AppManifest {
  readonly name: string
  readonly private: true
  readonly type: "module"
  readonly dependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

const appLockfile = (pkg: OurManifest, app: AppManifest, tarballPath: string, tarball: string) => {
  const ours = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>
  }
  const devKept = new Set(["node_modules/typescript", "node_modules/@types/node", "node_modules/undici-types"])
  const packages: Record<string, unknown> = {
    "": { name: app.name, dependencies: app.dependencies, devDependencies: app.devDependencies },
    "node_modules/bitscrape": {
      version: pkg.version,
      resolved: `file:../${tarball}`,
      integrity: `sha512-${createHash("sha512").update(readFileSync(tarballPath)).digest("base64")}`,
      license: "MIT",
      dependencies: pkg.dependencies,
      engines: pkg.engines,
      bin: pkg.bin
    }
  }
  for (const [key, entry] of Object.entries(ours.packages)) {
    if (!key.startsWith("node_modules/") || entry.link === true) continue
    if (devKept.has(key)) packages[key] = { ...entry, dev: true }
    else if (entry.dev !== true) packages[key] = entry
  }
  return { name: app.name, lockfileVersion: 3, requires: true, packages }
}

const readdirRecursive = (root: string): Array<string> => {
  const out: Array<string> = []
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) walk(path)
      else out.push(path)
    }
  }
  walk("")
  return out
}
