// FastCheck arbitraries for KRPC messages whose addresses are real IP literals (so compact forms round-trip).
import { FastCheck as fc } from "effect"
import {
  formatIPv4,
  formatIPv6,
  type InfoHash,
  type KrpcMessage,
  type NodeContact,
  type NodeId,
  type SocketAddress,
  type Want
} from "../../src/krpc/index.js"

export const bytes20 = fc.uint8Array({ minLength: 20, maxLength: 20 })
export const nodeId = bytes20.map((b) => b as NodeId)
export const infoHash = bytes20.map((b) => b as InfoHash)
const port = fc.integer({ min: 0, max: 65535 })
export const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b, 0))
export const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b, 0))
export const address4: fc.Arbitrary<SocketAddress> = fc.record({ host: ipv4, port })
export const address: fc.Arbitrary<SocketAddress> = fc.record({ host: fc.oneof(ipv4, ipv6), port })
const contact = (host: fc.Arbitrary<string>): fc.Arbitrary<NodeContact> => fc.record({ id: nodeId, host, port })

const opt = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })
const t = fc.uint8Array({ minLength: 0, maxLength: 8 })
const v = opt(fc.uint8Array({ minLength: 0, maxLength: 4 }))
const ro = opt(fc.boolean())
const want = opt(fc.array(fc.constantFrom<Want>("n4", "n6"), { maxLength: 2 }))
const token = fc.uint8Array({ minLength: 0, maxLength: 20 })

export const krpcMessage: fc.Arbitrary<KrpcMessage> = fc.oneof(
  fc.record({ _tag: fc.constant("PingQuery" as const), t, v, id: nodeId, ro }),
  fc.record({ _tag: fc.constant("FindNodeQuery" as const), t, v, id: nodeId, ro, target: nodeId, want }),
  fc.record({
    _tag: fc.constant("GetPeersQuery" as const),
    t,
    v,
    id: nodeId,
    ro,
    info_hash: infoHash,
    want,
    scrape: opt(fc.boolean()),
    noseed: opt(fc.boolean())
  }),
  fc.record({
    _tag: fc.constant("AnnouncePeerQuery" as const),
    t,
    v,
    id: nodeId,
    ro,
    info_hash: infoHash,
    port,
    token,
    implied_port: opt(fc.boolean()),
    seed: opt(fc.boolean())
  }),
  fc.record({ _tag: fc.constant("SampleInfohashesQuery" as const), t, v, id: nodeId, ro, target: nodeId, want }),
  fc.record({
    _tag: fc.constant("UnknownQuery" as const),
    t,
    v,
    method: fc.stringMatching(/^[a-z_]{1,20}$/).filter((m) =>
      !["ping", "find_node", "get_peers", "announce_peer", "sample_infohashes"].includes(m)
    ),
    id: opt(nodeId)
  }),
  fc.record({
    _tag: fc.constant("Response" as const),
    t,
    v,
    id: nodeId,
    ip: opt(address),
    nodes: opt(fc.array(contact(ipv4), { maxLength: 8 })),
    nodes6: opt(fc.array(contact(ipv6), { maxLength: 8 })),
    values: opt(fc.array(address, { maxLength: 10 })),
    token: opt(token),
    interval: opt(fc.integer({ min: 0, max: 21600 })),
    num: opt(fc.integer({ min: 0, max: 1_000_000 })),
    samples: opt(fc.array(infoHash, { maxLength: 20 })),
    BFsd: opt(fc.uint8Array({ minLength: 256, maxLength: 256 })),
    BFpe: opt(fc.uint8Array({ minLength: 256, maxLength: 256 }))
  }),
  fc.record({
    _tag: fc.constant("ErrorMessage" as const),
    t,
    v,
    ip: opt(address),
    code: fc.constantFrom(201, 202, 203, 204),
    message: fc.string({ maxLength: 40 })
  })
)

/** A plain, comparable view of a message: bytes as hex, undefined keys dropped. */
export const normalize = (value: unknown): unknown => {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex")
  if (Array.isArray(value)) return value.map(normalize)
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(value)) if (x !== undefined) out[k] = normalize(x)
    return out
  }
  return value
}
