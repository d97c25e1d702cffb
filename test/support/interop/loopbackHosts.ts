// Distinct 127.x.y.z addresses for harness nodes: libtorrent keeps one routing-table entry per IP, so every node
// of a test swarm needs its own address (INTEROP.md).

const toInt = (host: string): number => {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  const octets = match === null ? [] : match.slice(1).map(Number)
  if (octets.length !== 4 || octets.some((o) => o > 255) || octets[0] !== 127) {
    throw new Error(`not a 127.0.0.0/8 address: ${JSON.stringify(host)}`)
  }
  return ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0
}

const toHost = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

/** `count` consecutive loopback addresses from `base` on, skipping any whose last octet is 0 or 255. */
export const loopbackHosts = (base: string, count: number): ReadonlyArray<string> => {
  const hosts: Array<string> = []
  let n = toInt(base)
  while (hosts.length < count) {
    if (n >>> 24 !== 127) throw new Error(`${count} addresses from ${base} run past 127.255.255.255`)
    const last = n & 255
    if (last !== 0 && last !== 255) hosts.push(toHost(n))
    n++
  }
  return hosts
}

/** True for a 127.0.0.0/8 literal. */
export const isLoopbackHost = (host: string): boolean => {
  try {
    toInt(host)
    return true
  } catch {
    return false
  }
}
