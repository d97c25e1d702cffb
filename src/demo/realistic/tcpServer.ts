import { Effect, type Scope } from "effect"
import net from "node:net"

/**
 * A TCP listener on `host` (any free port) that hands each connection to `serve`, for the scope: closing the
 * scope destroys the open connections and closes the listener. Returns the port.
 */
export const listenScoped = (
  host: string,
  serve: (socket: net.Socket) => void
): Effect.Effect<number, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; sockets: Set<net.Socket> }, Error>((resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        serve(socket)
      })
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen({ host, port: 0 }, () => resume(Effect.succeed({ server, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        sockets.forEach((s) => s.destroy())
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))
