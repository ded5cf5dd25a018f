import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, until } from '../helpers/processes.ts'
import { startTestService, waitForStatus, type TestService } from '../helpers/service.ts'
import { echoTask } from '../helpers/tasks.ts'

// A real Prometheus (Debian's package, installed by .ci/run) scrapes the service on loopback.
const PROMETHEUS = '/usr/bin/prometheus'
let service: TestService
let prometheus: ChildProcess
let dir: string
let prometheusUrl: string


async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`).catch(() => undefined)
  if (!response?.ok) return []
  const body = await response.json()
  return body.status === 'success' ? body.data.result : []
}


beforeAll(async () => {
  service = await startTestService({ tasks: [echoTask] })
  dir = await mkdtemp(path.join(os.tmpdir(), 'housler-prometheus-'))
  const target = new URL(service.baseUrl).host
  await writeFile(
    path.join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: housler\n    static_configs:\n      - targets: ['${target}']\n`,
  )
  const port = await freePort()
  prometheusUrl = `http://127.0.0.1:${port}`
  prometheus = spawn(
    PROMETHEUS,
    [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  )
}, 60_000)

afterAll(async () => {
  prometheus?.kill('SIGTERM')
  await new Promise((resolve) => (prometheus?.exitCode !== null ? resolve(null) : prometheus.once('exit', resolve)))
  await service?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('a real Prometheus scraping /metrics', () => {
  it('scrapes the target and sees the job counters move', async () => {
    await until('the target to be up', async () => ((await query('up{job="housler"}'))[0]?.value[1] === '1' ? true : undefined))
    const response = await fetch(`${service.baseUrl}/api/tasks/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: 1 }),
    })
    await waitForStatus(service.baseUrl, (await response.json()).job_id, ['finished'])
    const finished = await until('the finished counter to reach Prometheus', async () => {
      const [sample] = await query('housler_jobs_finished_total{kind="echo"}')
      return sample && Number(sample.value[1]) >= 1 ? Number(sample.value[1]) : undefined
    })
    expect(finished).toBe(1)
    const histogram = await query('housler_job_run_seconds_count{kind="echo"}')
    expect(histogram.length).toBeGreaterThan(0)
    const scrapeErrors = await query('scrape_samples_scraped{job="housler"}')
    expect(Number(scrapeErrors[0].value[1])).toBeGreaterThan(20)
  }, 60_000)
})
