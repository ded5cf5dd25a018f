/**
 * What src/queue/pg-boss-internals.ts (and the migrations' view and trigger over pgboss.job) rely on,
 * compared against what was recorded for the pinned pg-boss version. When this fails after an
 * upgrade, re-check every use in that file and the migrations, then re-record:
 *   RECORD_PG_BOSS_PIN=1 npx vitest run test/integration/queue/pg-boss-pin.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captureInsert, claimingInsert, claimWithoutFlush, createCompletionSql, JOB_COLUMNS_WE_READ } from '../../../src/queue/pg-boss-internals.ts'
import { createTestDatabase } from '../../helpers/postgres.ts'

const ROOT = path.resolve(import.meta.dirname, '../../..')
const EXPECTED_FILE = path.join(ROOT, 'test/fixtures/pg-boss-pin.json')
const KIND = 'pin-kind'

type Pin = {
  version: string
  schemaVersion: number
  /** SQL text line by line, so a diff shows the line that changed. */
  insertSql: string[]
  completionSql: string[]
  jobColumns: Array<{ column: string; type: string; nullable: boolean }>
  jobStates: string[]
  jobIsPartitioned: boolean
  triggersOnJob: string[]
}

let database: Awaited<ReturnType<typeof createTestDatabase>>
let boss: PgBoss
let client: pg.Client

beforeAll(async () => {
  database = await createTestDatabase()
  boss = new PgBoss({ connectionString: database.url, supervise: false, schedule: false, registerInstance: false })
  boss.on('error', () => {})
  await boss.start()
  await boss.createQueue(KIND)
  client = new pg.Client({ connectionString: database.url })
  await client.connect()
})

afterAll(async () => {
  await client?.end()
  await boss?.stop({ graceful: false, close: true })
  await database?.drop()
})

async function observe(): Promise<Pin> {
  const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/pg-boss/package.json'), 'utf8')).version
  const captured = await captureInsert(boss, KIND, [{ id: '00000000-0000-4000-8000-000000000000', data: { payload: {} }, priority: 10 }])
  const columns = await client.query<{ column: string; type: string; nullable: boolean }>(
    `SELECT column_name AS column, udt_name AS type, is_nullable = 'YES' AS nullable
     FROM information_schema.columns WHERE table_schema = 'pgboss' AND table_name = 'job' ORDER BY ordinal_position`,
  )
  const states = await client.query<{ label: string }>(
    `SELECT e.enumlabel AS label FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'pgboss' AND t.typname = 'job_state' ORDER BY e.enumsortorder`,
  )
  const table = await client.query<{ partitioned: boolean }>(`SELECT relkind = 'p' AS partitioned FROM pg_class WHERE oid = 'pgboss.job'::regclass`)
  const triggers = await client.query<{ name: string }>(
    `SELECT tgname AS name FROM pg_trigger WHERE tgrelid = 'pgboss.job'::regclass AND NOT tgisinternal ORDER BY tgname`,
  )
  const version = await client.query<{ version: number }>('SELECT version FROM pgboss.version')
  return {
    version: installed,
    schemaVersion: version.rows[0].version,
    insertSql: (captured?.text ?? '(not one INSERT with one JSON parameter)').split('\n'),
    completionSql: (await createCompletionSql(boss)(KIND)).split('\n'),
    jobColumns: columns.rows,
    jobStates: states.rows.map((row) => row.label),
    jobIsPartitioned: table.rows[0].partitioned,
    triggersOnJob: triggers.rows.map((row) => row.name),
  }
}

describe('pg-boss pin', () => {
  it('depends on the exact pg-boss version that is installed', () => {
    const declared = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies['pg-boss']
    const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/pg-boss/package.json'), 'utf8')).version
    expect(declared).toBe(installed)
  })

  it('generates the SQL and has the job table our seam and migrations were written against', async () => {
    const observed = await observe()
    if (process.env.RECORD_PG_BOSS_PIN) writeFileSync(EXPECTED_FILE, `${JSON.stringify(observed, null, 2)}\n`)
    const expected: Pin = JSON.parse(readFileSync(EXPECTED_FILE, 'utf8'))
    expect(observed, 'pg-boss changed: re-check src/queue/pg-boss-internals.ts and the migrations over pgboss.job').toEqual(expected)
  })

  it('fetches with the one UPDATE that claimWithoutFlush wraps, and the wrapped claim claims', async () => {
    const id = await boss.send(KIND, { n: 1 })
    const texts: string[] = []
    const db = {
      executeSql: (text: string, values?: unknown[]) => {
        const rewritten = claimWithoutFlush(text)
        texts.push(rewritten === text ? 'unchanged' : 'wrapped')
        return client.query(rewritten, values)
      },
    }
    const jobs = await boss.fetch(KIND, { batchSize: 5, includeMetadata: true, db })
    expect(texts).toEqual(['wrapped'])
    expect(jobs.map((job) => job.id)).toEqual([id])
    expect(jobs[0]).toMatchObject({ name: KIND, retryCount: 0, data: { n: 1 } })
    const { rows } = await client.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [id])
    expect(rows[0].state).toBe('active')
  })

  it('writes with claimingInsert what its fetch sets on a first claim, and pg-boss completes that claim', async () => {
    let fetchText = ''
    await boss.fetch(KIND, { batchSize: 1, db: { executeSql: async (text: string) => ((fetchText = text), { rows: [] }) } })
    // The fetch's SET list, which claimingInsert mirrors for a first claim (retry_count stays 0).
    const set = /UPDATE\s+pgboss\.\w+\s+j\s+SET([\s\S]*?)\n\s*FROM\b/.exec(fetchText)?.[1].split('\n').map((line) => line.trim()).filter(Boolean)
    expect(set).toEqual([
      "state = 'active',",
      'started_on = pgboss.job_now(),',
      'heartbeat_on = pgboss.job_now(),',
      'retry_count = CASE WHEN started_on IS NOT NULL THEN retry_count + 1 ELSE retry_count END',
    ])
    const [claimed, queued] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b']
    const captured = await captureInsert(boss, KIND, [{ id: claimed, data: { n: 2 } }, { id: queued, data: { n: 3 } }])
    const text = claimingInsert(captured!.text, '$2')
    expect(text).not.toBeNull()
    await client.query(text!, [captured!.json, [claimed]])
    const { rows } = await client.query<{ id: string; state: string; started: boolean; heartbeat: boolean; retry_count: number }>(
      `SELECT id, state, started_on IS NOT NULL AS started, heartbeat_on IS NOT NULL AS heartbeat, retry_count FROM pgboss.job WHERE id = ANY($1) ORDER BY id`,
      [[claimed, queued]],
    )
    expect(rows).toEqual([
      { id: claimed, state: 'active', started: true, heartbeat: true, retry_count: 0 },
      { id: queued, state: 'created', started: false, heartbeat: false, retry_count: 0 },
    ])
    // pg-boss takes the claimed job as one of its own first claims, and fetches only the other.
    await boss.complete(KIND, { id: claimed, retryCount: 0 }, { ok: true })
    expect((await boss.getJobById(KIND, claimed))?.state).toBe('completed')
    expect((await boss.fetch(KIND, { batchSize: 5 })).map((job) => job.id)).toEqual([queued])
  })

  it('has every column the views, the trigger and the seam read', async () => {
    const { jobColumns } = await observe()
    expect(JOB_COLUMNS_WE_READ.filter((name) => !jobColumns.some((column) => column.column === name))).toEqual([])
  })
})
