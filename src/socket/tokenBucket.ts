// A token bucket over caller-supplied time (ms), so Clock/TestClock drive it. Pure and synchronous.

export interface TokenBucket {
  /** Tokens added per second. */
  readonly rate: number
  /** Most tokens held at once. */
  readonly burst: number
  /** Current tokens; negative while senders hold reservations ("debt"). */
  tokens: number
  /** Time of the last refill (ms). */
  last: number
}

export const make = (rate: number, burst: number, now: number): TokenBucket => ({
  rate,
  burst,
  tokens: burst,
  last: now
})

const refill = (bucket: TokenBucket, now: number): void => {
  if (now > bucket.last) {
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + ((now - bucket.last) * bucket.rate) / 1000)
    bucket.last = now
  }
}

/** Takes a token if one is available now; false otherwise (nothing is reserved). */
export const tryTake = (bucket: TokenBucket, now: number): boolean => {
  refill(bucket, now)
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return true
  }
  return false
}

/** Reserves a token; returns how many ms the caller must wait before using it (0 = now). */
export const reserve = (bucket: TokenBucket, now: number): number => {
  refill(bucket, now)
  bucket.tokens -= 1
  return bucket.tokens >= 0 ? 0 : Math.ceil((-bucket.tokens * 1000) / bucket.rate)
}

/** Tokens available now (negative while reservations are outstanding); takes nothing. */
export const peek = (bucket: TokenBucket, now: number): number => {
  refill(bucket, now)
  return bucket.tokens
}
