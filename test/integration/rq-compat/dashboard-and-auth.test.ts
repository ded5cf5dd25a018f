import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RqCompatServer } from '../../../src/rq-compat/index.ts'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { until } from '../../helpers/processes.ts'
import { startTestAdapter } from '../../helpers/rq-compat.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const run = promisify(execFile)
const CLIENT_KEY = 'rq-client-key'
const ADMIN_KEY = 'rq-admin-key'

let site: Awaited<ReturnType<typeof startFixtureServer>>
let service: TestService
let adapter: RqCompatServer
let secured: RqCompatServer

async function python(url: string, code: string): Promise<string[]> {
  const { stdout } = await run('/usr/bin/python3', ['-c', code], { env: { ...process.env, REDIS_URL: url, PYTHONWARNINGS: 'ignore' }, timeout: 60_000 })
  return stdout.trim().split('\n')
}

const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-p', String(port), ...args], { timeout: 30_000 })).stdout.trim()

async function post(path: string, body: unknown): Promise<string> {
  const response = await fetch(`${service.baseUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  expect(response.status).toBe(202)
  return (await response.json()).job_id
}

const target = { price: 12_000_000, total_area: 52.5, rooms: 2 }

beforeAll(async () => {
  site = await startFixtureServer({ '/sale/flat/315831388/': 'cian-offer-315831388.html', '/sale/flat/2/': '<html><body>нет</body></html>' })
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    worker: false,
    env: { FETCH_REWRITE: `https://spb.cian.ru=${site.origin}`, FETCH_RETRIES: '0' },
  })
  service.queue.startWorker({ kinds: ['parse'] })
  adapter = await startTestAdapter(service)
  secured = await startTestAdapter(service, { clientKeys: [CLIENT_KEY], adminKeys: [ADMIN_KEY] })
}, 60_000)

afterAll(async () => {
  await secured?.close()
  await adapter?.close()
  await service?.close()
  await site?.close()
})

describe('the key layout through redis-cli', () => {
  it("KEYS 'rq:*' lists the queues, the jobs and the registries", async () => {
    const finished = await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/315831388/', session_id: 'keys' })
    const queued = await post('/api/tasks/find-similar', { session_id: 'keys', target_property: target })
    await waitForStatus(service.baseUrl, finished, ['finished'], 60_000)
    const keys = (await cli(adapter.port, 'KEYS', 'rq:*')).split('\n')
    expect(keys).toEqual(
      expect.arrayContaining([
        'rq:queues',
        'rq:queue:housler-tasks',
        'rq:queue:find-similar',
        'rq:finished:housler-tasks',
        'rq:finished:parse',
        `rq:job:${finished}`,
        `rq:job:${queued}`,
        'rq:workers',
      ]),
    )
    expect(keys).not.toContain('rq:queue:parse')
    expect((await cli(adapter.port, 'SMEMBERS', 'rq:queues')).split('\n').sort()).toEqual(['rq:queue:find-similar', 'rq:queue:housler-tasks', 'rq:queue:parse', 'rq:queue:report'])
    expect(await cli(adapter.port, 'TYPE', `rq:job:${finished}`)).toBe('hash')
    expect(await cli(adapter.port, 'HGET', `rq:job:${finished}`, 'status')).toBe('finished')
    expect(await cli(adapter.port, 'LRANGE', 'rq:queue:housler-tasks', '0', '-1')).toContain(queued)
    expect(await cli(adapter.port, 'HSET', `rq:job:${finished}`, 'status', 'queued')).toMatch(/^ERR .*not an operation/)
    expect(await cli(adapter.port, 'RPUSH', 'rq:queue:housler-tasks', '00000000-0000-4000-8000-000000000000')).toMatch(/^ERR rq:job:.* does not exist/)
    expect(await cli(adapter.port, 'ZADD', 'rq:failed:housler-tasks', '1', finished)).toMatch(/^ERR ZADD/)
    expect(await cli(adapter.port, 'HGET', `rq:job:${finished}`, 'status')).toBe('finished')
    expect(await cli(adapter.port, 'FLUSHALL')).toMatch(/^ERR unknown command 'FLUSHALL'/)
    await service.queue.cancel(queued)
  })
})

describe('the command set', () => {
  it('answers every command RQ and its tools use, over one connection, never dropping it', async () => {
    const job = await post('/api/tasks/find-similar', { session_id: 'commands', target_property: target })
    const script = [
      'PING', 'ECHO hi', 'SELECT 0', 'INFO server', 'COMMAND COUNT', 'COMMAND DOCS', 'COMMAND INFO hgetall', 'CLIENT SETNAME tool', 'CLIENT GETNAME', 'CLIENT ID',
      'HELLO 2', 'HELLO 3', 'KEYS rq:queue:*', 'SCAN 0 MATCH rq:* COUNT 1000', 'EXISTS rq:queues rq:nothing', 'TYPE rq:queues', `TTL rq:job:${job}`,
      `HGETALL rq:job:${job}`, `HGET rq:job:${job} origin`, `HMGET rq:job:${job} status origin nope`, `HEXISTS rq:job:${job} data`,
      'SMEMBERS rq:queues', 'SCARD rq:queues', 'SISMEMBER rq:queues rq:queue:parse', 'SADD rq:queues rq:queue:housler-tasks', 'SREM rq:workers rq:worker:gone',
      'LLEN rq:queue:housler-tasks', 'LRANGE rq:queue:housler-tasks 0 -1', 'LREM rq:queue:housler-tasks 1 00000000-0000-4000-8000-000000000000',
      'ZRANGE rq:finished:housler-tasks 0 -1 WITHSCORES', 'ZRANGEBYSCORE rq:failed:housler-tasks -inf +inf', 'ZREVRANGE rq:wip:housler-tasks 0 -1', 'ZCARD rq:failed:parse',
      'ZSCORE rq:failed:parse nobody', 'ZREM rq:failed:parse nobody', 'ZREMRANGEBYSCORE rq:finished:housler-tasks 0 1', 'DEL rq:job:00000000-0000-4000-8000-000000000000',
      'MULTI', `HGET rq:job:${job} status`, 'EXEC', 'MULTI', 'DISCARD', 'WATCH rq:queues', 'UNWATCH', `XREVRANGE rq:results:${job} + - COUNT 1`, `XRANGE rq:results:${job} - +`,
      'FLUSHDB', 'PING',
    ]
    // redis-cli reads commands from a non-terminal stdin, one a line, over one connection.
    const child = spawn('redis-cli', ['-p', String(adapter.port)], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.stdin.end(script.join('\n') + '\n')
    expect(await exited).toBe(0)
    expect(out).not.toMatch(/unknown command '(?!FLUSHDB)/)
    expect(out).toMatch(/unknown command 'FLUSHDB'/)
    expect(out).toMatch(/NOPROTO/)
    expect(out).toContain('housler-tasks')
    expect(out.trim().split('\n').at(-1)).toBe('PONG')
    await service.queue.cancel(job)
  })
})

describe("rq-dashboard's calls", () => {
  it('lists queues with registry counts, jobs per registry, a job, the workers; requeues, deletes and empties', async () => {
    const failed = await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/2/', session_id: 'dash' })
    const done = await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/315831388/', session_id: 'dash' })
    await waitForStatus(service.baseUrl, failed, ['failed'], 60_000)
    await waitForStatus(service.baseUrl, done, ['finished'], 60_000)
    const waitingA = await post('/api/tasks/find-similar', { session_id: 'dash-a', target_property: target })
    const waitingB = await post('/api/tasks/find-similar', { session_id: 'dash-b', target_property: { ...target, rooms: 3 } })
    // What rq_dashboard/web.py does for each view, through the same RQ API calls: first its reads.
    const url = `redis://127.0.0.1:${adapter.port}/0`
    const header = `import os, json
from redis import Redis
from rq import Queue, Worker, requeue_job, push_connection
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry, DeferredJobRegistry
r = Redis.from_url(os.environ['REDIS_URL'])
push_connection(r)
`
    const out = await python(
      url,
      `${header}
queues = {q.name: dict(count=q.count, failed=FailedJobRegistry(q.name).count, started=StartedJobRegistry(q.name).count,
    deferred=DeferredJobRegistry(q.name).count, finished=FinishedJobRegistry(q.name).count) for q in sorted(Queue.all(), key=lambda q: q.name)}
print(json.dumps(queues))
queue = Queue('housler-tasks')
ids = FailedJobRegistry('housler-tasks').get_job_ids(0, 7)
print(json.dumps([dict(id=j.id, description=j.description, exc=bool(j.exc_info)) for j in [queue.fetch_job(i) for i in ids]]))
job = Job.fetch('${done}')
print(json.dumps(dict(id=job.id, origin=job.origin, status=job.get_status(), price=job._result['data']['price'], enqueued=job.enqueued_at.isoformat())))
print(json.dumps([dict(name=w.name, state=w.get_state(), queues=[q.name for q in w.queues]) for w in Worker.all()]))
`,
    )
    const queues = JSON.parse(out[0])
    // GET /queue-stats answers a snapshot up to ~1 s old: wait for one taken after these jobs settled.
    const expected = queues['housler-tasks']
    const stats = await until('queue-stats to catch up', async () => {
      const body = await (await fetch(`${service.baseUrl}/api/tasks/queue-stats`)).json()
      return body.failed_jobs === expected.failed && body.finished_jobs === expected.finished ? body : undefined
    })
    expect(Object.keys(queues)).toEqual(['find-similar', 'housler-tasks', 'parse', 'report'])
    expect(queues['housler-tasks']).toEqual({ count: stats.queued_jobs, failed: stats.failed_jobs, started: stats.started_jobs, deferred: stats.deferred_jobs, finished: stats.finished_jobs })
    expect(queues.parse.finished).toBe(stats.by_kind.parse.finished_jobs)
    const failedList = JSON.parse(out[1])
    expect(failedList).toContainEqual({ id: failed, description: "housler.parse(url='https://spb.cian.ru/sale/flat/2/', session_id='dash')", exc: true })
    expect(JSON.parse(out[2])).toMatchObject({ id: done, origin: 'housler-tasks', status: 'finished' })
    const workers = JSON.parse(out[3])
    expect(workers.length).toBeGreaterThan(0)
    expect(workers[0]).toMatchObject({ state: expect.stringMatching(/^(busy|idle)$/), queues: ['housler-tasks', 'parse'] })
    // Then its actions: requeue, delete, empty.
    const failedBefore = await (await fetch(`${service.baseUrl}/api/tasks/status/${failed}`)).json()
    const acted = await python(
      url,
      `${header}
requeue_job('${failed}', connection=r)
print(Job.fetch('${failed}').get_status())
Job.fetch('${done}').delete()
print(Job.exists('${done}'))
print(Queue('find-similar').count)
Queue('housler-tasks').empty()
print(Queue('housler-tasks').count)
`,
    )
    // The parse worker may already have picked the requeued job up, and failed it into a retry or for good.
    expect(['queued', 'started', 'scheduled', 'failed']).toContain(acted[0])
    if (acted[0] === 'failed') {
      // Failed again, then by a new attempt: it ended after the failure that was requeued.
      const failedAfter = await (await fetch(`${service.baseUrl}/api/tasks/status/${failed}`)).json()
      expect(Date.parse(failedAfter.ended_at)).toBeGreaterThan(Date.parse(failedBefore.ended_at))
    }
    expect(acted[1]).toBe('False')
    expect(Number(acted[2])).toBeGreaterThanOrEqual(2)
    expect(acted[3]).toBe('0')
    for (const id of [waitingA, waitingB]) expect((await fetch(`${service.baseUrl}/api/tasks/status/${id}`)).status).toBe(404)
    expect((await fetch(`${service.baseUrl}/api/tasks/status/${done}`)).status).toBe(404)
  })
})

describe('a lone removal from a registry', () => {
  it('hides the job there at once and deletes it when no DEL or requeue follows', async () => {
    const lone = await startTestAdapter(service, { limits: { removalGraceMs: 500 } })
    try {
      const failed = await post('/api/tasks/parse', { url: 'https://spb.cian.ru/sale/flat/2/', session_id: 'lone' })
      await waitForStatus(service.baseUrl, failed, ['failed'], 60_000)
      expect(await cli(lone.port, 'ZSCORE', 'rq:failed:housler-tasks', failed)).toMatch(/^\d+$/)
      expect(await cli(lone.port, 'ZREM', 'rq:failed:housler-tasks', failed)).toBe('1')
      expect(await cli(lone.port, 'ZSCORE', 'rq:failed:housler-tasks', failed)).toBe('')
      await until('the removed job to be deleted', async () => ((await fetch(`${service.baseUrl}/api/tasks/status/${failed}`)).status === 404 ? true : undefined))
      expect(await cli(lone.port, 'EXISTS', `rq:job:${failed}`)).toBe('0')
    } finally {
      await lone.close()
    }
  })
})

describe('with API keys', () => {
  it('answers nothing before AUTH, reads with a client key, and writes only with the admin key', async () => {
    expect(await cli(secured.port, 'PING')).toMatch(/^NOAUTH/)
    expect(await cli(secured.port, 'KEYS', '*')).toMatch(/^NOAUTH/)
    expect(await cli(secured.port, '--no-auth-warning', '-a', 'wrong', 'PING')).toMatch(/WRONGPASS|NOAUTH/)
    expect(await cli(secured.port, '--no-auth-warning', '-a', CLIENT_KEY, 'PING')).toBe('PONG')
    const queued = await post('/api/tasks/find-similar', { session_id: 'auth', target_property: target })
    expect(await cli(secured.port, '--no-auth-warning', '-a', CLIENT_KEY, 'HGET', `rq:job:${queued}`, 'status')).toBe('queued')
    // The guide's URL form, redis://:KEY@host:port: a client key reads (registry cleanups change nothing) but cannot cancel.
    const out = await python(
      `redis://:${CLIENT_KEY}@127.0.0.1:${secured.port}/0`,
      `
import os
from redis import Redis
from rq import Queue
q = Queue('housler-tasks', connection=Redis.from_url(os.environ['REDIS_URL']))
print(q.count, len(q.failed_job_registry.get_job_ids()) >= 0)
try:
    q.fetch_job('${queued}').cancel()
    print('canceled')
except Exception as e:
    print(type(e).__name__, str(e)[:80])
`,
    )
    expect(out[0]).toMatch(/^\d+ True$/)
    expect(out[1]).toMatch(/NOPERM/)
    expect((await (await fetch(`${service.baseUrl}/api/tasks/status/${queued}`)).json()).status).toBe('queued')
    const admin = await python(
      `redis://:${ADMIN_KEY}@127.0.0.1:${secured.port}/0`,
      `
import os
from redis import Redis
from rq import Queue
q = Queue('housler-tasks', connection=Redis.from_url(os.environ['REDIS_URL']))
job = q.fetch_job('${queued}')
job.cancel()
print(job.get_status())
`,
    )
    expect(admin).toEqual(['canceled'])
  })
})
