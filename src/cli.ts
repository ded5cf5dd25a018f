import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { loadConfig } from './config.ts'
import { createDb } from './db/index.ts'
import { coerceError } from './errors.ts'
import { checkListingUrl, createFetcher } from './fetch/index.ts'
import { createBrowserPoolFor } from './services.ts'
import { pageJudge } from './tasks/page-judge.ts'
import { parsePage, readPage, type PageReading } from './tasks/parse/parse-page.ts'
import type { ParseOutcome, Property } from './tasks/parse/property.ts'
import { readSchemaState, STATUSES, type QueueStatRow, type WorkerRow } from './queue/index.ts'
import { openRuntime, type Runtime } from './runtime.ts'
import { explainStartupFailure } from './startup.ts'

const USAGE = `usage: npm run --silent cli -- <command>

  ping                          database reachable, pg-boss schema version, migrations current
  info [--watch] [--interval s] jobs per kind and status, workers and their state (like rq info)
  failed [--kind k] [--limit n] failed jobs with error and stack
  requeue <job-id>              run a failed or canceled job again
  requeue --all [--kind k]      requeue every failed job (of one kind)
  cancel <job-id>               cancel a waiting or running job
  empty <kind>                  delete every waiting (queued, scheduled, deferred) job of a kind
  migrate                       create pg-boss's schema and apply our migrations
  parse-html <file> [--url u]   print the normalized property (or the blocked verdict) of a saved page
  parse-url <url>               fetch a listing page safely and parse it, without the queue

DATABASE_URL selects the database (unset: the embedded one under EMBEDDED_PG_DIR).`

class UsageError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function jobIdArg(value: string | undefined, command: string): string {
  if (!value || !UUID.test(value)) throw new UsageError(`${command} needs a job id (uuid)${value ? `, not "${value}"` : ''}`)
  return value
}

function redactUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.toString()
}

function pad(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n')
}

function renderInfo(stats: QueueStatRow[], workers: WorkerRow[], kinds: readonly string[], replicaLagSeconds?: number | null): string {
  const counts = new Map(stats.map((row) => [`${row.kind}/${row.status}`, row.jobs]))
  const allKinds = [...new Set([...kinds, ...stats.map((row) => row.kind)])]
  const rows = [['kind', ...STATUSES], ...allKinds.map((kind) => [kind, ...STATUSES.map((s) => String(counts.get(`${kind}/${s}`) ?? 0))])]
  const lines = [pad(rows), '', `${workers.length} workers, ${workers.filter((w) => w.state !== 'dead').length} alive`]
  for (const w of workers) {
    const current = w.current_jobs.length ? ` running ${w.current_jobs.join(',')}` : ''
    lines.push(
      `${w.host}:${w.pid} ${w.state} kinds=${w.kinds.join(',')} finished=${w.finished_count} failed=${w.failed_count} ` +
        `heartbeat=${Math.round(w.heartbeat_age_seconds)}s ago v${w.version}${current}`,
    )
  }
  // Without DATABASE_READ_URL there is no replica and no row.
  if (replicaLagSeconds !== undefined) {
    lines.push('', `replica lag: ${replicaLagSeconds === null ? 'unknown (the read server is not a replica)' : `${replicaLagSeconds.toFixed(3)} s`}`)
  }
  return lines.join('\n')
}

async function withRuntime<T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> {
  // No supervision: a CLI run must not take over pg-boss maintenance from the service.
  const runtime = await openRuntime({ name: 'cli', supervise: false, logLevel: 'warn' })
  try {
    return await fn(runtime)
  } finally {
    await runtime.close()
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kind: { type: 'string' },
      all: { type: 'boolean', default: false },
      watch: { type: 'boolean', default: false },
      interval: { type: 'string', default: '2' },
      limit: { type: 'string', default: '50' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  const [command, arg] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return command || values.help ? 0 : 2
  }

  switch (command) {
    case 'ping': {
      const config = loadConfig()
      if (!config.databaseUrl) {
        return withRuntime(async (runtime) => printPing(runtime.url, await readSchemaState(runtime.db.db)))
      }
      const db = createDb({ url: config.databaseUrl, poolSize: 2, applicationName: 'housler-cli' })
      try {
        return printPing(config.databaseUrl, await readSchemaState(db.db))
      } catch (e) {
        console.log(`database: UNREACHABLE (${redactUrl(config.databaseUrl)}): ${coerceError(e).message}`)
        return 1
      } finally {
        await db.destroy()
      }
    }
    case 'info':
      return withRuntime(async ({ queue }) => {
        const frame = async () =>
          renderInfo(await queue.monitoring.queueStats(), await queue.monitoring.workers(), queue.kinds, await queue.monitoring.replicaLagSeconds())
        if (!values.watch) {
          console.log(await frame())
          return 0
        }
        const intervalMs = Math.max(0.2, Number(values.interval) || 2) * 1000
        const stopped = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()))
        let running = true
        void stopped.then(() => (running = false))
        while (running) {
          console.log(`\x1b[2J\x1b[H${new Date().toISOString()}\n${await frame()}`)
          await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, intervalMs))])
        }
        return 0
      })
    case 'failed':
      return withRuntime(async ({ queue }) => {
        const rows = await queue.monitoring.failed({ kind: values.kind, limit: Number(values.limit) || 50 })
        console.log(`${rows.length} failed jobs${values.kind ? ` of kind ${values.kind}` : ''}`)
        for (const row of rows) {
          console.log(`\n${row.id}  ${row.kind}  attempts=${row.attempts}  ended=${row.ended_at ? new Date(row.ended_at).toISOString() : '-'}  session=${row.session_id ?? '-'}`)
          console.log(`  error: ${row.error ?? '-'}`)
          if (row.stack) console.log(row.stack.split('\n').map((line) => `    ${line}`).join('\n'))
        }
        return 0
      })
    case 'requeue':
      if (values.all) {
        return withRuntime(async ({ queue }) => {
          const ids = await queue.requeueFailed(values.kind)
          console.log(`requeued ${ids.length} failed jobs${values.kind ? ` of kind ${values.kind}` : ''}`)
          for (const id of ids) console.log(id)
          return 0
        })
      }
      return withRuntime(async ({ queue }) => {
        const body = await queue.requeue(jobIdArg(arg, 'requeue'))
        console.log(`requeued ${body.job_id}: ${body.status}`)
        return 0
      })
    case 'cancel':
      return withRuntime(async ({ queue }) => {
        const body = await queue.cancel(jobIdArg(arg, 'cancel'))
        console.log(`canceled ${body.job_id}: ${body.status}`)
        return 0
      })
    case 'empty':
      if (!arg) throw new UsageError('empty needs a kind')
      return withRuntime(async ({ queue }) => {
        const deleted = await queue.emptyQueue(arg)
        console.log(`deleted ${deleted} waiting ${arg} jobs`)
        return 0
      })
    case 'migrate':
      return withRuntime(async ({ db, url }) => {
        const state = await readSchemaState(db.db)
        console.log(`migrated ${redactUrl(url)}: pg-boss schema ${state.pgBossSchemaVersion}, pending migrations: ${state.pendingMigrations.length}`)
        return state.pendingMigrations.length === 0 ? 0 : 1
      })
    case 'parse-html': {
      if (!arg) throw new UsageError('parse-html needs a file')
      const html = await readFile(arg, 'utf8')
      // Without --url the page's address is only what the page itself names (og:url, canonical), else null.
      return printReading(readPage(html, values.url ?? ''))
    }
    case 'parse-url': {
      if (!arg) throw new UsageError('parse-url needs a url')
      const config = loadConfig()
      checkListingUrl(arg, config)
      const browserPool = createBrowserPoolFor(config)
      try {
        const judged = pageJudge<ParseOutcome>((page) => parsePage(page.body, page.url))
        const page = await createFetcher(config, { browserPool }).fetchPage(arg, judged.options)
        console.error(JSON.stringify({ attempts: page.attempts }))
        return printParse(judged.outcomeOf(page))
      } finally {
        await browserPool?.close()
      }
    }
    default:
      throw new UsageError(`unknown command "${command}"`)
  }
}

function printReading(reading: PageReading): number {
  if (reading.page_kind === 'blocked') return printParse(reading)
  if (reading.page_kind === 'serp') {
    console.log(JSON.stringify({ page_kind: 'serp', total_found: reading.total_found, cards: reading.cards.map(withKnownUrl) }, null, 2))
    return 0
  }
  console.log(JSON.stringify({ page_kind: 'offer', ...withKnownUrl(reading.property) }, null, 2))
  return 0
}

/** A property whose address nobody knows says null, not an invented placeholder. */
function withKnownUrl(property: Property): Omit<Property, 'url'> & { url: string | null } {
  return { ...property, url: property.url === '' ? null : property.url }
}

function printParse(outcome: ParseOutcome): number {
  console.log(JSON.stringify(outcome.blocked ? outcome : outcome.property, null, 2))
  return outcome.blocked ? 1 : 0
}

function printPing(url: string, state: { pgBossSchemaVersion: number | null; pendingMigrations: string[] }): number {
  console.log(`database: reachable (${redactUrl(url)})`)
  console.log(`pg-boss schema: ${state.pgBossSchemaVersion ?? 'missing (run: npm run migrate)'}`)
  console.log(
    state.pendingMigrations.length === 0
      ? 'migrations: current'
      : `migrations: PENDING ${state.pendingMigrations.join(', ')} (run: npm run migrate)`,
  )
  return state.pgBossSchemaVersion !== null && state.pendingMigrations.length === 0 ? 0 : 1
}

let exitCode: number
try {
  exitCode = await main(process.argv.slice(2))
} catch (e) {
  const error = coerceError(e)
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`)
    exitCode = 2
  } else {
    const { line, expected } = explainStartupFailure(error)
    console.error(`error: ${line}`)
    if (!expected) console.error(error.stack)
    exitCode = 1
  }
}
process.exit(exitCode)
