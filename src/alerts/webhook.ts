// One webhook delivery: a JSON POST that counts as delivered only on a 2xx answer, retried with exponential
// back-off (with jitter, capped) while the failure may pass — the receiver unreachable, timing out, or answering
// 408, 429 or 5xx. Any other answer (a 4xx: the receiver refuses this request) is not retried.
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, Duration, Effect, Schedule } from "effect"
import type { WebhookSettings } from "../config/WebhookConfig.js"

/** A POST that was not accepted (after its retries). */
export class WebhookError extends Data.TaggedError("WebhookError")<{
  readonly reason: "Unreachable" | "Timeout" | "Status"
  /** The HTTP status, for `Status`. */
  readonly status?: number
  readonly message: string
}> {}

/** Whether another attempt may succeed. */
export const retryable = (e: WebhookError) =>
  e.reason !== "Status" || e.status === 408 || e.status === 429 || (e.status !== undefined && e.status >= 500)

/** Checks a webhook address: http or https, with a host. Returns the problem, or undefined when fine. */
export const webhookProblem = (url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return `"${url.slice(0, 100)}" is not a URL (such as http://127.0.0.1:9000/hook)`
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `a webhook is an http:// or https:// URL`
  if (parsed.hostname === "") return "a webhook URL names a host"
  return undefined
}

/** POSTs `body` as JSON to `url`, with the settings' time-out and retries. */
export const postJson = (
  client: HttpClient.HttpClient,
  url: string,
  body: unknown,
  settings: Pick<WebhookSettings, "retries" | "retryBase" | "retryMax" | "timeout">,
  userAgent: string
) => {
  const once = client.execute(
    HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeader("user-agent", userAgent),
      HttpClientRequest.bodyUnsafeJson(body)
    )
  ).pipe(
    // The answer's body is read and dropped, so the connection can be reused.
    Effect.flatMap((response) => Effect.as(Effect.ignore(response.text), response.status)),
    Effect.mapError((e) => new WebhookError({ reason: "Unreachable", message: `${url}: ${e.message}` })),
    Effect.timeoutFail({
      duration: settings.timeout,
      onTimeout: () =>
        new WebhookError({
          reason: "Timeout",
          message: `${url}: no answer within ${Duration.format(settings.timeout)}`
        })
    }),
    Effect.flatMap((status) =>
      status >= 200 && status < 300
        ? Effect.void
        : Effect.fail(new WebhookError({ reason: "Status", status, message: `${url} answered ${status}` }))
    )
  )
  const maxMillis = Duration.toMillis(settings.retryMax)
  const backoff = Schedule.exponential(settings.retryBase, 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((d) => Duration.millis(Math.min(Duration.toMillis(d), maxMillis)))
  )
  return Effect.retry(once, { schedule: backoff, times: settings.retries, while: retryable })
}
