// Where an idle worker's pickup time goes, one job at a time (a diagnostic beside npm run bench):
//   node bench/profile-pickup.ts [jobs]
// For each job: enqueue call → enqueue resolved (committed), → NOTIFY received, pg-boss fetch time,
// fetch returned → handler's first line. ADMIN_URL picks the server (default the local one).
import { createDatabase, dropDatabase, percentile, sleep } from './lib.ts'
import { openOurs } from './systems.ts'
import { hooks, wallMs } from './tasks.ts'
import { CHANNELS } from '../src/queue/index.ts'

const admin = process.env.ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const jobs = Number(process.argv[2] ?? 150)
const name = `bench_profile_${Date.now().toString(36)}`
const url = await createDatabase(admin, name)
const { queue, db } = await openOurs(url)
type Trace = { send: number; committed?: number; notified?: number; fetchStart?: number; fetchEnd?: number; started?: number }
const traces: Trace[] = []
let current: Trace | undefined
try {
  queue.listener.on(CHANNELS.jobs, () => {
    if (current && current.notified === undefined) current.notified = wallMs()
  })
  // Times the fetch that returns the job (the worker's only pg-boss call on this path).
  const boss = queue.boss as unknown as { fetch: (...args: unknown[]) => Promise<unknown[]> }
  const fetch = boss.fetch.bind(boss)
  boss.fetch = async (...args) => {
    const t0 = wallMs()
    const found = await fetch(...args)
    if (found.length > 0 && current) Object.assign(current, { fetchStart: t0, fetchEnd: wallMs() })
    return found
  }
  hooks.onRun = () => {
    if (current) current.started = wallMs()
  }
  queue.startWorker({ kinds: ['noop'], concurrency: 16 })
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
  line('enqueue → NOTIFY', (t) => t.notified! - t.send)
  line('NOTIFY → fetch', (t) => t.fetchStart! - t.notified!)
  line('fetch', (t) => t.fetchEnd! - t.fetchStart!)
  line('fetch → handler', (t) => t.started! - t.fetchEnd!)
  line('total', (t) => t.started! - t.send)
} finally {
  hooks.onRun = () => {}
  await queue.stop()
  await db.destroy()
  await dropDatabase(admin, name)
}
process.exit(0)
