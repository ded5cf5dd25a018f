import { z } from 'zod'

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .optional()
    .transform((value) => (value === undefined ? fallback : ['true', '1', 'yes'].includes(value)))

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  )

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback)

/** `FETCH_REWRITE=https://spb.cian.ru=http://127.0.0.1:9000,...` → origin → origin. */
const originMap = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const map = new Map<string, string>()
    for (const pair of (value ?? '').split(',').map((item) => item.trim()).filter(Boolean)) {
      const separator = pair.indexOf('=')
      try {
        const from = new URL(pair.slice(0, separator)).origin
        const to = new URL(pair.slice(separator + 1)).origin
        map.set(from, to)
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not origin=origin` })
      }
    }
    return map
  })

/** `RQ_COMPAT_FUNCTION_ALIASES=app.tasks.parse_property=parse,...` → dotted function path → task kind. */
const aliasMap = z
  .string()
  .optional()
  .transform((value, ctx) => {
    const map = new Map<string, string>()
    for (const pair of (value ?? '').split(',').map((item) => item.trim()).filter(Boolean)) {
      const match = /^([A-Za-z_][\w.]*)=([a-z][a-z-]*)$/.exec(pair)
      if (match) map.set(match[1], match[2])
      else ctx.addIssue({ code: 'custom', message: `"${pair}" is not python.function.path=kind` })
    }
    return map
  })

export const FETCH_STRATEGY_NAMES = ['plain', 'browser'] as const
export type FetchStrategy = (typeof FETCH_STRATEGY_NAMES)[number]

/** The ladder: `default` for every site (undefined = decide at start: plain,browser when Chromium is installed), per-domain overrides. */
export type FetchStrategies = Readonly<{
  default: readonly FetchStrategy[] | undefined
  sites: ReadonlyArray<Readonly<{ domain: string; strategies: readonly FetchStrategy[] }>>
}>

function parseStrategyList(text: string, ctx: z.RefinementCtx): FetchStrategy[] {
  const names = text.split(',').map((item) => item.trim().toLowerCase()).filter(Boolean)
  const bad = names.filter((name) => !(FETCH_STRATEGY_NAMES as readonly string[]).includes(name))
  if (bad.length > 0 || names.length === 0) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a list of ${FETCH_STRATEGY_NAMES.join('/')}` })
  }
  return [...new Set(names)] as FetchStrategy[]
}

/** `FETCH_STRATEGIES=plain,browser;avito.ru=browser;cian.ru=plain` → default ladder and per-domain ladders. */
const strategies = z
  .string()
  .optional()
  .transform((value, ctx): FetchStrategies => {
    let fallback: FetchStrategy[] | undefined
    const sites: Array<{ domain: string; strategies: FetchStrategy[] }> = []
    for (const segment of (value ?? '').split(';').map((item) => item.trim()).filter(Boolean)) {
      const separator = segment.indexOf('=')
      if (separator < 0) fallback = parseStrategyList(segment, ctx)
      else {
        const domain = segment.slice(0, separator).trim().toLowerCase().replace(/^\*\./, '')
        sites.push({ domain, strategies: parseStrategyList(segment.slice(separator + 1), ctx) })
      }
    }
    return { default: fallback, sites }
  })

const PROXY_SCHEMES = ['http:', 'https:', 'socks5:', 'socks5h:']

/** Proxy URLs; a bad entry is named by position only, so its credentials never reach a log. */
const proxies = list.superRefine((entries, ctx) => {
  entries.forEach((entry, index) => {
    let url: URL | undefined
    try {
      url = new URL(entry)
    } catch {
      url = undefined
    }
    if (!url || !PROXY_SCHEMES.includes(url.protocol) || !url.hostname || !url.port) {
      ctx.addIssue({ code: 'custom', message: `entry ${index + 1} is not scheme://[user:password@]host:port (http, https, socks5)` })
    }
  })
})

/** One setting: the environment variable it is read from and its zod schema (default included). */
const setting = <S extends z.ZodType>(name: string, schema: S) => ({ name, schema })

/**
 * Every setting, once: its Config name, its environment variable and its schema. README's config table
 * lists the same variables (test/unit/config.test.ts compares them).
 */
const SETTINGS = {
  databaseUrl: setting('DATABASE_URL', z.string().url().optional()),
  /** A direct Postgres URL for LISTEN/NOTIFY when databaseUrl goes through a transaction pooler. */
  databaseListenUrl: setting('DATABASE_LISTEN_URL', z.string().url().optional()),
  /** A streaming replica for status reads, the dashboard, queue-stats and metrics snapshots. */
  databaseReadUrl: setting('DATABASE_READ_URL', z.string().url().optional()),
  /** 'auto' probes the connection for a pooler at start. */
  dbPooler: setting('DB_POOLER', z.enum(['auto', 'direct', 'transaction']).default('auto')),
  embeddedPgDir: setting('EMBEDDED_PG_DIR', z.string().default('.data/postgres')),
  /** Unset: 54329, or the next free port when another program holds it. */
  embeddedPgPort: setting('EMBEDDED_PG_PORT', z.coerce.number().int().min(1).max(65535).optional()),
  port: setting('PORT', z.coerce.number().int().min(0).max(65535).default(3000)),
  host: setting('HOST', z.string().optional()),
  /** Connections a process may open in all (LISTEN included); unset: derived from its role and concurrency. */
  dbPoolSize: setting('DB_POOL_SIZE', z.coerce.number().int().min(2).max(200).optional()),

  jobTimeoutSeconds: setting('RQ_JOB_TIMEOUT', seconds(300)),
  resultTtlSeconds: setting('RQ_RESULT_TTL', seconds(3600)),
  failureTtlSeconds: setting('RQ_FAILURE_TTL', seconds(86400)),
  cleanupIntervalSeconds: setting('CLEANUP_INTERVAL_SECONDS', seconds(60)),

  workerConcurrency: setting('WORKER_CONCURRENCY', z.coerce.number().int().min(1).max(256).default(4)),
  workerPollIntervalMs: setting('WORKER_POLL_INTERVAL_MS', z.coerce.number().int().min(50).max(60000).default(1000)),
  heartbeatSeconds: setting('HEARTBEAT_SECONDS', z.coerce.number().int().min(10).max(3600).default(10)),
  monitorIntervalSeconds: setting('MONITOR_INTERVAL_SECONDS', z.coerce.number().int().min(1).max(3600).default(5)),
  shutdownGraceSeconds: setting('SHUTDOWN_GRACE_SECONDS', seconds(30)),
  workerKinds: setting('WORKER_KINDS', list),

  syncFallback: setting('SYNC_FALLBACK', bool(true)),
  exposeErrors: setting('EXPOSE_ERRORS', bool(false)),
  logLevel: setting('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  bodyLimitBytes: setting('BODY_LIMIT_BYTES', z.coerce.number().int().min(1024).max(10_000_000).default(65536)),
  /** Body limit (after gzip decoding) of the routes that take a whole page: parse with html, import, intake. */
  pageBodyLimitBytes: setting('PAGE_BODY_LIMIT_BYTES', z.coerce.number().int().min(65536).max(50_000_000).default(5 * 1024 * 1024)),
  /** How long a bookmarklet's session token stays valid. */
  intakeTokenTtlSeconds: setting('INTAKE_TOKEN_TTL', seconds(30 * 86400)),

  listingHosts: setting('LISTING_HOSTS', list.transform((hosts) => hosts.map((host) => host.toLowerCase()))),
  fetchRewrite: setting('FETCH_REWRITE', originMap),
  fetchTimeoutMs: setting('FETCH_TIMEOUT_MS', z.coerce.number().int().min(100).max(300000).default(20000)),
  fetchConnectTimeoutMs: setting('FETCH_CONNECT_TIMEOUT_MS', z.coerce.number().int().min(100).max(60000).default(5000)),
  fetchMaxBytes: setting('FETCH_MAX_BYTES', z.coerce.number().int().min(1024).max(100_000_000).default(10_000_000)),
  fetchRetries: setting('FETCH_RETRIES', z.coerce.number().int().min(0).max(10).default(2)),
  fetchStrategies: setting('FETCH_STRATEGIES', strategies),
  /** Proxy URLs with their credentials; shown anywhere only through redactProxyUrl. */
  fetchProxies: setting('FETCH_PROXIES', proxies),
  proxyCooldownSeconds: setting('PROXY_COOLDOWN_SECONDS', seconds(60)),
  proxyCooldownMaxSeconds: setting('PROXY_COOLDOWN_MAX_SECONDS', seconds(3600)),
  /** Headless Chromium: the browser fetch rung and report PDFs. */
  browserExecutablePath: setting('BROWSER_EXECUTABLE_PATH', z.string().default('/usr/bin/chromium')),
  /** Warm browser contexts, also the number of pages open at once. */
  browserPoolSize: setting('BROWSER_POOL_SIZE', z.coerce.number().int().min(1).max(32).default(2)),
  browserContextMaxPages: setting('BROWSER_CONTEXT_MAX_PAGES', z.coerce.number().int().min(1).max(100_000).default(20)),
  browserContextMaxAgeSeconds: setting('BROWSER_CONTEXT_MAX_AGE_SECONDS', seconds(300)),
  /** Chromium is relaunched after this many pages, which bounds its memory. */
  browserRestartAfterPages: setting('BROWSER_RESTART_AFTER_PAGES', z.coerce.number().int().min(1).max(1_000_000).default(200)),
  /** Requests one page may make (its document, scripts, XHR); the rest are refused. */
  browserMaxRequests: setting('BROWSER_MAX_REQUESTS', z.coerce.number().int().min(1).max(10_000).default(100)),

  webhookSecret: setting('WEBHOOK_SECRET', z.string().optional()),
  webhookAllowlist: setting('WEBHOOK_ALLOWLIST', list),
  /** Webhook delivery back-off: base × 2^(attempt-1) with jitter, capped; given up after webhookGiveUpSeconds. */
  webhookRetryBaseMs: setting('WEBHOOK_RETRY_BASE_MS', z.coerce.number().int().min(10).max(3_600_000).default(30_000)),
  webhookRetryMaxMs: setting('WEBHOOK_RETRY_MAX_MS', z.coerce.number().int().min(10).max(86_400_000).default(3_600_000)),
  webhookGiveUpSeconds: setting('WEBHOOK_GIVE_UP_SECONDS', seconds(86400)),
  webhookPollIntervalMs: setting('WEBHOOK_POLL_INTERVAL_MS', z.coerce.number().int().min(50).max(60000).default(1000)),
  apiKeys: setting('API_KEYS', list),
  adminApiKeys: setting('ADMIN_API_KEYS', list),
  corsOrigins: setting('CORS_ORIGINS', list),
  rateLimitPerMinute: setting('RATE_LIMIT_PER_MINUTE', z.coerce.number().int().min(0).default(120)),
  dashboardUser: setting('DASHBOARD_USER', z.string().optional()),
  dashboardPassword: setting('DASHBOARD_PASSWORD', z.string().optional()),
  workerHeartbeatSeconds: setting('WORKER_HEARTBEAT_SECONDS', z.coerce.number().int().min(1).max(3600).default(5)),
  metricsPort: setting('METRICS_PORT', z.coerce.number().int().min(1).max(65535).optional()),
  /** Serve /metrics without an API key even when API_KEYS is set. */
  metricsPublic: setting('METRICS_PUBLIC', bool(false)),
  /** Port of the Redis-protocol adapter (redis-cli, RQ, rq-dashboard); 0 turns it off. Binds like HOST. */
  rqCompatPort: setting('RQ_COMPAT_PORT', z.coerce.number().int().min(0).max(65535).default(6380)),
  /** Old RQ function paths accepted as a kind (queue.enqueue('app.tasks.parse_property', …) runs `parse`). */
  rqCompatFunctionAliases: setting('RQ_COMPAT_FUNCTION_ALIASES', aliasMap),
  rqCompatMaxConnections: setting('RQ_COMPAT_MAX_CONNECTIONS', z.coerce.number().int().min(1).max(100_000).default(256)),
  /** find-similar parses the own pages of at most this many top analogs (0: never), this many at a time. */
  analogPagesMax: setting('ANALOG_PAGES_MAX', z.coerce.number().int().min(0).max(100).default(20)),
  analogPagesConcurrency: setting('ANALOG_PAGES_CONCURRENCY', z.coerce.number().int().min(1).max(20).default(3)),
  /** How long find-similar waits for its analogs' pages before valuing with card facts. */
  analogPagesWaitSeconds: setting('ANALOG_PAGES_WAIT_SECONDS', seconds(90)),
  /** An analog whose page was parsed this recently is taken from the store, not fetched again. */
  analogPagesFreshHours: setting('ANALOG_PAGES_FRESH_HOURS', z.coerce.number().int().min(0).max(24 * 365).default(24)),
  /** HMAC key of report share links; unset: a random key generated once and kept in the database. */
  shareLinkSecret: setting('SHARE_LINK_SECRET', z.string().min(16).optional()),
  shareLinkTtlSeconds: setting('SHARE_LINK_TTL_SECONDS', seconds(7 * 86400)),
}

type Settings = typeof SETTINGS
type Value<T> = T extends readonly (infer U)[] ? readonly U[] : T extends Map<infer K, infer V> ? ReadonlyMap<K, V> : T

export type Config = Readonly<{ [K in keyof Settings]: Value<z.output<Settings[K]['schema']>> } & { host: string }>

/** The environment variable names the service reads (README's config table lists exactly these). */
export const ENV_NAMES: readonly string[] = Object.values(SETTINGS).map((setting) => setting.name)

const EnvSchema = z.object(Object.fromEntries(Object.values(SETTINGS).map((setting) => [setting.name, setting.schema])))

export class ConfigError extends Error {
  readonly issues: string[]
  constructor(issues: string[]) {
    super(`Invalid configuration: ${issues.join('; ')}`)
    this.issues = issues
  }
}

/** Reads the environment once; the only reader of process.env in the service. Throws ConfigError. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as they do in docker-compose files and systemd units.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const parsed = EnvSchema.safeParse(cleaned)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`))
  }
  const e = parsed.data as Record<string, unknown>
  const values = Object.fromEntries(
    Object.entries(SETTINGS).map(([key, setting]) => {
      const value = e[setting.name]
      return [key, Array.isArray(value) ? Object.freeze(value) : value]
    }),
  ) as { -readonly [K in keyof Config]: Config[K] }
  // Without API keys anyone who reaches the port may enqueue, so bind to loopback unless told otherwise.
  values.host = (e.HOST as string | undefined) ?? (values.apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1')
  return Object.freeze(values)
}
