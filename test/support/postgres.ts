// A throwaway PostgreSQL 15 server for tests, owned by a Scope: initdb into a fresh temp dir, start it on
// 127.0.0.1 only (plus a unix socket inside that dir), and on release stop it (immediate) and remove the dir.
// Runs Debian's binaries (/usr/lib/postgresql/15/bin, package postgresql-15). PostgreSQL refuses to run as root,
// so as root every server-side binary runs as an unprivileged account ("postgres", else "nobody") that owns the dir.
// Durability is off (fsync, synchronous_commit, full_page_writes): a crash loses nothing a test cares about.
import { Context, Data, Effect, Layer, Schedule } from "effect"
import type { Scope } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { withLiveClock } from "./interop/jsonLinesProcess.js"

export const DEFAULT_POSTGRES_BIN_DIR = "/usr/lib/postgresql/15/bin"

const HOST = "127.0.0.1"
const SUPERUSER = "postgres"
const REQUIRED_BINARIES = ["initdb", "pg_ctl", "postgres", "createdb"] as const
const OUTPUT_TAIL = 4000
/** Linux's sun_path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107

/** Why a test PostgreSQL server could not be provided; `message` says what to do about it. */
export class PostgresServerError extends Data.TaggedError("PostgresServerError")<{
  readonly reason:
    | "MissingBinaries" // postgresql-15 is not installed (message names the package and the apt-get line)
    | "NoUnprivilegedUser" // running as root and no account to drop to
    | "InitFailed" // temp dir or initdb failed
    | "StartFailed" // pg_ctl start failed or the server never accepted connections
    | "BadDatabaseName" // createDatabase got a name that is not a plain identifier
    | "CreateDatabaseFailed" // createdb failed (e.g. the database exists already)
  readonly message: string
}> {}

export interface PostgresServerOptions {
  /** TCP port on 127.0.0.1; default: a free one (picked by binding 127.0.0.1:0), retried if it gets taken. */
  readonly port?: number
  /** Directory holding initdb, pg_ctl, postgres and createdb; default /usr/lib/postgresql/15/bin. */
  readonly binDir?: string
  /** The account the server runs as when we are root; default "postgres" if it exists, else "nobody". */
  readonly user?: string
  /** Parent of the temp dir; default os.tmpdir(). Must be traversable by that account. */
  readonly tmpDir?: string
}

export interface PostgresServerInfo {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth, no password). */
  readonly url: string
  readonly host: "127.0.0.1"
  readonly port: number
  /** The temp dir: data in `<dir>/data`, log in `<dir>/server.log`, unix socket `<dir>/.s.PGSQL.<port>`. */
  readonly dir: string
  /** Wall-clock milliseconds from creating the dir to accepting connections (initdb + start). */
  readonly startupMillis: number
  /** Creates an empty database (a plain identifier: letters, digits, _) and returns its URL. */
  readonly createDatabase: (name: string) => Effect.Effect<string, PostgresServerError>
  /** Stops the server (as a crash would: immediate mode), keeping its data; `start` brings it back. */
  readonly stop: Effect.Effect<void>
  /** Starts the stopped server again on the same port and waits until it accepts connections. */
  readonly start: Effect.Effect<void, PostgresServerError>
}

/** A scoped test server as a service, for `Layer`s and `@effect/vitest`'s `layer(...)`. */
export class PostgresServer
  extends Context.Tag("bitscrape/test/PostgresServer")<PostgresServer, PostgresServerInfo>()
{}

// --- child processes -------------------------------------------------------------------------------------------

interface Account {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

interface RunResult {
  readonly ok: boolean
  /** How it ended and the tail of stdout+stderr, for error messages. */
  readonly detail: string
}

/** The environment for our children: no inherited PG* settings, C locale. */
const childEnv = (account: Account | undefined, dir: string | undefined): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("PG")) env[key] = value
  env.LC_ALL = "C"
  env.LANG = "C"
  if (account !== undefined && dir !== undefined) {
    env.HOME = dir
    env.USER = account.name
    env.LOGNAME = account.name
  }
  return env
}

const spawnOptions = (account: Account | undefined, dir: string | undefined) => ({
  cwd: dir ?? os.tmpdir(),
  env: childEnv(account, dir),
  ...(account === undefined ? {} : { uid: account.uid, gid: account.gid })
})

/**
 * Runs a program to completion; never fails (the result says). The timeout is a Node timer, so it is real time
 * even under TestClock and even inside an uninterruptible acquire.
 */
const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly account?: Account | undefined; readonly dir?: string | undefined; readonly timeoutMs: number }
): Effect.Effect<RunResult> =>
  Effect.async<RunResult>((resume) => {
    let output = ""
    let done = false
    let timedOut = false
    const finish = (result: RunResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.succeed(result))
    }
    const tail = () => (output.trim() === "" ? "" : `\n--- output (tail) ---\n${output.trim()}`)
    const proc = spawn(command, [...args], {
      ...spawnOptions(options.account, options.dir),
      stdio: ["ignore", "pipe", "pipe"]
    })
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL)
    }
    proc.stdout?.on("data", onData)
    proc.stderr?.on("data", onData)
    const timer = setTimeout(() => {
      timedOut = true
      proc.kill("SIGKILL")
    }, options.timeoutMs)
    proc.on("error", (err) => finish({ ok: false, detail: `cannot run ${command}: ${err.message}${tail()}` }))
    proc.on("close", (code, signal) =>
      finish({
        ok: code === 0,
        detail: timedOut
          ? `${path.basename(command)} timed out after ${options.timeoutMs} ms${tail()}`
          : `${path.basename(command)} exited with code ${code}${signal === null ? "" : `, signal ${signal}`}${tail()}`
      }))
    return Effect.sync(() => {
      if (!done) proc.kill("SIGKILL")
    })
  })

// --- preconditions ---------------------------------------------------------------------------------------------

const checkBinaries = (binDir: string) =>
  Effect.suspend(() => {
    const missing = REQUIRED_BINARIES.filter((name) => {
      try {
        fs.accessSync(path.join(binDir, name), fs.constants.X_OK)
        return false
      } catch {
        return true
      }
    })
    return missing.length === 0 ? Effect.void : Effect.fail(
      new PostgresServerError({
        reason: "MissingBinaries",
        message: `PostgreSQL 15 server binaries not found in ${binDir} (missing: ${missing.join(", ")}). ` +
          `Install the Debian package postgresql-15: apt-get install -y postgresql-15 ` +
          `(or run scripts/provision.sh, which does it as root)`
      })
    )
  })

const lookupAccount = (name: string): Account | undefined => {
  let passwd: string
  try {
    passwd = fs.readFileSync("/etc/passwd", "utf8")
  } catch {
    return undefined
  }
  for (const line of passwd.split("\n")) {
    const fields = line.split(":")
    if (fields[0] === name && fields.length >= 4) {
      const uid = Number(fields[2])
      const gid = Number(fields[3])
      if (Number.isInteger(uid) && Number.isInteger(gid) && uid !== 0) return { name, uid, gid }
    }
  }
  return undefined
}

/** undefined when we are not root: the binaries then run as ourselves. */
const resolveAccount = (user: string | undefined): Effect.Effect<Account | undefined, PostgresServerError> =>
  Effect.suspend(() => {
    if (process.getuid?.() !== 0) return Effect.succeed(undefined)
    const candidates = user === undefined ? ["postgres", "nobody"] : [user]
    for (const name of candidates) {
      const account = lookupAccount(name)
      if (account !== undefined) return Effect.succeed(account)
    }
    return Effect.fail(
      new PostgresServerError({
        reason: "NoUnprivilegedUser",
        message: `PostgreSQL refuses to run as root and no unprivileged account (${candidates.join(", ")}) ` +
          `exists in /etc/passwd to run it as; create one (e.g. useradd --system postgres) or pass { user }`
      })
    )
  })

const freePort: Effect.Effect<number, PostgresServerError> = Effect.async((resume) => {
  const server = net.createServer()
  server.once("error", (err) =>
    resume(
      Effect.fail(
        new PostgresServerError({ reason: "StartFailed", message: `cannot find a free port: ${err.message}` })
      )
    ))
  server.listen(0, HOST, () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const canConnect = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: HOST, port })
    const finish = (ok: boolean) => {
      socket.destroy()
      resume(Effect.succeed(ok))
    }
    socket.once("connect", () => finish(true))
    socket.once("error", () => finish(false))
    return Effect.sync(() => socket.destroy())
  })

// --- the temp dir and its watchdog -----------------------------------------------------------------------------

interface TempDir {
  readonly dir: string
  readonly watchdog: ChildProcess
}

// If this process dies without running finalizers (SIGKILL, a killed vitest worker), its end of the watchdog's stdin
// closes, `read` returns, and the watchdog stops the server and removes the dir, so no orphan postmaster survives.
const WATCHDOG = `read _ignored; "$1" stop -D "$2" -m immediate -w -t 10 >/dev/null 2>&1; rm -rf "$3"`

const makeTempDir = (parent: string, account: Account | undefined, binDir: string) =>
  Effect.try({
    try: (): TempDir => {
      const dir = fs.mkdtempSync(path.join(parent, "bitscrape-pg-"))
      try {
        if (account !== undefined) fs.chownSync(dir, account.uid, account.gid)
        const watchdog = spawn("/bin/sh", [
          "-c",
          WATCHDOG,
          "pg-watchdog",
          path.join(binDir, "pg_ctl"),
          dataDir(dir),
          dir
        ], {
          ...spawnOptions(account, dir),
          stdio: ["pipe", "ignore", "ignore"],
          detached: true
        })
        watchdog.on("error", () => {}) // best effort: the normal release does the same work
        watchdog.stdin?.on("error", () => {})
        watchdog.unref()
        ;(watchdog.stdin as net.Socket | null)?.unref?.()
        return { dir, watchdog }
      } catch (error) {
        fs.rmSync(dir, { recursive: true, force: true })
        throw error
      }
    },
    catch: (error) =>
      new PostgresServerError({
        reason: "InitFailed",
        message: `cannot create a temp dir under ${parent}: ${error instanceof Error ? error.message : String(error)}`
      })
  })

const removeTempDir = ({ dir, watchdog }: TempDir) =>
  Effect.sync(() => {
    fs.rmSync(dir, { recursive: true, force: true })
    watchdog.stdin?.end() // the watchdog's own stop/rm now find nothing to do
  })

const dataDir = (dir: string) => path.join(dir, "data")
const logFile = (dir: string) => path.join(dir, "server.log")

const readLog = (dir: string) => {
  try {
    return fs.readFileSync(logFile(dir), "utf8").trim().slice(-OUTPUT_TAIL)
  } catch {
    return ""
  }
}

// --- the server ------------------------------------------------------------------------------------------------

const quoteConf = (value: string) => `'${value.replace(/'/g, "''")}'`

const initdb = (binDir: string, dir: string, account: Account | undefined) =>
  Effect.gen(function*() {
    const result = yield* run(
      path.join(binDir, "initdb"),
      [
        "-D",
        dataDir(dir),
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions"
      ],
      { account, dir, timeoutMs: 60_000 }
    )
    if (!result.ok) {
      return yield* new PostgresServerError({
        reason: "InitFailed",
        message: `initdb failed in ${dir}: ${result.detail}` +
          (account === undefined ? "" : `\n(initdb ran as ${account.name}; it needs to reach ${dir})`)
      })
    }
    const socketDir = path.join(dir, ".s.PGSQL.65535").length <= MAX_SOCKET_PATH ? dir : ""
    // Everything but the port goes in postgresql.conf, so nothing needs shell quoting on pg_ctl's -o.
    const settings = [
      "",
      "# bitscrape test server",
      `listen_addresses = ${quoteConf(HOST)}`,
      `unix_socket_directories = ${quoteConf(socketDir)}`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      // Parallel query needs dynamic shared memory (/dev/shm), often tiny in containers; tests never need it.
      "max_parallel_workers_per_gather = 0",
      ""
    ].join("\n")
    yield* Effect.try({
      try: () => fs.appendFileSync(path.join(dataDir(dir), "postgresql.conf"), settings),
      catch: (error) =>
        new PostgresServerError({ reason: "InitFailed", message: `cannot write postgresql.conf: ${error}` })
    })
  })

const stopServer = (binDir: string, dir: string, account: Account | undefined) =>
  run(path.join(binDir, "pg_ctl"), ["stop", "-D", dataDir(dir), "-m", "immediate", "-w", "-t", "10"], {
    account,
    dir,
    timeoutMs: 15_000
  })

const startOnce = (binDir: string, dir: string, account: Account | undefined, port: number) =>
  Effect.gen(function*() {
    const result = yield* run(
      path.join(binDir, "pg_ctl"),
      ["start", "-D", dataDir(dir), "-l", logFile(dir), "-w", "-t", "30", "-o", `-p ${port}`],
      { account, dir, timeoutMs: 40_000 }
    )
    if (result.ok) return port
    yield* stopServer(binDir, dir, account) // in case a postmaster is up after all (e.g. pg_ctl timed out)
    const log = readLog(dir)
    return yield* new PostgresServerError({
      reason: "StartFailed",
      message: `pg_ctl start on ${HOST}:${port} failed: ${result.detail}` +
        (log === "" ? "" : `\n--- server.log (tail) ---\n${log}`)
    })
  })

const portTaken = (error: PostgresServerError) => /could not bind|address already in use/i.test(error.message)

/** Starts the server; with no fixed port, a port taken between probing and binding is retried with another. */
const start = (binDir: string, dir: string, account: Account | undefined, fixedPort: number | undefined) =>
  fixedPort !== undefined
    ? startOnce(binDir, dir, account, fixedPort)
    : freePort.pipe(
      Effect.flatMap((port) => startOnce(binDir, dir, account, port)),
      Effect.retry({ times: 4, while: portTaken })
    )

const waitAccepting = (port: number) =>
  canConnect(port).pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (ok) => ok }),
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () =>
        new PostgresServerError({ reason: "StartFailed", message: `${HOST}:${port} accepted no connection in 10 s` })
    })
  )

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

const createDatabase = (binDir: string, port: number) => (name: string) =>
  Effect.gen(function*() {
    if (!DATABASE_NAME.test(name)) {
      return yield* new PostgresServerError({
        reason: "BadDatabaseName",
        message: `createDatabase(${
          JSON.stringify(name)
        }): use letters, digits and _ (at most 63, not starting with a digit)`
      })
    }
    // A client: it may run as root. TCP on loopback, trust auth, never prompt.
    const result = yield* run(
      path.join(binDir, "createdb"),
      ["-h", HOST, "-p", String(port), "-U", SUPERUSER, "-w", name],
      { timeoutMs: 30_000 }
    )
    if (!result.ok) {
      return yield* new PostgresServerError({
        reason: "CreateDatabaseFailed",
        message: `createdb ${name} failed: ${result.detail}`
      })
    }
    return `postgres://${SUPERUSER}@${HOST}:${port}/${name}`
  })

/**
 * Starts a fresh PostgreSQL 15 server in the current Scope (initdb + pg_ctl start, well under a second here) and
 * stops it (pg_ctl stop -m immediate) and deletes its dir when the Scope closes. Waits use the real clock, so it
 * works inside `it.effect`/`it.scoped` too. Fails with a PostgresServerError naming postgresql-15 when the
 * binaries are missing: it never skips.
 */
export const makePostgresServer = (
  options: PostgresServerOptions = {}
): Effect.Effect<PostgresServerInfo, PostgresServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const binDir = options.binDir ?? DEFAULT_POSTGRES_BIN_DIR
    yield* checkBinaries(binDir)
    const account = yield* resolveAccount(options.user)
    const startedAt = Date.now()
    const { dir } = yield* Effect.acquireRelease(
      makeTempDir(options.tmpDir ?? os.tmpdir(), account, binDir),
      removeTempDir
    )
    yield* initdb(binDir, dir, account)
    const port = yield* Effect.acquireRelease(
      start(binDir, dir, account, options.port),
      () => stopServer(binDir, dir, account)
    )
    yield* waitAccepting(port)
    return {
      url: `postgres://${SUPERUSER}@${HOST}:${port}/postgres`,
      host: HOST,
      port,
      dir,
      startupMillis: Date.now() - startedAt,
      createDatabase: createDatabase(binDir, port),
      stop: Effect.asVoid(stopServer(binDir, dir, account)).pipe(withLiveClock),
      start: Effect.zipRight(startOnce(binDir, dir, account, port), waitAccepting(port)).pipe(withLiveClock)
    } satisfies PostgresServerInfo
  }).pipe(withLiveClock)

/** `PostgresServer` for the lifetime of the layer (one server per layer build). */
export const layerPostgresServer = (
  options?: PostgresServerOptions
): Layer.Layer<PostgresServer, PostgresServerError> => Layer.scoped(PostgresServer, makePostgresServer(options))
