// The model's loopback address plan. Block b (0–11) takes the /13 at 127.(100 + 8b).0.0: its first /14 holds the
// DHT nodes, one address each (libtorrent's dos_blocker and routing table are per IP), the next four /16s the
// model's BitTorrent clients. Nothing else in the repository uses 127.100.0.0–127.195.255.255.

/** Addresses of one model instance. */
export interface AddressPlan {
  /** The address of DHT node slot `i` (up to 262,143 slots). */
  readonly node: (i: number) => string
  /** The address of live seeder `i` (BEP 9 server and its DHT client). */
  readonly seeder: (i: number) => string
  /** The address of hostile peer `i`. */
  readonly hostile: (i: number) => string
  /** The address of stale peer `i` whose TCP connects time out (or stall, without iptables). */
  readonly stale: (i: number) => string
  /** The address of stale peer `i` whose TCP connects are refused (nobody listens). */
  readonly refused: (i: number) => string
  /** The CIDR of the timing-out stale peers (the iptables rule's destination). */
  readonly staleCidr: string
  /** The CIDR of the DHT nodes. */
  readonly nodeCidr: string
  /** True for an address of this plan (node or client). */
  readonly owns: (host: string) => boolean
}

export const MAX_BLOCK = 11

const quad = (a: number, i: number) => `127.${a + ((i >> 16) & 255)}.${(i >> 8) & 255}.${i & 255}`

export const addressPlan = (block: number): AddressPlan => {
  if (!Number.isInteger(block) || block < 0 || block > MAX_BLOCK) {
    throw new RangeError(`addressBlock must be an integer in 0–${MAX_BLOCK}, got ${block}`)
  }
  const base = 100 + 8 * block
  return {
    node: (i) => quad(base, i + 1),
    seeder: (i) => quad(base + 4, i + 1),
    hostile: (i) => quad(base + 5, i + 1),
    stale: (i) => quad(base + 6, i + 1),
    refused: (i) => quad(base + 7, i + 1),
    staleCidr: `127.${base + 6}.0.0/16`,
    nodeCidr: `127.${base}.0.0/14`,
    owns: (host) => {
      const m = /^127\.(\d+)\./.exec(host)
      const second = m === null ? -1 : Number(m[1])
      return second >= base && second < base + 8
    }
  }
}
