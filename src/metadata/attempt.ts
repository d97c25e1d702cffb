import { Either } from "effect"
import type { SocketAddress } from "../domain/address.js"
import { toHex } from "../domain/ids.js"
import { MetadataUnavailable, type PeerFetchError } from "./errors.js"
import { openPeerSession, type PeerMetadata, type PeerSessionOptions } from "./peerSession.js"

// One attempt at one infohash: its candidate peers, at most `parallelPeers` connected at once, each needing a
// slot of the fetcher-wide connection limit; the first verified metadata wins and the other sessions close.
// A callback core, run by the fetcher inside a single `Effect.async` whose interruption calls the returned
// cancel function: that closes every socket of the attempt and gives back its connection slots. Plain
// callbacks instead of one fiber, semaphore permit, race and timeout per peer: this is the per-torrent hot
// path of the crawler (see docs/benchmarks.md, "metadata").

/**
 * Connections open at once across the fetcher: a counter and a FIFO of callbacks waiting for a slot.
 * Single-threaded, so no atomics; `onRelease` listeners hear of every slot that is handed back unused.
 */
export const makeConnectionLimiter = (max: number, onCount: (open: number) => void) => {
  let open = 0
  // FIFO of waiters; a cancelled one stays in place, marked, and is skipped.
  let waiting: Array<{ granted: (() => void) | undefined }> = []
  let head = 0
  const listeners = new Set<() => void>()
  return {
    open: () => open,
    free: () => max - open,
    /** Calls `granted` once a slot is ours (at once if one is free); the result cancels a wait. */
    acquire: (granted: () => void): () => void => {
      if (open < max && head === waiting.length) {
        open++
        onCount(open)
        granted()
        return noop
      }
      const w: { granted: (() => void) | undefined } = { granted }
      waiting.push(w)
      return () => (w.granted = undefined)
    },
    /** Gives a slot back: to the first waiter, else to the pool (and tells the `onRelease` listeners). */
    release: (): void => {
      while (head < waiting.length) {
        const next = waiting[head++]!.granted
        if (head === waiting.length) {
          waiting = []
          head = 0
        }
        if (next !== undefined) return next()
      }
      open--
      onCount(open)
      for (const l of listeners) l()
    },
    /** `f` runs whenever a slot becomes free; the result removes it. */
    onRelease: (f: () => void): () => void => {
      listeners.add(f)
      return () => listeners.delete(f)
    }
  }
}

export type ConnectionLimiter = ReturnType<typeof makeConnectionLimiter>

const noop = () => {}

export interface AttemptOptions {
  readonly infoHash: Uint8Array
  readonly peers: ReadonlyArray<SocketAddress>
  readonly parallelPeers: number
  readonly deadlineMillis: number
  readonly limiter: ConnectionLimiter
  readonly session: Omit<PeerSessionOptions, "infoHash" | "host" | "port">
  /** Every peer that failed, as it fails (for counters and the dead-peer cache). */
  readonly onPeerError: (e: PeerFetchError) => void
  /** Called once, when the first TCP connection to one of the peers is established. */
  readonly onConnected?: (() => void) | undefined
  /** Called for every TCP connection established, with how long the connect took (ms). */
  readonly onPeerConnected?: ((connectMillis: number) => void) | undefined
}

export interface AttemptSuccess {
  readonly peer: SocketAddress
  readonly metadata: PeerMetadata
}

/** Starts an attempt; `onDone` is called once unless the returned function cancels it first. */
export const startAttempt = (
  o: AttemptOptions,
  onDone: (result: Either.Either<AttemptSuccess, MetadataUnavailable>) => void
): () => void => {
  if (o.peers.length === 0) {
    onDone(Either.left(new MetadataUnavailable({ infoHash: toHex(o.infoHash), reason: "NoPeers", attempts: [] })))
    return noop
  }
  const errors: Array<PeerFetchError> = []
  let connected = false
  const onConnected = (millis: number) => {
    o.onPeerConnected?.(millis)
    if (connected) return
    connected = true
    o.onConnected?.()
  }
  const cancels = new Set<() => void>()
  let next = 0
  let running = 0
  let done = false

  const finish = (result: Either.Either<AttemptSuccess, MetadataUnavailable>) => {
    if (done) return
    done = true
    clearTimeout(deadline)
    cancelAll()
    onDone(result)
  }
  const cancelAll = () => {
    for (const c of cancels) c()
    cancels.clear()
  }

  const launch = () => {
    while (!done && running < o.parallelPeers && next < o.peers.length) {
      const peer = o.peers[next++]!
      running++
      let cancelWait: (() => void) | undefined
      let cancelSession: (() => void) | undefined
      const cancel = () => {
        if (cancelSession !== undefined) {
          cancelSession()
          o.limiter.release()
        } else cancelWait?.()
      }
      cancels.add(cancel)
      cancelWait = o.limiter.acquire(() => {
        cancelWait = undefined
        cancelSession = openPeerSession(
          { ...o.session, infoHash: o.infoHash, host: peer.host, port: peer.port, onConnected },
          (r) => {
            cancels.delete(cancel)
            running--
            o.limiter.release()
            if (Either.isRight(r)) return finish(Either.right({ peer, metadata: r.right }))
            errors.push(r.left)
            o.onPeerError(r.left)
            if (next < o.peers.length) launch()
            else if (running === 0) {
              finish(Either.left(
                new MetadataUnavailable({ infoHash: toHex(o.infoHash), reason: "AllPeersFailed", attempts: errors })
              ))
            }
          }
        )
      })
    }
  }

  const deadline = setTimeout(
    () =>
      finish(
        Either.left(new MetadataUnavailable({ infoHash: toHex(o.infoHash), reason: "Deadline", attempts: errors }))
      ),
    o.deadlineMillis
  )
  launch()
  return () => {
    if (done) return
    done = true
    clearTimeout(deadline)
    cancelAll()
  }
}
