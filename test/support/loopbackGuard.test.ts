import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import dgram from "node:dgram"
import dns from "node:dns"
import net from "node:net"
import { fileURLToPath } from "node:url"
import { guardInstalled, isLoopbackHost, takeViolations } from "./loopbackGuard.mjs"

// TEST-NET-1 (RFC 5737, documentation only): the guard refuses it before any packet is built.
const OUTSIDE = "192.0.2.1"

const refused = (f: () => unknown) => {
  try {
    f()
  } catch (e) {
    assert.strictEqual((e as { code?: string }).code, "ELOOPBACKGUARD")
    return
  }
  assert.fail("the loopback guard did not trip")
}

describe("loopback guard", () => {
  it("is installed for every test file", () => {
    assert.isTrue(guardInstalled())
  })

  it("knows what loopback is", () => {
    for (const h of ["127.0.0.1", "127.200.3.4", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
      assert.isTrue(isLoopbackHost(h), h)
    }
    for (const h of [OUTSIDE, "0.0.0.0", "::", "10.0.0.1", "127.0.0.256", "router.bittorrent.com", undefined]) {
      assert.isFalse(isLoopbackHost(h), String(h))
    }
  })

  it("trips on UDP send, bind and connect outside loopback, and records each", async () => {
    takeViolations()
    const socket = dgram.createSocket("udp4")
    refused(() => socket.bind(0)) // unspecified address = every interface
    refused(() => socket.bind({ port: 0, address: "0.0.0.0" }))
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve))
    refused(() => socket.send(Buffer.from("x"), 6881, OUTSIDE))
    refused(() => socket.send(Buffer.from("x"), 0, 1, 6881, OUTSIDE))
    refused(() => socket.connect(6881, OUTSIDE))
    // Loopback still works.
    await new Promise<void>((resolve, reject) =>
      socket.send(Buffer.from("x"), socket.address().port, "127.0.0.1", (e) => e ? reject(e) : resolve())
    )
    socket.close()
    assert.strictEqual(takeViolations().length, 5)
  })

  it("trips on TCP connect and listen outside loopback, and on DNS lookups", () => {
    takeViolations()
    refused(() => net.connect(6881, OUTSIDE))
    refused(() => net.connect({ host: OUTSIDE, port: 6881 }))
    refused(() => net.createServer().listen(0))
    refused(() => net.createServer().listen({ port: 0, host: "0.0.0.0" }))
    refused(() => dns.lookup("router.bittorrent.com", () => {}))
    refused(() => dns.promises.lookup("example.invalid"))
    assert.strictEqual(takeViolations().length, 6)
  })

  it("a swallowed violation still fails the test (afterEach sees the record)", () => {
    takeViolations()
    try {
      net.connect(6881, OUTSIDE)
    } catch {
      // a library that hides the exception…
    }
    // …still leaves a record, which the suite's afterEach turns into a failure. Consume it here.
    assert.strictEqual(takeViolations().length, 1)
  })

  it("can be preloaded into child processes with --import, and kills them loudly", () => {
    const guard = fileURLToPath(new URL("./loopbackGuard.mjs", import.meta.url))
    let output = ""
    let status = 0
    try {
      execFileSync(process.execPath, [
        "--import",
        guard,
        "-e",
        `require("node:dgram").createSocket("udp4").send(Buffer.from("x"), 6881, "${OUTSIDE}")`
      ], { stdio: "pipe" })
    } catch (e) {
      const err = e as { status: number; stderr: Buffer }
      status = err.status
      output = err.stderr.toString()
    }
    assert.notStrictEqual(status, 0)
    assert.include(output, "LoopbackGuard")
  })
})
