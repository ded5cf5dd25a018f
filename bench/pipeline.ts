// Scenario g: the pipeline's own cost. The service runs as `npm start` does (its very command line: API and
// worker in one process) against a local site with no delay: the saved Tyumen rental (cian 331090051) and
// the saved cian search page; the store holds six rentals around it. Each run POSTs /api/tasks/pipeline with
// a new session and polls the report's status until it is finished. Stage times come from the job rows
// (housler.jobs: created_at, started_at, ended_at), the fetcher's own timers in the results (attempts[].ms, which
// include the fetch ladder's judge: the page's parse, kept and reused by the task)
// and the bench's clock (POST sent, finished seen); all clocks are this machine's.
import { spawn } from 'node:child_process'
import path from 'node:path'
import pg from 'pg'
import { createStores } from '../src/store/index.ts'
import { createDb } from '../src/db/index.ts'
import { createSilentLogger } from '../src/log.ts'
import { builtRentals, cianRentalPage, rentalUrl, TYUMEN } from '../test/helpers/built-pages.ts'
import { startFixtureServer } from '../test/helpers/fixture-server.ts'
import { npmScriptArgs } from '../test/helpers/npm-scripts.ts'
import { BENCH_DIR, freePort, percentile, sleep, terminate, waitReady } from './lib.ts'

const ROOT = path.join(BENCH_DIR, '..')

export const STAGES = [
  ['post', 'POST /api/tasks/pipeline → 202'],
  ['parse-wait', 'parse: queue wait (created → started)'],
  ['fetch', 'parse: listing page fetch + its parse by the ladder\'s judge (fetcher timer)'],
  ['parse', 'parse: the rest of the job (progress, listing and session writes)'],
  ['similar-wait', 'find-similar: wait after parse ended'],
  ['search-fetch', 'find-similar: search page fetches + their parse by the judge (fetcher timer)'],
  ['search', 'find-similar: the rest (store search, card upserts, guards, rank, summary)'],
  ['report-wait', 'report: wait after find-similar ended'],
  ['report', 'report: valuation + render + save'],
  ['visible', 'status visible (report ended → poll sees finished)'],
  ['total', 'total (POST → report finished seen)'],
] as const
export type Stage = (typeof STAGES)[number][0]

type JobTimes = { kind: string; created_at: Date; started_at: Date; ended_at: Date; result: { attempts?: Array<{ ms: number }>; fetch_attempts?: Array<{ ms: number }> } }

/** `runs` pipelines one after another; returns every stage's samples in ms. */
export async function benchPipeline(url: string, options: { runs: number; pollMs: number; cpuProfDir?: string }): Promise<Record<Stage, number[]>> {
  const site = await startFixtureServer({ '/cat.php': 'cian-serp-rent-moscow-2023.html' })
  site.setRoute(new URL(rentalUrl(TYUMEN)).pathname, cianRentalPage(TYUMEN))
  const db = createDb({ url, poolSize: 1, applicationName: 'bench-pipeline', pooler: 'direct', refusedRetryMs: 0, log: createSilentLogger() })
  const port = await freePort()
  const prof = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []
  const service = spawn(process.execPath, [...prof, ...npmScriptArgs('start')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url,
      PORT: String(port),
      RQ_COMPAT_PORT: '0',
      FETCH_REWRITE: `https://tyumen.cian.ru=${site.origin},https://www.cian.ru=${site.origin}`,
      FETCH_RETRIES: '0',
      FETCH_STRATEGIES: 'plain',
      // The store's rentals have no pages on the local site: no analog page parses (their cost is a parse's).
      ANALOG_PAGES_MAX: '0',
      RATE_LIMIT_PER_MINUTE: '0',
    },
  })
  const base = `http://127.0.0.1:${port}`
  const samples = Object.fromEntries(STAGES.map(([stage]) => [stage, [] as number[]])) as unknown as Record<Stage, number[]>
  try {
    await waitReady(port, 'npm start')
    await createStores(db.db).listings.upsert(builtRentals(TYUMEN))
    const admin = new pg.Pool({ connectionString: url, max: 1 })
    try {
      for (let run = -3; run < options.runs; run++) {
        // Three warm-up runs (JIT, the parsers' first load, pools) are not recorded.
        const posted = Date.now()
        const response = await fetch(`${base}/api/tasks/pipeline`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: rentalUrl(TYUMEN), session_id: `bench-pipeline-${run}`, search_strategy: 'citywide', limit: 10 }),
        })
        const accepted = Date.now()
        if (response.status !== 202) throw new Error(`pipeline POST answered ${response.status}: ${await response.text()}`)
        const { jobs } = (await response.json()) as { jobs: Record<'parse' | 'find-similar' | 'report', { job_id: string }> }
        let status = ''
        let seen = 0
        while (status !== 'finished') {
          const body = (await (await fetch(`${base}/api/tasks/status/${jobs.report.job_id}`)).json()) as { status: string; error?: string }
          status = body.status
          seen = Date.now()
          if (status === 'failed' || status === 'canceled') throw new Error(`pipeline report ${status}: ${body.error}`)
          if (status !== 'finished') await sleep(options.pollMs)
        }
        if (run < 0) continue
        const rows = (
          await admin.query<JobTimes>(`SELECT kind, created_at, started_at, ended_at, result FROM housler.jobs WHERE id = ANY($1)`, [
            Object.values(jobs).map((job) => job.job_id),
          ])
        ).rows
        const job = (kind: string) => rows.find((row) => row.kind === kind)!
        const [parse, similar, report] = [job('parse'), job('find-similar'), job('report')]
        const ms = (from: Date, to: Date) => to.getTime() - from.getTime()
        const fetchMs = (parse.result.attempts ?? []).reduce((sum, attempt) => sum + attempt.ms, 0)
        const searchFetchMs = (similar.result.fetch_attempts ?? []).reduce((sum, attempt) => sum + attempt.ms, 0)
        const add = (stage: Stage, value: number) => samples[stage].push(value)
        add('post', accepted - posted)
        add('parse-wait', ms(parse.created_at, parse.started_at))
        add('fetch', fetchMs)
        add('parse', ms(parse.started_at, parse.ended_at) - fetchMs)
        add('similar-wait', ms(parse.ended_at, similar.started_at))
        add('search-fetch', searchFetchMs)
        add('search', ms(similar.started_at, similar.ended_at) - searchFetchMs)
        add('report-wait', ms(similar.ended_at, report.started_at))
        add('report', ms(report.started_at, report.ended_at))
        add('visible', seen - report.ended_at.getTime())
        add('total', seen - posted)
      }
    } finally {
      await admin.end()
    }
  } finally {
    await terminate(service)
    await db.destroy()
    await site.close()
  }
  return samples
}

export const p50 = (values: number[]) => percentile(values, 50)
export const p99 = (values: number[]) => percentile(values, 99)
