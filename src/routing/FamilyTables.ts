import { Context } from "effect"
import type { NodeContact } from "../krpc/compact.js"

// Dual stack (BEP 32): one node id on an IPv4 and an IPv6 socket, each with the routing table of its own
// family. The two KRPC nodes of one id share this registry, so each can answer `want: n4, n6` from both tables
// and knows to ask for both families. Synchronous: it is read on the per-packet path.

/** Up to `count` contacts nearest to `target`, nearest first (a routing table's `unsafeClosest`). */
export type Closest = (target: Uint8Array, count: number) => ReadonlyArray<NodeContact>

/** The routing tables of one node id, one per address family (see the file's header). */
export interface FamilyTablesShape {
  /** Registers the table of `family` (the KRPC node on that family's socket does it when it starts). */
  readonly register: (family: 4 | 6, closest: Closest) => void
  /** The table of `family`, if this id has a socket of that family. */
  readonly closest: (family: 4 | 6) => Closest | undefined
}

/** The routing tables shared by the IPv4 and IPv6 nodes of one id; absent: a single-stack node. */
export class FamilyTables extends Context.Tag("bitscrape/FamilyTables")<FamilyTables, FamilyTablesShape>() {}

/** An empty registry for one node id. */
export const makeFamilyTables = (): FamilyTablesShape => {
  const tables: { 4?: Closest; 6?: Closest } = {}
  return {
    register: (family, closest) => void (tables[family] = closest),
    closest: (family) => tables[family]
  }
}
