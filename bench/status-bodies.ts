// Scenario d's finished jobs, and the bare reference's copy of their bodies (bench/child.ts serves it).
import pg from 'pg'
import { httpLoad, waitFor } from './lib.ts'
import { openOurs } from './systems.ts'

/** `count` parse-result jobs run to `finished` (a worker of the kind in this process); their ids. */
export async function finishParseJobs(url: string, count: number): Promise<string[]> {
  const { db, queue, close } = await openOurs(url)
  try {
    const ids: string[] = []
    for (let offset = 0; offset < count; offset += 1000) {
      const batch = Array.from({ length: Math.min(1000, count - offset) }, (_, i) => ({ kind: 'parse-result', payload: { seq: offset + i } }))
      ids.push(...(await queue.enqueueMany(batch)).map((outcome) => outcome.jobId))
    }
    const worker = queue.startWorker({ kinds: ['parse-result'], concurrency: 16 })
    const finished = async () => Number((await db.pool.query(`SELECT count(*) FROM housler.jobs WHERE kind = 'parse-result' AND status = 'finished'`)).rows[0].count) === count
    if (!(await waitFor(finished, 120_000, 100))) throw new Error(`${count} parse-result jobs did not finish within 120 s`)
    await worker.stop()
    return ids
  } finally {
    await close()
  }
}

/**
 * Reads each job's status body from the service on `port` and stores it as jsonb in bench_status_body,
 * the bare route's table: both then answer the same body for the same id. Returns the body's bytes as
 * the service sends it and as the bare route re-serializes it (jsonb keeps no key order or spacing).
 */
export async function copyStatusBodies(url: string, port: number, ids: string[]): Promise<{ oursBytes: number; bareBytes: number }> {
  const bodies = new Map<string, string>()
  await httpLoad({
    port,
    connections: 20,
    total: ids.length,
    request: (i) => ({ method: 'GET', path: `/api/tasks/status/${ids[i]}` }),
    onBody: (status, body) => status === 200 && bodies.set(JSON.parse(body).job_id, body),
  })
  if (bodies.size !== ids.length) throw new Error(`status bodies: ${bodies.size} of ${ids.length} read`)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('CREATE TABLE bench_status_body (id uuid PRIMARY KEY, body jsonb NOT NULL)')
    await client.query('INSERT INTO bench_status_body SELECT * FROM unnest($1::uuid[], $2::jsonb[])', [[...bodies.keys()], [...bodies.values()]])
    await client.query('VACUUM ANALYZE bench_status_body')
    const { rows } = await client.query('SELECT body FROM bench_status_body WHERE id = $1', [ids[0]])
    return { oursBytes: Buffer.byteLength(bodies.get(ids[0])!), bareBytes: Buffer.byteLength(JSON.stringify(rows[0].body)) }
  } finally {
    await client.end()
  }
}
