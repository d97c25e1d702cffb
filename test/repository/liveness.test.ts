import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { sessionIsDead, STALE_AFTER_MILLIS, thisProcess } from "../../src/repository/liveness.js"

describe("sessionIsDead (is an open crawl session's process gone?)", () => {
  const now = 1_800_000_000_000
  const me = thisProcess()

  it("on this host: dead when its pid no longer exists, alive when it does (whatever the heartbeat)", () => {
    const gone = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" })
    const deadPid = Number(gone.stdout.trim())
    assert.isTrue(sessionIsDead({ host: me.host, pid: deadPid, aliveAt: now }, now))
    assert.isFalse(sessionIsDead({ host: me.host, pid: process.ppid, aliveAt: 0 }, now), "a live process")
    assert.isFalse(sessionIsDead({ host: me.host, pid: me.pid, aliveAt: 0 }, now), "ourselves")
  })

  it("on another host: dead once its heartbeat is stale", () => {
    const other = { host: `not-${me.host}`, pid: 1 }
    assert.isFalse(sessionIsDead({ ...other, aliveAt: now - 1000 }, now))
    assert.isTrue(sessionIsDead({ ...other, aliveAt: now - STALE_AFTER_MILLIS - 1 }, now))
  })

  it("a session recorded before heartbeats existed counts as gone", () => {
    assert.isTrue(sessionIsDead({ host: null, pid: null, aliveAt: null }, now))
  })
})
