import type { ProxyHealth } from '../fetch/index.ts'

export type MetricsSnapshot = {
  depth: Array<{ kind: string; status: string; jobs: number }>
  liveWorkers: number
  /** Undefined without a replica; null when the read server is not in recovery. */
  replicaLagSeconds?: number | null
}

export type ConnectionCounts = {
  refusals: { primary: number; replica: number }
  pools: Array<{ database: string; open: number; idle: number; waiting: number; max: number }>
}

export type JobEvents = {
  onJobStart?(job: { id: string; kind: string; attempt: number; waitMs?: number }): void
  onJobEnd?(job: { id: string; kind: string; attempt: number; outcome: 'finished' | 'failed' | 'retry' | 'canceled'; runMs: number }): void
  onTerminal?(jobId: string): void
}

/** Per-proxy counters of this process's fetcher, labelled by the proxy's redacted id (never its credentials). */
export type ProxyHealthSource = () => readonly ProxyHealth[]

export type MetricsOptions = {
  snapshot: () => Promise<MetricsSnapshot>
  snapshotMaxAgeMs?: number
  proxyHealth?: ProxyHealthSource
  /** DATABASE_READ_URL is set: the replica's lag is a gauge (the snapshot's replicaLagSeconds). */
  readsReplica?: boolean
  /** This process's pools, read at each scrape (no query). */
  connections?: () => ConnectionCounts
}

/** What the queue and the HTTP layer count, and the Prometheus text of it. */
export type Metrics = {
  contentType: string
  render(): Promise<string>
  enqueued(kind: string, count?: number): void
  canceled(kind: string): void
  observeHttp(method: string, route: string, status: number, seconds: number): void
  /** Wraps worker events so every job start and end is counted, then calls `inner`. */
  jobEvents(inner?: JobEvents): JobEvents
}

/** This process's Prometheus registry; prom-client is loaded here, so a process nobody scrapes never loads it. */
export async function createMetrics(options: MetricsOptions): Promise<Metrics> {
  const { createPrometheusMetrics } = await import('./prometheus.ts')
  return createPrometheusMetrics(options)
}

/** The metrics of a process nobody scrapes (a worker-only process without METRICS_PORT): nothing is counted. */
export const NO_METRICS: Metrics = {
  contentType: 'text/plain; version=0.0.4; charset=utf-8',
  render: async () => '',
  enqueued() {},
  canceled() {},
  observeHttp() {},
  jobEvents: (inner) => inner ?? {},
}
