// bench/codec: the KRPC hot path (specialised decoder/encoder) against the generic way a JavaScript developer
// would do it: npm `bencode` decode followed by the same validation into typed messages (and bencode.encode
// of the equivalent plain object for encoding). One process, interleaved rounds.
import bencode from "bencode"
import { Either } from "effect"
import { randomBytes } from "node:crypto"
import {
  decodeMessage,
  encodeMessage,
  encodeNodes,
  type InfoHash,
  type KrpcMessage,
  type NodeContact,
  type NodeId
} from "../src/krpc/index.js"
import { decodeGeneric } from "../test/support/genericKrpc.js"
import { compare, consume, fmtRate } from "./harness.js"

const id = () => randomBytes(20) as Uint8Array as NodeId
const contacts = (n: number): Array<NodeContact> =>
  Array.from({ length: n }, (_, i) => ({ id: id(), host: `127.0.${i}.${i + 1}`, port: 6881 + i }))

const messages: ReadonlyArray<[string, KrpcMessage]> = [
  ["find_node response, 8 nodes", {
    _tag: "Response",
    t: Buffer.from("aa12"),
    v: Buffer.from("LT\x02\x00"),
    id: id(),
    nodes: contacts(8),
    ip: { host: "127.0.0.1", port: 6881 }
  }],
  ["get_peers query", {
    _tag: "GetPeersQuery",
    t: Buffer.from("gp"),
    v: Buffer.from("UT\x01\x00"),
    id: id(),
    info_hash: randomBytes(20) as Uint8Array as InfoHash
  }],
  ["sample_infohashes response, 20 samples", {
    _tag: "Response",
    t: Buffer.from("si"),
    id: id(),
    interval: 21600,
    num: 345,
    nodes: contacts(8),
    samples: Array.from({ length: 20 }, () => randomBytes(20) as Uint8Array as InfoHash)
  }]
]

/** The plain object `bencode.encode` needs for the same message. */
const toTree = (m: KrpcMessage): Record<string, unknown> => {
  if (m._tag === "Response") {
    const r: Record<string, unknown> = { id: m.id }
    if (m.nodes) r.nodes = encodeNodes(m.nodes, 4)
    if (m.samples) r.samples = Buffer.concat(m.samples)
    if (m.interval !== undefined) r.interval = m.interval
    if (m.num !== undefined) r.num = m.num
    return { r, t: m.t, y: "r", ...(m.v ? { v: m.v } : {}) }
  }
  if (m._tag === "GetPeersQuery") {
    return { a: { id: m.id, info_hash: m.info_hash }, q: "get_peers", t: m.t, y: "q", ...(m.v ? { v: m.v } : {}) }
  }
  throw new Error("not needed by this benchmark")
}

export interface CodecRow {
  readonly message: string
  readonly bytes: number
  readonly decodeFast: number
  readonly decodeGeneric: number
  readonly encodeFast: number
  readonly encodeGeneric: number
}

export const runCodecBench = (): ReadonlyArray<CodecRow> =>
  messages.map(([name, message]) => {
    const wire = encodeMessage(message)
    // Sanity: both paths agree on this input before we time them.
    if (Either.isLeft(decodeMessage(wire)) || Either.isLeft(decodeGeneric(wire))) throw new Error(`bad fixture ${name}`)
    const tree = toTree(message)
    const [fastD, genericD, fastE, genericE] = compare([
      {
        name: "decode fast",
        run: (n) => {
          for (let i = 0; i < n; i++) consume(decodeMessage(wire))
        }
      },
      {
        name: "decode bencode+validate",
        run: (n) => {
          for (let i = 0; i < n; i++) consume(decodeGeneric(wire))
        }
      },
      {
        name: "encode fast",
        run: (n) => {
          for (let i = 0; i < n; i++) consume(encodeMessage(message))
        }
      },
      {
        name: "encode bencode",
        run: (n) => {
          for (let i = 0; i < n; i++) consume(bencode.encode(tree))
        }
      }
    ])
    return {
      message: name,
      bytes: wire.length,
      decodeFast: fastD!.opsPerSecond,
      decodeGeneric: genericD!.opsPerSecond,
      encodeFast: fastE!.opsPerSecond,
      encodeGeneric: genericE!.opsPerSecond
    }
  })

export const codecTable = (rows: ReadonlyArray<CodecRow>): string =>
  [
    "| message | bytes | decode+validate (ours) | bencode.decode+validate | ratio | encode (ours) | bencode.encode | ratio |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.message} | ${r.bytes} | ${fmtRate(r.decodeFast)} | ${fmtRate(r.decodeGeneric)} | ${
        (r.decodeFast / r.decodeGeneric).toFixed(1)
      }× | ${fmtRate(r.encodeFast)} | ${fmtRate(r.encodeGeneric)} | ${(r.encodeFast / r.encodeGeneric).toFixed(1)}× |`
    )
  ].join("\n")
