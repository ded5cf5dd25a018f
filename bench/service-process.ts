// The service as users run it (`npm start`: node src/server.ts, API and in-process worker in one
// process), for scenario c's end-to-end pickup: HTTP enqueue → the job's started_at.
import { spawn } from 'node:child_process'
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
   * Every job sent since the last call, once all have started: sent → started_at (pg-boss's
   * started_on, the claim's time), and its steps: sent → created_on (the enqueue transaction's
   * start), → the 202 read, and created_on → started_on.
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
    LOG_LEVEL: 'info',
    RQ_COMPAT_PORT: '0',
    // The bench is the only client: the per-client rate limit would measure itself.
    RATE_LIMIT_PER_MINUTE: '0',
  }
  // `npm start`'s own command line (package.json), its flags and TypeScript cache included.
  const child = spawn(process.execPath, npmScriptArgs('start'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const listening = /"url":"http:\/\/127\.0\.0\.1:(\d+)"[^\n]*housler task service listening/.exec(output)
      if (listening) resolve(Number(listening[1]))
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
      const response = await fetch(`http://127.0.0.1:${port}/api/tasks/parse`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      if (response.status !== 202) throw new Error(`POST /api/tasks/parse: ${response.status} ${await response.text()}`)
      const { job_id: jobId } = (await response.json()) as { job_id: string }
      sent.set(jobId, { t, answered: wallMs() })
    },
    async latencies() {
      const byId = new Map(sent)
      const ids = [...byId.keys()]
      const started = async () =>
        (
          await pool.query(
            `SELECT id, extract(epoch FROM created_on) * 1000 AS created, extract(epoch FROM started_on) * 1000 AS started
             FROM pgboss.job WHERE id = ANY($1) AND started_on IS NOT NULL`,
            [ids],
          )
        ).rows
      let rows = await started()
      for (let i = 0; i < 50 && rows.length < ids.length; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        rows = await started()
      }
      sent.clear()
      return rows.map((row: { id: string; created: string; started: string }) => {
        const { t, answered } = byId.get(row.id)!
        return { total: Number(row.started) - t, toCreated: Number(row.created) - t, toAnswer: answered - t, createdToStarted: Number(row.started) - Number(row.created) }
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
