// npm run bench [-- --quick] [-- --only a|b|c|d|e|f|g]: every scenario for every system in one run.
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config.ts'
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/index.ts'
import { createSilentLogger } from '../src/log.ts'
import { WEBHOOK_STATE_COLUMNS, WEBHOOK_STATE_JOIN } from '../src/webhooks/index.ts'
import { BENCH_DIR, createDatabase, dropDatabase, freePort, httpLoad, inFlight, median, percentile, reachable, sleep, spawnChild, terminate, waitFor, waitReady, type Child } from './lib.ts'
import { npmScript, npmScriptArgs } from '../test/helpers/npm-scripts.ts'
import { openOurs, openOursSplit, openSystem, redisAvailable, type Client, type SystemName } from './systems.ts'
import { startServiceProcess, type ServiceProcess } from './service-process.ts'
import { copyStatusBodies, finishParseJobs } from './status-bodies.ts'
import { hooks, wallMs } from './tasks.ts'
import { benchPipeline, p50, p99, STAGES } from './pipeline.ts'

// DROP DATABASE … WITH (FORCE) ends the idle connections peers leave behind; that is expected here.
process.on('uncaughtException', (error: Error & { code?: string }) => {
  if (error.code === '57P01') return
  console.error(error)
  process.exit(1)
})
const argv = process.argv.slice(2)
const QUICK = argv.includes('--quick')
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined
const RUNS = QUICK ? 1 : 3
const N = {
  enqueueSingle: QUICK ? 1000 : 3000,
  enqueue50: QUICK ? 3000 : 10_000,
  enqueueBatch: QUICK ? 2000 : 10_000,
  http: QUICK ? 3000 : 10_000,
  httpWarmup: 1000,
  drain: QUICK ? 2000 : 10_000,
  drainCapMs: QUICK ? 4000 : 10_000,
  // 400 a run: a p99 is then the fourth-worst pickup, not the second (200 made it a coin toss between systems).
  pickup: QUICK ? 40 : 400,
  pickupPolling: QUICK ? 20 : 60,
  statusMs: QUICK ? 1500 : 3000,
  statusWindowMs: 250,
  statusBacklog: QUICK ? 20_000 : 40_000,
  statusJobs: QUICK ? 500 : 2000,
  retained: QUICK ? 100_000 : 1_000_000,
  idleSettleMs: QUICK ? 2000 : 3000,
  apiLoadMs: QUICK ? 10_000 : 20_000,
  pipelineRuns: QUICK ? 40 : 200,
  pipelinePollMs: 10,
  statsRequests: QUICK ? 100 : 300,
  statusRequests: QUICK ? 200 : 1000,
}
const want = (scenario: string) => !ONLY || ONLY.split(',').includes(scenario)

// ---- where Postgres and Redis come from -------------------------------------------------------
const envConfig = loadConfig(process.env)
let embedded: EmbeddedServer | undefined
let adminUrl = envConfig.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres'
let pgSource = envConfig.databaseUrl ? 'DATABASE_URL' : 'local server 127.0.0.1:5432'
if (!envConfig.databaseUrl && !(await reachable(adminUrl))) {
  embedded = await startEmbeddedPostgres({ dir: '.data/bench-postgres', port: 54339, log: createSilentLogger() })
  adminUrl = embedded.url
  pgSource = 'embedded (.data/bench-postgres)'
}
const admin = new pg.Pool({ connectionString: adminUrl, max: 2 })
const pgVersion = (await admin.query('SHOW server_version')).rows[0].server_version as string
const pgSettings = (await admin.query(`SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_connections')`)).rows
const hasRedis = await redisAvailable()
// pg_stat_statements only counts when the server preloads it (a restart): then every bench database
// gets the extension and the service's own measurements record where the database time went.
const hasPgss = (
  await admin.query(`SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'`)
).rows[0]?.setting?.includes('pg_stat_statements') as boolean
const notes: string[] = []
const note = (line: string) => void (notes.includes(line) || notes.push(line))
note(
  hasRedis
    ? `BullMQ 6.7 runs twice: on Redis (127.0.0.1:6379, its native backend via ioredis) and on its PostgreSQL backend (createPostgresBackend), each constructor given its own backend factory.`
    : `BullMQ on Redis skipped: Redis is not reachable at 127.0.0.1:6379. The BullMQ (Postgres) column is its PostgreSQL backend.`,
)
note(`Scenario e seeds ${N.retained.toLocaleString('en')} finished jobs with raw INSERT … SELECT generate_series into pgboss.job and housler._tasks (a bench fixture only).`)

const PEERS: SystemName[] = ['pgboss', 'graphile', ...(hasRedis ? (['bullmq'] as const) : []), 'bullmq-pg']
const LABEL: Record<SystemName, string> = {
  ours: 'ours',
  pgboss: 'pgboss',
  'pgboss-listen': 'pgboss (LISTEN/NOTIFY)',
  graphile: 'graphile',
  bullmq: 'bullmq (Redis)',
  'bullmq-pg': 'bullmq (Postgres)',
}
let dbCounter = 0
const runTag = Date.now().toString(36)

/** A fresh database for one system in one measurement; dropped afterwards. */
async function freshDb<T>(label: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `bench_${runTag}_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${dbCounter++}`
  const url = await createDatabase(adminUrl, name)
  if (hasPgss) await queryOnce(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  try {
    return await fn(url)
  } finally {
    await dropDatabase(adminUrl, name).catch(() => {})
  }
}

// ---- results: row → system → one value per run ------------------------------------------------
type Row = { scenario: string; metric: string; unit: string; better: 'higher' | 'lower' }
const rows = new Map<string, Row & { values: Map<string, number[]> }>()
function record(key: string, row: Row, system: string, value: number) {
  if (!rows.has(key)) rows.set(key, { ...row, values: new Map() })
  const values = rows.get(key)!.values
  values.set(system, [...(values.get(system) ?? []), value])
  log(`  ${row.metric} · ${system}: ${fmt(value)} ${row.unit}`)
}
const extras: Record<string, unknown> = {}
const log = (line: string) => console.error(line)
const fmt = (value: number) => (!Number.isFinite(value) ? '—' : value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(value >= 10 ? 1 : 2))

// ---- a) enqueue ------------------------------------------------------------------------------
async function scenarioEnqueue() {
  for (const system of ['ours', ...PEERS] as SystemName[]) {
    await freshDb(`enq_${system}`, async (url) => {
      const client = await openSystem(system, url)
      try {
        const single = await inFlight(N.enqueueSingle, 16, (i) => client.send({ seq: i }))
        record('enqueue-16', { scenario: 'a', metric: 'enqueue, single sends, 16 in flight', unit: 'jobs/s', better: 'higher' }, LABEL[system], single)
        const started = performance.now()
        await client.insert(Array.from({ length: N.enqueueBatch }, (_, i) => ({ seq: i })))
        record('enqueue-batch', { scenario: 'a', metric: 'enqueue, one batch', unit: 'jobs/s', better: 'higher' }, LABEL[system], N.enqueueBatch / ((performance.now() - started) / 1000))
        if (system === 'pgboss') {
          const fifty = await inFlight(N.enqueue50, 50, (i) => client.send({ seq: i }))
          record('enqueue-50', { scenario: 'a', metric: 'enqueue, single sends, 50 in flight', unit: 'jobs/s', better: 'higher' }, 'pgboss', fifty)
        }
      } finally {
        await client.close()
      }
    })
  }
  await freshDb('enq_http', async (url) => {
    const api = spawnChild(['api', url])
    const { port } = await api.next<{ port: number }>('ready')
    try {
      // Warm-up (not recorded): JIT, 50 sockets, the pool's connections, the prepared statements.
      // The pg-boss figure it is compared with is taken after that client's own earlier phases.
      await httpLoad({
        port,
        connections: 50,
        total: N.httpWarmup,
        request: (i) => ({ method: 'POST', path: '/api/tasks/noop', body: JSON.stringify({ seq: -1 - i }) }),
      })
      if (hasPgss) await queryOnce(url, 'SELECT pg_stat_statements_reset()')
      const ids = new Set<string>()
      const result = await httpLoad({
        port,
        connections: 50,
        total: N.http,
        request: (i) => ({ method: 'POST', path: '/api/tasks/noop', body: JSON.stringify({ seq: i }) }),
        onBody: (status, body) => status === 202 && ids.add(JSON.parse(body).job_id),
      })
      record('enqueue-50', { scenario: 'a', metric: 'enqueue, single sends, 50 in flight', unit: 'jobs/s', better: 'higher' }, 'ours (HTTP)', result.rps)
      record('enqueue-http-p99', { scenario: 'a', metric: 'HTTP enqueue p99 latency, 50 conns', unit: 'ms', better: 'lower' }, 'ours (HTTP)', result.p99)
      await captureStatements(url, 'HTTP enqueue', result.requests)
      if (ids.size !== N.http) note(`HTTP enqueue: ${ids.size} distinct job ids for ${N.http} requests (statuses ${JSON.stringify(result.statuses)})`)
    } finally {
      api.send({ type: 'rss' })
      const memory = await api.next<{ rss: number; rssPeak: number }>('rss', 5000).catch(() => ({ rssPeak: NaN }))
      record('mem-api', { scenario: 'f', metric: 'RSS of the API process under load (peak)', unit: 'MB', better: 'lower' }, 'ours', memory.rssPeak / 2 ** 20)
      await api.stop()
    }
  })
}

// ---- b) drain --------------------------------------------------------------------------------
async function enqueueBacklog(client: Client, count: number) {
  for (let offset = 0; offset < count; offset += 1000) {
    await client.insert(Array.from({ length: Math.min(1000, count - offset) }, (_, i) => ({ seq: offset + i })))
  }
}

async function drain(system: SystemName, variant: string, processes: number, key: string, row: Row, label = LABEL[system]) {
  await freshDb(`drain_${system}_${variant}_${processes}`, async (url) => {
    const client = await openSystem(system, url, 'noop')
    const queueKind = variant.startsWith('progress') ? 'progress5' : 'noop'
    const children: Child[] = []
    try {
      if (system === 'ours' && queueKind === 'progress5') {
        const { queue, close } = await openOurs(url)
        for (let offset = 0; offset < N.drain; offset += 1000) {
          await queue.enqueueMany(Array.from({ length: Math.min(1000, N.drain - offset) }, (_, i) => ({ kind: 'progress5', payload: { seq: offset + i } })))
        }
        await close()
      } else {
        await enqueueBacklog(client, N.drain)
      }
      for (let i = 0; i < processes; i++) children.push(spawnChild(['drain', system, variant, url]))
      await Promise.all(children.map((child) => child.next('ready')))
      if (system === 'ours' && hasPgss) await queryOnce(url, 'SELECT pg_stat_statements_reset()')
      const counts = children.map(() => 0)
      children.forEach((child, i) => child.on('count', (m: { n: number }) => (counts[i] = m.n)))
      const started = performance.now()
      for (const child of children) child.send({ type: 'go' })
      const total = () => counts.reduce((a, b) => a + b, 0)
      await waitFor(() => total() >= N.drain, N.drainCapMs, 10)
      let elapsed = (performance.now() - started) / 1000
      let done = total()
      if (done >= N.drain) {
        // Handlers ran; the drain ends when the last completion is committed.
        await waitFor(async () => (await client.remaining()) === 0, 10_000, 10)
        elapsed = (performance.now() - started) / 1000
        done = N.drain
      } else {
        note(`${label} ${variant} × ${processes}: stopped at the ${N.drainCapMs / 1000} s cap after ${done} of ${N.drain} jobs; rate = jobs done / cap.`)
      }
      record(key, row, label, done / elapsed)
      if (system === 'ours') await captureStatements(url, `drain ${variant} × ${processes}`, done)
      const peaks = await Promise.all(children.map((child) => child.stop()))
      if (system === 'ours' && processes === 1 && variant === 'noop') {
        record('mem-worker', { scenario: 'f', metric: 'RSS of a worker under load (peak)', unit: 'MB', better: 'lower' }, 'ours', peaks[0].rssPeak / 2 ** 20)
      }
    } finally {
      await Promise.all(children.map((child) => child.stop().catch(() => {})))
      await client.close()
    }
  })
}

async function scenarioDrain() {
  for (const processes of [1, 2]) {
    const perJob: Row = { scenario: 'b', metric: `drain ${N.drain} no-op jobs, one job per handler, 16 slots, ${processes} process${processes > 1 ? 'es' : ''}`, unit: 'jobs/s', better: 'higher' }
    await drain('ours', 'noop', processes, `drain-1-${processes}`, perJob)
    if (processes === 1) await drain('pgboss', 'b1', processes, `drain-1-${processes}`, perJob, 'pgboss')
    await drain('graphile', 'x', processes, `drain-1-${processes}`, perJob)
    if (hasRedis) await drain('bullmq', 'x', processes, `drain-1-${processes}`, perJob)
    await drain('bullmq-pg', 'x', processes, `drain-1-${processes}`, perJob)
    const batched: Row = { scenario: 'b', metric: `drain ${N.drain} no-op jobs, batched, ${processes} process${processes > 1 ? 'es' : ''}`, unit: 'jobs/s', better: 'higher' }
    await drain('pgboss', 'b100', processes, `drain-batch-${processes}`, batched, 'pgboss (batchSize 100)')
    const same: Row = { scenario: 'b', metric: `drain, same settings (fetch ≤16, 16 slots), ${processes} process${processes > 1 ? 'es' : ''}`, unit: 'jobs/s', better: 'higher' }
    await drain('pgboss', 'b16', processes, `drain-same-${processes}`, same, 'pgboss (batchSize 16)')
    const progress: Row = { scenario: 'b', metric: `drain with 5 progress updates per job, ${processes} process${processes > 1 ? 'es' : ''}`, unit: 'jobs/s', better: 'higher' }
    await drain('ours', 'progress5', processes, `drain-progress-${processes}`, progress)
  }
}

// ---- f) an idle worker: `npm run worker` (its very command line) beside graphile-worker's runner ----
const ROOT = path.join(BENCH_DIR, '..')
/** Node flags of `npm run worker` (the TypeScript cache included), so graphile-worker runs on the same terms. */
const WORKER_NODE_FLAGS = npmScriptArgs('worker').slice(0, -1)

/** Starts `args` (cwd: the checkout), waits for `readyLine` on stdout, idles, and reads RSS and anonymous memory (kB). */
async function idleMemory(args: string[], env: Record<string, string | undefined>, readyLine: string) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    let output = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes(readyLine)) resolve()
      })
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it started`)))
    })
    // Idle: start-up garbage has had time to be collected; nothing is queued.
    await sleep(N.idleSettleMs)
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))?.[1])
    const smaps = await readFile(`/proc/${child.pid}/smaps_rollup`, 'utf8').catch(() => '')
    const anonymousKb = Number(/^Anonymous:\s+(\d+)/m.exec(smaps)?.[1] ?? NaN)
    return { rssKb, anonymousKb }
  } finally {
    await terminate(child)
  }
}

async function scenarioIdleWorker() {
  // Both start from a warm TypeScript cache, as after npm install (a miss would load Node's stripper).
  spawnSync(process.execPath, [path.join(ROOT, 'src', 'typescript-cache.js')], { stdio: 'ignore' })
  const rssRow: Row = { scenario: 'f', metric: `RSS of an idle worker (${npmScript('worker')})`, unit: 'MB', better: 'lower' }
  // RSS = the node binary's and modules' file-backed pages (shared with other node processes, or
  // not, depending on what else runs) + anonymous memory (V8 heap, malloc, stacks): the process's own.
  const anonRow: Row = { scenario: 'f', metric: 'idle worker: anonymous memory (RSS minus file-backed pages)', unit: 'MB', better: 'lower' }
  await freshDb('idle_worker', async (url) => {
    // Only what a deployment sets: no NODE_OPTIONS or other settings leak in from this shell.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url, LOG_LEVEL: 'info' }
    const ours = await idleMemory(npmScriptArgs('worker'), env, '"msg":"worker started"')
    record('mem-idle', rssRow, 'ours', ours.rssKb / 1024)
    record('mem-idle-anon', anonRow, 'ours', ours.anonymousKb / 1024)
  })
  await freshDb('idle_graphile', async (url) => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME }
    const graphile = await idleMemory([...WORKER_NODE_FLAGS, path.join(BENCH_DIR, 'graphile-idle.ts'), url], env, 'graphile worker started')
    record('mem-idle', rssRow, 'graphile', graphile.rssKb / 1024)
    record('mem-idle-anon', anonRow, 'graphile', graphile.anonymousKb / 1024)
  })
}

// ---- f) the API under load: `npm run api` (its very command line) serving 50 pollers and 20 enqueues/s ----

async function scenarioApiMemory() {
  await freshDb('api_memory', async (url) => {
    const port = await freePort()
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: url, PORT: String(port), RQ_COMPAT_PORT: '0', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'info' }
    const api = spawn(process.execPath, npmScriptArgs('api'), { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] })
    const rssMb = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${api.pid}/status`, 'utf8'))?.[1]) / 1024
    try {
      await waitReady(port, 'npm run api')
      // No worker: the parses stay queued, and their statuses are what the pollers read.
      let seq = 0
      const enqueue = async () => {
        const response = await fetch(`http://127.0.0.1:${port}/api/tasks/parse`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: `https://www.cian.ru/sale/flat/${++seq}/`, session_id: `bench-api-${seq}` }),
        })
        return ((await response.json()) as { job_id: string }).job_id
      }
      const ids: string[] = []
      for (let i = 0; i < 50; i++) ids.push(await enqueue())
      const before = await rssMb()
      let peak = before
      const sampler = setInterval(() => void rssMb().then((mb) => (peak = Math.max(peak, mb)), () => {}), 100)
      const enqueuer = setInterval(() => void enqueue().then((id) => ids.push(id), () => {}), 50)
      try {
        await httpLoad({ port, connections: 50, durationMs: N.apiLoadMs, request: (i) => ({ method: 'GET', path: `/api/tasks/status/${ids[i % ids.length]}` }) })
      } finally {
        clearInterval(enqueuer)
        clearInterval(sampler)
      }
      const row: Row = { scenario: 'f', metric: `RSS of npm run api serving 50 pollers and 20 enqueues/s for ${N.apiLoadMs / 1000} s (peak)`, unit: 'MB', better: 'lower' }
      record('mem-api-pollers', row, 'ours', peak)
      record('mem-api-pollers-idle', { scenario: 'f', metric: 'RSS of npm run api before that load', unit: 'MB', better: 'lower' }, 'ours', before)
    } finally {
      await terminate(api)
    }
  })
}

// ---- g) the pipeline's own cost: parse → find-similar → report on a local site with no delay -------
async function scenarioPipeline() {
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').includes('pipeline')
  const samples = await freshDb('pipeline', (url) =>
    benchPipeline(url, { runs: N.pipelineRuns, pollMs: N.pipelinePollMs, cpuProfDir: profiled ? path.join(BENCH_DIR, 'results', 'prof') : undefined }),
  )
  for (const [stage, label] of STAGES) {
    for (const [name, pick] of [['p50', p50], ['p99', p99]] as const) {
      record(`pipeline-${stage}-${name}`, { scenario: 'g', metric: `pipeline ${N.pipelineRuns} runs, ${label}, ${name}`, unit: 'ms', better: 'lower' }, 'ours', pick(samples[stage]))
    }
  }
}

// ---- c) pickup latency -----------------------------------------------------------------------
// The LISTEN/NOTIFY systems are measured interleaved: all idle at once, each on its own database,
// and the sends go round-robin (10 ms apart, so each system gets one every ~50 ms). Background load
// on the machine then falls on every system alike instead of on whichever ran during a burst.
// Latency = enqueue call → the handler's first line, on one clock (this process runs the sends and
// every worker). The service as users run it (`npm start`, one more participant of the round) is
// measured from outside: HTTP POST → its handler called (the worker's debug line "job started", the same
// host clock; pg-boss's started_on would be the claim's transaction start, which a claim on enqueue makes
// the enqueue's own).
// pg-boss polling (a 0.5 s floor) runs on its own afterwards.
const LABEL_NPM_START = 'ours (npm start, HTTP → handler)'
// The same library call with the worker in another runtime: NOTIFY and the worker's own claim (no claim on enqueue).
const LABEL_SPLIT = 'ours (worker in another runtime)'
async function scenarioPickup() {
  const interleaved: Array<[SystemName | 'ours-split', string, string]> = [
    ['ours', 'noop', 'ours'],
    ['ours-split', 'noop', LABEL_SPLIT],
    ['pgboss-listen', 'b1', LABEL['pgboss-listen']],
    ['graphile', 'x', LABEL.graphile],
    ...(hasRedis ? [['bullmq', 'x', LABEL.bullmq] as [SystemName, string, string]] : []),
    ['bullmq-pg', 'x', LABEL['bullmq-pg']],
  ]
  const row = (p: number): Row => ({ scenario: 'c', metric: `pickup latency enqueue→started, p${p}`, unit: 'ms', better: 'lower' })
  const names: string[] = []
  const dbs: string[] = []
  const clients: Client[] = []
  let service: ServiceProcess | undefined
  let endToEnd: number[] = []
  const latencies = interleaved.map(() => [] as number[])
  hooks.onRun = (payload) => {
    if (payload.t !== undefined && payload.sys !== undefined) latencies[payload.sys]?.push(wallMs() - payload.t)
  }
  try {
    for (const [system, variant] of interleaved) {
      const name = `bench_${runTag}_pickup_${system.replace(/-/g, '_')}_${dbCounter++}`
      names.push(name)
      dbs.push(await createDatabase(adminUrl, name))
      const client = system === 'ours-split' ? await openOursSplit(dbs.at(-1)!) : await openSystem(system, dbs.at(-1)!)
      clients.push(client)
      await client.work(variant)
    }
    // Last in the round: the service as users run it, sent to over HTTP (its own database too).
    names.push(`bench_${runTag}_pickup_npm_start_${dbCounter++}`)
    service = await startServiceProcess(await createDatabase(adminUrl, names.at(-1)!))
    // Warm-up (not recorded): the first requests and claims of a fresh process run cold code.
    for (let i = 0; i < 10; i++) await service.send()
    await service.latencies()
    await sleep(500)
    const senders = clients.length + 1
    for (let i = 0; i < N.pickup; i++) {
      for (let k = 0; k < senders; k++) {
        const sys = (i + k) % senders
        await (sys === clients.length ? service.send() : clients[sys].send({ t: wallMs(), seq: i, sys }))
        await sleep(10)
      }
    }
    await waitFor(() => latencies.every((l) => l.length >= N.pickup), 5000)
    endToEnd = (await service.latencies()).map((trace) => trace.total)
  } finally {
    hooks.onRun = () => {}
    await service?.close().catch(() => {})
    await Promise.all(clients.map((client) => client.close().catch(() => {})))
    for (const name of names) await dropDatabase(adminUrl, name).catch(() => {})
  }
  interleaved.forEach(([, , label], k) => {
    if (latencies[k].length < N.pickup) note(`pickup ${label}: ${latencies[k].length} of ${N.pickup} jobs started within 5 s of the last send`)
    for (const p of [50, 95, 99]) record(`pickup-p${p}`, row(p), label, percentile(latencies[k], p))
  })
  if (endToEnd.length < N.pickup) note(`pickup ${LABEL_NPM_START}: ${endToEnd.length} of ${N.pickup} jobs started`)
  for (const p of [50, 95, 99]) record(`pickup-p${p}`, row(p), LABEL_NPM_START, percentile(endToEnd, p))

  await freshDb('pickup_pgboss_polling', async (url) => {
    const client = await openSystem('pgboss', url)
    const polled: number[] = []
    hooks.onRun = (payload) => {
      if (payload.t !== undefined) polled.push(wallMs() - payload.t)
    }
    try {
      await client.work('b1')
      await sleep(300)
      for (let i = 0; i < N.pickupPolling; i++) {
        await client.send({ t: wallMs(), seq: i })
        await sleep(50)
      }
      await waitFor(() => polled.length >= N.pickupPolling, 5000)
    } finally {
      hooks.onRun = () => {}
      await client.close()
    }
    for (const p of [50, 95, 99]) record(`pickup-p${p}`, row(p), 'pgboss (polling)', percentile(polled, p))
  })
}

// ---- d) status polling while workers drain ---------------------------------------------------
// Polls of finished parse jobs (a ≈5.7 KB result each). One API child serves the service's app and
// the bare reference (Hono + one primary-key select of the same body, stored as jsonb) on two ports;
// the load alternates between them in short windows while one worker drains a backlog of progress5
// jobs, so both see the same drain, the same machine load and the same process.
async function scenarioStatus() {
  await freshDb('status', async (url) => {
    const ids = await finishParseJobs(url, N.statusJobs)
    const { queue, close } = await openOurs(url)
    for (let offset = 0; offset < N.statusBacklog; offset += 1000) {
      await queue.enqueueMany(Array.from({ length: 1000 }, (_, i) => ({ kind: 'progress5', payload: { seq: offset + i } })))
    }
    await close()
    const api = spawnChild(['api', url])
    const worker = spawnChild(['drain', 'ours', 'progress5', url])
    try {
      const [{ port, barePort }] = await Promise.all([api.next<{ port: number; barePort: number }>('ready'), worker.next('ready')])
      const bytes = await copyStatusBodies(url, port, ids)
      note(`Scenario d: ${ids.length.toLocaleString('en')} finished parse jobs polled; a body is ${bytes.oursBytes} bytes from ours, ${bytes.bareBytes} from the bare route (the same JSON value; jsonb re-orders its keys).`)
      worker.send({ type: 'go' })
      // Warm-up (not recorded): JIT, sockets and pool connections of both servers.
      for (const warm of [port, barePort]) {
        await httpLoad({ port: warm, connections: 50, durationMs: 300, request: (i) => ({ method: 'GET', path: `/api/tasks/status/${ids[i % ids.length]}` }) })
      }
      const totals = { ours: { requests: 0, seconds: 0, latencies: [] as number[] }, bare: { requests: 0, seconds: 0, latencies: [] as number[] } }
      const windows = Math.max(2, Math.round(N.statusMs / N.statusWindowMs)) * 2
      let n = 0
      for (let w = 0; w < windows; w++) {
        const mode = w % 2 === 0 ? 'ours' : 'bare'
        const result = await httpLoad({
          port: mode === 'ours' ? port : barePort,
          connections: 50,
          durationMs: N.statusWindowMs,
          request: () => ({ method: 'GET', path: `/api/tasks/status/${ids[(n++ * 7919) % ids.length]}` }),
          keepLatencies: true,
        })
        if ((result.statuses[200] ?? 0) !== result.requests) note(`status ${mode}: statuses ${JSON.stringify(result.statuses)}`)
        totals[mode].requests += result.requests
        totals[mode].seconds += result.seconds
        totals[mode].latencies.push(...result.latencies!)
      }
      const remaining = Number((await queryOnce(url, `SELECT count(*) FROM pgboss.job WHERE state < 'completed'`)).rows[0].count)
      if (remaining === 0) note(`status: the drain ended before the measurement did (backlog ${N.statusBacklog})`)
      for (const mode of ['ours', 'bare'] as const) {
        const label = mode === 'ours' ? 'ours' : 'bare Hono + pg'
        record('status-rps', { scenario: 'd', metric: 'status GET of finished parse jobs while draining, 50 conns', unit: 'req/s', better: 'higher' }, label, totals[mode].requests / totals[mode].seconds)
        record('status-p99', { scenario: 'd', metric: 'status GET of finished parse jobs while draining, p99', unit: 'ms', better: 'lower' }, label, percentile(totals[mode].latencies, 99))
      }
    } finally {
      api.send({ type: 'rss' })
      const memory = await api.next<{ rssPeak: number }>('rss', 5000).catch(() => ({ rssPeak: NaN }))
      record('mem-api-status', { scenario: 'f', metric: 'RSS of the API process serving status polls (peak)', unit: 'MB', better: 'lower' }, 'ours', memory.rssPeak / 2 ** 20)
      await Promise.all([api.stop(), worker.stop()])
    }
  })
}

/** The top statements of one database since the last reset, per call and per unit of work (jobs or requests). */
async function captureStatements(url: string, label: string, units: number) {
  if (!hasPgss || units <= 0) return
  const { rows: top } = await queryOnce(
    url,
    `SELECT calls::int, round((total_plan_time / calls)::numeric, 3)::float AS plan_ms, round((total_exec_time / calls)::numeric, 3)::float AS exec_ms,
       round(((total_plan_time + total_exec_time) / ${units})::numeric, 4)::float AS ms_per_unit, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
     ORDER BY total_plan_time + total_exec_time DESC LIMIT 6`,
  )
  const statements = (extras.statements ??= {}) as Record<string, unknown>
  statements[label] ??= { units, top }
}

async function queryOnce(url: string, text: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(text)
  } finally {
    await client.end()
  }
}

// ---- e) stats and status at 1M retained jobs -------------------------------------------------
async function seedRetained(url: string, count: number) {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    // md5 of the index with the version-4 and variant nibbles set: valid UUIDs the API accepts.
    await pool.query(`CREATE FUNCTION pg_temp.seed_uuid(i int) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
      SELECT (substr(h, 1, 12) || '4' || substr(h, 14, 3) || '8' || substr(h, 18, 15))::uuid FROM md5('seed' || i) AS h $$`)
    for (let offset = 0; offset < count; offset += 250_000) {
      const upto = Math.min(count, offset + 250_000)
      await pool.query(
        `INSERT INTO pgboss.job (id, name, data, state, created_on, started_on, completed_on, output)
         SELECT pg_temp.seed_uuid(i), 'noop', jsonb_build_object('payload', jsonb_build_object('seq', i), 'sessionId', null, 'dependsOn', '[]'::jsonb, 'hasDependents', false),
                'completed', now() - interval '1 hour', now() - interval '1 hour', now() - interval '59 minutes', '{"ok": true}'
         FROM generate_series($1::int, $2::int) AS i`,
        [offset + 1, upto],
      )
      await pool.query(
        `INSERT INTO housler._tasks (job_id, kind, payload, max_attempts, progress, created_at, updated_at)
         SELECT pg_temp.seed_uuid(i), 'noop', jsonb_build_object('seq', i), 1, 100, now() - interval '1 hour', now() - interval '59 minutes'
         FROM generate_series($1::int, $2::int) AS i`,
        [offset + 1, upto],
      )
    }
    await pool.query('VACUUM ANALYZE pgboss.job')
    await pool.query('VACUUM ANALYZE housler._tasks')
    // The status read as the API runs it (src/queue/lifecycle.ts findJobStatus): the view plus the webhook state.
    const plan = await pool.query(
      `EXPLAIN (ANALYZE, BUFFERS) SELECT j.*, ${WEBHOOK_STATE_COLUMNS} FROM housler.jobs j ${WEBHOOK_STATE_JOIN} WHERE j.id = pg_temp.seed_uuid(4242)`,
    )
    extras.statusPlan = plan.rows.map((row) => row['QUERY PLAN'])
  } finally {
    await pool.end()
  }
}

async function scenarioRetained() {
  await freshDb('retained', async (url) => {
    const { close } = await openOurs(url)
    await close()
    const seeded = performance.now()
    await seedRetained(url, N.retained)
    log(`  seeded ${N.retained} retained jobs in ${((performance.now() - seeded) / 1000).toFixed(1)} s`)
    const api = spawnChild(['api', url])
    const { port } = await api.next<{ port: number }>('ready')
    try {
      for (let run = 0; run < RUNS; run++) {
        const stats = await httpLoad({ port, connections: 1, total: N.statsRequests, request: () => ({ method: 'GET', path: '/api/tasks/queue-stats' }) })
        const statsRow = (p: number): Row => ({ scenario: 'e', metric: `queue-stats at ${N.retained.toLocaleString('en')} retained jobs, p${p}`, unit: 'ms', better: 'lower' })
        record('stats-p50', statsRow(50), 'ours', stats.p50)
        record('stats-p99', statsRow(99), 'ours', stats.p99)
        const status = await httpLoad({
          port,
          connections: 1,
          total: N.statusRequests,
          request: (i) => ({ method: 'GET', path: `/api/tasks/status/${seedId(1 + ((i * 104729) % N.retained))}` }),
        })
        if ((status.statuses[200] ?? 0) !== status.requests) note(`retained status: statuses ${JSON.stringify(status.statuses)}`)
        const statusRow = (p: number): Row => ({ scenario: 'e', metric: `status GET at ${N.retained.toLocaleString('en')} retained jobs, p${p}`, unit: 'ms', better: 'lower' })
        record('retained-status-p50', statusRow(50), 'ours', status.p50)
        record('retained-status-p99', statusRow(99), 'ours', status.p99)
      }
    } finally {
      await api.stop()
    }
  })
}

import { createHash } from 'node:crypto'
function seedId(i: number): string {
  const md5 = createHash('md5').update(`seed${i}`).digest('hex')
  const hex = `${md5.slice(0, 12)}4${md5.slice(13, 16)}8${md5.slice(17)}`
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

// ---- run everything ---------------------------------------------------------------------------
const began = Date.now()
log(`housler bench: ${QUICK ? 'quick, 1 run' : `${RUNS} runs`}; Postgres ${pgVersion} (${pgSource}); Redis ${hasRedis ? 'yes' : 'no'}`)
try {
  for (let run = 0; run < RUNS; run++) {
    log(`run ${run + 1} of ${RUNS}`)
    if (want('a')) await scenarioEnqueue()
    if (want('b') || want('f')) await scenarioDrain()
    if (want('f')) await scenarioIdleWorker()
    if (want('f')) await scenarioApiMemory()
    if (want('c')) await scenarioPickup()
    if (want('d')) await scenarioStatus()
  }
  if (want('e')) await scenarioRetained()
  // Once: its 200 runs already give the percentiles.
  if (want('g')) await scenarioPipeline()
} finally {
  await admin.end()
  await embedded?.stop()
}

// ---- report -----------------------------------------------------------------------------------
type Target = { what: string; ours: [string, string]; reference: [string, string] | number; rule: (ours: number, ref: number) => boolean; text: string }
const med = (key: string, system: string) => median(rows.get(key)?.values.get(system) ?? [])
const targets: Target[] = [
  { what: 'pickup p50 ≤ 0.8× graphile-worker (library)', ours: ['pickup-p50', 'ours'], reference: ['pickup-p50', 'graphile'], rule: (o, r) => o <= 0.8 * r, text: '≤ 0.8×' },
  { what: 'pickup p99 ≤ graphile-worker p99 (library)', ours: ['pickup-p99', 'ours'], reference: ['pickup-p99', 'graphile'], rule: (o, r) => o <= r, text: '≤ 1.0×' },
  { what: 'pickup p50 ≤ 0.8× graphile-worker (npm start, HTTP → handler)', ours: ['pickup-p50', LABEL_NPM_START], reference: ['pickup-p50', 'graphile'], rule: (o, r) => o <= 0.8 * r, text: '≤ 0.8×' },
  { what: 'pickup p99 ≤ graphile-worker p99 (npm start, HTTP → handler)', ours: ['pickup-p99', LABEL_NPM_START], reference: ['pickup-p99', 'graphile'], rule: (o, r) => o <= r, text: '≤ 1.0×' },
  { what: 'one-job drain ≥ graphile-worker (1 process)', ours: ['drain-1-1', 'ours'], reference: ['drain-1-1', 'graphile'], rule: (o, r) => o >= r, text: '≥ 1.0×' },
  { what: 'drain ≥ 0.9× raw pg-boss, same settings', ours: ['drain-1-1', 'ours'], reference: ['drain-same-1', 'pgboss (batchSize 16)'], rule: (o, r) => o >= 0.9 * r, text: '≥ 0.9×' },
  { what: 'drain with 5 progress ≥ 0.6× raw pg-boss', ours: ['drain-progress-1', 'ours'], reference: ['drain-same-1', 'pgboss (batchSize 16)'], rule: (o, r) => o >= 0.6 * r, text: '≥ 0.6×' },
  { what: 'HTTP enqueue ≥ 1.5× pg-boss send (50 in flight)', ours: ['enqueue-50', 'ours (HTTP)'], reference: ['enqueue-50', 'pgboss'], rule: (o, r) => o >= 1.5 * r, text: '≥ 1.5×' },
  { what: 'status GET ≥ 1.0× bare Hono + pg, same body', ours: ['status-rps', 'ours'], reference: ['status-rps', 'bare Hono + pg'], rule: (o, r) => o >= r, text: '≥ 1.0×' },
  { what: 'queue-stats p99 ≤ 20 ms at 1M', ours: ['stats-p99', 'ours'], reference: 20, rule: (o, r) => o <= r, text: '≤ 20 ms' },
  { what: 'status p99 ≤ 10 ms at 1M', ours: ['retained-status-p99', 'ours'], reference: 10, rule: (o, r) => o <= r, text: '≤ 10 ms' },
  { what: 'pipeline p50 ≤ 300 ms (POST → report finished seen)', ours: ['pipeline-total-p50', 'ours'], reference: 300, rule: (o, r) => o <= r, text: '≤ 300 ms' },
  { what: 'API RSS ≤ 150 MB serving 50 pollers + 20 enqueues/s', ours: ['mem-api-pollers', 'ours'], reference: 150, rule: (o, r) => o <= r, text: '≤ 150 MB' },
  { what: 'idle worker < 80 MB RSS', ours: ['mem-idle', 'ours'], reference: 80, rule: (o, r) => o < r, text: '< 80 MB' },
  { what: 'idle worker RSS ≤ graphile-worker\'s', ours: ['mem-idle', 'ours'], reference: ['mem-idle', 'graphile'], rule: (o, r) => o <= r, text: '≤ 1.0×' },
]

const systemsSeen = [...new Set([...rows.values()].flatMap((row) => [...row.values.keys()]))]
const lines: string[] = []
lines.push(`| scenario | metric | ${systemsSeen.join(' | ')} |`)
lines.push(`|---|---|${systemsSeen.map(() => '---:').join('|')}|`)
for (const row of rows.values()) {
  lines.push(`| ${row.scenario} | ${row.metric} (${row.unit}) | ${systemsSeen.map((s) => (row.values.has(s) ? fmt(median(row.values.get(s)!)) : '')).join(' | ')} |`)
}
const targetLines = ['| target | ours | reference (same run) | ratio | met |', '|---|---:|---:|---:|:---:|']
const targetResults = targets
  .map((target) => {
    const ours = med(...target.ours)
    const ref = typeof target.reference === 'number' ? target.reference : med(...target.reference)
    if (!Number.isFinite(ours) || !Number.isFinite(ref)) return undefined
    const met = target.rule(ours, ref)
    const refLabel = typeof target.reference === 'number' ? `${ref}` : `${fmt(ref)} (${target.reference[1]})`
    targetLines.push(`| ${target.what} | ${fmt(ours)} | ${refLabel} | ${(ours / ref).toFixed(2)}× (${target.text}) | ${met ? 'yes' : '**no**'} |`)
    return { what: target.what, ours, reference: ref, ratio: ours / ref, met }
  })
  .filter(Boolean)

const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GB RAM, ${os.platform()} ${os.release()}, Node ${process.version}`
const header = [
  `housler bench — ${new Date().toISOString()} — ${QUICK ? 'quick (1 run, small N)' : `medians of ${RUNS} runs`} — ${((Date.now() - began) / 60000).toFixed(1)} min`,
  `machine: ${machine}`,
  `postgres: ${pgVersion} via ${pgSource}; ${pgSettings.map((s) => `${s.name}=${s.setting}`).join(', ')}; redis: ${hasRedis ? '127.0.0.1:6379' : 'absent'}`,
]
console.log(['', ...header, '', ...lines, '', ...targetLines, '', ...notes.map((note) => `- ${note}`)].join('\n'))
if (extras.statements) {
  console.log('\npg_stat_statements (first run; database time per job or request, top statements):')
  for (const [label, { units, top }] of Object.entries(extras.statements as Record<string, { units: number; top: Array<Record<string, unknown>> }>)) {
    console.log(`  ${label} (${units.toLocaleString('en')}):`)
    for (const t of top) console.log(`    ${String(t.calls).padStart(6)} calls  plan ${t.plan_ms} ms  exec ${t.exec_ms} ms  → ${t.ms_per_unit} ms/unit  ${t.query}`)
  }
} else if (!hasPgss) {
  console.log('\npg_stat_statements: not preloaded on this server (shared_preload_libraries); no per-statement figures.')
}
if (extras.statusPlan) console.log(`\nEXPLAIN ANALYZE status lookup:\n${(extras.statusPlan as string[]).map((l) => `    ${l}`).join('\n')}`)

const out = path.join(BENCH_DIR, 'results', 'latest.json')
await mkdir(path.dirname(out), { recursive: true })
await writeFile(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      quick: QUICK,
      runs: RUNS,
      n: N,
      machine,
      postgres: { version: pgVersion, source: pgSource, settings: pgSettings, pgStatStatements: hasPgss },
      redis: hasRedis,
      rows: [...rows.entries()].map(([key, row]) => ({ key, ...row, values: Object.fromEntries(row.values), medians: Object.fromEntries([...row.values].map(([s, v]) => [s, median(v)])) })),
      targets: targetResults,
      notes,
      extras,
    },
    null,
    2,
  ),
)
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
process.exit(0)
