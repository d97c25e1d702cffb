// A bounded "seen recently" set: two generations of Sets; when the current one fills, the older is dropped.
// Membership is exact for at least the last `capacity` keys, and memory never exceeds 2 × capacity.

export interface SeenSet {
  /** Adds `key`; true when it was not seen recently. */
  readonly add: (key: string) => boolean
  readonly has: (key: string) => boolean
  readonly size: () => number
}

export const makeSeenSet = (capacity: number): SeenSet => {
  let current = new Set<string>()
  let previous = new Set<string>()
  return {
    add: (key) => {
      if (current.has(key) || previous.has(key)) return false
      current.add(key)
      if (current.size >= capacity) {
        previous = current
        current = new Set()
      }
      return true
    },
    has: (key) => current.has(key) || previous.has(key),
    size: () => current.size + previous.size
  }
}
