// The loopback guard: every UDP send/bind/connect, TCP connect/listen and DNS lookup made by this process must
// stay on 127.0.0.0/8 or ::1. Anything else throws at once (before a byte leaves) and is recorded, so a test
// fails loudly even when a library swallows the exception. Installed for the whole suite by test/setup.ts,
// and into child processes with `node --import <this file>`.
import dgram from "node:dgram"
import dns from "node:dns"
import net from "node:net"

const MARK = Symbol.for("bitscrape.loopbackGuard")

/** @type {Array<string>} */
const violations = (globalThis[MARK] ??= { violations: [] }).violations

/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback and the name "localhost". */
export const isLoopbackHost = (host) => {
  if (typeof host !== "string") return false
  let h = host.trim().toLowerCase()
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1)
  if (h === "localhost") return true
  if (h.startsWith("::ffff:")) h = h.slice(7)
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return h.split(".").every((p) => Number(p) <= 255)
  return h === "::1" || h === "0:0:0:0:0:0:0:1"
}

/** Violations recorded so far (and clears them). */
export const takeViolations = () => violations.splice(0, violations.length)

const trip = (what, host) => {
  const message = `LoopbackGuard: ${what} to non-loopback address ${JSON.stringify(host)} refused ` +
    `(only 127.0.0.0/8 and ::1 are allowed in tests)`
  violations.push(message)
  const error = new Error(message)
  error.code = "ELOOPBACKGUARD"
  throw error
}

const check = (what, host) => {
  if (!isLoopbackHost(host)) trip(what, host)
}

if (!globalThis[MARK].installed) {
  globalThis[MARK].installed = true

  // --- UDP ---
  const origSend = dgram.Socket.prototype.send
  dgram.Socket.prototype.send = function(...args) {
    // send(msg, [offset, length,] port, address?, cb?) — address is the first string after the port.
    const i = args.findIndex((a, idx) => idx > 0 && typeof a === "string")
    if (i >= 0) check("UDP send", args[i])
    return origSend.apply(this, args)
  }
  const origBind = dgram.Socket.prototype.bind
  dgram.Socket.prototype.bind = function(...args) {
    const first = args[0]
    const address = first !== null && typeof first === "object"
      ? first.address
      : args.find((a) => typeof a === "string")
    // An unspecified address binds every interface (and an unbound socket's first send does the same).
    check("UDP bind", address ?? "0.0.0.0 (unspecified)")
    return origBind.apply(this, args)
  }
  const origUdpConnect = dgram.Socket.prototype.connect
  dgram.Socket.prototype.connect = function(port, address, cb) {
    check("UDP connect", typeof address === "string" ? address : "localhost")
    return origUdpConnect.call(this, port, address, cb)
  }

  // --- TCP ---
  const origConnect = net.Socket.prototype.connect
  net.Socket.prototype.connect = function(...args) {
    let options = args[0]
    if (Array.isArray(options)) options = options[0] // internal normalized form
    if (options !== null && typeof options === "object") {
      if (options.path === undefined) check("TCP connect", options.host ?? "localhost")
    } else if (typeof options === "number" || (typeof options === "string" && /^\d+$/.test(options))) {
      check("TCP connect", typeof args[1] === "string" ? args[1] : "localhost")
    }
    return origConnect.apply(this, args)
  }
  const origListen = net.Server.prototype.listen
  net.Server.prototype.listen = function(...args) {
    const first = args[0]
    if (first !== null && typeof first === "object" && !(first instanceof net.Socket) && first.fd === undefined) {
      if (first.path === undefined && first.handle === undefined && first._handle === undefined) {
        check("TCP listen", first.host ?? "all interfaces (unspecified)")
      }
    } else if (typeof first === "number" || first === undefined || first === null) {
      check("TCP listen", typeof args[1] === "string" ? args[1] : "all interfaces (unspecified)")
    }
    return origListen.apply(this, args)
  }

  // --- DNS: resolving a public name is itself traffic ---
  const origLookup = dns.lookup
  dns.lookup = function(host, ...rest) {
    check("DNS lookup", host)
    return origLookup.call(this, host, ...rest)
  }
  const origPromiseLookup = dns.promises.lookup
  dns.promises.lookup = function(host, ...rest) {
    check("DNS lookup", host)
    return origPromiseLookup.call(this, host, ...rest)
  }
  for (const name of ["resolve", "resolve4", "resolve6", "resolveAny", "resolveSrv", "resolveTxt"]) {
    const orig = dns[name]
    dns[name] = function(host, ...rest) {
      check(`DNS ${name}`, host)
      return orig.call(this, host, ...rest)
    }
  }
}

/** True once the guard has patched this process. */
export const guardInstalled = () => globalThis[MARK].installed === true
