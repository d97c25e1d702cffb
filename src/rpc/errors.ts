import { Data } from "effect"

// One error family per outcome of a query we sent (BEP 5 KRPC).

/** The queried node did not answer within the configured timeout. */
export class QueryTimeout extends Data.TaggedError("QueryTimeout")<{
  readonly method: string
  readonly host: string
  readonly port: number
}> {}

/**
 * A QueryTimeout without a captured stack: about half of all DHT queries time out, each one of these from the
 * sweeper, where a stack says nothing (capturing one was ~1.5 % of a crawl's CPU).
 */
export const queryTimeout = (method: string, host: string, port: number): QueryTimeout => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new QueryTimeout({ method, host, port })
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** The queried node answered with a KRPC error (201 generic, 202 server, 203 protocol, 204 method unknown). */
export class KrpcError extends Data.TaggedError("KrpcError")<{
  readonly method: string
  readonly host: string
  readonly port: number
  readonly code: number
  readonly message: string
}> {}

/** The answer could not be used: undecodable, or missing what the method requires (e.g. a token). */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly method: string
  readonly host: string
  readonly port: number
  readonly reason: string
}> {}

/**
 * The query was not sent: the remote IP's next query slot (per-IP pace, `perIpIntervalMillis`) was further
 * away than `maxPaceWaitMillis`. Says nothing about the node; callers try another one.
 */
export class QueryPaced extends Data.TaggedError("QueryPaced")<{
  readonly method: string
  readonly host: string
  readonly port: number
}> {}

/** Any way a query can fail. */
export type QueryFailure = QueryTimeout | KrpcError | MalformedResponse | QueryPaced
