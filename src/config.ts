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

const EnvSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DATABASE_LISTEN_URL: z.string().url().optional(),
  DATABASE_READ_URL: z.string().url().optional(),
  DB_POOLER: z.enum(['auto', 'direct', 'transaction']).default('auto'),
  EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(2).max(200).optional(),

  RQ_JOB_TIMEOUT: seconds(300),
  RQ_RESULT_TTL: seconds(3600),
  RQ_FAILURE_TTL: seconds(86400),
  CLEANUP_INTERVAL_SECONDS: seconds(60),

  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  WORKER_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  HEARTBEAT_SECONDS: z.coerce.number().int().min(10).max(3600).default(10),
  MONITOR_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  SHUTDOWN_GRACE_SECONDS: seconds(30),
  WORKER_KINDS: list,

  SYNC_FALLBACK: bool(true),
  EXPOSE_ERRORS: bool(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10_000_000).default(65536),
  PAGE_BODY_LIMIT_BYTES: z.coerce.number().int().min(65536).max(50_000_000).default(5 * 1024 * 1024),
  INTAKE_TOKEN_TTL: seconds(30 * 86400),

  LISTING_HOSTS: list,
  FETCH_REWRITE: originMap,
  FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(300000).default(20000),
  FETCH_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(5000),
  FETCH_MAX_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(10_000_000),
  FETCH_RETRIES: z.coerce.number().int().min(0).max(10).default(2),

  WEBHOOK_SECRET: z.string().optional(),
  WEBHOOK_ALLOWLIST: list,
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  WEBHOOK_RETRY_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(3_600_000),
  WEBHOOK_GIVE_UP_SECONDS: seconds(86400),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  API_KEYS: list,
  ADMIN_API_KEYS: list,
  CORS_ORIGINS: list,
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(120),
  DASHBOARD_USER: z.string().optional(),
  DASHBOARD_PASSWORD: z.string().optional(),
  WORKER_HEARTBEAT_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_PUBLIC: bool(false),
  RQ_COMPAT_PORT: z.coerce.number().int().min(0).max(65535).default(6380),
  RQ_COMPAT_FUNCTION_ALIASES: aliasMap,
  RQ_COMPAT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100_000).default(256),
})

export type Config = Readonly<{
  databaseUrl: string | undefined
  /** A direct Postgres URL for LISTEN/NOTIFY when databaseUrl goes through a transaction pooler. */
  databaseListenUrl: string | undefined
  /** A streaming replica for status reads, the dashboard, queue-stats and metrics snapshots. */
  databaseReadUrl: string | undefined
  /** 'auto' probes the connection for a pooler at start. */
  dbPooler: 'auto' | 'direct' | 'transaction'
  embeddedPgDir: string
  /** Unset: 54329, or the next free port when another program holds it. */
  embeddedPgPort: number | undefined
  port: number
  host: string
  /** Connections a process may open in all (LISTEN included); unset: derived from its role and concurrency. */
  dbPoolSize: number | undefined
  jobTimeoutSeconds: number
  resultTtlSeconds: number
  failureTtlSeconds: number
  cleanupIntervalSeconds: number
  workerConcurrency: number
  workerPollIntervalMs: number
  heartbeatSeconds: number
  monitorIntervalSeconds: number
  shutdownGraceSeconds: number
  workerKinds: readonly string[]
  syncFallback: boolean
  exposeErrors: boolean
  logLevel: string
  bodyLimitBytes: number
  /** Body limit (after gzip decoding) of the routes that take a whole page: parse with html, import, intake. */
  pageBodyLimitBytes: number
  /** How long a bookmarklet's session token stays valid. */
  intakeTokenTtlSeconds: number
  listingHosts: readonly string[]
  fetchRewrite: ReadonlyMap<string, string>
  fetchTimeoutMs: number
  fetchConnectTimeoutMs: number
  fetchMaxBytes: number
  fetchRetries: number
  webhookSecret: string | undefined
  webhookAllowlist: readonly string[]
  /** Webhook delivery back-off: base × 2^(attempt-1) with jitter, capped; given up after webhookGiveUpSeconds. */
  webhookRetryBaseMs: number
  webhookRetryMaxMs: number
  webhookGiveUpSeconds: number
  webhookPollIntervalMs: number
  apiKeys: readonly string[]
  adminApiKeys: readonly string[]
  corsOrigins: readonly string[]
  rateLimitPerMinute: number
  dashboardUser: string | undefined
  dashboardPassword: string | undefined
  workerHeartbeatSeconds: number
  metricsPort: number | undefined
  /** Serve /metrics without an API key even when API_KEYS is set. */
  metricsPublic: boolean
  /** Port of the Redis-protocol adapter (redis-cli, RQ, rq-dashboard); 0 turns it off. Binds like HOST. */
  rqCompatPort: number
  /** Old RQ function paths accepted as a kind (queue.enqueue('app.tasks.parse_property', …) runs `parse`). */
  rqCompatFunctionAliases: ReadonlyMap<string, string>
  rqCompatMaxConnections: number
}>

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
  const e = parsed.data
  const secured = e.API_KEYS.length > 0
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    databaseListenUrl: e.DATABASE_LISTEN_URL,
    databaseReadUrl: e.DATABASE_READ_URL,
    dbPooler: e.DB_POOLER,
    embeddedPgDir: e.EMBEDDED_PG_DIR,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    port: e.PORT,
    // Without API keys anyone who reaches the port may enqueue, so bind to loopback unless told otherwise.
    host: e.HOST ?? (secured ? '0.0.0.0' : '127.0.0.1'),
    dbPoolSize: e.DB_POOL_SIZE,
    jobTimeoutSeconds: e.RQ_JOB_TIMEOUT,
    resultTtlSeconds: e.RQ_RESULT_TTL,
    failureTtlSeconds: e.RQ_FAILURE_TTL,
    cleanupIntervalSeconds: e.CLEANUP_INTERVAL_SECONDS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    workerPollIntervalMs: e.WORKER_POLL_INTERVAL_MS,
    heartbeatSeconds: e.HEARTBEAT_SECONDS,
    monitorIntervalSeconds: e.MONITOR_INTERVAL_SECONDS,
    shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
    workerKinds: Object.freeze(e.WORKER_KINDS),
    syncFallback: e.SYNC_FALLBACK,
    exposeErrors: e.EXPOSE_ERRORS,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    pageBodyLimitBytes: e.PAGE_BODY_LIMIT_BYTES,
    intakeTokenTtlSeconds: e.INTAKE_TOKEN_TTL,
    listingHosts: Object.freeze(e.LISTING_HOSTS.map((host) => host.toLowerCase())),
    fetchRewrite: e.FETCH_REWRITE,
    fetchTimeoutMs: e.FETCH_TIMEOUT_MS,
    fetchConnectTimeoutMs: e.FETCH_CONNECT_TIMEOUT_MS,
    fetchMaxBytes: e.FETCH_MAX_BYTES,
    fetchRetries: e.FETCH_RETRIES,
    webhookSecret: e.WEBHOOK_SECRET,
    webhookAllowlist: Object.freeze(e.WEBHOOK_ALLOWLIST),
    webhookRetryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
    webhookRetryMaxMs: e.WEBHOOK_RETRY_MAX_MS,
    webhookGiveUpSeconds: e.WEBHOOK_GIVE_UP_SECONDS,
    webhookPollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
    apiKeys: Object.freeze(e.API_KEYS),
    adminApiKeys: Object.freeze(e.ADMIN_API_KEYS),
    corsOrigins: Object.freeze(e.CORS_ORIGINS),
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    dashboardUser: e.DASHBOARD_USER,
    dashboardPassword: e.DASHBOARD_PASSWORD,
    workerHeartbeatSeconds: e.WORKER_HEARTBEAT_SECONDS,
    metricsPort: e.METRICS_PORT,
    metricsPublic: e.METRICS_PUBLIC,
    rqCompatPort: e.RQ_COMPAT_PORT,
    rqCompatFunctionAliases: e.RQ_COMPAT_FUNCTION_ALIASES,
    rqCompatMaxConnections: e.RQ_COMPAT_MAX_CONNECTIONS,
  })
}
