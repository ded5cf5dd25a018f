import pg from 'pg'
import { z } from 'zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../../../src/tasks/types.ts'
import { sleepTask } from '../../helpers/fleet-tasks.ts'
import { SERVICE_DATABASE, startPrivateCluster, type PrivateCluster } from '../../helpers/private-cluster.ts'
import { startTestService, type TestService } from '../../helpers/service.ts'

// An answered enqueue is on disk: the database is killed (every process, SIGKILL) right after the
// 202s, restarted, and every answered job is there. The server runs as a production one does (fsync,
// synchronous_commit on), and its WAL writer waits 10 s, so a commit that did not wait for its WAL
// flush (an asynchronous commit) would still sit in the shared memory the kill throws away.
const dedupedTask = defineTask({
  kind: 'deduped',
  payload: z.object({ key: z.string() }),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  dedupeKey: (payload) => payload.key,
  async handler() {
    return { ok: true }
  },
})

const PER_PATH = 20

let cluster: PrivateCluster
let service: TestService

beforeAll(async () => {
  cluster = await startPrivateCluster({ fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', wal_writer_delay: '10s' })
  // No worker: the jobs stay queued, so nothing but the enqueue itself writes them.
  service = await startTestService({ tasks: [sleepTask, dedupedTask], databaseUrl: cluster.serviceUrl(), worker: false })
})

afterAll(async () => {
  await service?.close()
  await cluster?.stop()
})

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${service.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  expect(response.status).toBe(202)
  return ((await response.json()) as { job_id: string }).job_id
}

describe('a database crash right after enqueues were answered', () => {
  it('loses none of them: plain, deduplicated and Idempotency-Key enqueues are all on disk', async () => {
    const run = Date.now().toString(36)
    const ids = await Promise.all([
      // Plain enqueues: the group commit's one statement.
      ...Array.from({ length: PER_PATH }, () => post('/api/tasks/sleep', { ms: 1 })),
      // A kind with a dedupe key: its own transaction with the key's advisory lock.
      ...Array.from({ length: PER_PATH }, (_, i) => post('/api/tasks/deduped', { key: `${run}-${i}` })),
      // An Idempotency-Key: the transaction path that records the key.
      ...Array.from({ length: PER_PATH }, (_, i) => post('/api/tasks/sleep', { ms: 1 }, { 'Idempotency-Key': `${run}-${i}` })),
    ])
    expect(new Set(ids).size).toBe(3 * PER_PATH)

    await cluster.crash()
    await cluster.restart()

    const admin = new pg.Client({ connectionString: cluster.adminUrl(SERVICE_DATABASE) })
    await admin.connect()
    try {
      const { rows } = await admin.query<{ jobs: number; tasks: number; dedupe: number; keys: number }>(
        `SELECT (SELECT count(*) FROM pgboss.job WHERE id = ANY($1::uuid[]))::int AS jobs,
                (SELECT count(*) FROM housler._tasks WHERE job_id = ANY($1::uuid[]))::int AS tasks,
                (SELECT count(*) FROM housler.task_dedupe WHERE job_id = ANY($1::uuid[]))::int AS dedupe,
                (SELECT count(*) FROM housler.idempotency_keys WHERE job_id = ANY($1::uuid[]))::int AS keys`,
        [ids],
      )
      expect(rows[0]).toEqual({ jobs: 3 * PER_PATH, tasks: 3 * PER_PATH, dedupe: PER_PATH, keys: PER_PATH })
    } finally {
      await admin.end()
    }
  })
})
