import { hostname } from "node:os"

// Whether a crawl session left open (no `ended_at`) is still running. A crawl killed with -9 never closes its
// session record; the next crawl on the database marks such sessions "interrupted". Several crawlers may share
// one PostgreSQL database, so an open session is only taken for dead when its process is known to be gone:
// on this host, its pid no longer exists; on another host, its heartbeat is older than `staleAfterMillis`.

/** This process, as recorded with the sessions it opens. */
export const thisProcess = () => ({ host: hostname(), pid: process.pid })

/** How often a running session refreshes its heartbeat (`alive_at`). */
export const HEARTBEAT_MILLIS = 10_000
/** An open session on another host whose heartbeat is older than this is taken for dead. */
export const STALE_AFTER_MILLIS = 6 * HEARTBEAT_MILLIS

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** True when the open session's process is gone (rows from before heartbeats count as gone). */
export const sessionIsDead = (
  session: { readonly host: string | null; readonly pid: number | null; readonly aliveAt: number | null },
  now: number,
  staleAfterMillis = STALE_AFTER_MILLIS
): boolean => {
  if (session.host === null || session.pid === null || session.aliveAt === null) return true
  const me = thisProcess()
  if (session.host === me.host) return session.pid !== me.pid && !pidAlive(session.pid)
  return session.aliveAt < now - staleAfterMillis
}
