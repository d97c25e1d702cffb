import { Clock, Effect, Layer, Option, Stream } from "effect"
import { categoryOf } from "../domain/categories.js"
import type { InfoHash, NodeId } from "../domain/ids.js"
import { toHex } from "../domain/ids.js"
import type {
  CrawlSessionInfo,
  DiscoverySource,
  EvictionClass,
  ExportItem,
  InfohashRecord,
  NodeRecord,
  SavedSearch,
  SearchQuery,
  SwarmEstimate,
  Torrent,
  TorrentSummary
} from "../domain/model.js"
import { familyOfHost, RANK_WINDOW, SEARCH_CAP, WHOLE_WORDS_ABOVE } from "../domain/model.js"
import { churnOf, contentOf, nodesOf, popularityOf, sourcesOf } from "./analysisMemory.js"
import {
  addByInterval,
  daysOf,
  HOUR_MS,
  type MinuteRate,
  POPULARITY_RETENTION_MS,
  RESPONSE_RATE_RETENTION_MS,
  topOf
} from "./analysisModel.js"
import { type BlockEntry, type BlockRecord, nameMatcher, parseBlockEntry } from "./blocklist.js"
import { Repository, SavedSearchExists, TorrentNotFound } from "./Repository.js"
import { MAX_QUERY_WORDS, searchWords } from "./sqlText.js"

// The Repository in memory, for unit tests: same contract and semantics as the SQL backends (counters
// accumulate, torrents are stored once, search matches every word, the last as a prefix), no durability.

interface IhRow {
  record: {
    infoHash: InfoHash
    firstSeen: number
    lastSeen: number
    seen: Record<DiscoverySource, number>
    status: InfohashRecord["status"]
    attempts: number
    lastError: string | undefined
    swarm: SwarmEstimate | undefined
  }
  peers: Map<string, { host: string; port: number; lastSeen: number }>
  lastAttempt: number
}

const make = Effect.sync(() => {
  const nodes = new Map<
    string,
    { -readonly [K in keyof NodeRecord]: NodeRecord[K] } & { readOnly: boolean; bep51: boolean | undefined }
  >()
  const infohashes = new Map<string, IhRow>()
  /** Sightings per hour (start, ms), infohash (hex) and source, kept POPULARITY_RETENTION_MS. */
  const hours = new Map<number, Map<string, Record<DiscoverySource, number>>>()
  let prunedHour = 0
  /** Our queries per minute (start, ms), kept RESPONSE_RATE_RETENTION_MS before the newest. */
  const rates = new Map<number, MinuteRate>()
  const torrents = new Map<string, Torrent & { discoveredAt: number; order: number }>()
  const bans = new Map<string, number>()
  const sessionList: Array<{ -readonly [K in keyof CrawlSessionInfo]: CrawlSessionInfo[K] }> = []
  let order = 0
  const blocked: Array<BlockRecord> = []
  let blockId = 0
  const blockedHash = (key: string) => blocked.some((b) => b.kind === "infohash" && b.value === key)
  const blockedName = (name: string) => nameMatcher(blocked.filter((b) => b.kind === "name").map((b) => b.value))(name)
  const addBlock = (e: BlockEntry & { readonly via?: string | undefined }, at: number) => {
    if (blocked.some((b) => b.kind === e.kind && b.value === e.value)) return undefined
    const record: BlockRecord = {
      id: ++blockId,
      kind: e.kind,
      value: e.value,
      reason: e.reason,
      addedAt: at,
      via: e.via
    }
    blocked.push(record)
    return record
  }
  /** An infohash's hourly sightings go with it (blocklist, eviction), as in the SQL repository. */
  const dropHours = (key: string) => {
    for (const counts of hours.values()) counts.delete(key)
  }
  const forget = (key: string) => {
    const gone = { torrent: torrents.delete(key), infohash: infohashes.delete(key) }
    dropHours(key)
    return gone
  }
  /** Deletes up to `limit` of the oldest rows of a class seen before `before`. */
  const removeOldest = (what: EvictionClass, limit: number, before: number): number => {
    const pick = <A>(items: Array<A>, at: (a: A) => number) =>
      items.filter((a) => at(a) < before).sort((a, b) => at(a) - at(b)).slice(0, limit)
    switch (what) {
      case "peers": {
        const all = [...infohashes.values()].flatMap((r) => [...r.peers].map(([k, p]) => ({ r, k, at: p.lastSeen })))
        const gone = pick(all, (x) => x.at)
        for (const g of gone) g.r.peers.delete(g.k)
        return gone.length
      }
      case "nodes": {
        const gone = pick([...nodes.entries()], ([, n]) => n.lastSeen)
        for (const [k] of gone) nodes.delete(k)
        return gone.length
      }
      case "infohashes": {
        const gone = pick(
          [...infohashes.entries()].filter(([, r]) => r.record.status !== "fetched"),
          ([, r]) => r.record.lastSeen
        )
        for (const [k] of gone) {
          infohashes.delete(k)
          dropHours(k)
        }
        return gone.length
      }
      case "torrents": {
        const gone = pick([...torrents.entries()], ([, t]) => t.fetchedAt)
        for (const [k] of gone) forget(k)
        return gone.length
      }
    }
  }
  const visible = (key: string, name: string | undefined) =>
    !blockedHash(key) && (name === undefined || blockedName(name) === undefined)

  const row = (infoHash: InfoHash, at: number): IhRow => {
    const key = toHex(infoHash)
    let r = infohashes.get(key)
    if (r === undefined) {
      r = {
        record: {
          infoHash: Uint8Array.prototype.slice.call(infoHash) as InfoHash,
          firstSeen: at,
          lastSeen: at,
          seen: { sample: 0, get_peers: 0, announce: 0, lookup: 0 },
          status: "pending",
          attempts: 0,
          lastError: undefined,
          swarm: undefined
        },
        peers: new Map(),
        lastAttempt: 0
      }
      infohashes.set(key, r)
    }
    return r
  }
  const recordOf = (r: IhRow): InfohashRecord => ({ ...r.record, seen: { ...r.record.seen }, peersSeen: r.peers.size })

  const matches = (t: Torrent & { discoveredAt: number }, q: SearchQuery, whole = false) => {
    if (q.minSize !== undefined && t.totalLength < q.minSize) return false
    if (q.maxSize !== undefined && t.totalLength > q.maxSize) return false
    if (q.minFiles !== undefined && t.files.length < q.minFiles) return false
    if (q.maxFiles !== undefined && t.files.length > q.maxFiles) return false
    if (q.since !== undefined && t.discoveredAt < q.since) return false
    if (q.until !== undefined && t.discoveredAt >= q.until) return false
    if (q.category !== undefined && categoryOf(t.files) !== q.category) return false
    if (q.text !== undefined && q.text.trim() !== "") {
      const words = searchWords(q.text).slice(0, MAX_QUERY_WORDS).map((w) => w.toLowerCase())
      if (words.length === 0) return false
      const haystack = new Set(
        searchWords(`${t.name}\n${t.files.map((f) => f.path).join("\n")}`).map((w) => w.toLowerCase())
      )
      return words.every((w, i) =>
        !whole && i === words.length - 1 ? [...haystack].some((h) => h.startsWith(w)) : haystack.has(w)
      )
    }
    return true
  }

  /** Popularity: the larger of distinct peers seen and the BEP 33 swarm estimate. */
  const peersOf = (t: Torrent) => {
    const r = infohashes.get(toHex(t.infoHash))
    if (r === undefined) return 0
    const swarm = r.record.swarm
    return Math.max(r.peers.size, swarm === undefined ? 0 : swarm.seeders + swarm.leechers)
  }

  const summary = (t: Torrent & { discoveredAt: number }): TorrentSummary => ({
    infoHash: t.infoHash,
    name: t.name,
    totalLength: t.totalLength,
    fileCount: t.files.length,
    discoveredAt: t.discoveredAt,
    fetchedAt: t.fetchedAt,
    category: categoryOf(t.files)
  })

  const saved: Array<{ -readonly [K in keyof SavedSearch]: SavedSearch[K] }> = []
  let savedIds = 0

  const imports = new Map<string, { infoHash: InfoHash; at: number }>()

  return Repository.of({
    queueImports: (hashes, at) =>
      Effect.sync(() => {
        let added = 0
        for (const h of hashes) {
          const key = toHex(h)
          if (imports.has(key)) continue
          imports.set(key, { infoHash: Uint8Array.prototype.slice.call(h) as InfoHash, at })
          added++
        }
        return added
      }),
    importQueue: (limit) =>
      Effect.sync(() => {
        for (const key of [...imports.keys()]) if (torrents.has(key)) imports.delete(key)
        return [...imports.entries()]
          .sort(([ka, a], [kb, b]) => a.at - b.at || (ka < kb ? -1 : 1))
          .slice(0, Math.max(1, limit))
          .map(([, v]) => v.infoHash)
      }),
    newMatches: (q, after, until, limit) =>
      Effect.sync(() => {
        const afterHex = after.infoHash === undefined ? undefined : toHex(after.infoHash)
        return [...torrents.values()]
          .filter((t) =>
            t.fetchedAt <= until &&
            (t.fetchedAt > after.fetchedAt ||
              (t.fetchedAt === after.fetchedAt && afterHex !== undefined && toHex(t.infoHash) > afterHex)) &&
            visible(toHex(t.infoHash), t.name) && matches(t, q)
          )
          .sort((a, b) => a.fetchedAt - b.fetchedAt || (toHex(a.infoHash) < toHex(b.infoHash) ? -1 : 1))
          .slice(0, Math.max(1, limit))
          .map(summary)
      }),
    addSavedSearch: (s) =>
      saved.some((x) => x.name === s.name)
        ? Effect.fail(new SavedSearchExists({ name: s.name }))
        : Effect.sync(() => {
          const row = {
            ...s,
            id: ++savedIds,
            cursor: { fetchedAt: s.createdAt, infoHash: undefined },
            delivered: 0,
            lastAttemptAt: undefined,
            lastError: undefined
          }
          saved.push(row)
          return { ...row }
        }),
    savedSearches: Effect.sync(() => saved.map((x) => ({ ...x }))),
    removeSavedSearch: (name) =>
      Effect.sync(() => {
        const i = saved.findIndex((x) => x.name === name)
        if (i >= 0) saved.splice(i, 1)
        return i >= 0
      }),
    recordDelivery: (id, o) =>
      Effect.sync(() => {
        const x = saved.find((s) => s.id === id)
        if (x === undefined) return
        x.lastAttemptAt = o.at
        if ("error" in o) {
          x.lastError = o.error
        } else {
          x.lastError = undefined
          x.cursor = o.cursor
          x.delivered += o.delivered
        }
      }),
    backend: "memory",
    upsertNodes: (list) =>
      Effect.sync(() => {
        for (const n of list) {
          const key = `${toHex(n.id)}|${n.host}|${n.port}`
          const prev = nodes.get(key)
          const lastResponse = Math.max(prev?.lastResponse ?? -Infinity, n.respondedAt ?? -Infinity)
          nodes.delete(key) // most recently seen last
          nodes.set(key, {
            id: prev?.id ?? (Uint8Array.from(n.id) as NodeId),
            host: n.host,
            port: n.port,
            firstSeen: Math.min(prev?.firstSeen ?? n.seenAt, n.seenAt),
            lastSeen: Math.max(prev?.lastSeen ?? n.seenAt, n.seenAt),
            lastResponse: isFinite(lastResponse) ? lastResponse : undefined,
            timesSeen: (prev?.timesSeen ?? 0) + 1,
            bep42: n.bep42 ?? prev?.bep42,
            version: n.version ?? prev?.version,
            readOnly: n.readOnly === true,
            bep51: n.bep51 ?? prev?.bep51
          })
        }
      }),
    recordDiscoveries: (list) =>
      Effect.sync(() => {
        for (const d of list) {
          if (blockedHash(toHex(d.infoHash))) continue
          const r = row(d.infoHash, d.at)
          r.record.firstSeen = Math.min(r.record.firstSeen, d.at)
          r.record.lastSeen = Math.max(r.record.lastSeen, d.at)
          r.record.seen[d.source]++
          const hour = Math.floor(d.at / HOUR_MS) * HOUR_MS
          const counts = hours.get(hour) ?? new Map<string, Record<DiscoverySource, number>>()
          hours.set(hour, counts)
          const c = counts.get(toHex(d.infoHash)) ?? { sample: 0, get_peers: 0, announce: 0, lookup: 0 }
          counts.set(toHex(d.infoHash), c)
          c[d.source]++
          if (d.swarm !== undefined && (r.record.swarm === undefined || r.record.swarm.at <= d.at)) {
            r.record.swarm = { seeders: Math.round(d.swarm.seeders), leechers: Math.round(d.swarm.leechers), at: d.at }
          }
          if (hour > prunedHour) {
            prunedHour = hour
            for (const h of hours.keys()) if (h < hour - POPULARITY_RETENTION_MS) hours.delete(h)
          }
          if (d.peer !== undefined && d.peer.port > 0) {
            const key = `${d.peer.host}|${d.peer.port}`
            const prev = r.peers.get(key)
            r.peers.set(key, { ...d.peer, lastSeen: Math.max(prev?.lastSeen ?? 0, d.at) })
          }
        }
      }),
    saveTorrents: (list) =>
      Effect.sync(() => {
        for (const t of list) {
          if (blockedHash(toHex(t.infoHash))) continue
          const pattern = blockedName(t.name)
          if (pattern !== undefined) {
            addBlock({
              kind: "infohash",
              value: toHex(t.infoHash),
              reason: `name matches "${pattern}"`,
              via: pattern
            }, t.fetchedAt)
            forget(toHex(t.infoHash))
            continue
          }
          const r = row(t.infoHash, t.fetchedAt)
          r.record.status = "fetched"
          const key = toHex(t.infoHash)
          if (!torrents.has(key)) torrents.set(key, { ...t, discoveredAt: r.record.firstSeen, order: order++ })
        }
      }),
    recordFailures: (list) =>
      Effect.sync(() => {
        for (const f of list) {
          if (blockedHash(toHex(f.infoHash))) continue
          const r = row(f.infoHash, f.at)
          r.record.attempts++
          r.lastAttempt = f.at
          r.record.lastError = f.error.slice(0, 500)
          if (r.record.status !== "fetched") r.record.status = "failed"
        }
      }),
    search: (q) =>
      Effect.sync(() => {
        // As the SQL backends: a last word that matches more than WHOLE_WORDS_ABOVE torrents taken whole is
        // searched whole.
        const last = q.text === undefined ? undefined : searchWords(q.text).slice(0, MAX_QUERY_WORDS).at(-1)
        const whole = last !== undefined &&
          [...torrents.values()].filter((t) => matches(t, { text: last }, true)).length > WHOLE_WORDS_ABOVE
        let found = [...torrents.entries()].filter(([k, t]) => visible(k, t.name) && matches(t, q, whole)).map((
          [, t]
        ) => t)
        const sorters: Record<string, (a: typeof found[number], b: typeof found[number]) => number> = {
          relevance: (a, b) => b.discoveredAt - a.discoveredAt || a.order - b.order,
          newest: (a, b) => b.discoveredAt - a.discoveredAt || a.order - b.order,
          oldest: (a, b) => a.discoveredAt - b.discoveredAt || a.order - b.order,
          largest: (a, b) => b.totalLength - a.totalLength || a.order - b.order,
          smallest: (a, b) => a.totalLength - b.totalLength || a.order - b.order,
          name: (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || a.order - b.order,
          popular: (a, b) => peersOf(b) - peersOf(a) || a.order - b.order
        }
        // As the SQL backends: past SEARCH_CAP matches, only the words' SEARCH_CAP most recently stored matches.
        if (found.length > SEARCH_CAP && q.text !== undefined && searchWords(q.text).length > 0) {
          const recent = new Set(
            [...torrents.values()].filter((t) => matches(t, { text: q.text }, whole)).sort((a, b) => b.order - a.order)
              .slice(0, SEARCH_CAP)
          )
          const total = found.length
          const limit = Math.min(Math.max(1, q.limit ?? 20), 500)
          const offset = Math.max(0, q.offset ?? 0)
          const sort = q.sort ?? "relevance"
          const textOnly = q.minSize === undefined && q.maxSize === undefined && q.minFiles === undefined &&
            q.maxFiles === undefined && q.since === undefined && q.until === undefined && q.category === undefined
          // Text alone by relevance or newest: from the RANK_WINDOW most recent (or as many as the page reaches).
          const window = textOnly && (sort === "relevance" || sort === "newest")
            ? Math.min(SEARCH_CAP, Math.max(RANK_WINDOW, offset + limit))
            : SEARCH_CAP
          const considered = new Set([...recent].slice(0, window))
          found = found.filter((t) => considered.has(t))
          found.sort(sorters[sort])
          return {
            total: Math.min(total, SEARCH_CAP),
            capped: true,
            items: found.slice(offset, offset + limit).map(summary)
          }
        }
        found.sort(sorters[q.sort ?? "relevance"])
        const limit = Math.min(Math.max(1, q.limit ?? 20), 500)
        const offset = Math.max(0, q.offset ?? 0)
        return {
          total: Math.min(found.length, SEARCH_CAP),
          capped: found.length > SEARCH_CAP,
          items: found.slice(offset, offset + limit).map(summary)
        }
      }),
    getTorrent: (infoHash) =>
      Effect.suspend(() => {
        const t = torrents.get(toHex(infoHash))
        if (t === undefined || !visible(toHex(infoHash), t.name)) {
          return Effect.fail(new TorrentNotFound({ infoHash: toHex(infoHash) }))
        }
        const r = infohashes.get(toHex(infoHash))!
        return Effect.succeed({
          ...t,
          category: categoryOf(t.files),
          fileCount: t.files.length,
          seen: { ...r.record.seen },
          peersSeen: r.peers.size,
          swarm: r.record.swarm,
          peers: [...r.peers.values()].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, 100)
        })
      }),
    getInfohash: (infoHash) =>
      Effect.sync(() => Option.map(Option.fromNullable(infohashes.get(toHex(infoHash))), recordOf)),
    pendingMetadata: (limit) =>
      Effect.sync(() =>
        [...infohashes.values()].filter((r) => r.record.status !== "fetched").map(recordOf).sort((a, b) =>
          b.peersSeen - a.peersSeen ||
          Object.values(b.seen).reduce((x, y) => x + y) - Object.values(a.seen).reduce((x, y) => x + y) ||
          a.attempts - b.attempts
        ).slice(0, limit)
      ),
    settledInfohashes: (hashes, giveUp) =>
      Effect.sync(() => {
        const out = new Set<string>()
        for (const h of hashes) {
          const key = toHex(h)
          const r = infohashes.get(key)
          if (torrents.has(key) || blockedHash(key)) out.add(key)
          else if (
            r !== undefined && r.record.status === "failed" && r.record.attempts >= giveUp.minAttempts &&
            r.lastAttempt >= giveUp.since
          ) out.add(key)
        }
        return out
      }),
    recordBans: (hosts, ban) =>
      Effect.sync(() => {
        if (hosts.length === 0) return
        for (const [h, until] of bans) if (until <= ban.at) bans.delete(h)
        for (const h of hosts) bans.set(h, ban.until)
      }),
    activeBans: (now) => Effect.sync(() => [...bans].filter(([, until]) => until > now).map(([h]) => h)),
    recentNodes: (limit) =>
      Effect.sync(() =>
        [...nodes.values()].filter((n) => n.lastResponse !== undefined).sort((a, b) =>
          b.lastResponse! - a.lastResponse!
        ).slice(0, limit).map(({ host, port }) => ({ host, port }))
      ),
    nodes: (limit) =>
      Effect.sync(() =>
        [...nodes.values()].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, limit).map((
          { bep51: _b, readOnly: _r, ...n }
        ) => n)
      ),
    stats: Effect.sync(() => {
      const all = [...infohashes.values()]
      const split = (hosts: ReadonlyArray<string>) => {
        const ipv6 = hosts.filter((h) => familyOfHost(h) === "ipv6").length
        return { ipv4: hosts.length - ipv6, ipv6 }
      }
      const count = (s: DiscoverySource) => all.filter((r) => r.record.seen[s] > 0).length
      return {
        nodes: nodes.size,
        infohashes: all.length,
        bySource: {
          sample: count("sample"),
          get_peers: count("get_peers"),
          announce: count("announce"),
          lookup: count("lookup")
        },
        withPeers: all.filter((r) => r.peers.size > 0).length,
        torrents: torrents.size,
        files: [...torrents.values()].reduce((n, t) => n + t.files.length, 0),
        failed: all.filter((r) => r.record.status === "failed").length,
        sessions: sessionList.length,
        byFamily: {
          nodes: split([...nodes.values()].map((n) => n.host)),
          peers: split(all.flatMap((r) => [...r.peers.values()].map((p) => p.host)))
        }
      }
    }),
    export: (q) =>
      Stream.suspend(() => {
        const torrentFilters = q.text !== undefined || q.minSize !== undefined || q.maxSize !== undefined ||
          q.minFiles !== undefined || q.maxFiles !== undefined || q.category !== undefined
        const items: Array<ExportItem> = [...infohashes.entries()].sort(([a], [b]) => a < b ? -1 : 1)
          .map(([key, r]) => ({
            infoHash: r.record.infoHash,
            discoveredAt: r.record.firstSeen,
            torrent: torrents.get(key)
          }))
          .filter((item) => {
            if (!visible(toHex(item.infoHash), item.torrent?.name)) return false
            if (q.hasMetadata === true && item.torrent === undefined) return false
            if (q.hasMetadata === false && item.torrent !== undefined) return false
            if (item.torrent !== undefined) return matches(item.torrent as Torrent & { discoveredAt: number }, q)
            if (torrentFilters) return false
            return (q.since === undefined || item.discoveredAt >= q.since) &&
              (q.until === undefined || item.discoveredAt < q.until)
          })
        return Stream.fromIterable(items)
      }),
    startSession: (settings) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sessionList.push({
          id: sessionList.length + 1,
          startedAt: now,
          endedAt: undefined,
          state: "running",
          settings,
          totals: null
        })
        return sessionList.length
      }),
    endSession: (id, totals) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const s = sessionList[id - 1]
        if (s !== undefined) {
          s.endedAt = now
          s.state = "ended"
          s.totals = totals
        }
      }),
    sessions: (limit) => Effect.sync(() => [...sessionList].reverse().slice(0, limit)),
    analyzeContent: (o) => Effect.sync(() => contentOf([...torrents.values()], topOf(o))),
    analyzeSources: (o) => Effect.sync(() => sourcesOf([...infohashes.values()].map(recordOf), daysOf(o))),
    analyzeNodes: (o) => Effect.sync(() => nodesOf([...nodes.values()], [...torrents.values()], topOf(o))),
    analyzeChurn: (o) => Effect.sync(() => churnOf([...nodes.values()], daysOf(o), [...rates.values()])),
    recordResponseRates: (list) =>
      Effect.sync(() => {
        addByInterval(rates, list)
        const newest = Math.max(...rates.keys())
        for (const at of rates.keys()) if (at < newest - RESPONSE_RATE_RETENTION_MS) rates.delete(at)
      }),
    analyzePopularity: (o) =>
      Effect.map(Clock.currentTimeMillis, (clock) =>
        popularityOf(
          [...infohashes.entries()].map(([key, r]) => ({
            record: recordOf(r),
            peerTimes: [...r.peers.values()].map((p) => p.lastSeen),
            name: torrents.get(key)?.name
          })),
          o.since,
          topOf(o),
          o.now ?? clock,
          hours
        )),
    // One process owns the memory: every open session belongs to a crawl still running in it.
    heartbeat: () => Effect.void,
    block: (entries) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const added = entries.flatMap((e) => addBlock(e, now) ?? [])
        let purgedTorrents = 0
        let purgedInfohashes = 0
        for (const e of entries.filter((x) => x.kind === "infohash")) {
          const gone = forget(e.value)
          purgedTorrents += gone.torrent ? 1 : 0
          purgedInfohashes += gone.infohash ? 1 : 0
        }
        for (const e of entries.filter((x) => x.kind === "name")) {
          const match = nameMatcher([e.value])
          for (const [key, t] of [...torrents]) {
            if (match(t.name) === undefined) continue
            addBlock({ kind: "infohash", value: key, reason: `name matches "${e.value}"`, via: e.value }, now)
            const gone = forget(key)
            purgedTorrents += gone.torrent ? 1 : 0
            purgedInfohashes += gone.infohash ? 1 : 0
          }
        }
        return { added, purged: { torrents: purgedTorrents, infohashes: purgedInfohashes } }
      }),
    unblock: (text) =>
      Effect.sync(() => {
        const t = text.trim()
        const parsed = parseBlockEntry(t)
        const target = blocked.find((b) =>
          /^\d+$/.test(t)
            ? b.id === Number(t)
            : parsed.ok && b.kind === parsed.entry.kind && b.value === parsed.entry.value
        )
        if (target === undefined) return 0
        const gone = blocked.filter((b) => b === target || (target.kind === "name" && b.via === target.value))
        for (const g of gone) blocked.splice(blocked.indexOf(g), 1)
        return gone.length
      }),
    blocklist: Effect.sync(() => [...blocked]),
    // Nothing on disk: the size is 0 and there is nothing to reclaim; retention and eviction work as in SQL.
    size: Effect.succeed({ bytes: 0, used: 0 }),
    rowCounts: Effect.sync(() => ({
      peers: [...infohashes.values()].reduce((n, r) => n + r.peers.size, 0),
      infohashes: [...infohashes.values()].filter((r) => r.record.status !== "fetched").length,
      nodes: nodes.size,
      torrents: torrents.size
    })),
    expire: (what, before) => Effect.sync(() => removeOldest(what, Infinity, before)),
    evict: (what, rows) => Effect.sync(() => removeOldest(what, Math.max(1, Math.floor(rows)), Infinity)),
    reclaim: () => Effect.void,
    // One process owns an in-memory database.
    exclusively: (effect) => Effect.asSome(effect),
    closeInterruptedSessions: Effect.succeed([])
  })
})

/** The Repository in memory (unit tests). */
export const RepositoryMemory = Layer.effect(Repository, make)
