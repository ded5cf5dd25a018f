import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config.ts'
import { createApp } from '../../../src/http/app.ts'
import { createSilentLogger } from '../../../src/log.ts'
import { echoTask, failTask } from '../../helpers/tasks.ts'
import { until } from '../../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)?\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|[Nn][Aa][Nn]|[+-][Ii]nf))(?: -?[0-9]+)?$`)

/**
 * Strict Prometheus text format 0.0.4: every line is HELP, TYPE or a sample of a declared family.
 * NaN/Inf case-insensitive as Prometheus's Go ParseFloat reads them (prom-client writes "Nan").
 */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line)
    if (meta) {
      expect(meta[2]).toMatch(new RegExp(`^${NAME}$`))
      if (meta[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3])
        types.set(meta[2], meta[3])
      }
      continue
    }
    const sample = SAMPLE.exec(line)
    if (!sample) throw new Error(`not a valid exposition line: ${JSON.stringify(line)}`)
    const family = sample[1].replace(/_(bucket|sum|count|total|created)$/, '')
    expect(types.has(sample[1]) || types.has(family) || types.has(`${family}_total`), `undeclared ${sample[1]}`).toBe(true)
    samples.set(`${sample[1]}{${sample[2] ?? ''}}`, Number(sample[3]))
  }
  return samples
}

describe('GET /metrics', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startTestService({ tasks: [echoTask, failTask] })
  })
  afterAll(async () => service?.close())

  const scrape = async () => {
    const response = await fetch(`${service.baseUrl}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return parseExposition(await response.text())
  }

  it('parses strictly and moves as jobs run', async () => {
    const before = await scrape()
    expect(before.get('process_cpu_user_seconds_total{}')).toBeGreaterThan(0)
    // No DATABASE_READ_URL: no replica, so no lag to report (a 0 would claim one in step).
    expect([...before.keys()].filter((key) => key.startsWith('housler_replica_lag_seconds'))).toEqual([])
    const get = (m: Map<string, number>, key: string) => m.get(key) ?? 0

    const done = await fetch(`${service.baseUrl}/api/tasks/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    const failed = await fetch(`${service.baseUrl}/api/tasks/fail`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    await waitForStatus(service.baseUrl, (await done.json()).job_id, ['finished'])
    await waitForStatus(service.baseUrl, (await failed.json()).job_id, ['failed'])
    const scheduled = (await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })).jobId
    await service.queue.cancel(scheduled)

    const after = await scrape()
    const delta = (key: string) => get(after, key) - get(before, key)
    expect(delta('housler_jobs_enqueued_total{kind="echo"}')).toBe(2)
    expect(delta('housler_jobs_enqueued_total{kind="fail"}')).toBe(1)
    expect(delta('housler_jobs_finished_total{kind="echo"}')).toBe(1)
    expect(delta('housler_jobs_failed_total{kind="fail"}')).toBe(1)
    expect(delta('housler_jobs_canceled_total{kind="echo"}')).toBe(1)
    expect(delta('housler_job_run_seconds_count{kind="echo",outcome="finished"}')).toBe(1)
    expect(delta('housler_job_wait_seconds_count{kind="echo"}')).toBe(1)
    expect(delta('housler_http_requests_total{method="POST",route="/api/tasks/:kind{[a-z][a-z0-9-]*}",status="202"}')).toBe(2)
    // Live workers come from a snapshot refreshed every few seconds: wait for one that saw the worker.
    let live = get(after, 'housler_workers_live{}')
    await until('a metrics snapshot with the live worker', async () => {
      if (live !== 1) live = get(await scrape(), 'housler_workers_live{}')
      return live === 1 ? true : undefined
    }, 15_000, 250).catch(() => undefined)
    expect(live).toBe(1)
  })

  it('serves queue depth from a snapshot, not a count per scrape', async () => {
    const first = await scrape()
    await service.queue.enqueue({ kind: 'echo', payload: {}, runAt: new Date(Date.now() + 3_600_000) })
    const second = await scrape()
    // Within the snapshot age the depth does not move, however often Prometheus scrapes.
    expect(second.get('housler_queue_depth{kind="echo",status="scheduled"}') ?? 0).toBe(first.get('housler_queue_depth{kind="echo",status="scheduled"}') ?? 0)
  })
})

describe('/dashboard access and escaping', () => {
  let service: TestService
  beforeAll(async () => {
    service = await startTestService({ tasks: [echoTask, failTask] })
  })
  afterAll(async () => service?.close())

  const appWith = (env: Record<string, string>) =>
    createApp({ config: loadConfig({ DATABASE_URL: service.databaseUrl, ...env }), queue: service.queue, metrics: service.runtime.metrics, log: createSilentLogger() })

  it('refuses (403) on a non-loopback bind without credentials', async () => {
    const response = await appWith({ HOST: '0.0.0.0' }).request('/dashboard')
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ error: expect.stringContaining('DASHBOARD_USER'), details: { host: '0.0.0.0' } })
  })

  it('asks for basic auth when credentials are set, and accepts them', async () => {
    const app = appWith({ HOST: '0.0.0.0', DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 's3cret' })
    expect((await app.request('/dashboard')).status).toBe(401)
    const ok = await app.request('/dashboard', { headers: { authorization: `Basic ${btoa('ops:s3cret')}` } })
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('<h2>Queues</h2>')
  })

  it('escapes job values in the pages', async () => {
    const id = (await service.queue.enqueue({ kind: 'fail', payload: { message: '<img src=x onerror=alert(1)>' }, sessionId: '<script>x</script>' })).jobId
    await waitForStatus(service.baseUrl, id, ['failed'])
    const page = await (await fetch(`${service.baseUrl}/dashboard/jobs/${id}`)).text()
    expect(page).not.toContain('<img src=x')
    expect(page).not.toContain('<script>x</script>')
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;')
    const list = await (await fetch(`${service.baseUrl}/dashboard/jobs?status=failed`)).text()
    expect(list).toContain(id)
    expect(list).not.toContain('<img src=x')
  })

  it('answers bad input with 4xx JSON, and refuses actions without the dashboard header', async () => {
    const bad = await fetch(`${service.baseUrl}/dashboard/jobs?status=nope`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: expect.any(String) })
    expect((await fetch(`${service.baseUrl}/dashboard/jobs/not-a-uuid`)).status).toBe(400)
    expect((await fetch(`${service.baseUrl}/dashboard/jobs/00000000-0000-4000-8000-000000000000`)).status).toBe(404)
    const forged = await fetch(`${service.baseUrl}/dashboard/api/requeue-failed`, { method: 'POST' })
    expect(forged.status).toBe(400)
  })

  it('finds jobs by id and by session id', async () => {
    const id = (await service.queue.enqueue({ kind: 'echo', payload: {}, sessionId: 'sess-42' })).jobId
    const byId = await fetch(`${service.baseUrl}/dashboard/search?q=${id}`, { redirect: 'manual' })
    expect(byId.headers.get('location')).toBe(`/dashboard/jobs/${id}`)
    const bySession = await fetch(`${service.baseUrl}/dashboard/search?q=sess-42`)
    expect(await bySession.text()).toContain(id)
  })
})
