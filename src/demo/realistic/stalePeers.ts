import { Effect, type Scope } from "effect"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { listenScoped } from "./tcpServer.js"

// Stale peers: addresses announced for infohashes whose peers are gone. On the real DHT a connect to such a peer
// mostly times out (the host is gone or firewalled: SYNs go unanswered) rather than being refused, and that is
// what costs a metadata fetcher its time. On loopback every address refuses at once, so the model makes connects
// time out with an iptables rule dropping SYNs to the stale range ("drop"). Without root in a private network
// namespace it falls back to listeners that accept and never send a byte ("stall").

export type StaleMode = "drop" | "stall"

/** Why DROP mode is (not) possible here: root, a private network namespace (only `lo`), and iptables. */
export const dropSupport = (): { readonly ok: boolean; readonly why: string } => {
  if (process.getuid?.() !== 0) return { ok: false, why: "not running as root" }
  let devices: Array<string> = []
  try {
    devices = readFileSync("/proc/net/dev", "utf8").split("\n").slice(2).map((l) => l.split(":")[0]!.trim())
      .filter((d) => d !== "")
  } catch {
    return { ok: false, why: "cannot read /proc/net/dev" }
  }
  if (devices.some((d) => d !== "lo")) {
    return { ok: false, why: `not in a private network namespace (interfaces: ${devices.join(", ")})` }
  }
  const probe = spawnSync("iptables", ["--version"], { stdio: "ignore" })
  if (probe.error !== undefined || probe.status !== 0) return { ok: false, why: "iptables is not installed" }
  return { ok: true, why: "root in a private network namespace with iptables" }
}

const RULE = (cidr: string) => ["INPUT", "-d", cidr, "-p", "tcp", "--syn", "-j", "DROP"]

const iptables = (args: ReadonlyArray<string>) => spawnSync("iptables", ["-w", ...args], { encoding: "utf8" })

/** Installs `iptables -A INPUT -d <cidr> -p tcp --syn -j DROP` for the scope; removes it on close. */
export const dropSynsTo = (cidr: string): Effect.Effect<void, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const r = iptables(["-A", ...RULE(cidr)])
      return r.status === 0 ? Effect.void : Effect.fail(new Error(`iptables -A failed: ${r.stderr || r.error}`))
    }),
    () => Effect.sync(() => void iptables(["-D", ...RULE(cidr)]))
  )

/** True while a DROP rule for `cidr` is installed (for tests: the rule must be gone after close). */
export const dropRuleInstalled = (cidr: string): boolean => iptables(["-C", ...RULE(cidr)]).status === 0

/** A TCP listener on `host` that accepts connections and never sends a byte, for the scope. */
export const makeStallListener = (host: string): Effect.Effect<number, Error, Scope.Scope> =>
  listenScoped(host, (socket) => {
    socket.on("error", () => socket.destroy())
    socket.resume()
  })
