import { readFileSync } from 'node:fs'
import os from 'node:os'
import { sql, type Kysely } from 'kysely'
import { coerceError } from '../errors.ts'
import type { Database } from '../db/index.ts'
import type { ProxyHealth } from '../fetch/index.ts'
import type { Logger } from '../log.ts'
import type { Worker } from './worker.ts'

const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

// Rows of crashed workers are kept this long so operators can see them dead, then dropped.
const DEAD_ROW_RETENTION_HOURS = 24

/**
 * Registers a worker in housler._workers and heartbeats it (current jobs, counts) every
 * `heartbeatSeconds`; the returned Worker deregisters after a clean stop(). A process that dies
 * without stop() keeps its row, and housler.workers reports it dead after three missed beats.
 */
export function withRegistry(
  worker: Worker,
  options: {
    db: Kysely<Database>
    kinds: readonly string[]
    concurrency: number
    heartbeatSeconds: number
    log: Logger
    /** This process's proxy counters (housler.proxy_health sums them over live workers). */
    proxyHealth?: () => readonly ProxyHealth[]
  },
): Worker {
  const { db, log } = options
  const beat = async () => {
    const counts = worker.counts()
    const current = worker.active().map((job) => job.id)
    const proxies = JSON.stringify(options.proxyHealth?.() ?? [])
    await sql`
      UPDATE housler._workers SET last_heartbeat_at = now(), current_jobs = ${current}::uuid[],
        finished_count = ${counts.finished}, failed_count = ${counts.failed}, proxy_health = ${proxies}::jsonb
      WHERE id = ${worker.id}`.execute(db)
  }
  const registered = sql`
    INSERT INTO housler._workers (id, host, pid, version, kinds, concurrency, heartbeat_seconds)
    VALUES (${worker.id}, ${os.hostname()}, ${process.pid}, ${VERSION}, ${[...options.kinds]}::text[], ${options.concurrency}, ${options.heartbeatSeconds})
    ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = now()`
    .execute(db)
    .then(() =>
      sql`DELETE FROM housler._workers WHERE last_heartbeat_at < now() - make_interval(hours => ${DEAD_ROW_RETENTION_HOURS})`.execute(db),
    )
    .catch((e) => log.warn({ err: coerceError(e).message, worker_id: worker.id }, 'could not register the worker'))
  const timer = setInterval(() => {
    beat().catch((e) => log.warn({ err: coerceError(e).message, worker_id: worker.id }, 'worker heartbeat failed'))
  }, options.heartbeatSeconds * 1000)
  timer.unref()

  return {
    ...worker,
    async stop() {
      clearInterval(timer)
      await worker.stop()
      await registered
      await sql`DELETE FROM housler._workers WHERE id = ${worker.id}`
        .execute(db)
        .catch((e) => log.warn({ err: coerceError(e).message, worker_id: worker.id }, 'could not deregister the worker'))
    },
  }
}
