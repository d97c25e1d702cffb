// Saved searches POST their new matches to a webhook: against loopback receivers that accept, fail for a while
// (503s, or not listening at all), or refuse; on the in-memory and SQLite repositories.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SavedSearchRunner, SavedSearchRunnerLive, type WebhookPayload } from "../../src/alerts/SavedSearchRunner.js"
import { webhookConfig, type WebhookSettings } from "../../src/config/WebhookConfig.js"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository } from "../../src/repository/Repository.js"
import { makeTorrent } from "../support/torrents.js"

interface Receiver {
  readonly url: string
  readonly port: number
  /** Bodies of every request received, accepted or not. */
  readonly received: Array<WebhookPayload>
  /** Starts listening (a receiver made with `listening: false` is down until then). */
  readonly start: () => Promise<void>
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (text += c))
    req.on("end", () => resolve(text))
  })

/** A loopback webhook receiver answering each request with `status(n)` (n counts from 1). */
const receiver = (status: (n: number) => number = () => 200, listening = true) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const received: Array<WebhookPayload> = []
      const server: Server = createServer((req, res) => {
        void readBody(req).then((body) => {
          received.push(JSON.parse(body) as WebhookPayload)
          res.writeHead(status(received.length), { "content-type": "text/plain" }).end("ok")
        })
      })
      // A free port: listen, note it, and close again when the receiver starts down.
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as AddressInfo).port
      if (!listening) await new Promise<void>((resolve) => server.close(() => resolve()))
      return {
        server,
        receiver: {
          url: `http://127.0.0.1:${port}/hook`,
          port,
          received,
          start: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
        } satisfies Receiver
      }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map((r) => r.receiver))

const fast: Partial<WebhookSettings> = {
  settle: Duration.zero,
  retries: 2,
  retryBase: Duration.millis(10),
  retryMax: Duration.millis(50),
  timeout: Duration.seconds(10)
}

const runnerWith = (repo: Repository["Type"], settings: Partial<WebhookSettings>) =>
  Layer.build(
    SavedSearchRunnerLive.pipe(
      Layer.provide(Layer.merge(webhookConfig({ ...fast, ...settings }), Layer.succeed(Repository, repo)))
    )
  ).pipe(
    Effect.map((ctx) => ctx.unsafeMap.get(SavedSearchRunner.key) as SavedSearchRunner["Type"])
  )

const T0 = Date.now() - 3_600_000

const sqlite = () => {
  const dir = mkdtempSync(join(tmpdir(), "bitscrape-saved-"))
  return Layer.merge(
    RepositorySqlite(join(dir, "s.db")),
    Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  )
}

describe("saved searches and webhooks", () => {
  for (const [backend, layer] of [["memory", () => RepositoryMemory], ["SQLite", sqlite]] as const) {
    it.scopedLive(`only new matches, oldest first, each once; paging by batch, ties included (${backend})`, () =>
      Effect.gen(function*() {
        const ctx = yield* Layer.build(layer())
        const repo = ctx.unsafeMap.get(Repository.key) as Repository["Type"]
        const hook = yield* receiver()
        const saved = yield* repo.addSavedSearch({
          name: "ubuntu",
          query: "q=ubuntu&min_size=1KB",
          webhook: hook.url,
          createdAt: T0
        })
        assert.strictEqual(saved.cursor.fetchedAt, T0)
        const t = (name: string, fetchedAt: number, length = 5_000) =>
          makeTorrent(name, [{ path: `${name}.iso`, length }], { fetchedAt })
        yield* repo.saveTorrents([
          t("ubuntu old", T0 - 1_000), // before the search was saved
          t("ubuntu one", T0 + 1_000),
          t("ubuntu two", T0 + 2_000),
          t("debian three", T0 + 3_000), // no match
          t("ubuntu tiny", T0 + 3_500, 10), // below min_size
          t("ubuntu three", T0 + 4_000),
          t("ubuntu future", Date.now() + 3_600_000) // fetched "later" than now: waits (settle)
        ])
        const runner = yield* runnerWith(repo, {})
        const [first] = yield* runner.runOnce
        assert.deepStrictEqual(first, { name: "ubuntu", delivered: 3, posts: 1, error: undefined })
        assert.strictEqual(hook.received.length, 1)
        const body = hook.received[0]!
        assert.deepStrictEqual(body.matches.map((m) => m.name), ["ubuntu one", "ubuntu two", "ubuntu three"])
        assert.deepStrictEqual(body.saved_search, { id: saved.id, name: "ubuntu", query: "q=ubuntu&min_size=1KB" })
        assert.match(body.matches[0]!.magnet, new RegExp(`^magnet:\\?xt=urn:btih:${body.matches[0]!.infohash}`))
        assert.isString(body.delivery)

        // Nothing new: no POST.
        const [again] = yield* runner.runOnce
        assert.deepStrictEqual(again, { name: "ubuntu", delivered: 0, posts: 0, error: undefined })
        assert.strictEqual(hook.received.length, 1)

        // Three more, two fetched in the same millisecond, delivered one per POST: none lost or repeated.
        const tied = [t("ubuntu tie a", T0 + 5_000), t("ubuntu tie b", T0 + 5_000), t("ubuntu four", T0 + 6_000)]
        yield* repo.saveTorrents(tied)
        const oneByOne = yield* runnerWith(repo, { batch: 1 })
        const [paged] = yield* oneByOne.runOnce
        assert.deepStrictEqual(paged, { name: "ubuntu", delivered: 3, posts: 3, error: undefined })
        const later = hook.received.slice(1).map((b) => b.matches.map((m) => m.name))
        assert.strictEqual(later.length, 3)
        assert.sameMembers(later.flat(), ["ubuntu tie a", "ubuntu tie b", "ubuntu four"])
        assert.strictEqual(later[2]![0], "ubuntu four")
        assert.strictEqual(new Set(hook.received.map((b) => b.delivery)).size, 4)

        const [state] = yield* repo.savedSearches
        assert.strictEqual(state!.delivered, 6)
        assert.isUndefined(state!.lastError)
        assert.strictEqual(state!.cursor.fetchedAt, T0 + 6_000)
        assert.strictEqual(toHex(state!.cursor.infoHash!), toHex(tied[2]!.infoHash))
      }))
  }

  it.scopedLive("a receiver failing for a while (503s) gets the same delivery again until it accepts", () =>
    Effect.gen(function*() {
      const repo = (yield* Layer.build(RepositoryMemory)).unsafeMap.get(Repository.key) as Repository["Type"]
      const hook = yield* receiver((n) => n <= 2 ? 503 : 200)
      yield* repo.addSavedSearch({ name: "all", query: "", webhook: hook.url, createdAt: T0 })
      yield* repo.saveTorrents([makeTorrent("anything", [{ path: "anything.bin", length: 1 }], { fetchedAt: T0 + 1 })])
      const [report] = yield* (yield* runnerWith(repo, { retries: 5 })).runOnce
      assert.deepStrictEqual(report, { name: "all", delivered: 1, posts: 1, error: undefined })
      assert.strictEqual(hook.received.length, 3)
      assert.strictEqual(new Set(hook.received.map((b) => JSON.stringify(b.matches))).size, 1)
      assert.strictEqual(new Set(hook.received.map((b) => b.delivery)).size, 1)
    }))

  it.scopedLive("a receiver down past a round's retries: the error is recorded, the next round delivers it all", () =>
    Effect.gen(function*() {
      const repo = (yield* Layer.build(RepositoryMemory)).unsafeMap.get(Repository.key) as Repository["Type"]
      const hook = yield* receiver(() => 200, false)
      yield* repo.addSavedSearch({ name: "iso", query: "q=iso", webhook: hook.url, createdAt: T0 })
      yield* repo.saveTorrents([
        makeTorrent("first iso", [{ path: "a.iso", length: 1 }], { fetchedAt: T0 + 1 }),
        makeTorrent("second iso", [{ path: "b.iso", length: 1 }], { fetchedAt: T0 + 2 })
      ])
      const runner = yield* runnerWith(repo, { retries: 2 })
      const [down] = yield* runner.runOnce
      assert.strictEqual(down!.delivered, 0)
      assert.match(down!.error!, new RegExp(`127\\.0\\.0\\.1:${hook.port}`))
      const [failed] = yield* repo.savedSearches
      assert.isString(failed!.lastError)
      assert.strictEqual(failed!.cursor.fetchedAt, T0) // nothing counted as delivered
      assert.strictEqual(failed!.delivered, 0)

      yield* Effect.promise(() => hook.start())
      const [up] = yield* runner.runOnce
      assert.deepStrictEqual(up, { name: "iso", delivered: 2, posts: 1, error: undefined })
      assert.deepStrictEqual(hook.received[0]!.matches.map((m) => m.name), ["first iso", "second iso"])
      const [ok] = yield* repo.savedSearches
      assert.isUndefined(ok!.lastError)
      assert.strictEqual(ok!.delivered, 2)
    }))

  it.scopedLive("a receiver that comes back within the round's back-off gets the delivery in that round", () =>
    Effect.gen(function*() {
      const repo = (yield* Layer.build(RepositoryMemory)).unsafeMap.get(Repository.key) as Repository["Type"]
      const hook = yield* receiver(() => 200, false)
      yield* repo.addSavedSearch({ name: "all", query: "", webhook: hook.url, createdAt: T0 })
      yield* repo.saveTorrents([makeTorrent("late", [{ path: "late.bin", length: 1 }], { fetchedAt: T0 + 1 })])
      // Back-off 100 ms, 200 ms, 400 ms, … (10 retries, at most 2 s apart): the receiver starts after 300 ms.
      const runner = yield* runnerWith(repo, {
        retries: 10,
        retryBase: Duration.millis(100),
        retryMax: Duration.seconds(2)
      })
      const round = yield* Effect.fork(runner.runOnce)
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => hook.start())
      const [report] = yield* round.await.pipe(Effect.flatten)
      assert.deepStrictEqual(report, { name: "all", delivered: 1, posts: 1, error: undefined })
      assert.strictEqual(hook.received.length, 1)
    }))

  it.scopedLive("a refusing receiver (4xx) is not retried; saved search names are unique", () =>
    Effect.gen(function*() {
      const repo = (yield* Layer.build(RepositoryMemory)).unsafeMap.get(Repository.key) as Repository["Type"]
      const hook = yield* receiver(() => 400)
      yield* repo.addSavedSearch({ name: "all", query: "", webhook: hook.url, createdAt: T0 })
      const dup = yield* Effect.flip(
        repo.addSavedSearch({ name: "all", query: "q=x", webhook: hook.url, createdAt: T0 })
      )
      assert.strictEqual(dup._tag, "SavedSearchExists")
      yield* repo.saveTorrents([makeTorrent("x", [{ path: "x.bin", length: 1 }], { fetchedAt: T0 + 1 })])
      const [report] = yield* (yield* runnerWith(repo, { retries: 5 })).runOnce
      assert.strictEqual(report!.delivered, 0)
      assert.match(report!.error!, /answered 400/)
      assert.strictEqual(hook.received.length, 1)
      assert.isTrue(yield* repo.removeSavedSearch("all"))
      assert.isFalse(yield* repo.removeSavedSearch("all"))
      assert.deepStrictEqual(yield* repo.savedSearches, [])
    }))
})
