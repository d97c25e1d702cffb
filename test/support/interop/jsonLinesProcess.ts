// A child process driven over JSON lines, owned by a Scope: the shared core of the interop harnesses.
// The child prints {"event":"ready",...} once, then answers {"id","cmd","args"} requests with {"id","result"} or
// {"id","error"}. It may print {"event":"fatal","reason","error"} just before a deliberate exit.
import { Clock, Data, Deferred, Duration, Effect, Exit, FiberId } from "effect"
import type { Scope } from "effect"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

/** A failure of an interop harness process; `message` says which process and includes its stderr tail. */
export class InteropProcessError extends Data.TaggedError("InteropProcessError")<{
  readonly reason:
    | "MissingDependency" // the program or a module it needs is not installed
    | "Crashed" // the process ended while we still needed it
    | "StartTimeout" // no ready line within the start timeout
    | "CommandTimeout" // a request got no reply in time
    | "CommandFailed" // the process replied with an error
    | "BadConfig" // options that are malformed or would leave loopback; nothing was started
  readonly process: string
  readonly message: string
}> {}

export interface JsonLinesProcessOptions {
  /** Shown in every error, e.g. "bittorrent-dht swarm". */
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly startTimeout: Duration.DurationInput
  /** Appended to the error when `command` cannot be started at all (what to install). */
  readonly missingHint: string
}

export interface JsonLinesProcess {
  /** The payload of the child's ready line. */
  readonly ready: Record<string, unknown>
  readonly pid: number
  /** Sends one request; fails with CommandFailed on an error reply, Crashed if the child dies meanwhile. */
  readonly request: <A>(
    cmd: string,
    args: ReadonlyArray<unknown>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<A, InteropProcessError>
}

const STDERR_TAIL = 4000

/**
 * Runs `self` on the real clock even inside `it.effect`/`it.scoped` (whose TestClock would never let a timeout
 * fire): a harness waits on real processes, so its sleeps and timeouts are wall-clock time.
 */
export const withLiveClock = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withClock(self, Clock.make())

interface Child {
  readonly options: JsonLinesProcessOptions
  readonly proc: ReturnType<typeof spawn>
  readonly ready: Deferred.Deferred<Record<string, unknown>, InteropProcessError>
  readonly closed: Deferred.Deferred<void>
  readonly pending: Map<number, Deferred.Deferred<unknown, InteropProcessError>>
  nextId: number
  stderr: string
  fatal: { readonly reason: string; readonly error: string } | undefined
  failure: InteropProcessError | undefined
  wasReady: boolean
  stopping: boolean
}

const fail = (child: Child, reason: InteropProcessError["reason"], detail: string) =>
  new InteropProcessError({
    reason,
    process: child.options.name,
    message: `${child.options.name}: ${detail}` +
      (child.stderr.trim() === "" ? "" : `\n--- stderr (tail) ---\n${child.stderr.trim()}`)
  })

/** Records the child's end: everything waiting on it fails with the same error from now on. */
const markGone = (child: Child, error: InteropProcessError) => {
  child.failure ??= error
  Deferred.unsafeDone(child.ready, Exit.fail(child.failure))
  for (const deferred of child.pending.values()) Deferred.unsafeDone(deferred, Exit.fail(child.failure))
  child.pending.clear()
}

const onLine = (child: Child, line: string) => {
  let message: Record<string, unknown>
  try {
    message = JSON.parse(line)
  } catch {
    child.stderr = (child.stderr + `[stdout] ${line}\n`).slice(-STDERR_TAIL)
    return
  }
  if (message.event === "ready") {
    child.wasReady = true
    Deferred.unsafeDone(child.ready, Exit.succeed(message))
  } else if (message.event === "fatal") {
    child.fatal = { reason: String(message.reason), error: String(message.error) }
  } else if (typeof message.id === "number") {
    const deferred = child.pending.get(message.id)
    child.pending.delete(message.id)
    if (deferred === undefined) return
    Deferred.unsafeDone(
      deferred,
      "error" in message
        ? Exit.fail(fail(child, "CommandFailed", `request ${message.id} failed: ${String(message.error)}`))
        : Exit.succeed(message.result)
    )
  }
}

const start = (options: JsonLinesProcessOptions): Child => {
  const proc = spawn(options.command, [...options.args], { stdio: ["pipe", "pipe", "pipe"] })
  const child: Child = {
    options,
    proc,
    ready: Deferred.unsafeMake(FiberId.none),
    closed: Deferred.unsafeMake(FiberId.none),
    pending: new Map(),
    nextId: 1,
    stderr: "",
    fatal: undefined,
    failure: undefined,
    wasReady: false,
    stopping: false
  }
  proc.stdin?.on("error", () => {}) // EPIPE after the child died: reported through "close" instead
  proc.stderr?.on("data", (chunk: Buffer) => {
    child.stderr = (child.stderr + chunk.toString("utf8")).slice(-STDERR_TAIL)
  })
  if (proc.stdout) createInterface({ input: proc.stdout }).on("line", (line) => onLine(child, line))
  proc.on("error", (err: NodeJS.ErrnoException) => {
    const missing = err.code === "ENOENT" || err.code === "EACCES"
    markGone(
      child,
      fail(
        child,
        missing ? "MissingDependency" : "Crashed",
        `cannot run ${options.command}: ${err.message}. ` +
          (missing ? options.missingHint : "")
      )
    )
    Deferred.unsafeDone(child.closed, Exit.void)
  })
  proc.on("close", (code, signal) => {
    const detail = child.fatal !== undefined
      ? `${child.fatal.reason}: ${child.fatal.error}`
      : `exited unexpectedly (code ${code}, signal ${signal})`
    const reason = child.fatal?.reason === "MissingDependency" ? "MissingDependency" : "Crashed"
    if (!child.stopping) markGone(child, fail(child, reason, detail))
    Deferred.unsafeDone(child.closed, Exit.void)
  })
  return child
}

const request = <A>(child: Child, cmd: string, args: ReadonlyArray<unknown>, timeout: Duration.DurationInput) =>
  Effect.suspend(() => {
    if (child.failure !== undefined) return Effect.fail(child.failure)
    const id = child.nextId++
    const deferred = Deferred.unsafeMake<unknown, InteropProcessError>(FiberId.none)
    child.pending.set(id, deferred)
    child.proc.stdin?.write(JSON.stringify({ id, cmd, args }) + "\n")
    return Deferred.await(deferred).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          fail(
            child,
            "CommandTimeout",
            `${cmd}(${JSON.stringify(args)}) got no reply within ` +
              Duration.format(Duration.decode(timeout))
          )
      }),
      Effect.ensuring(Effect.sync(() => child.pending.delete(id))),
      Effect.map((result) => result as A)
    )
  })

/**
 * Stops the child: a polite "shutdown" request (if it ever got ready), then SIGKILL. If the child had crashed after
 * it was ready, the finalizer dies with that error, so a test that never touched the dead harness again still fails.
 */
const stop = (child: Child) =>
  Effect.gen(function*() {
    const crashedInUse = child.wasReady ? child.failure : undefined
    if (!(yield* Deferred.isDone(child.closed))) {
      child.stopping = true
      if (child.wasReady) yield* request(child, "shutdown", [], "5 seconds").pipe(Effect.ignore)
      const exited = yield* Deferred.await(child.closed).pipe(
        Effect.timeout(child.wasReady ? "3 seconds" : "10 millis"),
        Effect.option
      )
      if (exited._tag === "None") {
        child.proc.kill("SIGKILL")
        yield* Deferred.await(child.closed).pipe(Effect.timeout("5 seconds"), Effect.ignore)
      }
    }
    if (crashedInUse !== undefined) yield* Effect.die(crashedInUse)
  })

/** Starts the child in the current Scope and waits for its ready line; the Scope's end stops it. */
export const spawnJsonLines = (
  options: JsonLinesProcessOptions
): Effect.Effect<JsonLinesProcess, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(Effect.sync(() => start(options)), (child) => withLiveClock(stop(child)))
    const ready = yield* Deferred.await(child.ready).pipe(
      Effect.timeoutFail({
        duration: options.startTimeout,
        onTimeout: () =>
          fail(child, "StartTimeout", `not ready within ${Duration.format(Duration.decode(options.startTimeout))}`)
      })
    )
    return {
      ready,
      pid: child.proc.pid ?? -1,
      request: <A>(cmd: string, args: ReadonlyArray<unknown>, timeout: Duration.DurationInput = "30 seconds") =>
        withLiveClock(request<A>(child, cmd, args, timeout))
    }
  }).pipe(withLiveClock)
