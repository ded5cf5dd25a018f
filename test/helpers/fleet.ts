// A fleet of real service processes (one API, N workers) draining jobs against one database, watched
// from the side in pg_stat_activity. Used by the fleet tests and the bench.
import { fork, type ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { nodeFlagsOf } from './npm-scripts.ts'
import { killAll, spawnTestProcess, until, type TestProcess } from './processes.ts'
import { SERVICE_ROLE } from './private-cluster.ts'

export type FleetOptions = {
  /** The service's DATABASE_URL (straight to Postgres, or PgBouncer). */
  databaseUrl: string
  listenUrl?: string
  /** A superuser URL of the same cluster: the watcher's connection uses a reserved slot. */
  adminUrl: string
  workers: number
  concurrency: number
  env?: Record<string, string>
}

export type FleetWorker = { child: ChildProcess; ready: boolean; output(): string }

export type Fleet = {
  api: TestProcess
  workers: FleetWorker[]
  /** Starts `count` more worker processes. */
  addWorkers(count: number): void
  /** Resolves once every worker is ready (on a full server some wait for a session first). */
  allReady(timeoutMs: number): Promise<void>
  /** Workers that exited (none should: they wait for the database instead). */
  exited(): FleetWorker[]
  baseUrl: string
  /** Most sessions of the service's role seen so far (sampled every 50 ms). */
  peakConnections(): number
  resetPeak(): void
  /** POSTs `count` sleep jobs, retrying each 503 after its Retry-After; returns the ids and 503s seen. */
  enqueue(count: number, jobMs: number, parallel?: number): Promise<{ ids: string[]; refused: number; retryAfter: Set<string> }>
  /** Waits until every id is finished; returns the per-job outcome. */
  drain(ids: string[], timeoutMs: number): Promise<DrainReport>
  stop(): Promise<void>
}

export type DrainReport = {
  finished: number
  failed: number
  /** Jobs that took more than one attempt (a second run of the handler). */
  rerun: number
  /** Distinct worker processes that finished jobs. */
  workersThatRan: number
  connectionErrors: number
}

/**
 * One POST on a fresh connection: a keep-alive socket that a server loaded by forty processes closes
 * just as the client reuses it would fail the request without the server having seen it.
 */
function postJson(url: string, body: unknown): Promise<{ status: number; body: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, retryAfter: res.headers['retry-after'] as string | undefined }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const watcher = new pg.Client({ connectionString: options.adminUrl })
  watcher.on('error', () => {})
  await watcher.connect()
  let peak = 0
  let watching = true
  const watch = (async () => {
    while (watching) {
      const { rows } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'`,
        [SERVICE_ROLE],
      )
      peak = Math.max(peak, rows[0].n)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const env = {
    DATABASE_URL: options.databaseUrl,
    ...(options.listenUrl ? { DATABASE_LISTEN_URL: options.listenUrl } : {}),
    WORKER_CONCURRENCY: String(options.concurrency),
    WORKER_KINDS: 'sleep',
    PORT: '0',
    LOG_LEVEL: 'warn',
    // One test client sends every enqueue: the per-client limit is not what is measured.
    RATE_LIMIT_PER_MINUTE: '0',
    // Node's compile cache: the fleet's processes load the same modules, compiled once, not forty times.
    NODE_COMPILE_CACHE: path.join(tmpdir(), 'housler-fleet-compile-cache'),
    ...options.env,
  }
  const api = await spawnTestProcess('test/helpers/fleet-process.ts', { ...env, FLEET_ROLE: 'api' }, { timeoutMs: 120_000 })
  const baseUrl = `http://127.0.0.1:${(api.ready as { port: number }).port}`
  // Not waited for one by one: on a full server some wait for a session before they are ready.
  const workers: FleetWorker[] = []
  const spawnWorker = (): FleetWorker => {
    const child = fork('test/helpers/fleet-process.ts', [], {
      env: { ...process.env, ...env, FLEET_ROLE: 'worker' },
      execPath: process.execPath,
      execArgv: nodeFlagsOf('worker'),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    let output = ''
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-5000))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
    const worker: FleetWorker = { child, ready: false, output: () => output }
    child.once('message', () => (worker.ready = true))
    workers.push(worker)
    return worker
  }
  for (let i = 0; i < options.workers; i++) spawnWorker()

  async function post(jobMs: number): Promise<{ id: string; refused: number; retryAfter: string[] }> {
    let refused = 0
    const retryAfter: string[] = []
    for (;;) {
      const response = await postJson(`${baseUrl}/api/tasks/sleep`, { ms: jobMs })
      if (response.status === 202) return { id: JSON.parse(response.body).job_id, refused, retryAfter }
      if (response.status !== 503) throw new Error(`enqueue answered ${response.status}: ${response.body}\nAPI output:\n${api.output()}`)
      refused++
      const after = response.retryAfter ?? ''
      retryAfter.push(after)
      await new Promise((resolve) => setTimeout(resolve, Number(after) * 1000))
    }
  }

  return {
    api,
    workers,
    baseUrl,
    addWorkers(count) {
      for (let i = 0; i < count; i++) spawnWorker()
    },
    allReady: (timeoutMs) =>
      until('every worker ready', async () => (workers.every((worker) => worker.ready) ? true : undefined), timeoutMs, 200).then(() => {}),
    exited: () => workers.filter((worker) => worker.child.exitCode !== null || worker.child.signalCode !== null),
    peakConnections: () => peak,
    resetPeak: () => (peak = 0),
    async enqueue(count, jobMs, parallel = 16) {
      const ids: string[] = []
      let refused = 0
      const retryAfter = new Set<string>()
      let next = 0
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < count) {
            next++
            const outcome = await post(jobMs)
            ids.push(outcome.id)
            refused += outcome.refused
            for (const value of outcome.retryAfter) retryAfter.add(value)
          }
        }),
      )
      return { ids, refused, retryAfter }
    },
    async drain(ids, timeoutMs) {
      await until(
        `${ids.length} jobs finished`,
        async () => {
          const { rows } = await watcher.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM housler.jobs WHERE id = ANY($1::uuid[]) AND status IN ('finished', 'failed')`,
            [ids],
          )
          return rows[0].n === ids.length ? true : undefined
        },
        timeoutMs,
        250,
      )
      const { rows } = await watcher.query<DrainReport>(
        `SELECT count(*) FILTER (WHERE status = 'finished')::int AS finished,
           count(*) FILTER (WHERE status = 'failed')::int AS failed,
           count(*) FILTER (WHERE attempts > 1)::int AS rerun,
           count(DISTINCT result->>'pid')::int AS "workersThatRan",
           count(*) FILTER (WHERE error ~* 'connection|too many|terminat|cannot connect')::int AS "connectionErrors"
         FROM housler.jobs WHERE id = ANY($1::uuid[])`,
        [ids],
      )
      return rows[0]
    },
    async stop() {
      watching = false
      await watch.catch(() => {})
      await watcher.end().catch(() => {})
      await killAll([api])
      await Promise.all(
        workers
          .filter((worker) => worker.child.exitCode === null && worker.child.signalCode === null)
          .map((worker) => {
            const gone = new Promise((resolve) => worker.child.once('exit', resolve))
            worker.child.kill('SIGKILL')
            return gone
          }),
      )
    },
  }
}
