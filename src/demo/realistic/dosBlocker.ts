// libtorrent's DHT dos_blocker (src/kademlia/dos_blocker.cpp), rewritten: each node tracks up to 20 source IPs.
// An IP that sends 50 packets (dht_block_ratelimit 5/s × 10) within 10 s of its first one is ignored for
// 300 s (dht_block_timeout); after that its count starts again. Counted per IP, whatever the source port, and
// the table of 20 recycles the entry with the fewest packets, so many quiet IPs cannot be tracked at once.

const SLOTS = 20
const RATE = 5
const WINDOW_MS = 10_000
const BLOCK_MS = 300_000

interface Entry {
  ip: string
  count: number
  /** End of the counting window, or of the block once blocked. */
  limit: number
}

/** What one packet did: accepted, ignored, or ignored as the packet that started a block. */
export type DosVerdict = "accept" | "ignore" | "block"

export interface DosBlocker {
  readonly incoming: (ip: string, now: number) => DosVerdict
}

export const makeDosBlocker = (): DosBlocker => {
  const entries: Array<Entry> = []
  return {
    incoming: (ip, now) => {
      let match: Entry | undefined
      let min: Entry | undefined
      for (const e of entries) {
        if (e.ip === ip) {
          match = e
          break
        }
        if (min === undefined || e.count < min.count || (e.count === min.count && e.limit < min.limit)) min = e
      }
      if (match === undefined) {
        if (entries.length < SLOTS) entries.push({ ip, count: 1, limit: now + WINDOW_MS })
        else Object.assign(min!, { ip, count: 1, limit: now + WINDOW_MS })
        return "accept"
      }
      match.count++
      if (match.count < RATE * 10) return "accept"
      if (now < match.limit) {
        if (match.count !== RATE * 10) return "ignore"
        match.limit = now + BLOCK_MS
        return "block"
      }
      match.count = 0
      match.limit = now + WINDOW_MS
      return "accept"
    }
  }
}
