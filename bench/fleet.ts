// npm run bench:fleet: drain throughput of 1, 8 and 32 worker processes against the same database,
// and the server connections each fleet used (peak sessions of the service's role in pg_stat_activity).
// A private cluster (max_connections=200) per run; jobs are enqueued in one batch while the workers
// idle, and the drain is timed from that commit to the last job's end, in the database's own clock.
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { openRuntime } from '../src/runtime.ts'
import { startFleet } from '../test/helpers/fleet.ts'
import { sleepTask } from '../test/helpers/fleet-tasks.ts'
import { SERVICE_DATABASE, startPrivateCluster } from '../test/helpers/private-cluster.ts'

const FLEETS = (process.env.BENCH_FLEETS ?? '1,8,32').split(',').map(Number)
const JOBS = Number(process.env.BENCH_FLEET_JOBS ?? 4000)
const CONCURRENCY = Number(process.env.BENCH_FLEET_CONCURRENCY ?? 4)

const cluster = await startPrivateCluster({ max_connections: 200 })
const adminUrl = cluster.adminUrl(SERVICE_DATABASE)
const rows: Array<Record<string, number>> = []
try {
  for (const workers of FLEETS) {
    const fleet = await startFleet({ databaseUrl: cluster.serviceUrl(), adminUrl, workers, concurrency: CONCURRENCY })
    try {
      await fleet.allReady(600_000)
      const enqueuer = await openRuntime({ name: 'bench-enqueuer', env: { DATABASE_URL: adminUrl, LOG_LEVEL: 'silent' }, tasks: [sleepTask], supervise: false })
      fleet.resetPeak()
      const outcomes = await enqueuer.queue.enqueueMany(Array.from({ length: JOBS }, () => ({ kind: 'sleep', payload: { ms: 0 } })))
      const ids = outcomes.map((outcome) => outcome.jobId)
      await fleet.drain(ids, 600_000)
      const admin = new pg.Client({ connectionString: adminUrl })
      await admin.connect()
      const { rows: [timing] } = await admin.query<{ seconds: number }>(
        `SELECT extract(epoch FROM max(ended_at) - min(created_at))::float8 AS seconds FROM housler.jobs WHERE id = ANY($1::uuid[])`,
        [ids],
      )
      await admin.end()
      await enqueuer.close()
      const row = {
        workers,
        concurrency: CONCURRENCY,
        jobs: JOBS,
        drainSeconds: Math.round(timing.seconds * 100) / 100,
        jobsPerSecond: Math.round(JOBS / timing.seconds),
        peakConnections: fleet.peakConnections(),
        connectionsPerWorker: Math.round((fleet.peakConnections() / (workers + 1)) * 10) / 10,
      }
      rows.push(row)
      console.log(JSON.stringify(row))
    } finally {
      await fleet.stop()
    }
  }
} finally {
  await cluster.stop()
}

console.log('\n| worker processes | WORKER_CONCURRENCY | jobs | drain s | jobs/s | peak server connections (incl. API) |')
console.log('|---|---|---|---|---|---|')
for (const row of rows) {
  console.log(`| ${row.workers} | ${row.concurrency} | ${row.jobs} | ${row.drainSeconds} | ${row.jobsPerSecond} | ${row.peakConnections} |`)
}
const out = path.join('bench', 'results', `fleet-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`)
await mkdir(path.dirname(out), { recursive: true })
await writeFile(out, JSON.stringify({ host: { cpus: os.cpus().length, load: os.loadavg() }, rows }, null, 2))
console.log(`\nwritten ${out}`)
