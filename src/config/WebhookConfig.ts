import { Config, Context, Duration, Layer } from "effect"

/** How saved searches' new matches are delivered to their webhooks. */
export interface WebhookSettings {
  /** Time between rounds (each saved search checked for new matches once a round). */
  readonly interval: Duration.Duration
  /** Retries of one failed POST within a round, with exponential back-off (then the next round tries again). */
  readonly retries: number
  /** First back-off; doubled after each failed attempt, with jitter. */
  readonly retryBase: Duration.Duration
  /** Longest back-off. */
  readonly retryMax: Duration.Duration
  /** One POST's time-out (connect and answer). */
  readonly timeout: Duration.Duration
  /** Matches fetched less than this long ago wait for the next round (other writers' batches to commit). */
  readonly settle: Duration.Duration
  /** Most matches per POST; more go in further POSTs of the same round. */
  readonly batch: number
}

export const webhookDefaults: WebhookSettings = {
  interval: Duration.seconds(60),
  retries: 5,
  retryBase: Duration.seconds(1),
  retryMax: Duration.seconds(30),
  timeout: Duration.seconds(10),
  settle: Duration.seconds(10),
  batch: 100
}

export class WebhookConfig extends Context.Tag("bitscrape/WebhookConfig")<WebhookConfig, WebhookSettings>() {}

const positive = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "a whole number of at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(fallback)
  )

/** BITSCRAPE_WEBHOOK_INTERVAL, BITSCRAPE_WEBHOOK_RETRIES, BITSCRAPE_WEBHOOK_TIMEOUT, … */
export const webhookConfigFromEnv: Config.Config<WebhookSettings> = Config.all({
  interval: Config.duration("webhookInterval").pipe(Config.withDefault(webhookDefaults.interval)),
  retries: Config.integer("webhookRetries").pipe(
    Config.validate({ message: "a whole number of at least 0", validation: (n) => n >= 0 }),
    Config.withDefault(webhookDefaults.retries)
  ),
  retryBase: Config.duration("webhookRetryBase").pipe(Config.withDefault(webhookDefaults.retryBase)),
  retryMax: Config.duration("webhookRetryMax").pipe(Config.withDefault(webhookDefaults.retryMax)),
  timeout: Config.duration("webhookTimeout").pipe(Config.withDefault(webhookDefaults.timeout)),
  settle: Config.duration("webhookSettle").pipe(Config.withDefault(webhookDefaults.settle)),
  batch: positive("webhookBatch", webhookDefaults.batch)
})

export const WebhookConfigLive = Layer.effect(WebhookConfig, webhookConfigFromEnv)

/** Explicit settings over the defaults (tests, library users). */
export const webhookConfig = (settings: Partial<WebhookSettings> = {}) =>
  Layer.succeed(WebhookConfig, { ...webhookDefaults, ...settings })
