import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { JobEvents, Metrics, MetricsOptions, MetricsSnapshot, ProxyHealthSource } from './index.ts'

// Seconds; tasks range from sub-second parses to minute-long reports.
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * One Prometheus registry per process (API or worker). Queue depth and live workers come from a
 * snapshot read at most every `snapshotMaxAgeMs` (default 5000 ms), however often it is scraped.
 */
export function createPrometheusMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const maxAgeMs = options.snapshotMaxAgeMs ?? 5000
  let cached: { at: number; value: Promise<MetricsSnapshot> } | undefined
  const snapshot = (): Promise<MetricsSnapshot> => {
    if (!cached || Date.now() - cached.at > maxAgeMs) {
      const value = options.snapshot()
      cached = { at: Date.now(), value }
      value.catch(() => {
        cached = undefined
      })
    }
    return cached.value
  }
  // A scrape while the database refuses sessions still answers: the snapshot's gauges keep their
  // last values, and the connection counters (no query) say why.
  const snapshotOrLast = () => snapshot().catch(() => undefined)

  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['kind'], registers: [registry] })
  const enqueued = counter('housler_jobs_enqueued_total', 'Jobs enqueued by this process')
  const finished = counter('housler_jobs_finished_total', 'Jobs finished by this process')
  const failed = counter('housler_jobs_failed_total', 'Jobs failed for good in this process')
  const retried = counter('housler_jobs_retried_total', 'Attempts that failed and will be retried')
  const canceled = counter('housler_jobs_canceled_total', 'Jobs canceled through this process, or stopped while running in it')
  const waitSeconds = new Histogram({
    name: 'housler_job_wait_seconds',
    help: 'Seconds from enqueue to the start of the first attempt',
    labelNames: ['kind'],
    buckets: JOB_BUCKETS,
    registers: [registry],
  })
  const runSeconds = new Histogram({
    name: 'housler_job_run_seconds',
    help: 'Seconds an attempt ran, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    buckets: JOB_BUCKETS,
    registers: [registry],
  })
  new Gauge({
    name: 'housler_queue_depth',
    help: 'Jobs per kind and RQ status (snapshot refreshed at most every few seconds)',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      const current = await snapshotOrLast()
      if (!current) return
      this.reset()
      for (const row of current.depth) this.set({ kind: row.kind, status: row.status }, row.jobs)
    },
  })
  new Gauge({
    name: 'housler_workers_live',
    help: 'Worker processes with a recent heartbeat (housler.workers state busy or idle)',
    registers: [registry],
    async collect() {
      const current = await snapshotOrLast()
      if (current) this.set(current.liveWorkers)
    },
  })
  if (options.proxyHealth) registerProxyMetrics(registry, options.proxyHealth)
  // Registered only with a replica: an unlabelled gauge reads 0 after reset, and 0 would claim one that is in step.
  if (options.readsReplica) {
    new Gauge({
      name: 'housler_replica_lag_seconds',
      help: 'Seconds the read replica (DATABASE_READ_URL) trails the primary',
      registers: [registry],
      async collect() {
        const current = await snapshotOrLast()
        // NaN when DATABASE_READ_URL is no replica after all: its lag is unknown, not zero.
        if (current) this.set(current.replicaLagSeconds ?? Number.NaN)
      },
    })
  }
  const connections = options.connections
  if (connections) {
    new Counter({
      name: 'housler_db_connection_refusals_total',
      help: 'Connects this process had refused by the server (53300 too_many_connections, 57P03 cannot_connect_now)',
      labelNames: ['database'],
      registers: [registry],
      collect() {
        const { refusals } = connections()
        this.reset()
        this.inc({ database: 'primary' }, refusals.primary)
        if (refusals.replica > 0) this.inc({ database: 'replica' }, refusals.replica)
      },
    })
    new Gauge({
      name: 'housler_db_connections',
      help: 'Server connections this process holds per pool: open, idle, and the most it may open (max)',
      labelNames: ['database', 'state'],
      registers: [registry],
      collect() {
        this.reset()
        for (const pool of connections().pools) {
          this.set({ database: pool.database, state: 'open' }, pool.open)
          this.set({ database: pool.database, state: 'idle' }, pool.idle)
          this.set({ database: pool.database, state: 'max' }, pool.max)
        }
      },
    })
  }
  const httpRequests = new Counter({
    name: 'housler_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  })
  const httpSeconds = new Histogram({
    name: 'housler_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: HTTP_BUCKETS,
    registers: [registry],
  })

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    enqueued: (kind: string, count = 1) => enqueued.inc({ kind }, count),
    canceled: (kind: string) => canceled.inc({ kind }),
    observeHttp(method: string, route: string, status: number, seconds: number) {
      httpRequests.inc({ method, route, status: String(status) })
      httpSeconds.observe({ method, route }, seconds)
    },
    jobEvents(inner?: JobEvents): JobEvents {
      return {
        onJobStart(job) {
          if (job.attempt === 1 && job.waitMs !== undefined) waitSeconds.observe({ kind: job.kind }, job.waitMs / 1000)
          inner?.onJobStart?.(job)
        },
        onJobEnd(job) {
          const outcome = { finished, failed, retry: retried, canceled }[job.outcome]
          // A cancel through this process was counted at the request; don't count it twice.
          if (job.outcome !== 'canceled') outcome.inc({ kind: job.kind })
          runSeconds.observe({ kind: job.kind, outcome: job.outcome }, job.runMs / 1000)
          inner?.onJobEnd?.(job)
        },
        onTerminal(jobId) {
          inner?.onTerminal?.(jobId)
        },
      }
    },
  }
}

function registerProxyMetrics(registry: Registry, health: ProxyHealthSource): void {
  // Counters read from the fetcher's own totals at scrape time; the fetcher is the one place that counts.
  new Counter({
    name: 'housler_proxy_attempts_total',
    help: 'Fetch attempts through each FETCH_PROXIES proxy by outcome: success, failure, captcha (block or challenge)',
    labelNames: ['proxy', 'outcome'],
    registers: [registry],
    collect() {
      this.reset()
      for (const entry of health()) {
        this.inc({ proxy: entry.proxy, outcome: 'success' }, entry.successes)
        this.inc({ proxy: entry.proxy, outcome: 'failure' }, entry.failures)
        this.inc({ proxy: entry.proxy, outcome: 'captcha' }, entry.captchas)
      }
    },
  })
  new Gauge({
    name: 'housler_proxy_latency_seconds',
    help: 'Mean duration of the successful attempts through each proxy',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset()
      for (const entry of health()) if (entry.latencyMs !== null) this.set({ proxy: entry.proxy }, entry.latencyMs / 1000)
    },
  })
  new Gauge({
    name: 'housler_proxy_cooldown_seconds',
    help: 'Seconds left of each proxy\'s cool-down (0: in rotation)',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset()
      for (const entry of health()) {
        const leftMs = entry.coolingUntil ? Date.parse(entry.coolingUntil) - Date.now() : 0
        this.set({ proxy: entry.proxy }, Math.max(0, leftMs) / 1000)
      }
    },
  })
}
