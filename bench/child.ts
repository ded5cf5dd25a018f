// A bench child process: a worker draining (`drain <system> <variant> <url>`) or the HTTP API
// (`api <url>`: the service's app on one port and, in the same process, the bare reference —
// Hono plus one primary-key select of the same body — on another). It talks to bench/run.ts over IPC:
// ready → go → count… → stop.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import pg from 'pg'
import { createApp } from '../src/http/app.ts'
import { openOurs, openSystem, type SystemName } from './systems.ts'
import { hooks } from './tasks.ts'

// DROP DATABASE … WITH (FORCE) ends the idle connections peers leave behind; that is expected here.
process.on('uncaughtException', (error: Error & { code?: string }) => {
  if (error.code === '57P01') return
  console.error(error)
  process.exit(1)
})
const [role, system, a, b] = process.argv.slice(2)
const send = (message: object) => process.send?.(message)
let rssPeak = process.memoryUsage.rss()
// memoryUsage.rss() reads one number; memoryUsage() walks the whole heap (≈0.4 ms, every sample).
const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50)
sampler.unref()

let stop: () => Promise<void> = async () => {}
process.on('message', async (message: { type: string }) => {
  if (message.type === 'rss') send({ type: 'rss', rss: process.memoryUsage().rss, rssPeak })
  if (message.type === 'cpu') send({ type: 'cpu', ...process.cpuUsage() })
  if (message.type === 'stop') {
    await stop().catch(() => {})
    send({ type: 'stopped', rssPeak })
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))

if (role === 'drain') {
  const variant = a
  const url = b
  const client = await openSystem(system as SystemName, url)
  let count = 0
  hooks.onRun = () => void count++
  let reporter: NodeJS.Timeout | undefined
  stop = async () => {
    clearInterval(reporter)
    send({ type: 'count', n: count })
    await client.close()
  }
  process.on('message', async (message: { type: string }) => {
    if (message.type !== 'go') return
    reporter = setInterval(() => send({ type: 'count', n: count }), 50)
    await client.work(variant)
  })
  send({ type: 'ready', rss: process.memoryUsage().rss })
} else if (role === 'api') {
  const url = system
  // Logs at info like a deployment (stdout goes nowhere); BENCH_API_LOG=silent measures the logging's share.
  const logLevel = process.env.BENCH_API_LOG === 'silent' ? 'silent' : 'info'
  const { config, log, queue, metrics, close } = await openOurs(url, { supervise: false, logLevel })
  const app = createApp({ config, queue, metrics, log })
  // The floor: Hono plus one primary-key select on a pool of 10, nothing else, returning the body
  // the service returned for the same id (stored as jsonb in bench_status_body by bench/run.ts).
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  const bare = new Hono()
  bare.get('/api/tasks/status/:id', async (c) => {
    const { rows } = await pool.query('SELECT body FROM bench_status_body WHERE id = $1', [c.req.param('id')])
    return rows[0] ? c.json(rows[0].body) : c.json({ error: 'not found' }, 404)
  })
  const listen = (fetch: Hono['fetch']) =>
    new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
      const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ server, port: info.port }))
    })
  const ours = await listen(app.fetch)
  const reference = await listen(bare.fetch)
  stop = async () => {
    ours.server.close()
    reference.server.close()
    await close()
    await pool.end()
  }
  send({ type: 'ready', port: ours.port, barePort: reference.port, rss: process.memoryUsage().rss })
}
