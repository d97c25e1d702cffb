import { commonPrefixLength, compareDistance, copyId, ID_LENGTH, type NodeId, randomIdBytes } from "../domain/ids.js"
import type { Bep42Status } from "../krpc/bep42.js"
import type { NodeContact } from "../krpc/compact.js"

// The BEP 5 routing table as a pure, mutable structure: buckets indexed by the length of the prefix a node
// shares with our id. Bucket i (i < last) holds nodes sharing exactly i leading bits with us; the last bucket
// holds everything sharing more, and is the only one that splits. Time is passed in (ms), never read here.

/** BEP 5: a node is good if it responded within the last 15 minutes. */
export const GOOD_WINDOW_MS = 15 * 60_000
/** BEP 5: a node that failed several queries in a row is bad. */
export const BAD_AFTER_FAILURES = 2
const MAX_BUCKETS = ID_LENGTH * 8
/** `lastResponse` of a node that never answered us (Clock time may legitimately be 0, as under TestClock). */
export const NEVER = -1

/** One node in the table. Ids are private copies, never views into datagrams. */
export interface Entry {
  readonly id: NodeId
  readonly key: string
  host: string
  port: number
  firstSeen: number
  lastSeen: number
  /** Last time it answered one of our queries; `NEVER` if it has not. */
  lastResponse: number
  /** Consecutive queries it failed to answer. */
  failures: number
  bep42: Bep42Status
  /** Client version (`v`) last seen. */
  version: Uint8Array | undefined
}

/** BEP 5 node states: bad after 2 failed queries in a row; good if it answered and was heard within 15 min. */
export type NodeState = "good" | "questionable" | "bad"

interface Bucket {
  entries: Array<Entry>
  /** Nodes that answered while the bucket was full, newest last; they replace bad entries. */
  replacements: Array<Entry>
  lastChanged: number
}

export interface Table {
  readonly self: NodeId
  readonly k: number
  readonly buckets: Array<Bucket>
  readonly byKey: Map<string, Entry>
  size: number
}

/** What happened to a node we heard from. */
export type Placement =
  | "inserted"
  | "refreshed"
  | "replaced-bad"
  | "bucket-full"
  | "rejected-self"
  | "rejected-unverified"
  | "rejected-address-conflict"

export interface Observation {
  /** The node answered one of our queries ("response") or sent us one ("query"). */
  readonly kind: "response" | "query"
  readonly bep42: Bep42Status
  /** Admit ids that fail BEP 42 (default true; the RoutingTable layer passes its policy explicitly). */
  readonly admitUnverified?: boolean | undefined
  readonly version?: Uint8Array | undefined
}

export const empty = (self: NodeId, k: number, now: number): Table => ({
  self: copyId(self),
  k,
  buckets: [{ entries: [], replacements: [], lastChanged: now }],
  byKey: new Map(),
  size: 0
})

export const state = (e: Entry, now: number): NodeState => {
  if (e.failures >= BAD_AFTER_FAILURES) return "bad"
  if (e.lastResponse !== NEVER && (now - e.lastResponse < GOOD_WINDOW_MS || now - e.lastSeen < GOOD_WINDOW_MS)) {
    return "good"
  }
  return "questionable"
}

const bucketIndex = (table: Table, id: Uint8Array) =>
  Math.min(commonPrefixLength(table.self, id), table.buckets.length - 1)

const newEntry = (contact: NodeContact, key: string, obs: Observation, now: number): Entry => ({
  id: copyId(contact.id),
  key,
  host: contact.host,
  port: contact.port,
  firstSeen: now,
  lastSeen: now,
  lastResponse: obs.kind === "response" ? now : NEVER,
  failures: 0,
  bep42: obs.bep42,
  version: obs.version === undefined ? undefined : Uint8Array.prototype.slice.call(obs.version)
})

const split = (table: Table, now: number): void => {
  const last = table.buckets.length - 1
  const old = table.buckets[last]!
  const next: Bucket = { entries: [], replacements: [], lastChanged: now }
  table.buckets.push(next)
  const stay = (e: Entry) => commonPrefixLength(table.self, e.id) === last
  next.entries = old.entries.filter((e) => !stay(e))
  old.entries = old.entries.filter(stay)
  next.replacements = old.replacements.filter((e) => !stay(e))
  old.replacements = old.replacements.filter(stay)
}

/** The map key of an id: its 20 bytes as a latin1 string (cheaper to build than hex on the per-packet path). */
export const keyOf = (id: Uint8Array): string => String.fromCharCode.apply(null, id as unknown as Array<number>)

/** Records that we heard from `contact`. */
export const observe = (
  table: Table,
  contact: NodeContact,
  obs: Observation,
  now: number,
  admitUnverified = obs.admitUnverified ?? true
): Placement => {
  const key = keyOf(contact.id)
  const known = table.byKey.get(key)
  if (known !== undefined) {
    if (known.host !== contact.host || known.port !== contact.port) {
      // Same id from another address: only a node that proved itself there may move (anti-hijack).
      if (obs.kind !== "response" || state(known, now) !== "bad") return "rejected-address-conflict"
      known.host = contact.host
      known.port = contact.port
    }
    known.lastSeen = now
    if (obs.kind === "response") {
      known.lastResponse = now
      known.failures = 0
    }
    if (obs.version !== undefined) known.version = Uint8Array.prototype.slice.call(obs.version)
    known.bep42 = obs.bep42
    return "refreshed"
  }
  if (compareDistance(table.self, contact.id, table.self) === 0) return "rejected-self"
  if (obs.bep42 === "invalid" && !admitUnverified) return "rejected-unverified"
  for (;;) {
    const index = bucketIndex(table, contact.id)
    const bucket = table.buckets[index]!
    if (bucket.entries.length < table.k) {
      const entry = newEntry(contact, key, obs, now)
      bucket.entries.push(entry)
      bucket.lastChanged = now
      table.byKey.set(key, entry)
      table.size++
      return "inserted"
    }
    if (index === table.buckets.length - 1 && table.buckets.length < MAX_BUCKETS) {
      split(table, now)
      continue
    }
    const bad = bucket.entries.findIndex((e) => state(e, now) === "bad")
    if (bad >= 0) {
      table.byKey.delete(bucket.entries[bad]!.key)
      const entry = newEntry(contact, key, obs, now)
      bucket.entries[bad] = entry
      bucket.lastChanged = now
      table.byKey.set(key, entry)
      return "replaced-bad"
    }
    if (obs.kind === "response" && !bucket.replacements.some((e) => e.key === key)) {
      bucket.replacements.push(newEntry(contact, key, obs, now))
      if (bucket.replacements.length > table.k) bucket.replacements.shift()
    }
    return "bucket-full"
  }
}

/** Records that `id` failed to answer a query; a bad node gives way to the newest replacement. */
export const failed = (table: Table, id: Uint8Array, now: number): void => {
  const entry = table.byKey.get(keyOf(id))
  if (entry === undefined) return
  entry.failures++
  if (state(entry, now) !== "bad") return
  const bucket = table.buckets[bucketIndex(table, id)]!
  const replacement = bucket.replacements.pop()
  if (replacement === undefined) return
  const at = bucket.entries.indexOf(entry)
  table.byKey.delete(entry.key)
  bucket.entries[at] = replacement
  bucket.lastChanged = now
  table.byKey.set(replacement.key, replacement)
}

const byDistance = (target: Uint8Array) => (a: Entry, b: Entry) => compareDistance(target, a.id, b.id)

/**
 * Up to `count` non-bad entries nearest to `target`, nearest first. Visits buckets in distance order (the
 * target's own bucket, then every bucket nearer our id, then the farther ones one by one), so only small
 * groups are sorted.
 */
export const closest = (table: Table, target: Uint8Array, count: number, now: number): Array<Entry> => {
  const out: Array<Entry> = []
  const take = (entries: Array<Entry>) => {
    const usable = entries.filter((e) => state(e, now) !== "bad")
    usable.sort(byDistance(target))
    for (const e of usable) {
      if (out.length >= count) return
      out.push(e)
    }
  }
  const last = table.buckets.length - 1
  const i = bucketIndex(table, target)
  take(table.buckets[i]!.entries)
  if (out.length < count && i < last) {
    const nearer: Array<Entry> = []
    for (let j = i + 1; j <= last; j++) nearer.push(...table.buckets[j]!.entries)
    take(nearer)
  }
  for (let j = i - 1; j >= 0 && out.length < count; j--) take(table.buckets[j]!.entries)
  return out
}

/** Questionable entries, least recently seen first. */
export const questionable = (table: Table, now: number, limit: number): Array<Entry> =>
  [...table.byKey.values()].filter((e) => state(e, now) === "questionable")
    .sort((a, b) => a.lastSeen - b.lastSeen)
    .slice(0, limit)

/** A random id sharing exactly `bits` leading bits with `self` (bit `bits` differs); `bits` = 160 gives `self`. */
export const randomIdAtPrefix = (self: Uint8Array, bits: number): NodeId => {
  const id = randomIdBytes()
  for (let bit = 0; bit < Math.min(bits + 1, ID_LENGTH * 8); bit++) {
    const byte = bit >> 3
    const mask = 0x80 >> (bit & 7)
    const want = bit < bits ? self[byte]! : ~self[byte]!
    id[byte] = (id[byte]! & ~mask) | (want & mask)
  }
  return id as Uint8Array as NodeId
}

/** A random id that falls in bucket `index` (for the last bucket: anything sharing at least `index` bits). */
export const randomIdInBucket = (table: Table, index: number): NodeId => {
  if (index < table.buckets.length - 1) return randomIdAtPrefix(table.self, index)
  const id = randomIdAtPrefix(table.self, index)
  // In the last bucket bit `index` may take either value.
  const byte = index >> 3
  if (byte < ID_LENGTH && Math.random() < 0.5) id[byte] = id[byte]! ^ (0x80 >> (index & 7))
  return id
}

/** Random targets for buckets unchanged for `staleMs` (BEP 5 bucket refresh); marks them refreshed. */
export const refreshTargets = (table: Table, now: number, staleMs: number): Array<NodeId> => {
  const targets: Array<NodeId> = []
  table.buckets.forEach((bucket, index) => {
    if (now - bucket.lastChanged >= staleMs) {
      targets.push(randomIdInBucket(table, index))
      bucket.lastChanged = now
    }
  })
  return targets
}

/** Every entry, bucket by bucket. */
export const entries = (table: Table): Array<Entry> => table.buckets.flatMap((b) => b.entries)
