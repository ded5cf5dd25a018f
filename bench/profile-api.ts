// The API child's CPU per request, for one kind of request at a time (a diagnostic beside npm run bench):
//   node bench/profile-api.ts enqueue|status|status-bare [requests]
// enqueue: POST /api/tasks/noop; status: GET /api/tasks/status/:id of finished parse jobs on the
// service; status-bare: the same GET on the bare Hono + primary-key select route of the same child,
// answering the same bodies. 50 keep-alive connections.
// ADMIN_URL picks the server (default the local one); PGSS=1 adds the top statements when the server
// preloads pg_stat_statements; BENCH_CPU_PROF=api writes a --cpu-prof profile to bench/results/prof/.
import pg from 'pg'
import { createDatabase, dropDatabase, httpLoad, spawnChild } from './lib.ts'
import { copyStatusBodies, finishParseJobs } from './status-bodies.ts'

const admin = process.env.ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const mode = process.argv[2] ?? 'enqueue'
const total = Number(process.argv[3] ?? 10_000)
if (!['enqueue', 'status', 'status-bare'].includes(mode)) throw new Error(`unknown mode ${mode}`)

const name = `bench_profile_${Date.now().toString(36)}`
const url = await createDatabase(admin, name)
const client = new pg.Client({ connectionString: url })
await client.connect()
if (process.env.PGSS) await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
const ids = mode === 'enqueue' ? [] : await finishParseJobs(url, 2000)
const api = spawnChild(['api', url])
try {
  const { port, barePort } = await api.next<{ port: number; barePort: number }>('ready')
  if (mode !== 'enqueue') await copyStatusBodies(url, port, ids)
  const request =
    mode === 'enqueue'
      ? (i: number) => ({ method: 'POST', path: '/api/tasks/noop', body: JSON.stringify({ seq: i }) })
      : (i: number) => ({ method: 'GET', path: `/api/tasks/status/${ids[(i * 7919) % ids.length]}` })
  const target = mode === 'status-bare' ? barePort : port
  await httpLoad({ port: target, connections: 50, total: 1000, request })
  if (process.env.PGSS) await client.query('SELECT pg_stat_statements_reset()')
  const cpu = async () => (api.send({ type: 'cpu' }), api.next<{ user: number; system: number }>('cpu'))
  const before = await cpu()
  const result = await httpLoad({ port: target, connections: 50, total, request })
  const after = await cpu()
  const perRequest = (field: 'user' | 'system') => (after[field] - before[field]) / total
  console.log(
    `${mode}: ${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${JSON.stringify(result.statuses)}; ` +
      `API CPU ${(perRequest('user') + perRequest('system')).toFixed(0)} µs/request (user ${perRequest('user').toFixed(0)}, system ${perRequest('system').toFixed(0)})`,
  )
  if (process.env.PGSS) {
    const { rows } = await client.query(
      `SELECT calls, round((total_plan_time / calls)::numeric, 3) AS plan_ms, round((total_exec_time / calls)::numeric, 3) AS exec_ms,
         round(((total_plan_time + total_exec_time) / ${total})::numeric, 4) AS ms_per_request, left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
       ORDER BY total_plan_time + total_exec_time DESC LIMIT 6`,
    )
    console.table(rows)
  }
} finally {
  await client.end()
  await api.stop()
  await dropDatabase(admin, name)
}
process.exit(0)
