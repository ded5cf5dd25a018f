// Where an idle worker's pickup time goes, one job at a time (a diagnostic beside npm run bench):
//   node bench/profile-pickup.ts [jobs] [npm-start | split]
// For each job: enqueue call → enqueue resolved (committed), → NOTIFY received (on a LISTEN of this
// script's own), → handler's first line. The worker runs in the enqueuing runtime (claim on enqueue: no
// NOTIFY is sent, the job is handed over at commit); split: in a second runtime of this process, woken by
// NOTIFY and claimed by its own fetch. ADMIN_URL picks the server (default the local one).
// npm-start: the service as users run it (src/server.ts), from outside: HTTP POST → created_on (the
// enqueue transaction began) → 202 read, and created_on → the handler called (the worker's debug line).
import pg from 'pg'
import { createDatabase, dropDatabase, percentile, sleep } from './lib.ts'
import { startServiceProcess } from './service-process.ts'
import { openOurs } from './systems.ts'
import { hooks, wallMs } from './tasks.ts'

const admin = process.env.ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const jobs = Number(process.argv[2] ?? 150)
const name = `bench_profile_${Date.now().toString(36)}`
const url = await createDatabase(admin, name)
if (process.argv[3] === 'npm-start') {
  const service = await startServiceProcess(url)
  try {
    for (let i = 0; i < 10; i++) await service.send()
    await service.latencies()
    for (let i = 0; i < jobs; i++) {
      await service.send()
      await sleep(50)
    }
    const traces = await service.latencies()
    for (const step of ['toCreated', 'toAnswer', 'createdToStarted', 'total'] as const) {
      const values = traces.map((trace) => trace[step])
      console.log(`${step.padEnd(24)} p50 ${percentile(values, 50).toFixed(2)} ms  p95 ${percentile(values, 95).toFixed(2)} ms`)
    }
  } finally {
    await service.close()
    await dropDatabase(admin, name)
  }
  process.exit(0)
}
const split = process.argv[3] === 'split'
const { queue, close } = await openOurs(url)
const consumer = split ? await openOurs(url, { supervise: false }) : undefined
const listen = new pg.Client({ connectionString: url })
await listen.connect()
// The wake-up channel the enqueue statement notifies (src/queue/listener.ts CHANNELS.jobs).
await listen.query('LISTEN housler_jobs')
type Trace = { send: number; committed?: number; notified?: number; started?: number }
const traces: Trace[] = []
let current: Trace | undefined
try {
  listen.on('notification', () => {
    if (current && current.notified === undefined) current.notified = wallMs()
  })
  hooks.onRun = () => {
    if (current) current.started = wallMs()
  }
  ;(consumer?.queue ?? queue).startWorker({ kinds: ['noop'], concurrency: 16 })
  await sleep(500)
  for (let i = 0; i < jobs; i++) {
    current = { send: wallMs() }
    traces.push(current)
    await queue.enqueue({ kind: 'noop', payload: { seq: i } })
    current.committed = wallMs()
    const deadline = Date.now() + 2000
    while (current.started === undefined && Date.now() < deadline) await sleep(1)
    await sleep(50)
  }
  const line = (label: string, of: (t: Trace) => number) => {
    const values = traces.map(of).filter(Number.isFinite)
    console.log(`${label.padEnd(24)} p50 ${percentile(values, 50).toFixed(2)} ms  p95 ${percentile(values, 95).toFixed(2)} ms`)
  }
  line('enqueue (committed)', (t) => t.committed! - t.send)
  if (split) {
    line('enqueue → NOTIFY', (t) => t.notified! - t.send)
    line('NOTIFY → handler', (t) => t.started! - t.notified!)
  } else {
    line('committed → handler', (t) => t.started! - t.committed!)
    console.log(`wake-ups heard: ${traces.filter((t) => t.notified !== undefined).length} of ${traces.length} (a job claimed by its enqueue sends none)`)
  }
  line('total', (t) => t.started! - t.send)
} finally {
  hooks.onRun = () => {}
  await listen.end()
  await consumer?.close()
  await close()
  await dropDatabase(admin, name)
}
process.exit(0)
