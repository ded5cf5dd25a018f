import { execFile, spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RqCompatServer } from '../../../src/rq-compat/index.ts'
import { createTaskServices } from '../../../src/services.ts'
import { TASKS } from '../../../src/tasks/registry.ts'
import type { Worker } from '../../../src/queue/index.ts'
import { startFixtureServer } from '../../helpers/fixture-server.ts'
import { until } from '../../helpers/processes.ts'
import { startTestAdapter } from '../../helpers/rq-compat.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

// Real clients from Debian: python3-rq (RQ 1.13 with python3-redis) and redis-tools (redis-cli).
const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'

let site: Awaited<ReturnType<typeof startFixtureServer>>
let hanging: Server
let service: TestService
let adapter: RqCompatServer
let url: string
let worker: Worker

async function python(code: string): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', code], { env: { ...process.env, REDIS_URL: url, PYTHONWARNINGS: 'ignore' }, timeout: 60_000 })
  return stdout
}

async function redisCli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(adapter.port), ...args], { timeout: 30_000 })
  return stdout
}

async function status(jobId: string) {
  return (await fetch(`${service.baseUrl}/api/tasks/status/${jobId}`)).json()
}

async function postParse(pageUrl: string, sessionId: string): Promise<string> {
  const response = await fetch(`${service.baseUrl}/api/tasks/parse`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url: pageUrl, session_id: sessionId }),
  })
  expect(response.status).toBe(202)
  return (await response.json()).job_id
}

beforeAll(async () => {
  site = await startFixtureServer({ '/sale/flat/315831388/': 'cian-offer-315831388.html', '/sale/flat/2/': '<html><body><h1>Привет</h1></body></html>' })
  // A listing site that never answers: its parse job stays running until canceled.
  hanging = createServer(() => {})
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
  const hangingOrigin = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`
  service = await startTestService({
    tasks: TASKS,
    deps: createTaskServices,
    worker: false,
    env: {
      FETCH_REWRITE: `https://spb.cian.ru=${site.origin},https://msk.cian.ru=${hangingOrigin}`,
      FETCH_RETRIES: '0',
      FETCH_TIMEOUT_MS: '120000',
    },
  })
  // Only parse runs here, so find-similar jobs stay queued for the cancel test.
  worker = service.queue.startWorker({ kinds: ['parse'], concurrency: 2 })
  adapter = await startTestAdapter(service, { functionAliases: new Map([['app.tasks.parse_property', 'parse']]) })
  url = `redis://127.0.0.1:${adapter.port}/0`
}, 60_000)

afterAll(async () => {
  hanging?.closeAllConnections()
  await new Promise((resolve) => hanging?.close(resolve))
  await adapter?.close()
  await service?.close()
  await site?.close()
})

describe('redis-cli', () => {
  it('answers ping with PONG', async () => {
    expect((await redisCli('ping')).trim()).toBe('PONG')
  })

  it('starts interactively without errors and runs commands typed at its prompt', async () => {
    // `script` gives redis-cli a terminal, so it starts its interactive mode (hints, COMMAND DOCS).
    const child = spawn('script', ['-qfec', `redis-cli -p ${adapter.port}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      // linenoise asks the terminal where its cursor is (ESC[6n) and waits for the answer.
      if (chunk.includes('\x1b[6n')) child.stdin.write('\x1b[1;1R')
    })
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await until('the interactive prompt', async () => (output.includes(`127.0.0.1:${adapter.port}>`) ? true : undefined), 20_000).catch((e) => {
      throw new Error(`${e.message}; redis-cli wrote: ${JSON.stringify(output)}`)
    })
    child.stdin.write('ping\r')
    await until('PONG at the prompt', async () => (output.includes('PONG') ? true : undefined), 20_000)
    // The guide's own command: RQ keeps no keys under housler-tasks:*, here as with Redis; RQ's are rq:*.
    child.stdin.write('KEYS housler-tasks:*\r')
    await until('the empty answer', async () => (output.includes('(empty array)') ? true : undefined), 20_000)
    child.stdin.write('KEYS rq:*\r')
    await until('the rq keys', async () => (output.includes('"rq:queues"') ? true : undefined), 20_000)
    child.stdin.write('quit\r')
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(0)
    expect(output).not.toMatch(/ERR|error/i)
  })
})

describe("RQ's Python API", () => {
  it('enqueues housler.parse, which our worker runs; status, result and the HTTP status agree', async () => {
    const pageUrl = 'https://spb.cian.ru/sale/flat/315831388/'
    const out = await python(`
import os, time
from redis import Redis
from rq import Queue
q = Queue('housler-tasks', connection=Redis.from_url(os.environ['REDIS_URL']))
job = q.enqueue('housler.parse', url='${pageUrl}', session_id='py')
print(job.id)
for _ in range(600):
    job.refresh()
    if job.get_status() in ('finished', 'failed'):
        break
    time.sleep(0.1)
print(job.get_status())
print(job.result['data']['price'], job.result['session_id'], job.result['success'])
print(job.description)
`)
    const [jobId, finalStatus, result, description] = out.trim().split('\n')
    expect(jobId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(finalStatus).toBe('finished')
    const body = await status(jobId)
    expect(body).toMatchObject({ job_id: jobId, status: 'finished', kind: 'parse', session_id: 'py' })
    expect(result).toBe(`${body.result.data.price} py True`)
    expect(description).toBe(`housler.parse(url='${pageUrl}', session_id='py')`)
  })

  it('enqueue_in schedules a job that runs when due', async () => {
    const out = await python(`
import os, time
from datetime import timedelta
from redis import Redis
from rq import Queue
q = Queue('housler-tasks', connection=Redis.from_url(os.environ['REDIS_URL']))
job = q.enqueue_in(timedelta(seconds=2), 'housler.parse', url='https://spb.cian.ru/sale/flat/315831388/', session_id='later')
print(job.id)
print(job.get_status())
print(q.scheduled_job_registry.get_job_ids())
`)
    const [jobId, scheduled, registry] = out.trim().split('\n')
    expect(scheduled).toBe('scheduled')
    expect(registry).toContain(jobId)
    const body = await status(jobId)
    expect(body).toMatchObject({ status: 'scheduled', session_id: 'later' })
    expect(new Date(body.next_attempt_at).getTime()).toBeGreaterThan(new Date(body.created_at).getTime())
    await waitForStatus(service.baseUrl, jobId, ['finished'], 60_000)
  })

  it('prints each failed job with its error and stack through the guide\'s snippet', async () => {
    const failedId = await postParse('https://spb.cian.ru/sale/flat/2/', 'guide')
    await waitForStatus(service.baseUrl, failedId, ['failed'], 60_000)
    // The guide's Troubleshooting snippet, verbatim but for the URL.
    const out = await python(`
# Получить информацию о провалившейся задаче
from rq import Queue
from redis import Redis

redis_conn = Redis.from_url('${url}')
queue = Queue('housler-tasks', connection=redis_conn)

# Получить failed jobs
failed_jobs = queue.failed_job_registry.get_job_ids()
for job_id in failed_jobs:
    job = queue.fetch_job(job_id)
    print(f"Job {job_id}: {job.exc_info}")
`)
    expect(out).toContain(`Job ${failedId}: `)
    const printed = out.slice(out.indexOf(`Job ${failedId}: `))
    expect(printed).toMatch(/not a listing/)
    expect(printed).toMatch(/\n\s+at /)
  })

  it('refuses a function that is not ours, and a pickled global, with an error and no job', async () => {
    const out = await python(`
import os, pickle
from redis import Redis
from rq import Queue
r = Redis.from_url(os.environ['REDIS_URL'])
q = Queue('housler-tasks', connection=r)
for call in (lambda: q.enqueue('os.system', 'true'), lambda: q.enqueue('housler.parse', url=os.path.join, session_id='x')):
    try:
        call()
        print('accepted')
    except Exception as e:
        print('refused', type(e).__name__, str(e)[:200])
print(q.count)
`)
    const lines = out.trim().split('\n')
    expect(lines[0]).toMatch(/^refused .*unknown function 'os.system'/)
    expect(lines[1]).toMatch(/^refused .*Python global/)
    expect(lines[2]).toBe('0')
  })

  it('cancels a queued job and a running one; job.delete() removes a job', async () => {
    const out = await python(`
import os, time
from redis import Redis
from rq import Queue
from rq.job import Job
r = Redis.from_url(os.environ['REDIS_URL'])
q = Queue('housler-tasks', connection=r)
waiting = q.enqueue('housler.find_similar', session_id='py', target_property={'price': 10000000, 'total_area': 50.0, 'rooms': 2})
print(waiting.get_status())
waiting.cancel()
print(waiting.get_status())
running = q.enqueue('app.tasks.parse_property', url='https://msk.cian.ru/sale/flat/42/', session_id='py-run')
for _ in range(600):
    if running.get_status() == 'started':
        break
    time.sleep(0.1)
print(running.get_status())
running.cancel()
print(running.get_status())
waiting.delete()
print(Job.exists(waiting.id, connection=r))
print(waiting.id, running.id)
`)
    const [queued, canceled, started, canceledRunning, exists, ids] = out.trim().split('\n')
    expect([queued, canceled, started, canceledRunning, exists]).toEqual(['queued', 'canceled', 'started', 'canceled', 'False'])
    const [waitingId, runningId] = ids.split(' ')
    const gone = await fetch(`${service.baseUrl}/api/tasks/status/${waitingId}`)
    expect(gone.status).toBe(404)
    expect((await gone.json()).error).toMatch(/expired/)
    await until('the running job to end canceled', async () => ((await status(runningId)).status === 'canceled' ? true : undefined))
    // Its handler stopped (the fetch of the page that never answers was aborted): the worker holds no job.
    await until('the worker to let the job go', async () => (worker.active().every((job) => job.id !== runningId) ? true : undefined))
  })
})

describe('rq (the command line)', () => {
  it('rq info lists housler-tasks and the per-kind queues with counts, and the workers with their state', async () => {
    const queued = await python(`
import os
from redis import Redis
from rq import Queue
q = Queue('housler-tasks', connection=Redis.from_url(os.environ['REDIS_URL']))
print(q.enqueue('housler.find_similar', session_id='info', target_property={'price': 9000000, 'total_area': 40.0, 'rooms': 1}).id)
`)
    const { stdout } = await run('rq', ['info', '--url', url], { timeout: 60_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } })
    const shown = Number(/^housler-tasks\s.*?(\d+)$/m.exec(stdout)?.[1])
    expect(shown).toBeGreaterThan(0)
    // GET /queue-stats answers a snapshot up to ~1 s old: wait for one taken after the enqueue.
    const stats = await until('queue-stats to catch up', async () => {
      const body = await (await fetch(`${service.baseUrl}/api/tasks/queue-stats`)).json()
      return body.queued_jobs === shown ? body : undefined
    })
    expect(stdout).toMatch(new RegExp(`^housler-tasks\\s.*\\b${stats.queued_jobs}$`, 'm'))
    expect(stdout).toMatch(new RegExp(`^find-similar\\s.*\\b${stats.by_kind['find-similar'].queued_jobs}$`, 'm'))
    expect(stdout).toMatch(new RegExp(`^parse\\s.*\\b${stats.by_kind.parse.queued_jobs}$`, 'm'))
    const workers = (await service.queue.monitoring.workers()).filter((worker) => worker.state !== 'dead')
    expect(workers.length).toBeGreaterThan(0)
    for (const worker of workers) expect(stdout).toContain(`${worker.id} (${worker.host}`)
    expect(stdout).toMatch(new RegExp(`${workers.length} workers, 4 queues`))
    await service.queue.cancel(queued.trim())
  })

  it('rq requeue --all --queue housler-tasks requeues the failed jobs, which run again', async () => {
    const failedId = await postParse('https://spb.cian.ru/sale/flat/2/', 'requeue')
    const first = await waitForStatus(service.baseUrl, failedId, ['failed'], 60_000)
    const { stdout } = await run('rq', ['requeue', '--all', '--queue', 'housler-tasks', '--url', url], { timeout: 60_000, env: { ...process.env, PYTHONWARNINGS: 'ignore' } })
    expect(stdout).toMatch(/Requeueing \d+ jobs from failed queue/)
    expect(stdout).not.toMatch(/Unable to requeue/)
    // It runs again: a new attempt starts (and fails on the same page, to be retried).
    const again = await until('the requeued job to run again', async () => {
      const body = await status(failedId)
      return body.attempt > first.attempt ? body : undefined
    })
    expect(again.error).toMatch(/not a listing/)
    expect(new Date(again.started_at).getTime()).toBeGreaterThan(new Date(first.started_at).getTime())
  })
})
