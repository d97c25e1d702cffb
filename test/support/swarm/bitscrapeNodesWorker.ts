// A child process hosting M BitScrape DHT nodes (src/dht, real UDP) on loopback, driven over JSON lines like
// ../interop/dhtSwarmWorker.mjs. Started by BitscrapeNodes.ts as
//   node --import <loopbackGuard.mjs> --import tsx bitscrapeNodesWorker.ts '<config json>'
//
// Config: { hosts: [string], port, maxPps, burst, queryTimeoutMillis, k? }: node i binds hosts[i]:port (0 =
// ephemeral). The nodes start unjoined; `join` bootstraps them. Every node's harvest stream is read here, so the
// worker knows which announce_peer queries each node received (its store) and how many get_peers it answered.
//
// Protocol: one JSON object per line.
//   stdout: {"event":"ready","nodes":[...]} once every node listens; {"event":"fatal","reason","error"} before a
//           deliberate exit; {"id":n,"result":...} or {"id":n,"error":"..."} for each request.
//   stdin:  {"id":n,"cmd":"<name>","args":[...]}; end of stdin means shutdown. Logs go to stderr.
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Clock, Context, Data, Deferred, Duration, Effect, FiberHandle, FiberSet, Layer, Logger } from "effect"
import { LogLevel, Random, Schedule, Schema, Stream } from "effect"
import { createInterface } from "node:readline"
import type { Harvest } from "../../../src/dht/index.js"
import { Dht, dhtConfig, DhtNodeLive, DhtSocket, KrpcNode, RoutingTable } from "../../../src/dht/index.js"
import { IdHex, type InfoHash, infoHashFromHex, toHex } from "../../../src/krpc/index.js"
import { isLoopbackHost } from "../interop/loopbackHosts.js"
// Importing the guard installs it (before `main` opens any socket), even if `--import` was forgotten.
import { takeViolations } from "../loopbackGuard.mjs"
import type { BitscrapeNodesStats } from "./BitscrapeNodes.js"

// === Config and messages ===

const LoopbackHost = Schema.String.pipe(Schema.filter((h) => isLoopbackHost(h) || `not a 127.0.0.0/8 address: ${h}`))
const Port = Schema.Int.pipe(Schema.between(0, 65_535))
const Positive = Schema.Int.pipe(Schema.positive())
const HostPort = Schema.Struct({ host: LoopbackHost, port: Port })

const WorkerConfig = Schema.Struct({
  hosts: Schema.Array(LoopbackHost),
  port: Port,
  maxPps: Positive,
  burst: Positive,
  queryTimeoutMillis: Positive,
  k: Schema.optional(Positive)
})
type WorkerConfig = typeof WorkerConfig.Type

const Request = Schema.parseJson(Schema.Struct({
  id: Schema.Number,
  cmd: Schema.String,
  args: Schema.optionalWith(Schema.Array(Schema.Unknown), { default: () => [] })
}))

const JoinOptions = Schema.Struct({
  /** External bootstrap addresses each node uses (picked at random from the list). */
  fanout: Positive,
  /** Other BitScrape nodes each node also bootstraps from. */
  peers: Schema.Int.pipe(Schema.nonNegative()),
  /** "full": Dht.bootstrap (own-id lookup plus one refresh lookup per bucket); "light": the own-id lookup only. */
  mode: Schema.Literal("full", "light"),
  /** Nodes joining at once. */
  concurrency: Positive
})

class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

const send = (message: unknown) => Effect.sync(() => process.stdout.write(JSON.stringify(message) + "\n"))

const decodeArgs = <A, I>(schema: Schema.Schema<A, I>, args: ReadonlyArray<unknown>) =>
  Schema.decodeUnknown(schema)(args).pipe(
    Effect.mapError((e) => new CommandError({ message: `bad arguments ${JSON.stringify(args)}: ${e.message}` }))
  )

// === Nodes ===

interface HostedNode {
  readonly index: number
  readonly idHex: string
  readonly host: string
  readonly port: number
  readonly dht: Context.Tag.Service<Dht>
  readonly node: Context.Tag.Service<KrpcNode>
  readonly table: Context.Tag.Service<RoutingTable>
  readonly socket: Context.Tag.Service<DhtSocket>
  /** announce_peer queries this node received: infohash hex → announced peers ("host:port"). */
  readonly stored: Map<string, Set<string>>
  getPeersIn: number
  announcesIn: number
}

const contactOf = (n: HostedNode) => ({ idHex: n.idHex, host: n.host, port: n.port })

const record = (n: HostedNode, h: Harvest) => {
  if (h.kind === "get_peers") {
    n.getPeersIn++
    return
  }
  n.announcesIn++
  if (h.peer === undefined) return
  const key = toHex(h.infoHash)
  const peers = n.stored.get(key) ?? new Set<string>()
  peers.add(`${h.peer.host}:${h.peer.port}`)
  n.stored.set(key, peers)
}

const startNode = (config: WorkerConfig, index: number, host: string) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(DhtNodeLive.pipe(Layer.provide(dhtConfig({
      host,
      port: config.port,
      maxPps: config.maxPps,
      burst: config.burst,
      queryTimeout: Duration.millis(config.queryTimeoutMillis),
      // Swarm nodes stand for other clients: no pace, and the configured time-out as it is (on a loaded machine a
      // loopback reply can take longer than an RTT-derived time-out, and a lost reply misplaces an announce).
      perIpIntervalMillis: 0,
      adaptiveTimeout: false,
      ...(config.k === undefined ? {} : { k: config.k })
    }))))
    const socket = Context.get(ctx, DhtSocket)
    const node = Context.get(ctx, KrpcNode)
    const hosted: HostedNode = {
      index,
      idHex: toHex(node.self),
      host: socket.local.host,
      port: socket.local.port,
      dht: Context.get(ctx, Dht),
      node,
      table: Context.get(ctx, RoutingTable),
      socket,
      stored: new Map(),
      getPeersIn: 0,
      announcesIn: 0
    }
    yield* node.harvest.pipe(
      Stream.runForEachChunk((chunk) => Effect.sync(() => Chunk.forEach(chunk, (h) => record(hosted, h)))),
      Effect.forkScoped
    )
    return hosted
  })

// === Commands ===

/** Background get_peers lookups: what a passive crawler harvests at the nodes that answer them. */
interface ActivityStats {
  running: boolean
  ticks: number
  lookups: number
  failed: number
  skipped: number
  withPeers: number
}

/** Activity lookups allowed in flight at once; a tick beyond this skips (and counts) its lookups. */
const MAX_ACTIVITY_INFLIGHT = 64
const MAX_WARNINGS = 1000

const summary = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    min: sorted[0] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0
  }
}

const sumOf = <K extends string>(rows: ReadonlyArray<Readonly<Record<K, number>>>): Record<K, number> => {
  const total = {} as Record<K, number>
  for (const row of rows) {
    for (const key of Object.keys(row) as Array<K>) total[key] = (total[key] ?? 0) + row[key]
  }
  return total
}

const makeCommands = (
  nodes: ReadonlyArray<HostedNode>,
  activityFiber: FiberHandle.FiberHandle
) => {
  const warnings: Array<string> = []
  const violations: Array<string> = []
  const activity: ActivityStats = { running: false, ticks: 0, lookups: 0, failed: 0, skipped: 0, withPeers: 0 }

  const warn = (message: string) =>
    Effect.zipRight(
      Effect.sync(() => {
        if (warnings.length < MAX_WARNINGS) warnings.push(message)
      }),
      Effect.logWarning(message)
    )

  const nodeAt = (i: number) =>
    nodes[i] === undefined
      ? Effect.fail(new CommandError({ message: `no node ${i} (worker has ${nodes.length})` }))
      : Effect.succeed(nodes[i])

  const infoHashArg = (hex: string) => {
    const ih = infoHashFromHex(hex)
    return ih === undefined ? Effect.fail(new CommandError({ message: `bad infohash ${hex}` })) : Effect.succeed(ih)
  }

  const pick = <A>(from: ReadonlyArray<A>, count: number) =>
    Effect.map(Random.shuffle(from), (c) => Chunk.toReadonlyArray(Chunk.take(c, count)))

  const joinOne = (n: HostedNode, external: ReadonlyArray<typeof HostPort.Type>, options: typeof JoinOptions.Type) =>
    Effect.gen(function*() {
      const viaExternal = yield* pick(external, options.fanout)
      const viaPeers = yield* pick(nodes.filter((m) => m !== n), options.peers)
      const addresses = [...viaExternal, ...viaPeers.map((m) => ({ host: m.host, port: m.port }))]
      if (options.mode === "full") {
        yield* n.dht.bootstrap(addresses)
      } else {
        yield* Effect.forEach(addresses, (a) => Effect.ignore(n.node.findNode(a, n.node.self)), {
          concurrency: "unbounded",
          discard: true
        })
        yield* n.dht.findNode(n.node.self)
      }
    }).pipe(Effect.catchAllCause((cause) => warn(`node ${n.index}: join failed: ${cause}`)))

  const lookupOnce = (n: HostedNode, ih: InfoHash) =>
    n.dht.getPeers(ih).pipe(
      Effect.tap((r) =>
        Effect.sync(() => {
          activity.lookups++
          if (r.peers.length > 0) activity.withPeers++
        })
      ),
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.sync(() => activity.failed++),
          warn(`node ${n.index}: activity get_peers ${toHex(ih)} failed: ${cause}`)
        )
      )
    )

  const activityLoop = (targets: ReadonlyArray<InfoHash>, everyMillis: number, perTick: number) =>
    Effect.gen(function*() {
      const running = yield* FiberSet.make()
      const tick = Effect.gen(function*() {
        activity.ticks++
        for (let j = 0; j < perTick; j++) {
          if ((yield* FiberSet.size(running)) >= MAX_ACTIVITY_INFLIGHT) {
            activity.skipped++
            continue
          }
          const n = nodes[yield* Random.nextIntBetween(0, nodes.length)]!
          const ih = targets[yield* Random.nextIntBetween(0, targets.length)]!
          yield* FiberSet.run(running, lookupOnce(n, ih))
        }
      })
      yield* Effect.sync(() => activity.running = true)
      yield* tick.pipe(Effect.repeat(Schedule.spaced(Duration.millis(everyMillis))))
    }).pipe(
      Effect.scoped,
      Effect.ensuring(Effect.sync(() => activity.running = false))
    )

  const commands: Record<string, (args: ReadonlyArray<unknown>) => Effect.Effect<unknown, CommandError>> = {
    nodes: () => Effect.succeed(nodes.map(contactOf)),
    tableSize: (args) =>
      decodeArgs(Schema.Tuple(Schema.Int), args).pipe(
        Effect.flatMap(([i]) => nodeAt(i)),
        Effect.flatMap((n) => n.table.size)
      ),
    tableSizes: () => Effect.forEach(nodes, (n) => n.table.size),
    join: (args) =>
      Effect.gen(function*() {
        const [external, options] = yield* decodeArgs(Schema.Tuple(Schema.Array(HostPort), JoinOptions), args)
        const started = yield* Clock.currentTimeMillis
        yield* Effect.forEach(nodes, (n) => joinOne(n, external, options), {
          concurrency: options.concurrency,
          discard: true
        })
        const sizes = yield* Effect.forEach(nodes, (n) => n.table.size)
        return { millis: (yield* Clock.currentTimeMillis) - started, tableSizes: summary(sizes) }
      }),
    announce: (args) =>
      Effect.gen(function*() {
        const [i, hex, port] = yield* decodeArgs(Schema.Tuple(Schema.Int, IdHex, Port), args)
        const n = yield* nodeAt(i)
        const result = yield* n.dht.announce(yield* infoHashArg(hex), port)
        return { announced: result.announced, responded: result.lookup.responded }
      }),
    getPeers: (args) =>
      Effect.gen(function*() {
        const [i, hex] = yield* decodeArgs(Schema.Tuple(Schema.Int, IdHex), args)
        const n = yield* nodeAt(i)
        const result = yield* n.dht.getPeers(yield* infoHashArg(hex))
        return result.peers
      }),
    stored: (args) =>
      decodeArgs(Schema.Tuple(Schema.Int), args).pipe(
        Effect.flatMap(([i]) => nodeAt(i)),
        Effect.map((n) => [...n.stored.keys()])
      ),
    storedAll: () => Effect.succeed(nodes.map((n) => [...n.stored.keys()])),
    startActivity: (args) =>
      Effect.gen(function*() {
        const [hexes, everyMillis, perTick] = yield* decodeArgs(
          Schema.Tuple(Schema.Array(IdHex), Positive, Positive),
          args
        )
        const targets = yield* Effect.forEach(hexes, infoHashArg)
        if (targets.length === 0 || nodes.length === 0) return false
        yield* FiberHandle.run(activityFiber, activityLoop(targets, everyMillis, perTick))
        return true
      }),
    stopActivity: () => Effect.as(FiberHandle.clear(activityFiber), null),
    stats: () =>
      Effect.gen(function*() {
        const sizes = yield* Effect.forEach(nodes, (n) => n.table.size)
        const distinct = new Set<string>()
        for (const n of nodes) for (const key of n.stored.keys()) distinct.add(key)
        const stats: BitscrapeNodesStats = {
          nodes: nodes.length,
          tableSizes: summary(sizes),
          krpc: sumOf(nodes.map((n) => {
            const { queriesInByMethod: _byMethod, ...counts } = n.node.stats()
            return counts
          })),
          socket: sumOf(nodes.map((n) => n.socket.stats())),
          harvest: {
            getPeersIn: nodes.reduce((s, n) => s + n.getPeersIn, 0),
            announcesIn: nodes.reduce((s, n) => s + n.announcesIn, 0)
          },
          stored: {
            infohashes: distinct.size,
            nodesStoring: nodes.filter((n) => n.stored.size > 0).length
          },
          activity: { ...activity },
          warnings: warnings.length,
          memory: { ...process.memoryUsage() }
        }
        return stats
      }),
    warnings: () => Effect.sync(() => warnings.slice()),
    violations: () =>
      Effect.sync(() => {
        violations.push(...takeViolations())
        return violations.slice()
      }),
    /** Answered by `handleLine`, which completes `stop` once the reply is out. */
    shutdown: () => Effect.succeed(null)
  }

  return commands
}

const handleLine = (
  commands: Record<string, (args: ReadonlyArray<unknown>) => Effect.Effect<unknown, CommandError>>,
  stop: Deferred.Deferred<void>,
  line: string
) =>
  Effect.gen(function*() {
    if (line.trim() === "") return
    const request = yield* Schema.decodeUnknown(Request)(line).pipe(
      Effect.mapError((e) => new CommandError({ message: `unparseable request line ${JSON.stringify(line)}: ${e}` }))
    )
    const handler = commands[request.cmd]
    const reply = yield* (handler === undefined
      ? Effect.fail(new CommandError({ message: `unknown command ${JSON.stringify(request.cmd)}` }))
      : handler(request.args)).pipe(
        Effect.map((result) => ({ id: request.id, result: result ?? null })),
        Effect.catchAll((e) => Effect.succeed({ id: request.id, error: e.message })),
        Effect.catchAllDefect((defect) => Effect.succeed({ id: request.id, error: `defect: ${String(defect)}` }))
      )
    yield* send(reply)
    if (request.cmd === "shutdown") yield* Deferred.succeed(stop, undefined)
  }).pipe(Effect.catchAll((e) => Effect.logError(e.message)))

// === Main ===

const stdinLines = Stream.async<string>((emit) => {
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => void emit.single(line))
  input.on("close", () => void emit.end())
  return Effect.sync(() => input.close())
})

const fatal = (reason: string, error: string) =>
  Effect.zipRight(send({ event: "fatal", reason, error }), Effect.sync(() => process.exit(2)))

const main = Effect.gen(function*() {
  const config = yield* Schema.decodeUnknown(Schema.parseJson(WorkerConfig))(process.argv[2] ?? "{}").pipe(
    Effect.catchAll((e) => fatal("BadConfig", e.message))
  )
  const nodes = yield* Effect.forEach(config.hosts, (host, i) => startNode(config, i, host), { concurrency: 16 }).pipe(
    Effect.catchAllCause((cause) => fatal("StartFailed", String(cause)))
  )
  const stop = yield* Deferred.make<void>()
  const activityFiber = yield* FiberHandle.make()
  const commands = makeCommands(nodes, activityFiber)
  const requests = yield* FiberSet.make()
  yield* send({ event: "ready", nodes: nodes.map(contactOf) })
  yield* Effect.raceFirst(
    stdinLines.pipe(Stream.runForEach((line) => FiberSet.run(requests, handleLine(commands, stop, line)))),
    Deferred.await(stop)
  )
}).pipe(
  Effect.scoped,
  Effect.zipRight(Effect.sync(() => process.exit(0)))
)

main.pipe(
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
  Logger.withMinimumLogLevel(LogLevel.Warning),
  NodeRuntime.runMain
)
