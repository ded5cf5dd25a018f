import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGates, echoTask, failTask } from '../../helpers/tasks.ts'
import { killAll, spawnTestProcess, until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const NODE = path.resolve('node_modules/.bin/node')
const run = promisify(execFile)

describe('the CLI against a live service', () => {
  const gates = createGates()
  let service: TestService
  const cli = async (...args: string[]) => {
    try {
      const { stdout } = await run(NODE, ['src/cli.ts', ...args], { env: { ...process.env, DATABASE_URL: service.databaseUrl }, timeout: 30_000 })
      return { code: 0, stdout }
    } catch (e) {
      const error = e as { code: number; stdout: string; stderr: string }
      return { code: error.code, stdout: error.stdout + error.stderr }
    }
  }

  beforeAll(async () => {
    service = await startTestService({ tasks: [echoTask, failTask, gates.task], env: { WORKER_HEARTBEAT_SECONDS: '1' } })
  })
  afterAll(async () => {
    for (const id of gates.waitingIds()) gates.release(id)
    await service?.close()
  })

  it('ping reports the database, the pg-boss schema and current migrations', async () => {
    const { code, stdout } = await cli('ping')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^database: reachable \(postgres:\/\//m)
    expect(stdout).toMatch(/^pg-boss schema: \d+$/m)
    expect(stdout).toMatch(/^migrations: current$/m)
  })

  it('ping fails with exit 1 when the database is unreachable', async () => {
    const { code, stdout } = await run(NODE, ['src/cli.ts', 'ping'], { env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e) => ({ code: e.code, stdout: e.stdout }),
    )
    expect(code).toBe(1)
    expect(stdout).toContain('database: UNREACHABLE')
  })

  it('failed lists failures with error and stack; requeue <id> runs one again', async () => {
    const id = (await service.queue.enqueue({ kind: 'fail', payload: { message: 'cli-visible failure' } })).jobId
    await waitForStatus(service.baseUrl, id, ['failed'])
    const failed = await cli('failed', '--kind', 'fail')
    expect(failed.code).toBe(0)
    expect(failed.stdout).toContain('1 failed jobs of kind fail')
    expect(failed.stdout).toContain(id)
    expect(failed.stdout).toContain('error: cli-visible failure')
    expect(failed.stdout).toMatch(/^\s+at /m)
    const requeued = await cli('requeue', id)
    expect(requeued).toMatchObject({ code: 0 })
    expect(requeued.stdout).toMatch(new RegExp(`^requeued ${id}: (queued|started|failed)`, 'm'))
    const after = await waitForStatus(service.baseUrl, id, ['failed'])
    expect(after.attempts ?? 2).toBeGreaterThanOrEqual(1)
    const all = await cli('requeue', '--all', '--kind', 'fail')
    expect(all.stdout).toContain('requeued 1 failed jobs of kind fail')
  })

  it('info shows counts per kind and the live worker; --watch refreshes until interrupted', async () => {
    await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })
    await until('a worker row', async () => {
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM housler.workers`.execute(service.db.db)
      return rows[0].n > 0 ? true : undefined
    }, 15_000)
    const { code, stdout } = await cli('info')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^kind\s+queued\s+started\s+deferred\s+scheduled\s+finished\s+failed\s+canceled$/m)
    expect(stdout).toMatch(/^echo\s+0\s+0\s+0\s+1\s+/m)
    expect(stdout).toMatch(/1 workers, 1 alive/)
    expect(stdout).toContain(`:${process.pid} `)

    const watch = await spawnTestProcess('src/cli.ts', { DATABASE_URL: service.databaseUrl }, { args: ['info', '--watch', '--interval', '0.2'], readyWhen: 'spawned' })
    await until('two refreshed frames', () => ((watch.output().match(/workers, \d+ alive/g) ?? []).length >= 2 ? true : undefined), 15_000)
    watch.child.kill('SIGINT')
    expect(await watch.exited).toBe(0)
  })

  it('cancel <id> cancels a running job and empty <kind> deletes the waiting ones', async () => {
    const arrival = gates.nextArrival()
    const running = (await service.queue.enqueue({ kind: 'gate', payload: {} })).jobId
    await arrival
    const canceled = await cli('cancel', running)
    expect(canceled.code).toBe(0)
    expect(canceled.stdout).toContain(`canceled ${running}: canceled`)
    await waitForStatus(service.baseUrl, running, ['canceled'])

    const waiting = await Promise.all([1, 2].map(async () => (await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })).jobId))
    const emptied = await cli('empty', 'echo')
    expect(emptied.code).toBe(0)
    expect(emptied.stdout).toMatch(/^deleted [2-9]\d* waiting echo jobs$/m)
    for (const id of waiting) expect((await fetch(`${service.baseUrl}/api/tasks/status/${id}`)).status).toBe(404)
  })

  it('migrate is idempotent and bad usage exits 2 with the usage text', async () => {
    const migrated = await cli('migrate')
    expect(migrated.code).toBe(0)
    expect(migrated.stdout).toMatch(/pending migrations: 0/)
    const bad = await cli('requeue', 'not-a-uuid')
    expect(bad.code).toBe(2)
    expect(bad.stdout).toContain('usage: npm run --silent cli')
  })
})

describe('a worker process killed with SIGKILL', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startTestService({ tasks: [echoTask], worker: false })
  })
  afterAll(async () => {
    await killAll()
    await service?.close()
  })

  it('shows dead in housler.workers and on the dashboard within the heartbeat window', async () => {
    const worker = await spawnTestProcess(
      'worker/main.ts',
      { DATABASE_URL: service.databaseUrl, WORKER_HEARTBEAT_SECONDS: '1', LOG_LEVEL: 'warn' },
      { readyWhen: 'spawned' },
    )
    const rowIn = (state: string) => async () => {
      const { rows } = await sql<{ pid: number; state: string }>`SELECT pid, state FROM housler.workers WHERE pid = ${worker.pid}`.execute(service.db.db)
      return rows[0]?.state === state ? rows[0] : undefined
    }
    const alive = await until('the worker to show idle', rowIn('idle'), 15_000).catch((e) => {
      throw new Error(`${e.message}; worker output: ${worker.output()}`)
    })
    expect(alive.state).toBe('idle')
    worker.child.kill('SIGKILL')
    const killedAt = Date.now()
    const dead = await until('the worker to show dead', rowIn('dead'), 10_000)
    expect(dead.state).toBe('dead')
    // Three missed 1-second beats, plus one interval of slack for the last beat's timing.
    expect(Date.now() - killedAt).toBeLessThan(5_000)
    const page = await (await fetch(`${service.baseUrl}/dashboard`)).text()
    expect(page).toMatch(new RegExp(`<td class="n">${worker.pid}</td><td class="dead">dead</td>`))
  })
})
