// What the model received from each external source IP: the total, and the most within any one second (a sliding
// window over arrival times), so a benchmark or test can check a crawler's per-IP pacing from the outside.

export interface IpInbound {
  readonly ip: string
  /** UDP packets received from this IP by any simulated node. */
  readonly packets: number
  /** The most packets received from it within any 1-second window. */
  readonly maxPerSecond: number
}

export interface IpStats {
  readonly record: (ip: string, now: number) => void
  readonly snapshot: () => Array<IpInbound>
}

export const makeIpStats = (): IpStats => {
  const table = new Map<string, { packets: number; maxPerSecond: number; recent: Array<number>; head: number }>()
  return {
    record: (ip, now) => {
      let s = table.get(ip)
      if (s === undefined) table.set(ip, s = { packets: 0, maxPerSecond: 0, recent: [], head: 0 })
      s.packets++
      s.recent.push(now)
      while (s.recent[s.head]! <= now - 1000) s.head++
      if (s.head > 4096) {
        s.recent = s.recent.slice(s.head)
        s.head = 0
      }
      s.maxPerSecond = Math.max(s.maxPerSecond, s.recent.length - s.head)
    },
    snapshot: () =>
      Array.from(table, ([ip, s]) => ({ ip, packets: s.packets, maxPerSecond: s.maxPerSecond }))
        .sort((a, b) => b.packets - a.packets)
  }
}
