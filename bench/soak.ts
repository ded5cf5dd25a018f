// npm run soak [-- --minutes 10] [-- --rate 20] [-- --pollers 4] [-- --sse 4] [-- --sample-seconds 30]
//
// A steady mixed load against real processes: one API process (src/http, as `--api-only` composes
// it) and two worker processes, on a database of its own. Clients enqueue over HTTP at a fixed rate,
// poll job statuses, and follow jobs over SSE; every task reports progress. Every sample prints jobs
// done, errors, p99 latencies and the RSS of each process; the verdict checks that memory stays flat
// and errors do not grow. Every loop is bounded by the run's end; a watchdog ends a run that hangs.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { serve } from '@hono/node-server'
import pg from 'pg'
import { z } from 'zod'
import { loadConfig } from '../src/config.ts'
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/db/index.ts'
import { createApp } from '../src/http/app.ts'
import { createSilentLogger } from '../src/log.ts'
import { openRuntime } from '../src/runtime.ts'
import { defineTask } from '../src/tasks/types.ts'
import { createDatabase, dropDatabase, percentile, reachable } from './lib.ts'

const SOAK_FILE = fileURLToPath(import.meta.url)
const argv = process.argv.slice(2)
const option = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`)
  const value = at >= 0 ? Number(argv[at + 1]) : fallback
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`)
  return value
}

/** Five steps of work, each reported as progress, as the product's tasks do. */
const soakTask = defineTask({
  kind: 'soak',
  payload: z.object({ steps: z.number().int().min(1).max(20).default(5), step_ms: z.number().int().min(0).max(5000).default(60) }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler(payload, ctx) {
    for (let step = 1; step <= payload.steps; step++) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, payload.step_ms)
        ctx.signal.addEventListener('abort', () => (clearTimeout(timer), reject(ctx.signal.reason)), { once: true })
      })
      await ctx.progress(Math.round((step / payload.steps) * 100), `Шаг ${step} из ${payload.steps}...`)
    }
    return { success: true, steps: payload.steps }
  },
})

// ---- child processes: `--child api|worker <database url>` -------------------------------------
const CHILD_ENV = {
  LOG_LEVEL: 'error',
  RATE_LIMIT_PER_MINUTE: '0',
  WORKER_CONCURRENCY: '8',
  DB_POOL_SIZE: '8',
  // Finished jobs expire during the run, so the cleanup pass and a bounded table are part of the soak.
  RQ_RESULT_TTL: '120',
  RQ_FAILURE_TTL: '600',
  CLEANUP_INTERVAL_SECONDS: '30',
}

async function runChild(role: string, url: string): Promise<void> {
  const runtime = await openRuntime({ name: `soak-${role}`, env: { ...CHILD_ENV, DATABASE_URL: url }, tasks: [soakTask] })
  const { config, log, queue, metrics } = runtime
  let counts = () => ({ finished: 0, failed: 0 })
  let close = () => runtime.close()
  if (role === 'api') {
    const app = createApp({ config, queue, metrics, log })
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => process.send?.({ type: 'ready', port: info.port }))
    close = async () => {
      server.close()
      await runtime.close()
    }
  } else {
    const worker = queue.startWorker()
    runtime.startCleanup()
    counts = () => worker.counts()
    process.send?.({ type: 'ready' })
  }
  process.on('message', async (message: { type: string }) => {
    if (message.type === 'sample') {
      // A full collection first: the heap figure is then what is really retained, not garbage yet to go.
      ;(globalThis as { gc?: () => void }).gc?.()
      const memory = process.memoryUsage()
      process.send?.({ type: 'sample', rss: memory.rss, heap: memory.heapUsed, heapTotal: memory.heapTotal, ...counts() })
    }
    if (message.type === 'stop') {
      await close()
      process.exit(0)
    }
  })
  process.on('disconnect', () => process.exit(0))
}

// ---- the parent: database, processes, load, samples, verdict ----------------------------------
type Proc = { name: string; child: ChildProcess; ready: Promise<any>; request<T>(type: string): Promise<T> }

function spawnRole(role: string, url: string): Proc {
  const child = fork(SOAK_FILE, ['--child', role, url], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, '--expose-gc'],
  })
  const waiting = new Map<string, Array<(message: any) => void>>()
  child.on('message', (message: any) => {
    const queue = waiting.get(message.type)
    queue?.shift()?.(message)
  })
  const request = <T>(type: string, timeoutMs = 10_000) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role}: no "${type}" answer in ${timeoutMs} ms`)), timeoutMs)
      waiting.set(type, [...(waiting.get(type) ?? []), (message) => (clearTimeout(timer), resolve(message))])
      if (type !== 'ready') child.send({ type })
    })
  return { name: role, child, ready: request('ready', 120_000), request }
}

type Window = {
  enqueueMs: number[]
  statusMs: number[]
  accepted: number
  non2xx: number
  fivexx: number
  network: number
  skipped: number
  sseDone: number
  sseEvents: number
  sseFailed: number
}
const emptyWindow = (): Window => ({ enqueueMs: [], statusMs: [], accepted: 0, non2xx: 0, fivexx: 0, network: 0, skipped: 0, sseDone: 0, sseEvents: 0, sseFailed: 0 })

type Sample = {
  minute: number
  done: number
  donePerSec: number
  failed: number
  enqueueP99: number
  statusP99: number
  requests: number
  errors: number
  skipped: number
  fivexx: number
  sse: string
  queued: number
  rss: number[]
  heap: number[]
  heapTotal: number[]
}

async function runParent(): Promise<void> {
  const minutes = option('minutes', 10)
  const rate = option('rate', 20)
  const pollers = option('pollers', 4)
  const sseClients = option('sse', 4)
  const sampleSeconds = option('sample-seconds', 30)
  const durationMs = minutes * 60_000
  const watchdog = setTimeout(() => {
    console.error('soak: did not finish within its duration + 5 minutes; giving up')
    process.exit(2)
  }, durationMs + 5 * 60_000)

  // Postgres: DATABASE_URL, else the local server, else an embedded one of its own.
  const envConfig = loadConfig(process.env)
  let embedded: EmbeddedServer | undefined
  let adminUrl = envConfig.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  if (!envConfig.databaseUrl && !(await reachable(adminUrl))) {
    embedded = await startEmbeddedPostgres({ dir: '.data/soak-postgres', port: 54349, log: createSilentLogger() })
    adminUrl = embedded.url
  }
  const dbName = `housler_soak_${process.pid}`
  const url = await createDatabase(adminUrl, dbName)
  const db = new pg.Pool({ connectionString: url, max: 2 })
  db.on('error', () => {})

  // The API migrates the fresh database; the workers join it after.
  const api = spawnRole('api', url)
  const { port } = await api.ready
  const workers = [spawnRole('worker', url), spawnRole('worker', url)]
  await Promise.all(workers.map((worker) => worker.ready))
  const procs = [api, ...workers]
  const base = `http://127.0.0.1:${port}`
  console.log(
    `soak: ${minutes} min, enqueue ${rate}/s over HTTP, ${pollers} status pollers, ${sseClients} SSE clients, ` +
      `1 API + 2 worker processes (concurrency ${CHILD_ENV.WORKER_CONCURRENCY}), samples every ${sampleSeconds} s`,
  )

  const started = Date.now()
  const endAt = started + durationMs
  let window = emptyWindow()
  const recent: string[] = []
  let acceptedTotal = 0
  const remember = (jobId: string) => {
    recent.push(jobId)
    if (recent.length > 200) recent.shift()
  }
  const record = (status: number | 'network') => {
    if (status === 'network') window.network++
    else if (status < 200 || status >= 300) {
      window.non2xx++
      if (status >= 500) window.fivexx++
    }
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  // Open loop at a fixed rate; at most 64 enqueues in flight (beyond that the service has fallen behind: counted as skipped).
  async function enqueueLoop() {
    let inFlight = 0
    const pending = new Set<Promise<void>>()
    for (let i = 0; Date.now() < endAt; i++) {
      const due = started + (i * 1000) / rate
      if (due > Date.now()) await sleep(due - Date.now())
      if (Date.now() >= endAt) break
      if (inFlight >= 64) {
        window.skipped++
        continue
      }
      inFlight++
      const t0 = performance.now()
      const request = fetch(`${base}/api/tasks/soak`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session_id: `soak-${i % 50}`, steps: 5, step_ms: 40 + (i % 5) * 20 }),
        signal: AbortSignal.timeout(30_000),
      })
        .then(async (response) => {
          const body = await response.json().catch(() => ({}))
          window.enqueueMs.push(performance.now() - t0)
          record(response.status)
          if (response.status === 202) {
            window.accepted++
            acceptedTotal++
            remember(body.job_id)
          }
        })
        .catch(() => record('network'))
        .finally(() => {
          inFlight--
          pending.delete(request)
        })
      pending.add(request)
    }
    await Promise.all(pending)
  }

  async function pollLoop() {
    while (Date.now() < endAt) {
      const jobId = recent[Math.floor(Math.random() * recent.length)]
      if (jobId) {
        const t0 = performance.now()
        try {
          const response = await fetch(`${base}/api/tasks/status/${jobId}`, { signal: AbortSignal.timeout(30_000) })
          await response.arrayBuffer()
          window.statusMs.push(performance.now() - t0)
          record(response.status)
        } catch {
          record('network')
        }
      }
      await sleep(100)
    }
  }

  // Follows the newest job until its terminal event (or 30 s), then the next one.
  async function sseLoop() {
    while (Date.now() < endAt) {
      const jobId = recent.at(-1)
      if (!jobId) {
        await sleep(100)
        continue
      }
      let terminal = false
      try {
        const response = await fetch(`${base}/api/tasks/status/${jobId}/events`, { signal: AbortSignal.timeout(30_000) })
        record(response.status)
        if (response.status === 200 && response.body) {
          const decoder = new TextDecoder()
          let buffer = ''
          const reader = response.body.getReader()
          while (!terminal) {
            const { done, value } = await reader.read()
            if (done) break
            buffer += decoder.decode(value, { stream: true })
            let end: number
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              const data = frame.split('\n').find((line) => line.startsWith('data:'))
              if (!data) continue
              window.sseEvents++
              const status = JSON.parse(data.slice(5)).status
              if (['finished', 'failed', 'canceled'].includes(status)) terminal = true
            }
          }
          await reader.cancel().catch(() => {})
        }
      } catch {
        // A timeout or a dropped stream: counted below.
      }
      if (terminal) window.sseDone++
      else window.sseFailed++
    }
  }

  const samples: Sample[] = []
  const errorsOf = (w: Window) => w.non2xx + w.network + w.sseFailed
  async function takeSample(): Promise<void> {
    const w = window
    window = emptyWindow()
    const [apiSample, ...workerSamples] = await Promise.all(procs.map((p) => p.request<{ rss: number; heap: number; heapTotal: number; finished: number; failed: number }>('sample')))
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'soak' AND state IN ('created', 'retry')`)
    const done = workerSamples.reduce((sum, s) => sum + s.finished, 0)
    const previous = samples.at(-1)
    const elapsed = (Date.now() - started) / 1000
    samples.push({
      minute: elapsed / 60,
      done,
      donePerSec: (done - (previous?.done ?? 0)) / (elapsed - (previous ? previous.minute * 60 : 0)),
      failed: workerSamples.reduce((sum, s) => sum + s.failed, 0),
      enqueueP99: percentile(w.enqueueMs, 99),
      statusP99: percentile(w.statusMs, 99),
      requests: w.enqueueMs.length + w.statusMs.length + w.sseDone + w.sseFailed,
      errors: errorsOf(w),
      skipped: w.skipped,
      fivexx: w.fivexx,
      sse: `${w.sseDone}/${w.sseEvents}`,
      queued: rows[0].n,
      rss: [apiSample, ...workerSamples].map((s) => s.rss / 1024 / 1024),
      heap: [apiSample, ...workerSamples].map((s) => s.heap / 1024 / 1024),
      heapTotal: [apiSample, ...workerSamples].map((s) => s.heapTotal / 1024 / 1024),
    })
    printRow(samples.at(-1)!)
  }

  const header = '| t (min) | jobs done | done/s | failed | enqueue p99 ms | status p99 ms | requests | errors | 5xx | enqueues skipped | SSE streams/events | queued | RSS API MB | RSS worker 1 MB | RSS worker 2 MB | V8 heap used/total after GC MB (API; w1; w2) |'
  console.log(header)
  console.log('|' + header.split('|').slice(1, -1).map(() => '---').join('|') + '|')
  const printRow = (s: Sample) =>
    console.log(
      `| ${s.minute.toFixed(1)} | ${s.done} | ${s.donePerSec.toFixed(1)} | ${s.failed} | ${s.enqueueP99.toFixed(1)} | ${s.statusP99.toFixed(1)} | ` +
        `${s.requests} | ${s.errors} | ${s.fivexx} | ${s.skipped} | ${s.sse} | ${s.queued} | ${s.rss.map((mb) => mb.toFixed(0)).join(' | ')} | ${s.heap.map((mb, i) => `${mb.toFixed(1)}/${s.heapTotal[i].toFixed(0)}`).join('; ')} |`,
    )

  const load = Promise.all([enqueueLoop(), ...Array.from({ length: pollers }, pollLoop), ...Array.from({ length: sseClients }, sseLoop)])
  const sampler = (async () => {
    for (let n = 1; started + n * sampleSeconds * 1000 <= endAt; n++) {
      await sleep(started + n * sampleSeconds * 1000 - Date.now())
      await takeSample()
    }
  })()
  await Promise.all([load, sampler])

  // Drain what was accepted (bounded), then compare.
  const drainDeadline = Date.now() + 120_000
  let finished = 0
  let failed = 0
  while (Date.now() < drainDeadline) {
    const counts = await Promise.all(workers.map((p) => p.request<{ finished: number; failed: number }>('sample')))
    finished = counts.reduce((sum, c) => sum + c.finished, 0)
    failed = counts.reduce((sum, c) => sum + c.failed, 0)
    if (finished + failed >= acceptedTotal) break
    await sleep(250)
  }

  // Verdict: RSS at the end within 20% of the 2-minute mark (the middle of shorter runs); no 5xx; errors not growing.
  const GROWTH = 0.2
  const baseIndex = Math.max(0, samples.findIndex((s) => s.minute >= Math.min(2, minutes / 2) - 1e-9))
  const baseline = samples[baseIndex]
  const last = samples.at(-1)!
  const names = ['API', 'worker 1', 'worker 2']
  const memory = names.map((name, i) => ({ name, from: baseline.rss[i], to: last.rss[i], ok: last.rss[i] <= baseline.rss[i] * (1 + GROWTH) }))
  const half = Math.floor(samples.length / 2)
  const errorsFirst = samples.slice(0, half).reduce((sum, s) => sum + s.errors, 0)
  const errorsSecond = samples.slice(half).reduce((sum, s) => sum + s.errors, 0)
  const fivexx = samples.reduce((sum, s) => sum + s.fivexx, 0)
  const skipped = samples.reduce((sum, s) => sum + s.skipped, 0)
  const lost = acceptedTotal - finished - failed
  const checks = [
    ...memory.map((m) => ({ ok: m.ok, text: `${m.name} RSS ${m.from.toFixed(0)} MB at ${baseline.minute.toFixed(1)} min → ${m.to.toFixed(0)} MB at the end (limit +${GROWTH * 100}%)` })),
    { ok: fivexx === 0, text: `${fivexx} 5xx answers` },
    { ok: errorsSecond <= errorsFirst, text: `errors: ${errorsFirst} in the first half, ${errorsSecond} in the second` },
    { ok: lost === 0 && failed === 0, text: `${acceptedTotal} jobs accepted, ${finished} finished, ${failed} failed, ${lost} not finished after the drain` },
  ]
  console.log('')
  for (const check of checks) console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.text}`)
  // Not judged: V8 grows its heap reservation (heap total, hence RSS) in steps and keeps it; what is
  // retained after a full collection says whether anything accumulates.
  console.log(`info V8 heap used after GC: ${names.map((name, i) => `${name} ${baseline.heap[i].toFixed(1)} → ${last.heap[i].toFixed(1)} MB`).join(', ')}`)
  console.log(`info ${skipped} enqueues skipped (64 already in flight: the service fell behind the offered rate)`)
  const pass = checks.every((check) => check.ok)
  console.log(`verdict: ${pass ? 'PASS (memory flat, no error growth, nothing lost)' : 'FAIL'}`)

  await Promise.all(procs.map((p) => new Promise((resolve) => (p.child.once('exit', resolve), p.child.send({ type: 'stop' })))))
  await db.end()
  await dropDatabase(adminUrl, dbName).catch(() => {})
  await embedded?.stop()
  clearTimeout(watchdog)
  process.exit(pass ? 0 : 1)
}

if (argv[0] === '--child') await runChild(argv[1], argv[2])
else await runParent()
