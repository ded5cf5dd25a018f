import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CHANNELS } from '../../../src/queue/listener.ts'
import { defineTask } from '../../../src/tasks/types.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'
import { until } from '../../helpers/processes.ts'
import { createGates } from '../../helpers/tasks.ts'

// Claim on enqueue (src/queue/worker.ts offerClaim): an enqueue in a process whose worker is idle
// writes the job already claimed and hands it over, so no wake-up and no claim of the worker's own.
const gates = createGates()
const dedupedGate = defineTask({ ...gates.task, kind: 'gate-deduped', dedupeKey: (payload) => payload.label })
let service: TestService
let listen: pg.Client
let heard: string[] = []

beforeAll(async () => {
  // A poll interval far longer than the test: only claims and wake-ups start jobs.
  service = await startTestService({ tasks: [gates.task, dedupedGate], worker: { concurrency: 2 }, env: { WORKER_POLL_INTERVAL_MS: '60000' } })
  listen = new pg.Client({ connectionString: service.databaseUrl })
  await listen.connect()
  listen.on('notification', (message) => void heard.push(message.payload ?? ''))
  await listen.query(`LISTEN ${CHANNELS.jobs}`)
})
afterAll(async () => {
  for (const id of gates.waitingIds()) gates.release(id)
  await listen?.end()
  await service?.close()
})
beforeEach(() => {
  heard = []
})

/** Until the worker has a free slot and has found `kind` empty (it then offers a claim; the offer is withdrawn at once). */
async function untilIdle(kind: string) {
  await until(
    `the worker to be idle for ${kind}`,
    () => {
      const offer = service.worker!.offerClaim(kind)
      offer?.withdraw()
      return offer ? true : undefined
    },
    10_000,
    5,
  )
}

/** pg-boss's row; claimedByEnqueue: started in the transaction that created it (one job_now()). */
async function jobRow(id: string) {
  const { rows } = await listen.query<{ state: string; claimed_by_enqueue: boolean; retry_count: number; heartbeat: boolean }>(
    `SELECT state, started_on IS NOT DISTINCT FROM created_on AS claimed_by_enqueue, retry_count, heartbeat_on IS NOT NULL AS heartbeat
     FROM pgboss.job WHERE id = $1`,
    [id],
  )
  return rows[0]
}

/** The wake-ups sent before now: a NOTIFY of our own, committed after, arrives after them. */
async function wakeUpsSoFar(): Promise<string[]> {
  await listen.query(`SELECT pg_notify('${CHANNELS.jobs}', 'probe')`)
  await until('the probe notification', () => (heard.includes('probe') ? true : undefined), 5000, 5)
  return heard.slice(0, heard.indexOf('probe'))
}

async function finish(ids: string[]) {
  for (const id of ids) gates.release(id)
  for (const id of ids) await waitForStatus(service.baseUrl, id, ['finished'])
}

describe('claim on enqueue', () => {
  it('writes the job of an idle worker claimed by the enqueue itself and starts it with no wake-up', async () => {
    await untilIdle('gate')
    const arrival = gates.nextArrival()
    const { jobId, status } = await service.queue.enqueue({ kind: 'gate', payload: { label: 'idle' } })
    expect(status).toBe('queued')
    expect(await jobRow(jobId)).toEqual({ state: 'active', claimed_by_enqueue: true, retry_count: 0, heartbeat: true })
    expect(await arrival).toBe(jobId)
    expect(await wakeUpsSoFar()).not.toContain('gate')
    await finish([jobId])
    expect((await waitForStatus(service.baseUrl, jobId, ['finished'])).result).toEqual({ label: 'idle' })
  })

  it('leaves the job queued and wakes the workers when every slot is busy, and it runs when one frees', async () => {
    await untilIdle('gate')
    const held: string[] = []
    for (const label of ['one', 'two']) {
      const arrival = gates.nextArrival()
      held.push((await service.queue.enqueue({ kind: 'gate', payload: { label } })).jobId)
      await arrival
    }
    const { jobId: waiting } = await service.queue.enqueue({ kind: 'gate', payload: { label: 'three' } })
    expect(await jobRow(waiting)).toMatchObject({ state: 'created', claimed_by_enqueue: false })
    expect(await wakeUpsSoFar()).toContain('gate')
    const arrival = gates.nextArrival()
    gates.release(held[0])
    expect(await arrival).toBe(waiting)
    expect(await jobRow(waiting)).toMatchObject({ state: 'active', claimed_by_enqueue: false })
    await finish([...held, waiting])
  })

  it('gives the lent slot back when the enqueue fails', async () => {
    await untilIdle('gate')
    const arrival = gates.nextArrival()
    const { jobId: taken } = await service.queue.enqueue({ kind: 'gate', payload: { label: 'first' } })
    await arrival
    await finish([taken])
    await untilIdle('gate')
    // The same job id again: the statement fails (pg-boss skips the row), nothing is written.
    await expect(service.queue.enqueue({ kind: 'gate', payload: { label: 'again' }, jobId: taken })).rejects.toThrow()
    // Both slots are free again: two jobs in a row are both claimed by their enqueues.
    const ids: string[] = []
    for (const label of ['a', 'b']) {
      const next = gates.nextArrival()
      ids.push((await service.queue.enqueue({ kind: 'gate', payload: { label } })).jobId)
      await next
    }
    for (const id of ids) expect(await jobRow(id)).toMatchObject({ state: 'active', claimed_by_enqueue: true })
    await finish(ids)
  })

  it('claims a deduplicated job, and a repeat answered by it gives its slot back', async () => {
    await untilIdle('gate-deduped')
    const arrival = gates.nextArrival()
    const first = await service.queue.enqueue({ kind: 'gate-deduped', payload: { label: 'same' } })
    expect(await arrival).toBe(first.jobId)
    expect(await jobRow(first.jobId)).toMatchObject({ state: 'active', claimed_by_enqueue: true })
    const repeat = await service.queue.enqueue({ kind: 'gate-deduped', payload: { label: 'same' } })
    expect(repeat).toMatchObject({ jobId: first.jobId, reused: true, status: 'started' })
    // One job running, one slot: had the repeat kept the slot it was offered, this one would wait.
    const next = gates.nextArrival()
    const other = await service.queue.enqueue({ kind: 'gate-deduped', payload: { label: 'other' } })
    expect(await next).toBe(other.jobId)
    expect(await jobRow(other.jobId)).toMatchObject({ state: 'active', claimed_by_enqueue: true })
    expect(await wakeUpsSoFar()).not.toContain('gate-deduped')
    await finish([first.jobId, other.jobId])
  })
})
