// The service as users run it (`npm start`: node src/server.ts, API and in-process worker in one
// process), for scenario c's end-to-end pickup: HTTP enqueue → the job's handler called (its debug
// line "job started", on the same host clock as the bench's).
import { spawn } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import pg from 'pg'
import { npmScriptArgs } from '../test/helpers/npm-scripts.ts'
import { BENCH_DIR } from './lib.ts'
import { wallMs } from './tasks.ts'

const ROOT = path.join(BENCH_DIR, '..')

export type ServiceProcess = {
  /** POST one parse job and remember when it was sent. */
  send(): Promise<void>
  /**
   * Every job sent since the last call, once all have started: sent → its handler called, and its
   * steps: sent → created_on (the enqueue transaction's start), → the 202 read, and created_on → the
   * handler called.
   */
  latencies(): Promise<Array<{ total: number; toCreated: number; toAnswer: number; createdToStarted: number }>>
  close(): Promise<void>
}

export async function startServiceProcess(url: string): Promise<ServiceProcess> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: url,
    PORT: '0',
    // Debug adds the worker's "job started" line (and nothing else on this path: no status polls here).
    LOG_LEVEL: 'debug',
    RQ_COMPAT_PORT: '0',
    // The bench is the only client: the per-client rate limit would measure itself.
    RATE_LIMIT_PER_MINUTE: '0',
  }
  // `npm start`'s own command line (package.json), its flags and TypeScript cache included.
  const child = spawn(process.execPath, npmScriptArgs('start'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
  // Job id → when its handler was called (epoch ms with fraction, the worker's debug line).
  const handlerCalled = new Map<string, number>()
  const port = await new Promise<number>((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const listening = /"url":"http:\/\/127\.0\.0\.1:(\d+)"[^\n]*housler task service listening/.exec(output)
      if (listening) resolve(Number(listening[1]))
      for (const line of output.slice(0, output.lastIndexOf('\n') + 1).split('\n')) {
        if (!line.includes('"msg":"job started"')) continue
        const { job_id: jobId, started_at_ms: at } = JSON.parse(line) as { job_id: string; started_at_ms: number }
        handlerCalled.set(jobId, at)
      }
      // Keep only the unfinished line: the request log goes on for the whole scenario.
      output = output.slice(output.lastIndexOf('\n') + 1)
    })
    child.once('exit', (code) => reject(new Error(`src/server.ts exited with ${code} before it listened`)))
  })
  const sent = new Map<string, { t: number; answered: number }>()
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  let seq = 0
  return {
    async send() {
      // A page sent from the browser: the job parses it (no fetch) and ends as NotAListing at once.
      const body = JSON.stringify({ url: 'https://www.avito.ru/tyumen/kvartiry/x_7626114474', session_id: `bench-${seq++}`, html: '<html><body>bench</body></html>' })
      const t = wallMs()
      const response = await post(port, '/api/tasks/parse', body)
      if (response.status !== 202) throw new Error(`POST /api/tasks/parse: ${response.status} ${response.text}`)
      const { job_id: jobId } = JSON.parse(response.text) as { job_id: string }
      sent.set(jobId, { t, answered: wallMs() })
    },
    async latencies() {
      const byId = new Map(sent)
      const ids = [...byId.keys()]
      const created = async () =>
        (await pool.query(`SELECT id, extract(epoch FROM created_on) * 1000 AS created FROM pgboss.job WHERE id = ANY($1)`, [ids])).rows as Array<{ id: string; created: string }>
      // Every handler's line has been read once the jobs ended (the line is written before the handler runs).
      const rows = await created()
      for (let i = 0; i < 50 && ids.some((id) => !handlerCalled.has(id)); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      sent.clear()
      return rows.flatMap((row) => {
        const { t, answered } = byId.get(row.id)!
        const called = handlerCalled.get(row.id)
        if (called === undefined) return []
        return [{ total: called - t, toCreated: Number(row.created) - t, toAnswer: answered - t, createdToStarted: called - Number(row.created) }]
      })
    },
    async close() {
      await pool.end()
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}

// node:http with one kept-alive connection: the client's own cost stays out of the service's latency
// (undici's fetch spent ~0.5 ms per request of this process's CPU before the request left).
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function post(port: number, route: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, path: route, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (response) => {
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (text += chunk))
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }))
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}
