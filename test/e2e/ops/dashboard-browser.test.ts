import { mkdirSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import { z } from 'zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineTask } from '../../../src/tasks/types.ts'
import { launchChromium } from '../../helpers/browser.ts'
import { startTestService, waitForStatus, type TestService } from '../../helpers/service.ts'

const ARTIFACTS = 'test-artifacts/dashboard'

/** Reports 20 %, waits for the test, reports 60 %, waits again, finishes. */
function createStepper() {
  const releases: Array<() => void> = []
  const reached: Array<() => void> = []
  const task = defineTask({
    kind: 'stepper',
    payload: z.object({}),
    retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
    async handler(_payload, ctx) {
      for (const pct of [20, 60]) {
        await ctx.progress(pct, `Шаг ${pct}`)
        await new Promise<void>((resolve) => {
          releases.push(resolve)
          reached.shift()?.()
        })
      }
      return { done: true }
    },
  })
  return {
    task,
    nextStep: () => new Promise<void>((resolve) => (releases.length ? resolve() : reached.push(resolve))),
    release: () => releases.shift()?.(),
  }
}

let failuresLeft = 1
const flakyTask = defineTask({
  kind: 'flaky',
  payload: z.object({}),
  retry: { maxAttempts: 1, backoffSeconds: 0, backoffMaxSeconds: 0 },
  async handler() {
    if (failuresLeft-- > 0) throw new Error('upstream listing site timed out')
    return { ok: true }
  },
})

describe('the dashboard in a real browser', () => {
  const stepper = createStepper()
  let service: TestService
  let browser: Browser

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    service = await startTestService({ tasks: [stepper.task, flakyTask], env: { WORKER_HEARTBEAT_SECONDS: '1' } })
    browser = await launchChromium()
  })
  afterAll(async () => {
    stepper.release()
    stepper.release()
    await browser?.close()
    await service?.close()
  })

  it("shows a running job's progress bar move while you watch", async () => {
    const reached = stepper.nextStep()
    const id = (await service.queue.enqueue({ kind: 'stepper', payload: {} })).jobId
    await reached
    const page = await browser.newPage()
    await page.goto(`${service.baseUrl}/dashboard/jobs/${id}`)
    const bar = page.locator('#job [role=progressbar]')
    await expect.poll(() => bar.getAttribute('aria-valuenow'), { timeout: 5000 }).toBe('20')
    expect(await page.locator('#job-status').textContent()).toBe('started')
    await page.screenshot({ path: `${ARTIFACTS}/progress-20.png` })

    const next = stepper.nextStep()
    stepper.release()
    await next
    // No reload: the page's poller swaps the fragment in.
    await page.waitForFunction(() => document.querySelector('#job [role=progressbar]')?.getAttribute('aria-valuenow') === '60', null, { timeout: 5000 })
    expect(await page.locator('#job-message').textContent()).toBe('Шаг 60')
    await page.screenshot({ path: `${ARTIFACTS}/progress-60.png` })
    stepper.release()
    await page.waitForFunction(() => document.querySelector('#job-status')?.textContent === 'finished', null, { timeout: 5000 })
    await page.close()
  })

  it('requeues a failed job by clicking, and the job runs again', async () => {
    const id = (await service.queue.enqueue({ kind: 'flaky', payload: {} })).jobId
    await waitForStatus(service.baseUrl, id, ['failed'])
    const page = await browser.newPage()
    await page.goto(`${service.baseUrl}/dashboard/jobs?status=failed`)
    await page.screenshot({ path: `${ARTIFACTS}/failed-list.png` })
    await page.click(`a[href="/dashboard/jobs/${id}"]`)
    expect(await page.locator('#job-error').textContent()).toBe('upstream listing site timed out')
    await page.screenshot({ path: `${ARTIFACTS}/failed-job.png` })
    await page.click('#requeue')
    await page.waitForFunction(() => document.querySelector('#job-status')?.textContent === 'finished', null, { timeout: 10_000 })
    await page.screenshot({ path: `${ARTIFACTS}/requeued-finished.png` })
    expect((await waitForStatus(service.baseUrl, id, ['finished'])).status).toBe('finished')

    await page.goto(`${service.baseUrl}/dashboard`)
    expect(await page.locator('#workers .busy, #workers .idle').count()).toBe(1)
    expect(await page.locator('#throughput svg rect').count()).toBeGreaterThan(0)
    await page.screenshot({ path: `${ARTIFACTS}/overview.png`, fullPage: true })
    await page.close()
  })
})
