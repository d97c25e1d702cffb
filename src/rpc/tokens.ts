import { createHash, randomBytes } from "node:crypto"

// BEP 5 write tokens: get_peers hands out a token bound to the querier's IP; announce_peer must bring it back.
// Secrets rotate every 5 minutes and the previous secret is still accepted, so a token is good for 5–10
// minutes ("tokens up to ten minutes old are accepted"). Secrets are derived from a per-node master key and
// the epoch number, so rotation needs no timer: time is passed in (ms) from Clock.

export const TOKEN_EPOCH_MS = 5 * 60_000
const TOKEN_LENGTH = 8

export interface TokenIssuer {
  readonly make: (host: string, now: number) => Uint8Array
  readonly verify: (token: Uint8Array, host: string, now: number) => boolean
}

export const makeTokenIssuer = (master: Uint8Array = randomBytes(20)): TokenIssuer => {
  const forEpoch = (host: string, epoch: number) =>
    createHash("sha1").update(master).update(String(epoch)).update(host).digest().subarray(0, TOKEN_LENGTH)
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
  return {
    make: (host, now) => forEpoch(host, Math.floor(now / TOKEN_EPOCH_MS)),
    verify: (token, host, now) => {
      if (token.length !== TOKEN_LENGTH) return false
      const epoch = Math.floor(now / TOKEN_EPOCH_MS)
      return same(token, forEpoch(host, epoch)) || same(token, forEpoch(host, epoch - 1))
    }
  }
}
