// One in-process drain of our worker, with its CPU and (when the server preloads pg_stat_statements)
// the database time per job by statement — a diagnostic beside npm run bench:
//   node bench/profile-drain.ts [noop|progress5] [jobs]
// ADMIN_URL picks the server (default the local one); run node with --cpu-prof for a profile.
import pg from 'pg'
import { createDatabase, dropDatabase, sleep, waitFor } from './lib.ts'
import { openOurs } from './systems.ts'
import { hooks } from './tasks.ts'

const admin = process.env.ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const kind = process.argv[2] ?? 'noop'
const jobs = Number(process.argv[3] ?? 5000)
const name = `bench_profile_${Date.now().toString(36)}`
const url = await createDatabase(admin, name)
const client = new pg.Client({ connectionString: url })
await client.connect()
const pgss = (await client.query(`SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'`)).rows[0].setting.includes('pg_stat_statements')
if (pgss) await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
const { queue, db, close } = await openOurs(url)
try {
  for (let offset = 0; offset < jobs; offset += 1000) {
    await queue.enqueueMany(Array.from({ length: Math.min(1000, jobs - offset) }, (_, i) => ({ kind, payload: { seq: offset + i } })))
  }
  let ran = 0
  hooks.onRun = () => void ran++
  await sleep(200)
  if (pgss) await client.query('SELECT pg_stat_statements_reset()')
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  queue.startWorker({ kinds: [kind], concurrency: 16 })
  await waitFor(() => ran >= jobs, 60_000, 5)
  await waitFor(async () => Number((await client.query(`SELECT count(*) FROM pgboss.job WHERE state < 'completed'`)).rows[0].count) === 0, 60_000, 10)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  console.log(`${kind}: ${jobs} jobs in ${seconds.toFixed(2)} s = ${Math.round(jobs / seconds)} jobs/s; Node CPU ${((cpu.user + cpu.system) / 1000 / jobs).toFixed(3)} ms/job`)
  if (pgss) {
    const { rows } = await client.query(
      `SELECT calls, round((total_plan_time / calls)::numeric, 3) AS plan_ms, round((total_exec_time / calls)::numeric, 3) AS exec_ms,
         round(((total_plan_time + total_exec_time) / ${jobs})::numeric, 4) AS ms_per_job, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
       ORDER BY total_plan_time + total_exec_time DESC LIMIT 8`,
    )
    console.table(rows)
  }
} finally {
  await close()
  await client.end()
  await dropDatabase(admin, name)
}
process.exit(0)
